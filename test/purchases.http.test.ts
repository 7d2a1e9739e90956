/**
 * The purchases' HTTP endpoints, served in process by `HttpApiBuilder.toWebHandler` over the library
 * on SQLite, SQLite with deferred writes, PostgreSQL and D1: `POST /api/purchases` (201, a repeat,
 * 400 on a bad amount, 403 for a viewer, 409 for a blacklisted customer or another payload),
 * `POST /api/purchases/:reference/returns` (201, 422, 404), the reads (`GET /api/purchases/:reference`,
 * the customer's purchases, points, membership and RFM with its explanation, the 360 view's parts)
 * and `POST /api/jobs/rfm` (the manager's only).
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Customer360 from "../src/Customer360.js"
import { Customer360Http } from "../src/http.js"
import { SqliteDatabase } from "../src/sqlite.js"
import type { StoragePorts } from "../src/storage/Storage.js"
import { freshPhone } from "./contract/customers.js"
import { freshRef } from "./contract/purchases.js"
import { d1Storage } from "./support/d1.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

const TOKENS = { manager: "purchases-manager", staff: "purchases-staff", viewer: "purchases-viewer" } as const
type Who = keyof typeof TOKENS | "nobody"

const purchaseHttpSuite = <E>(name: string, storage: () => Layer.Layer<StoragePorts | SqlClient.SqlClient, E>) =>
  describe(name, () => {
    let runtime: ManagedRuntime.ManagedRuntime<SqlClient.SqlClient, unknown>
    let handler: (request: Request) => Promise<Response> = async () => new Response("", { status: 500 })
    let dispose: () => Promise<void> = async () => {}

    beforeAll(async () => {
      runtime = ManagedRuntime.make(
        Customer360.layer(storage()) as unknown as Layer.Layer<SqlClient.SqlClient, unknown>
      )
      const context = (await runtime.runtime()).context
      const tokens = Customer360Http.parseTokens(`${TOKENS.manager}:manager,${TOKENS.staff}:staff,${TOKENS.viewer}:viewer`)
      if (Either.isLeft(tokens)) throw tokens.left
      const api = Customer360Http.layer({ tokens: tokens.right }).pipe(Layer.provide(Layer.succeedContext(context)))
      const web = HttpApiBuilder.toWebHandler(Layer.mergeAll(api, HttpServer.layerContext) as never)
      handler = web.handler
      dispose = web.dispose
    }, 60_000)
    afterAll(async () => {
      await dispose()
      await runtime.dispose()
    })

    const call = async (method: string, path: string, options: { readonly who?: Who; readonly body?: unknown } = {}) => {
      const who = options.who ?? "staff"
      const headers: Record<string, string> = who === "nobody" ? {} : { authorization: `Bearer ${TOKENS[who]}` }
      if (options.body !== undefined) headers["content-type"] = "application/json"
      const response = await handler(
        new Request(`http://c360.test${path}`, {
          method,
          headers,
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
        })
      )
      const text = await response.text()
      expect(text).not.toMatch(/\n\s+at |SqlError|SQLITE_|D1_|node_modules|\.ts:\d/)
      return { status: response.status, body: JSON.parse(text) as any }
    }
    const expectError = (reply: { status: number; body: any }, status: number, code: string) => {
      expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status, code })
      expect(typeof reply.body.error.message).toBe("string")
    }
    const sql = (run: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown>) =>
      runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, run) as Effect.Effect<unknown, unknown, SqlClient.SqlClient>)
    const count = async (table: string) =>
      Number(((await sql((s) => s`SELECT count(*) AS n FROM ${s(table)}`)) as ReadonlyArray<{ n: unknown }>)[0]!.n)

    it("POST /api/purchases: 201 with the purchase and the customer's figures; a repeat answers the first (repeated); another payload 409; a bad amount 400; a viewer 403, no token 401 — nothing written by a refusal", async () => {
      const phone = freshPhone()
      const reference = freshRef("h")
      const body = { phone, amount: 2_500_000, reference, shopId: "s1", items: [{ productId: "A", name: "Áo", quantity: 2, unitPrice: 1_250_000 }] }
      const created = await call("POST", "/api/purchases", { body })
      expect(created.status).toBe(201)
      expect(created.body).toMatchObject({
        repeated: false,
        levelChanged: { from: "bronze", to: "silver" },
        tierChanged: null,
        purchase: { reference, amount: 2_500_000, returned: 0, points: 250, pointsReturned: 0, shopId: "s1", items: [{ productId: "A", quantity: 2 }] },
        customer: { phone, totalOrders: 1, totalSpent: 2_500_000, points: 250, membershipLevel: "silver", tier: "new" }
      })
      expect(created.body.purchase.at).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/)
      const repeat = await call("POST", "/api/purchases", { body })
      expect(repeat.status).toBe(201)
      expect(repeat.body).toMatchObject({ repeated: true, purchase: { id: created.body.purchase.id } })
      const purchases = await count("c360_purchases")
      const customers = await count("c360_customers")
      expectError(await call("POST", "/api/purchases", { body: { ...body, amount: 2_500_001 } }), 409, "IDEMPOTENCY_CONFLICT")
      for (const amount of [0, -5, 1.5, 9_007_199_254_740_992]) {
        const reply = await call("POST", "/api/purchases", { body: { phone: freshPhone(), amount, reference: freshRef("h") } })
        expectError(reply, 400, "INVALID_AMOUNT")
      }
      expectError(await call("POST", "/api/purchases", { body: { phone: freshPhone(), amount: "100", reference: freshRef("h") } }), 400, "VALIDATION_ERROR")
      expectError(await call("POST", "/api/purchases", { body: { phone: "12", amount: 100, reference: freshRef("h") } }), 400, "INVALID_PHONE")
      expectError(await call("POST", "/api/purchases", { who: "viewer", body: { phone, amount: 100, reference: freshRef("h") } }), 403, "FORBIDDEN")
      expectError(await call("POST", "/api/purchases", { who: "nobody", body: { phone, amount: 100, reference: freshRef("h") } }), 401, "UNAUTHORIZED")
      expect([await count("c360_purchases"), await count("c360_customers")]).toEqual([purchases, customers])
      // by customer id
      const byId = await call("POST", "/api/purchases", { who: "manager", body: { customerId: created.body.customer.id, amount: 10_000, reference: freshRef("h") } })
      expect(byId).toMatchObject({ status: 201, body: { customer: { totalOrders: 2, totalSpent: 2_510_000, points: 251 } } })
    })

    it("POST /api/purchases for a blacklisted customer: 409 CUSTOMER_BLACKLISTED, nothing written", async () => {
      const phone = freshPhone()
      const first = await call("POST", "/api/purchases", { body: { phone, amount: 50_000, reference: freshRef("h") } })
      expect(first.status).toBe(201)
      await sql((s) => s`UPDATE c360_customers SET tier = 'blacklist' WHERE id = ${first.body.customer.id}`)
      const before = await count("c360_purchases")
      const refused = await call("POST", "/api/purchases", { body: { phone, amount: 50_000, reference: freshRef("h") } })
      expectError(refused, 409, "CUSTOMER_BLACKLISTED")
      expect(refused.body.error.details).toEqual({ customerId: first.body.customer.id })
      expect(await count("c360_purchases")).toBe(before)
    })

    it("POST /api/purchases/:reference/returns: 201 (all that is left by default), 422 RETURN_EXCEEDS_PURCHASE, 404 PURCHASE_NOT_FOUND, 403 for a viewer; GET /api/purchases/:reference shows the returns", async () => {
      const phone = freshPhone()
      const reference = freshRef("h")
      expect((await call("POST", "/api/purchases", { body: { phone, amount: 95_000, reference } })).status).toBe(201)
      const path = `/api/purchases/${encodeURIComponent(reference)}/returns`
      const part = await call("POST", path, { body: { amount: 15_000, reference: freshRef("hr") } })
      expect(part.status).toBe(201)
      expect(part.body).toMatchObject({
        repeated: false,
        return: { amount: 15_000, points: 1, purchaseReference: reference },
        purchase: { returned: 15_000, pointsReturned: 1 },
        customer: { totalSpent: 80_000, points: 8 }
      })
      const over = await call("POST", path, { body: { amount: 80_001, reference: freshRef("hr") } })
      expectError(over, 422, "RETURN_EXCEEDS_PURCHASE")
      expect(over.body.error.details).toEqual({ purchaseReference: reference, returnable: 80_000 })
      expectError(await call("POST", path, { who: "viewer", body: { reference: freshRef("hr") } }), 403, "FORBIDDEN")
      expectError(await call("POST", `/api/purchases/${freshRef("none")}/returns`, { body: { reference: freshRef("hr") } }), 404, "PURCHASE_NOT_FOUND")
      expectError(await call("POST", path, { body: { amount: 0, reference: freshRef("hr") } }), 400, "INVALID_AMOUNT")
      const rest = await call("POST", path, { body: { reference: freshRef("hr") } })
      expect(rest).toMatchObject({ status: 201, body: { return: { amount: 80_000, points: 8 }, purchase: { returned: 95_000, pointsReturned: 9 }, customer: { totalSpent: 0, points: 0 } } })
      const full = await call("POST", path, { body: { reference: freshRef("hr") } })
      expectError(full, 422, "RETURN_EXCEEDS_PURCHASE")
      const details = await call("GET", `/api/purchases/${encodeURIComponent(reference)}`, { who: "viewer" })
      expect(details.status).toBe(200)
      expect(details.body).toMatchObject({ reference, amount: 95_000, returned: 95_000 })
      expect(details.body.returns.map((r: any) => r.amount).sort()).toEqual([15_000, 80_000])
      expectError(await call("GET", `/api/purchases/${freshRef("none")}`, { who: "viewer" }), 404, "PURCHASE_NOT_FOUND")
    })

    it("GET /api/customer/:phone/{purchases,points,membership,rfm} and the 360 view: the figures, the RFM with its explanation; 404 for an unknown phone", async () => {
      const phone = freshPhone()
      for (let i = 0; i < 3; i++) {
        expect((await call("POST", "/api/purchases", { body: { phone, amount: 700_000, reference: freshRef("h") } })).status).toBe(201)
      }
      const list = await call("GET", `/api/customer/${phone}/purchases?limit=2`, { who: "viewer" })
      expect(list).toMatchObject({ status: 200, body: { total: 3, page: 1, limit: 2 } })
      expect(list.body.items).toHaveLength(2)
      const points = await call("GET", `/api/customer/${phone}/points`, { who: "viewer" })
      expect(points).toMatchObject({ status: 200, body: { balance: 210 } })
      expect(points.body.history.map((h: any) => [h.kind, h.points])).toEqual([["earned", 70], ["earned", 70], ["earned", 70]])
      const membership = await call("GET", `/api/customer/${phone}/membership`, { who: "viewer" })
      expect(membership).toMatchObject({ status: 200, body: { level: "silver", discount: 10, totalSpent: 2_100_000, points: 210, nextLevel: "gold", toNextLevel: 2_900_000 } })
      const rfm = await call("GET", `/api/customer/${encodeURIComponent(`+84 ${phone.slice(1)}`)}/rfm`, { who: "viewer" })
      expect(rfm.status).toBe(200)
      expect(rfm.body).toMatchObject({ recencyDays: 0, frequency: 3, monetary: 2_100_000, r: 5, f: 3, m: 3, mode: "fixed", tier: "new" })
      expect(rfm.body.explanation).toHaveLength(5)
      expect(rfm.body.explanation[1]).toBe("F = 3: 3 purchases in the last 90 days; 6 are needed for 4")
      expectError(await call("GET", `/api/customer/${freshPhone()}/rfm`, { who: "viewer" }), 404, "CUSTOMER_NOT_FOUND")
      expectError(await call("GET", `/api/customer/12/rfm`, { who: "viewer" }), 400, "INVALID_PHONE")
      const view = await call("GET", `/api/customer/${phone}`, { who: "viewer" })
      expect(view.status).toBe(200)
      expect(view.body.membership).toMatchObject({ level: "silver", discount: 10 })
      expect(view.body.rfm).toMatchObject({ r: 5, f: 3, m: 3 })
      expect(view.body.purchases).toHaveLength(3)
    })

    it("POST /api/jobs/rfm: the manager's (200 with the report); staff and viewers 403", async () => {
      expectError(await call("POST", "/api/jobs/rfm", { who: "staff" }), 403, "FORBIDDEN")
      expectError(await call("POST", "/api/jobs/rfm", { who: "viewer" }), 403, "FORBIDDEN")
      const reply = await call("POST", "/api/jobs/rfm", { who: "manager" })
      expect(reply.status).toBe(200)
      expect(reply.body).toEqual({ customers: await count("c360_customers"), changed: expect.any(Number), batches: 1 })
      const again = await call("POST", "/api/jobs/rfm", { who: "manager" })
      expect(again.body.changed).toBe(0)
    })
  })

purchaseHttpSuite("purchases over HTTP on SQLite", () => SqliteDatabase.layer({ filename: ":memory:" }))
purchaseHttpSuite("purchases over HTTP on SQLite with deferred writes", () => SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true }))
purchaseHttpSuite("purchases over HTTP on Cloudflare D1 (Miniflare)", () => d1Storage)
describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  purchaseHttpSuite("purchases over HTTP on PostgreSQL", () => pgStorage())
})
