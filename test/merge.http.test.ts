/**
 * `POST /api/customers/merge` served in process by `HttpApiBuilder.toWebHandler` over the library on
 * SQLite: manager only, a dry run unless `dryRun: false`, the actor from the token, refusals as
 * `409 MERGE_REFUSED`, an unknown profile `404`, a malformed body `400` naming its fields.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Customer360 from "../src/Customer360.js"
import { Customers } from "../src/customers/Customers.js"
import { Customer360Http } from "../src/http.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { makeCustomerId } from "../src/customers/Customer.js"
import { freshPhone } from "./contract/customers.js"

const TOKENS = { viewer: "merge-viewer-token", staff: "merge-staff-token", manager: "merge-manager-token" } as const
type Who = keyof typeof TOKENS

describe("POST /api/customers/merge (SQLite, in process)", () => {
  const runtime = ManagedRuntime.make(Customer360.layer(SqliteDatabase.layer({ filename: ":memory:" })))
  let handler: (request: Request) => Promise<Response> = async () => new Response("", { status: 500 })
  let dispose: () => Promise<void> = async () => {}
  const ids = { survivor: "", merged: "", other: "" }

  beforeAll(async () => {
    const context = (await runtime.runtime()).context
    const tokens = Customer360Http.parseTokens(`${TOKENS.viewer}:viewer,${TOKENS.staff}:staff,${TOKENS.manager}:manager:lan.nguyen`)
    if (Either.isLeft(tokens)) throw tokens.left
    const api = Customer360Http.layer({ tokens: tokens.right }).pipe(Layer.provide(Layer.succeedContext(context)))
    const web = HttpApiBuilder.toWebHandler(Layer.mergeAll(api, HttpServer.layerContext))
    handler = web.handler
    dispose = web.dispose
    const customers = await runtime.runPromise(Customers)
    ids.survivor = (await runtime.runPromise(customers.create({ phone: freshPhone(), name: "Nguyễn Văn An" }))).id
    ids.merged = (await runtime.runPromise(customers.create({ phone: freshPhone(), name: "An", email: "an@example.com" }))).id
    ids.other = (await runtime.runPromise(customers.create({ phone: freshPhone(), name: "Bình" }))).id
  })
  afterAll(async () => {
    await dispose()
    await runtime.dispose()
  })

  const call = async (who: Who | null, body: unknown) => {
    const headers: Record<string, string> = who === null ? {} : { authorization: `Bearer ${TOKENS[who]}` }
    headers["content-type"] = "application/json"
    const response = await handler(new Request("http://c360.test/api/customers/merge", {
      method: "POST",
      headers,
      body: JSON.stringify(body)
    }))
    return { status: response.status, body: (await response.json()) as any }
  }
  const journal = () =>
    runtime.runPromise(Effect.gen(function*() {
      // the library's layer holds the SQL client without declaring it in its type
      const sql = Option.getOrThrow(yield* Effect.serviceOption(SqlClient.SqlClient))
      const merges = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM c360_merges`
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM c360_merge_rows`
      return { merges: Number(merges[0]!.n), rows: Number(rows[0]!.n) }
    }))
  const statusOf = async (id: string) => {
    const customers = await runtime.runPromise(Customers)
    const c = await runtime.runPromise(customers.get(id))
    return { status: c.status, mergedInto: c.mergedInto }
  }

  it("a viewer or staff token gets 403 and nothing is written", async () => {
    for (const who of ["viewer", "staff"] as const) {
      expect(await call(who, { survivorId: ids.survivor, mergedIds: [ids.merged], dryRun: false }))
        .toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } })
    }
    expect(await call(null, { survivorId: ids.survivor, mergedIds: [ids.merged] })).toMatchObject({ status: 401 })
    expect(await journal()).toEqual({ merges: 0, rows: 0 })
    expect((await statusOf(ids.merged)).status).toBe("active")
  })

  it("a manager's call is a dry run by default: the plan, nothing written; dryRun: false merges; a repeat changes nothing", async () => {
    const plan = await call("manager", { survivorId: ids.survivor, mergedIds: [ids.merged] })
    expect(plan.status).toBe(200)
    expect(plan.body).toMatchObject({
      mergeId: null,
      dryRun: true,
      repeated: false,
      survivorId: ids.survivor,
      mergedIds: [ids.merged],
      alreadyMerged: [],
      survivor: { id: ids.survivor, email: "an@example.com", name: "Nguyễn Văn An" }
    })
    expect(plan.body.fields).toContainEqual({ customerId: ids.survivor, field: "email", before: null, after: "an@example.com" })
    expect(typeof plan.body.survivor.createdAt).toBe("string")
    expect(await journal()).toEqual({ merges: 0, rows: 0 })
    expect(await statusOf(ids.merged)).toEqual({ status: "active", mergedInto: null })

    const done = await call("manager", { survivorId: ids.survivor, mergedIds: [ids.merged], dryRun: false })
    expect(done.status).toBe(200)
    expect(done.body).toMatchObject({ dryRun: false, repeated: false, mergedIds: [ids.merged] })
    expect(typeof done.body.mergeId).toBe("string")
    expect([done.body.fields, done.body.moved, done.body.survivor.email]).toEqual([plan.body.fields, plan.body.moved, "an@example.com"])
    expect(await statusOf(ids.merged)).toEqual({ status: "merged", mergedInto: ids.survivor })
    expect((await journal()).merges).toBe(1)

    const again = await call("manager", { survivorId: ids.survivor, mergedIds: [ids.merged], dryRun: false })
    expect(again).toMatchObject({ status: 200, body: { repeated: true, mergeId: null, mergedIds: [], alreadyMerged: [ids.merged] } })
    expect((await journal()).merges).toBe(1)
  })

  it("refusals are 409 MERGE_REFUSED, an unknown profile 404, a malformed body 400 naming its fields", async () => {
    expect(await call("manager", { survivorId: ids.other, mergedIds: [ids.other], dryRun: false }))
      .toMatchObject({ status: 409, body: { error: { code: "MERGE_REFUSED" } } })
    // ids.merged is merged into ids.survivor: neither a survivor nor mergeable into another
    expect(await call("manager", { survivorId: ids.other, mergedIds: [ids.merged], dryRun: false }))
      .toMatchObject({ status: 409, body: { error: { code: "MERGE_REFUSED" } } })
    expect(await call("manager", { survivorId: ids.merged, mergedIds: [ids.other] }))
      .toMatchObject({ status: 409, body: { error: { code: "MERGE_REFUSED" } } })
    const unknown = makeCustomerId(Date.now(), new Uint8Array(10))
    expect(await call("manager", { survivorId: ids.other, mergedIds: [unknown] }))
      .toMatchObject({ status: 404, body: { error: { code: "CUSTOMER_NOT_FOUND" } } })
    const bodies = {
      survivorId: { survivorId: 42, mergedIds: [ids.merged] },
      mergedIds: { survivorId: ids.other, mergedIds: "all" },
      dryRun: { survivorId: ids.other, mergedIds: [ids.merged], dryRun: "yes" }
    }
    for (const [field, body] of Object.entries(bodies)) {
      const bad = await call("manager", body)
      expect(bad).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_ERROR" } } })
      expect(JSON.stringify(bad.body.error.details)).toContain(field)
    }
    expect(await call("manager", { survivorId: ids.other, mergedIds: [] }))
      .toMatchObject({ status: 400, body: { error: { code: "VALIDATION_ERROR", message: expect.stringContaining("mergedIds") } } })
    expect(await statusOf(ids.other)).toEqual({ status: "active", mergedInto: null })
  })
})
