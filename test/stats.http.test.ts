/**
 * The statistics' HTTP endpoints, served in process by `HttpApiBuilder.toWebHandler` over the
 * library on SQLite: `GET /api/customers/stats` and `GET /api/customer/:phone/stats` — their JSON
 * (instants as ISO strings, the same figures as the service), their options, authentication, and
 * the error envelope for a bad option, a bad phone and an unknown one.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Customer360 from "../src/Customer360.js"
import { Customer360Http } from "../src/http.js"
import { Purchases } from "../src/purchases/Purchases.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { Stats } from "../src/stats/Stats.js"
import { freshPhone } from "./contract/customers.js"

const VIEWER = "stats-viewer-token"

describe("statistics over HTTP (SQLite, in process)", () => {
  const runtime = ManagedRuntime.make(Customer360.layer(SqliteDatabase.layer({ filename: ":memory:" })))
  let handler: (request: Request) => Promise<Response> = async () => new Response("", { status: 500 })
  let dispose: () => Promise<void> = async () => {}
  const phone = freshPhone()

  beforeAll(async () => {
    const context = (await runtime.runtime()).context
    const tokens = Customer360Http.parseTokens(`${VIEWER}:viewer`)
    if (Either.isLeft(tokens)) throw tokens.left
    const api = Customer360Http.layer({ tokens: tokens.right }).pipe(Layer.provide(Layer.succeedContext(context)))
    const web = HttpApiBuilder.toWebHandler(Layer.mergeAll(api, HttpServer.layerContext))
    handler = web.handler
    dispose = web.dispose
    const purchases = await runtime.runPromise(Purchases)
    await runtime.runPromise(purchases.record({
      phone,
      amount: 300_001,
      reference: "http-stats-1",
      items: [{ productId: "SKU-9", name: "Nón lá", quantity: 3, unitPrice: 100_000 }]
    }))
    await runtime.runPromise(purchases.record({ phone, amount: 99_999, reference: "http-stats-2" }))
    await runtime.runPromise(purchases.recordReturn({ purchaseReference: "http-stats-2", amount: 50_000, reference: "http-stats-r" }))
  })
  afterAll(async () => {
    await dispose()
    await runtime.dispose()
  })

  const get = async (path: string, token: string | null = VIEWER) => {
    const response = await handler(
      new Request(`http://c360.test${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } })
    )
    return { status: response.status, body: (await response.json()) as any }
  }

  it("GET /api/customers/stats: the overview as JSON, the service's figures, `top` and `recent`; any token's role may read it; none → 401; a bad option → 400 VALIDATION_ERROR", async () => {
    const reply = await get("/api/customers/stats")
    expect(reply.status).toBe(200)
    const service = await runtime.runPromise(Stats)
    const overview = await runtime.runPromise(service.overview())
    expect(reply.body).toMatchObject({
      customers: 1,
      buyers: 1,
      orders: 2,
      revenue: 350_000,
      averageLifetimeValue: 350_000,
      averagePurchases: 2,
      byLevel: { bronze: 1, silver: 0, gold: 0, platinum: 0 },
      month: overview.month
    })
    expect(typeof reply.body.asOf).toBe("string")
    expect(reply.body.topCustomers).toEqual([
      expect.objectContaining({ phone, totalSpent: 350_000, totalOrders: 2, createdAt: expect.stringMatching(/Z$/) })
    ])
    expect(reply.body.recentCustomers.map((c: any) => c.phone)).toEqual([phone])
    expect((await get("/api/customers/stats?top=1&recent=1")).status).toBe(200)
    expect(await get("/api/customers/stats", null)).toMatchObject({ status: 401, body: { error: { code: "UNAUTHORIZED" } } })
    for (const query of ["top=0", "recent=101", "top=1.5", "top=x"]) {
      expect(await get(`/api/customers/stats?${query}`)).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_ERROR" } } })
    }
  })

  it("GET /api/customer/:phone/stats: one customer's figures as JSON for a phone in any format; `products` and `months`; unknown → 404 CUSTOMER_NOT_FOUND; not a phone → 400 INVALID_PHONE", async () => {
    const reply = await get(`/api/customer/${encodeURIComponent(`+84 ${phone.slice(1, 4)} ${phone.slice(4)}`)}/stats`)
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({
      phone,
      orders: 2,
      purchased: 400_000,
      returned: 50_000,
      totalSpent: 350_000,
      averageOrderValue: 175_000,
      topProducts: [{ productId: "SKU-9", name: "Nón lá", quantity: 3, revenue: 300_000, orders: 1 }]
    })
    expect(reply.body.lastPurchaseAt).toMatch(/^\d{4}-\d{2}-\d{2}T.*Z$/)
    expect(reply.body.monthly).toEqual([
      expect.objectContaining({ orders: 2, spent: 400_000, returned: 50_000, net: 350_000 })
    ])
    const short = await get(`/api/customer/${phone}/stats?products=1&months=1`)
    expect(short.body.topProducts).toHaveLength(1)
    expect(await get(`/api/customer/${phone}/stats?months=0`)).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_ERROR" } } })
    expect(await get(`/api/customer/${freshPhone()}/stats`)).toMatchObject({ status: 404, body: { error: { code: "CUSTOMER_NOT_FOUND" } } })
    expect(await get(`/api/customer/12345/stats`)).toMatchObject({ status: 400, body: { error: { code: "INVALID_PHONE" } } })
    expect(await get(`/api/customer/${phone}/stats`, null)).toMatchObject({ status: 401 })
  })

  it("the OpenAPI document has both endpoints, as reads", async () => {
    const spec = (await get("/api/openapi.json", null)).body
    expect(Object.keys(spec.paths["/api/customers/stats"])).toEqual(["get"])
    expect(Object.keys(spec.paths["/api/customer/{phone}/stats"])).toEqual(["get"])
    expect(spec.paths["/api/customer/{phone}/stats"].get.responses["404"]).toBeDefined()
  })
})
