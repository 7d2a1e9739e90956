/**
 * The analytics' HTTP endpoints, served in process by `HttpApiBuilder.toWebHandler` over the
 * library on SQLite, on the contract's hand-computed set: the three views as JSON (the service's
 * figures), their validation (400 VALIDATION_ERROR), the three workbooks (media type, attachment,
 * a ZIP whose sheets hold the view's figures), authentication (401), and the OpenAPI document.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { unzipSync } from "fflate"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Analytics } from "../src/analytics/Analytics.js"
import * as Customer360 from "../src/Customer360.js"
import { Customer360Http } from "../src/http.js"
import { SqliteDatabase } from "../src/sqlite.js"
import {
  COUPONS,
  EXPECTED_COUPONS,
  EXPECTED_SALES,
  insertCoupons,
  insertLoyaltyCustomers,
  insertPosCustomers,
  insertSales,
  insertVips,
  LOYALTY_CUSTOMERS,
  POS_CUSTOMERS,
  SALES,
  VIPS
} from "./contract/analytics.js"

const VIEWER = "analytics-viewer-token"
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

describe("retail analytics over HTTP (SQLite, in process)", () => {
  const runtime = ManagedRuntime.make(Customer360.layer(SqliteDatabase.layer({ filename: ":memory:" })))
  let handler: (request: Request) => Promise<Response> = async () => new Response("", { status: 500 })
  let dispose: () => Promise<void> = async () => {}

  beforeAll(async () => {
    const context = (await runtime.runtime()).context
    const tokens = Customer360Http.parseTokens(`${VIEWER}:viewer`)
    if (Either.isLeft(tokens)) throw tokens.left
    const api = Customer360Http.layer({ tokens: tokens.right }).pipe(Layer.provide(Layer.succeedContext(context)))
    const web = HttpApiBuilder.toWebHandler(Layer.mergeAll(api, HttpServer.layerContext))
    handler = web.handler
    dispose = web.dispose
    // the library's context holds its SQL client (the tables are the imports' and loyalty's)
    await runtime.runPromise(Effect.all([
      insertVips(VIPS),
      insertSales(SALES),
      insertCoupons(COUPONS),
      insertPosCustomers(POS_CUSTOMERS),
      insertLoyaltyCustomers(LOYALTY_CUSTOMERS)
    ], { discard: true }) as Effect.Effect<void>)
  })
  afterAll(async () => {
    await dispose()
    await runtime.dispose()
  })

  const call = (path: string, token: string | null = VIEWER) =>
    handler(new Request(`http://c360.test${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } }))
  const get = async (path: string, token: string | null = VIEWER) => {
    const response = await call(path, token)
    return { status: response.status, body: (await response.json()) as any }
  }

  it("GET /api/analytics/sales and /coupons: the hand-computed figures as JSON, the shop-group filter; bad periods → 400 VALIDATION_ERROR; no token → 401", async () => {
    expect(await get("/api/analytics/sales?from=2026-06-01&to=2026-07-10")).toEqual({ status: 200, body: EXPECTED_SALES })
    expect(await get("/api/analytics/coupons?from=2026-06-01&to=2026-07-10")).toEqual({ status: 200, body: EXPECTED_COUPONS })
    const sg = await get("/api/analytics/sales?from=2026-06-01&to=2026-07-10&shopGroup=SG")
    expect(sg.body.total.salesAmount).toBe(5_150_001)
    for (const query of ["from=2026-07-10&to=2026-06-01", "from=2026-02-30&to=2026-03-01", "from=2026-01-01", "from=2000-01-01&to=2026-01-01", ""]) {
      for (const view of ["sales", "coupons"]) {
        expect(await get(`/api/analytics/${view}?${query}`)).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_ERROR" } } })
      }
    }
    expect(await get("/api/analytics/sales?from=2026-06-01&to=2026-07-10", null)).toMatchObject({
      status: 401,
      body: { error: { code: "UNAUTHORIZED" } }
    })
  })

  it("GET /api/analytics/comparison: counts and the four pages; page and pageSize; bad ones → 400", async () => {
    const reply = await get("/api/analytics/comparison?from=2026-06-01&to=2026-06-30&pageSize=2&page=2")
    expect(reply.status).toBe(200)
    const service = await runtime.runPromise(Analytics)
    expect(reply.body).toEqual(
      await runtime.runPromise(service.comparison({ from: "2026-06-01", to: "2026-06-30", pageSize: 2, page: 2 }))
    )
    expect(reply.body.allTime.pos).toEqual({ customers: 7, matched: 4, only: 3, invalidPhones: 1 })
    expect(reply.body.posOnly.rows.map((r: any) => r.vipId)).toEqual([204])
    expect((await get("/api/analytics/comparison")).body.period).toBeNull()
    for (const query of ["page=0", "pageSize=501", "pageSize=x", "from=2026-13-01"]) {
      expect(await get(`/api/analytics/comparison?${query}`)).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_ERROR" } } })
    }
    expect((await get("/api/analytics/comparison", null)).status).toBe(401)
  })

  const sheetsOf = async (response: Response) => {
    const bytes = new Uint8Array(await response.arrayBuffer())
    expect([...bytes.slice(0, 4)]).toEqual([0x50, 0x4b, 0x03, 0x04]) // a ZIP
    const files = unzipSync(bytes)
    const decoder = new TextDecoder()
    const workbook = decoder.decode(files["xl/workbook.xml"])
    const names = [...workbook.matchAll(/<sheet [^>]*name="([^"]+)"/g)].map((m) => m[1])
    return { names, sheet: (i: number) => decoder.decode(files[`xl/worksheets/sheet${i}.xml`]) }
  }

  it("GET /api/analytics/sales.xlsx, /coupons.xlsx, /comparison.xlsx: the workbook, streamed, as an attachment, with the seed's sheets and the view's figures; a bad query → 400 before any byte; no token → 401", async () => {
    const sales = await call("/api/analytics/sales.xlsx?from=2026-06-01&to=2026-07-10")
    expect(sales.status).toBe(200)
    expect(sales.headers.get("content-type")).toBe(XLSX)
    expect(sales.headers.get("content-disposition")).toBe('attachment; filename="sales_2026-06-01_2026-07-10.xlsx"')
    const s = await sheetsOf(sales)
    expect(s.names).toEqual(["Overview", "By VIP Grade", "By Season", "By Shop Group", "Grade × Season"])
    expect(s.sheet(1)).toContain("7550001")
    expect(s.sheet(2)).toContain("3500001")

    const coupons = await call("/api/analytics/coupons.xlsx?from=2026-06-01&to=2026-07-10&shopGroup=HN")
    expect(coupons.headers.get("content-disposition")).toBe('attachment; filename="coupons_HN_2026-06-01_2026-07-10.xlsx"')
    expect((await sheetsOf(coupons)).names).toEqual(["Overview", "By VIP Grade", "By Season", "By Shop Group"])

    const comparison = await call("/api/analytics/comparison.xlsx?from=2026-06-01&to=2026-06-30")
    const c = await sheetsOf(comparison)
    expect(c.names).toEqual(["Overview", "POS Only - All Time", "Loyalty Only - All Time", "POS Only - Period", "Loyalty Only - Period"])
    expect(c.sheet(2)).toContain("not a valid phone")
    const all = await sheetsOf(await call("/api/analytics/comparison.xlsx"))
    expect(all.names).toEqual(["Overview", "POS Only - All Time", "Loyalty Only - All Time"])

    expect(await get("/api/analytics/sales.xlsx?from=2026-07-10&to=2026-06-01")).toMatchObject({
      status: 400,
      body: { error: { code: "VALIDATION_ERROR" } }
    })
    expect(await get("/api/analytics/comparison.xlsx?to=nope")).toMatchObject({ status: 400 })
    expect((await call("/api/analytics/coupons.xlsx?from=2026-06-01&to=2026-07-10", null)).status).toBe(401)
  })

  it("the OpenAPI document has the six endpoints, as reads, the workbooks with their media type", async () => {
    const spec = (await get("/api/openapi.json", null)).body
    for (const path of ["sales", "coupons", "comparison", "sales.xlsx", "coupons.xlsx", "comparison.xlsx"]) {
      expect(Object.keys(spec.paths[`/api/analytics/${path}`])).toEqual(["get"])
    }
    expect(Object.keys(spec.paths["/api/analytics/sales.xlsx"].get.responses["200"].content)).toEqual([XLSX])
  })
})
