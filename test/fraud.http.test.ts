/**
 * The fraud module's HTTP endpoints, served in process by `HttpApiBuilder.toWebHandler` over the
 * library on SQLite: `POST /api/jobs/fraud` (manager), `GET /api/customer/:phone/fraud` (any role),
 * `POST /api/customer/:phone/fraud/flags/:flag/clear` (manager; a flag not active is 404) and
 * `POST /api/fraud/backtest` (manager) — their JSON, their roles and the error envelope.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Customer360 from "../src/Customer360.js"
import { Customers } from "../src/customers/Customers.js"
import { Customer360Http } from "../src/http.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { Wallets } from "../src/wallets/Wallets.js"
import { freshPhone } from "./contract/customers.js"

const TOKENS = { viewer: "fraud-viewer-token", staff: "fraud-staff-token", manager: "fraud-manager-token" } as const
type Who = keyof typeof TOKENS

describe("fraud over HTTP (SQLite, in process)", () => {
  const runtime = ManagedRuntime.make(Customer360.layer(SqliteDatabase.layer({ filename: ":memory:" })))
  let handler: (request: Request) => Promise<Response> = async () => new Response("", { status: 500 })
  let dispose: () => Promise<void> = async () => {}
  const phone = freshPhone()
  const transactionIds: Array<string> = []
  const started = Date.now()

  beforeAll(async () => {
    const context = (await runtime.runtime()).context
    const tokens = Customer360Http.parseTokens(`${TOKENS.viewer}:viewer,${TOKENS.staff}:staff,${TOKENS.manager}:manager:lan.nguyen`)
    if (Either.isLeft(tokens)) throw tokens.left
    const api = Customer360Http.layer({ tokens: tokens.right }).pipe(Layer.provide(Layer.succeedContext(context)))
    const web = HttpApiBuilder.toWebHandler(Layer.mergeAll(api, HttpServer.layerContext))
    handler = web.handler
    dispose = web.dispose
    const customers = await runtime.runPromise(Customers)
    await runtime.runPromise(customers.create({ phone, name: "Khách" }))
    const wallets = await runtime.runPromise(Wallets)
    for (let i = 0; i < 6; i++) {
      const r = await runtime.runPromise(wallets.deposit({ phone, amount: 6_000_000, reference: `http-fraud-${i}`, source: "manual" }))
      transactionIds.push(r.transactionId)
    }
  })
  afterAll(async () => {
    await dispose()
    await runtime.dispose()
  })

  const call = async (method: string, path: string, who: Who | null, body?: unknown) => {
    const headers: Record<string, string> = who === null ? {} : { authorization: `Bearer ${TOKENS[who]}` }
    if (body !== undefined) headers["content-type"] = "application/json"
    const response = await handler(new Request(`http://c360.test${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    }))
    return { status: response.status, body: (await response.json()) as any }
  }

  it("POST /api/jobs/fraud runs the rules (manager only); GET /api/customer/:phone/fraud shows the flag and the decision with its evidence to any role", async () => {
    expect(await call("POST", "/api/jobs/fraud", "staff")).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } })
    const run = await call("POST", "/api/jobs/fraud", "manager")
    expect(run.status).toBe(200)
    expect(run.body).toMatchObject({ runId: expect.stringMatching(/^frr_/), decisions: 1, flags: 1, blacklisted: 0, evaluated: 1, batches: 1 })
    expect(Date.parse(run.body.at)).toBeGreaterThanOrEqual(started)
    const reply = await call("GET", `/api/customer/${phone}/fraud`, "viewer")
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({ phone, tier: "new", flags: [{ flag: "suspicious", clearedAt: null }] })
    expect(reply.body.decisions).toHaveLength(1)
    expect(reply.body.decisions[0]).toMatchObject({
      ruleId: "wallet-abuse",
      ruleVersion: 1,
      action: "suspicious",
      windowFrom: expect.stringMatching(/Z$/),
      evidence: { count: 6 }
    })
    // exactly the transactions behind it (ordered by time, then id: several share a millisecond here)
    expect([...reply.body.decisions[0].evidence.transactionIds].sort()).toEqual([...transactionIds].sort())
    expect((await call("GET", `/api/customer/${phone}/fraud?limit=0`, "viewer")).status).toBe(400)
    expect((await call("GET", `/api/customer/${freshPhone()}/fraud`, "viewer")).body.error.code).toBe("CUSTOMER_NOT_FOUND")
    expect((await call("GET", `/api/customer/${phone}/fraud`, null)).status).toBe(401)
  })

  it("POST /api/fraud/backtest replays a rule version and writes nothing (manager only)", async () => {
    const body = { from: new Date(started - 60_000).toISOString(), to: new Date().toISOString(), rules: [{ id: "wallet-abuse", version: 1 }] }
    expect((await call("POST", "/api/fraud/backtest", "staff", body)).status).toBe(403)
    const reply = await call("POST", "/api/fraud/backtest", "manager", body)
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({ evaluated: 1, truncated: false, rules: [{ id: "wallet-abuse", version: 1 }] })
    expect(reply.body.hits.map((h: any) => [h.phone, h.ruleId, h.evidence.count])).toEqual([[phone, "wallet-abuse", 6]])
    expect((await call("POST", "/api/fraud/backtest", "manager", { ...body, from: "not a date" })).body.error.code).toBe("VALIDATION_ERROR")
  })

  it("POST /api/customer/:phone/fraud/flags/:flag/clear clears it with the reason, as the token's name (manager only); again → 404 FLAG_NOT_FOUND; no reason → 400", async () => {
    const path = `/api/customer/${phone}/fraud/flags/suspicious/clear`
    expect((await call("POST", path, "staff", { reason: "checked" })).status).toBe(403)
    expect((await call("POST", path, "manager", { reason: " " })).body.error.code).toBe("VALIDATION_ERROR")
    const cleared = await call("POST", path, "manager", { reason: "the customer's own savings" })
    expect(cleared.status).toBe(200)
    expect(cleared.body).toMatchObject({ tier: "new", flag: { flag: "suspicious", clearedBy: "lan.nguyen", clearReason: "the customer's own savings" } })
    expect(await call("POST", path, "manager", { reason: "again" })).toMatchObject({ status: 404, body: { error: { code: "FLAG_NOT_FOUND", details: { flag: expect.any(String) } } } })
    expect((await call("GET", `/api/customer/${phone}/fraud`, "viewer")).body.flags).toEqual([])
  })
})
