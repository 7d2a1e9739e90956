/**
 * The imports' HTTP endpoints, served in process by `HttpApiBuilder.toWebHandler` over the library
 * on SQLite: `POST /api/imports/:kind` with a CSV body (streamed past the envelope's JSON rule and
 * its 64 KiB limit) and its report as JSON; role refusals (viewer, staff) write nothing; an unknown
 * kind is 404, another media type 415, an import over `maxImportBytes` 413 (the envelope, alone); a header without a
 * required column 400; `GET /api/imports/:id` answers the stored report (manager only); an XLSX
 * body.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Customer360 from "../src/Customer360.js"
import { Customer360Http } from "../src/http.js"
import { envelope } from "../src/platform/http/HttpKit.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { workbook } from "./fixtures/imports/workbook.js"

const MANAGER = "imports-manager-token"
const STAFF = "imports-staff-token"
const VIEWER = "imports-viewer-token"
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
const HEADER = "invoice_number,shop_id,sales_date,vip_id,sales_amount"

describe("imports over HTTP (SQLite, in process)", () => {
  const runtime = ManagedRuntime.make(Customer360.layer(SqliteDatabase.layer({ filename: ":memory:" })))
  let handler: (request: Request) => Promise<Response> = async () => new Response("", { status: 500 })
  let dispose: () => Promise<void> = async () => {}

  beforeAll(async () => {
    const context = (await runtime.runtime()).context
    const tokens = Customer360Http.parseTokens(`${MANAGER}:manager,${STAFF}:staff,${VIEWER}:viewer`)
    if (Either.isLeft(tokens)) throw tokens.left
    const api = Customer360Http.layer({ tokens: tokens.right }).pipe(Layer.provide(Layer.succeedContext(context)))
    const web = HttpApiBuilder.toWebHandler(Layer.mergeAll(api, HttpServer.layerContext))
    handler = web.handler
    dispose = web.dispose
  })
  afterAll(async () => {
    await dispose()
    await runtime.dispose()
  })

  const post = async (path: string, body: string | Uint8Array, type: string, token: string | null = MANAGER) => {
    const response = await handler(new Request(`http://c360.test${path}`, {
      method: "POST",
      body,
      headers: { "content-type": type, ...(token === null ? {} : { authorization: `Bearer ${token}` }) }
    }))
    return { status: response.status, body: (await response.json()) as any }
  }
  const get = async (path: string, token: string = MANAGER) => {
    const response = await handler(new Request(`http://c360.test${path}`, { headers: { authorization: `Bearer ${token}` } }))
    return { status: response.status, body: (await response.json()) as any }
  }
  const count = (table: string) =>
    runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<{ n: unknown }>(`SELECT count(*) AS n FROM ${table}`)).pipe(
      Effect.map((rows) => Number(rows[0]!.n)),
      Effect.orDie
    ) as Effect.Effect<number>)

  it("POST /api/imports/sales with a CSV body over 64 KiB: the report as JSON; GET /api/imports/:id the stored one", async () => {
    const lines = [HEADER, ...Array.from({ length: 3000 }, (_, i) => `HTTP${i},HN01,2026-06-30,0,"1.000"`), `HTTPX,HN01,2026-02-30,0,1`]
    const text = lines.join("\n")
    expect(text.length).toBeGreaterThan(65_536)
    const reply = await post("/api/imports/sales", text, "text/csv; charset=utf-8")
    expect(reply.status).toBe(200)
    expect(reply.body).toEqual({
      id: expect.stringMatching(/^imp_/),
      kind: "sales",
      format: "csv",
      status: "completed",
      lines: 3001,
      created: 3000,
      updated: 0,
      unchanged: 0,
      failed: [{ line: 3002, column: "sales_date", value: "2026-02-30", reason: "is not a date of the calendar" }],
      failedCount: 1,
      error: null,
      actor: expect.any(String),
      startedAt: expect.stringMatching(/Z$/),
      finishedAt: expect.stringMatching(/Z$/)
    })
    expect(await get(`/api/imports/${reply.body.id}`)).toEqual({ status: 200, body: reply.body })
    expect(await get(`/api/imports/${reply.body.id}`, VIEWER)).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } })
    expect(await get("/api/imports/imp_nope")).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } })
  })

  it("a viewer's or staff's import is refused (403) and writes nothing; no token 401; an unknown kind 404; another media type 415; a bad header 400", async () => {
    const body = `${HEADER}\nREFUSED1,HN01,2026-06-30,0,1\n`
    const runs = await count("c360_imports")
    const sales = await count("c360_pos_sales")
    for (const token of [VIEWER, STAFF]) {
      expect(await post("/api/imports/sales", body, "text/csv", token)).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } })
    }
    expect((await post("/api/imports/sales", body, "text/csv", null)).status).toBe(401)
    expect(await post("/api/imports/orders", body, "text/csv")).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } })
    expect(await post("/api/imports/sales", body, "text/plain")).toMatchObject({ status: 415, body: { error: { code: "UNSUPPORTED_MEDIA_TYPE" } } })
    expect(await post("/api/imports/sales", JSON.stringify({ a: 1 }), "application/json")).toMatchObject({
      status: 415,
      body: { error: { code: "UNSUPPORTED_MEDIA_TYPE" } }
    })
    expect(await post("/api/imports/sales", "invoice_number,shop_id\nX,HN01\n", "text/csv")).toMatchObject({
      status: 400,
      body: { error: { code: "VALIDATION_ERROR", details: { missing: ["sales_date", "vip_id", "sales_amount"] } } }
    })
    expect(await count("c360_imports")).toBe(runs)
    expect(await count("c360_pos_sales")).toBe(sales)
  })

  it("the envelope: an import body passes unread within maxImportBytes (413 past it, announced or streamed); any other non-JSON body is still 415, a JSON one still at most maxBodyBytes", async () => {
    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const bytes = yield* Stream.runFold(request.stream, 0, (n, chunk) => n + chunk.length)
      return HttpServerResponse.unsafeJson({ bytes })
    }).pipe(Effect.catchAll((e) => Effect.succeed(HttpServerResponse.unsafeJson({ error: e }, { status: 499 }))))
    const web = HttpApp.toWebHandler(envelope(100, 1000)(app as never))
    const send = async (path: string, body: string | ReadableStream<Uint8Array>, type: string, length?: number) => {
      const response = await web(new Request(`http://c360.test${path}`, {
        method: "POST",
        body,
        headers: { "content-type": type, ...(length === undefined ? {} : { "content-length": String(length) }) },
        ...(typeof body === "string" ? {} : { duplex: "half" })
      } as RequestInit))
      return { status: response.status, body: (await response.json()) as any }
    }
    expect(await send("/api/imports/sales", "x".repeat(900), "text/csv")).toEqual({ status: 200, body: { bytes: 900 } })
    expect(await send("/api/imports/sales", "x".repeat(900), XLSX)).toEqual({ status: 200, body: { bytes: 900 } })
    expect(await send("/api/imports/sales", "x".repeat(1001), "text/csv", 1001)).toMatchObject({ status: 413, body: { error: { code: "PAYLOAD_TOO_LARGE" } } })
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 3; i++) controller.enqueue(new TextEncoder().encode("y".repeat(400)))
        controller.close()
      }
    })
    expect(await send("/api/imports/sales", chunked, "text/csv")).toMatchObject({ status: 499, body: { error: { error: { code: "PAYLOAD_TOO_LARGE" } } } })
    expect(await send("/api/customers", "x".repeat(50), "text/csv")).toMatchObject({ status: 415 })
    expect(await send("/api/imports/sales/extra", "x".repeat(50), "text/csv")).toMatchObject({ status: 415 })
    const json = JSON.stringify({ a: "x".repeat(200) })
    expect(await send("/api/customers", json, "application/json", json.length)).toMatchObject({ status: 413 })
  })

  it("POST /api/imports/sales with an XLSX body (dates as Excel serials, money as numbers)", async () => {
    const bytes = await workbook(["invoice_number", "shop_id", "sales_date", "vip_id", "sales_amount"], [
      ["XLSX1", "HN01", 46203, 0, 1_234_000],
      ["XLSX2", "HN01", "2026-07-01", 0, "1.000"]
    ])
    const reply = await post("/api/imports/sales", bytes, XLSX)
    expect(reply.body).toMatchObject({ format: "xlsx", created: 2, failedCount: 0 })
  })
})
