/**
 * The retail analytics contract (DOMAIN §11, §11a), run against SQLite, SQLite with deferred
 * writes, PostgreSQL and D1 (analytics.*.test.ts): the sales figures of a hand-computed data set —
 * every breakdown, conversion against its bases, the non-VIP line, the shop-group filter — with the
 * season and day edges in Hanoi; coupons of a hand-computed set; the comparison's counts and pages
 * on a hand-built set with invalid phones; validation; and a property: random sales give
 * breakdowns that each add up to the total, and a model's figures.
 *
 * The tables are the imports' and loyalty's (their migrations 0950, 0960); the tests seed them with
 * plain SQL (never through those modules' services), stored as the import stores them: the business day of the sale's
 * instant in Hanoi and its season by `seasonOf`, the shop group by `shopGroupOf`. Each test
 * empties them first.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import type * as Layer from "effect/Layer"
import { Analytics } from "../../src/analytics/Analytics.js"
import { ALL_SHOP_GROUPS, EXPORT_PAGE, INVALID_PHONE, NO_GRADE, NOT_USED } from "../../src/analytics/Export.js"
import type { SalesReport } from "../../src/analytics/Figures.js"
import { GRADES, type Grade, seasonOf, shopGroupOf } from "../../src/imports/Retail.js"
import { businessDay, dayToDate } from "../../src/kernel/BusinessDay.js"
import { fromBytes } from "../../src/platform/files/Source.js"
import { readXlsx } from "../../src/platform/files/Xlsx.js"
import { serialOfDay } from "../../src/platform/files/XlsxWriter.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { servicesOver } from "./customers.js"

const ZONE = "Asia/Ho_Chi_Minh"

/** The business day in Hanoi of an instant, as the import stores it. */
export const hanoiDay = (iso: string): string => dayToDate(businessDay(Date.parse(iso), ZONE))

export interface Sale {
  readonly invoice: string
  readonly shopId: string
  /** The sale's instant (ISO); its business day and season are derived as the import does. */
  readonly at: string
  readonly vipId: number
  readonly amount: number
}
export interface Vip {
  readonly vipId: number
  readonly grade: Grade | null
  readonly registered: string | null
}
export interface Coupon {
  readonly id: string
  readonly faceValue: number
  readonly used: boolean
  readonly begin: string | null
  readonly usingShop: string | null
  readonly memberId: number | null
}
export interface PosCustomer {
  readonly vipId: number
  readonly phone: string | null
  readonly phoneRaw: string
  readonly name: string
  readonly grade: Grade | null
  readonly email: string | null
  readonly registered: string | null
  readonly points: number
}
export interface LoyaltyCustomer {
  readonly cnvId: number
  readonly phone: string | null
  readonly phoneRaw: string
  readonly lastName: string
  readonly firstName: string
  readonly level: string | null
  readonly email: string | null
  readonly created: string | null
  readonly totalPoints: number
  readonly usedPoints: number
}

const TABLES = ["c360_pos_sales", "c360_pos_coupons", "c360_pos_customers", "c360_pos_vips", "c360_loyalty_customers"]

/** Empties the analytics' source tables. */
export const clearRetail = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.forEach(TABLES, (t) => sql`DELETE FROM ${sql(t)}`, { discard: true })).pipe(Effect.orDie)

// D1 binds at most 100 parameters per statement
const chunks = <A>(xs: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, i * size + size))

const insertAll = (table: string, rows: ReadonlyArray<Record<string, unknown>>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    if (rows.length === 0) return Effect.void
    const per = Math.max(1, Math.floor(90 / Object.keys(rows[0]!).length))
    return Effect.forEach(chunks(rows, per), (chunk) => sql`INSERT INTO ${sql(table)} ${sql.insert(chunk as Array<any>)}`, {
      discard: true
    })
  }).pipe(Effect.orDie)

const bookkeeping = { fingerprint: "test", revision: 1, import_id: null, line: null, created_at: 0, updated_at: 0 }

export const insertSales = (sales: ReadonlyArray<Sale>) =>
  insertAll("c360_pos_sales", sales.map((s) => {
    const day = hanoiDay(s.at)
    return {
      invoice_number: s.invoice,
      shop_id: s.shopId,
      shop_group: shopGroupOf(s.shopId),
      sales_date: day,
      sales_at: Date.parse(s.at),
      season: seasonOf(day),
      vip_id: s.vipId,
      sales_amount: s.amount,
      ...bookkeeping
    }
  }))

export const insertVips = (vips: ReadonlyArray<Vip>) =>
  insertAll("c360_pos_vips", vips.map((v) => ({
    vip_id: v.vipId,
    vip_grade: v.grade,
    registration_date: v.registered,
    phone: null,
    customer_id: null,
    updated_at: 0
  })))

export const insertCoupons = (coupons: ReadonlyArray<Coupon>) =>
  insertAll("c360_pos_coupons", coupons.map((c) => ({
    coupon_id: c.id,
    face_value: c.faceValue,
    used: c.used ? 1 : 0,
    begin_date: c.begin,
    using_shop: c.usingShop,
    shop_group: c.usingShop === null ? null : shopGroupOf(c.usingShop),
    season: c.begin === null ? null : seasonOf(c.begin),
    member_id: c.memberId,
    ...bookkeeping
  })))

export const insertPosCustomers = (customers: ReadonlyArray<PosCustomer>) =>
  insertAll("c360_pos_customers", customers.map((c) => ({
    vip_id: c.vipId,
    phone_key: c.phone ?? c.phoneRaw.trim(),
    phone: c.phone,
    phone_raw: c.phoneRaw,
    name: c.name,
    vip_grade: c.grade,
    email: c.email,
    registration_date: c.registered,
    points: c.points,
    ...bookkeeping
  })))

export const insertLoyaltyCustomers = (customers: ReadonlyArray<LoyaltyCustomer>) =>
  insertAll("c360_loyalty_customers", customers.map((c) => ({
    cnv_id: c.cnvId,
    last_name: c.lastName,
    first_name: c.firstName,
    phone_raw: c.phoneRaw,
    phone: c.phone,
    email: c.email,
    level_name: c.level,
    created_date: c.created,
    total_points: c.totalPoints,
    used_points: c.usedPoints,
    fingerprint: "test",
    created_at: 0,
    updated_at: 0
  })))

// ---------------------------------------------------------------------------------------------
// The hand-computed data set (docs/analytics.md has the rules; every expected number below is
// worked out by hand from these rows)

export const VIPS: ReadonlyArray<Vip> = [
  { vipId: 101, grade: "VIP1", registered: "2026-01-10" },
  { vipId: 102, grade: "VIP1", registered: "2026-03-01" },
  { vipId: 103, grade: "DIAMOND", registered: "2025-12-01" },
  { vipId: 104, grade: "VIP0", registered: "2026-07-15" }, // after the period: a buyer outside the base
  { vipId: 105, grade: null, registered: "2026-02-01" },
  { vipId: 106, grade: "VIP2", registered: null }, // no registration date: counted as registered
  { vipId: 107, grade: "VIP3", registered: "2026-05-05" },
  { vipId: 108, grade: "VIP1", registered: "2026-01-01" },
  { vipId: 109, grade: "VIP1", registered: "2026-02-02" },
  { vipId: 110, grade: "DIAMOND", registered: "2026-01-01" }
]

export const SALES: ReadonlyArray<Sale> = [
  { invoice: "S1", shopId: "HN01", at: "2026-06-15T03:00:00Z", vipId: 101, amount: 1_000_000 },
  { invoice: "S2", shopId: "HN02", at: "2026-06-30T16:30:00Z", vipId: 101, amount: 500_000 }, // 23:30 on 30 June in Hanoi: SS
  { invoice: "S3", shopId: "SG01", at: "2026-06-30T17:10:00Z", vipId: 102, amount: 2_000_001 }, // 00:10 on 1 July in Hanoi: AW
  { invoice: "S4", shopId: "SG01", at: "2026-07-05T03:00:00Z", vipId: 103, amount: 3_000_000 },
  { invoice: "S5", shopId: "HN01", at: "2026-07-06T03:00:00Z", vipId: 999, amount: 700_000 }, // a vip id with no VIP row
  { invoice: "S6", shopId: "HN01", at: "2026-07-07T03:00:00Z", vipId: 105, amount: -100_000 }, // a refund
  { invoice: "S7", shopId: "HN01", at: "2026-06-20T03:00:00Z", vipId: 0, amount: 400_000 },
  { invoice: "S8", shopId: "SG02", at: "2026-07-08T03:00:00Z", vipId: 0, amount: 250_000 },
  { invoice: "S9", shopId: "HN01", at: "2026-05-31T16:59:00Z", vipId: 101, amount: 9_999 }, // 23:59 on 31 May: before
  { invoice: "S10", shopId: "HN01", at: "2026-07-10T17:00:00Z", vipId: 103, amount: 8_888 }, // 00:00 on 11 July: after
  { invoice: "S11", shopId: "DN01", at: "2026-07-09T03:00:00Z", vipId: 106, amount: 300_000 },
  { invoice: "S12", shopId: "SG01", at: "2026-07-10T16:59:00Z", vipId: 104, amount: 150_000 } // 23:59 on 10 July: in
]

const line = (
  salesAmount: number,
  invoices: number,
  customers: number,
  conversion: number,
  avgPerCustomer: number,
  avgPerInvoice: number
) => ({ salesAmount, invoices, customers, conversion, avgPerCustomer, avgPerInvoice })
const ZERO = line(0, 0, 0, 0, 0, 0)

/** The expected report of SALES over 2026-06-01–2026-07-10, all shop groups. */
export const EXPECTED_SALES = {
  from: "2026-06-01",
  to: "2026-07-10",
  shopGroup: null,
  // buyers 101 102 103 104 105 106 999 = 7; base 101 102 103 105 106 107 108 109 110 = 9 (104 registered after)
  total: line(7_550_001, 8, 7, 77.78, 1_078_571, 943_750),
  nonVip: { salesAmount: 650_000, invoices: 2 },
  vipBase: {
    total: 9,
    byGrade: [
      { grade: "VIP0", vips: 0 },
      { grade: "VIP1", vips: 4 },
      { grade: "VIP2", vips: 1 },
      { grade: "VIP3", vips: 1 },
      { grade: "DIAMOND", vips: 2 },
      { grade: null, vips: 1 }
    ]
  },
  byGrade: [
    { grade: "VIP0", ...line(150_000, 1, 1, 0, 150_000, 150_000) }, // no base: 0
    { grade: "VIP1", ...line(3_500_001, 3, 2, 50, 1_750_000, 1_166_667) },
    { grade: "VIP2", ...line(300_000, 1, 1, 100, 300_000, 300_000) },
    { grade: "VIP3", ...ZERO },
    { grade: "DIAMOND", ...line(3_000_000, 1, 1, 50, 3_000_000, 3_000_000) },
    { grade: null, ...line(600_000, 2, 2, 200, 300_000, 300_000) } // 999 (unknown) and 105 (no grade) over a base of 1
  ],
  bySeason: [
    { season: "SS2026", ...line(1_500_000, 2, 1, 11.11, 1_500_000, 750_000) },
    { season: "AW2026", ...line(6_050_001, 6, 6, 66.67, 1_008_333, 1_008_333) }
  ],
  byShopGroup: [
    { shopGroup: "DN", ...line(300_000, 1, 1, 11.11, 300_000, 300_000) },
    { shopGroup: "HN", ...line(2_100_000, 4, 3, 33.33, 700_000, 525_000) },
    { shopGroup: "SG", ...line(5_150_001, 3, 3, 33.33, 1_716_667, 1_716_667) }
  ],
  byGradeSeason: [
    { grade: "VIP0", season: "AW2026", ...line(150_000, 1, 1, 0, 150_000, 150_000) },
    { grade: "VIP1", season: "SS2026", ...line(1_500_000, 2, 1, 25, 1_500_000, 750_000) },
    { grade: "VIP1", season: "AW2026", ...line(2_000_001, 1, 1, 25, 2_000_001, 2_000_001) },
    { grade: "VIP2", season: "AW2026", ...line(300_000, 1, 1, 100, 300_000, 300_000) },
    { grade: "DIAMOND", season: "AW2026", ...line(3_000_000, 1, 1, 50, 3_000_000, 3_000_000) },
    { grade: null, season: "AW2026", ...line(600_000, 2, 2, 200, 300_000, 300_000) }
  ]
} satisfies SalesReport

export const COUPONS: ReadonlyArray<Coupon> = [
  { id: "C1", faceValue: 100_000, used: true, begin: "2026-06-05", usingShop: "HN01", memberId: 101 },
  { id: "C2", faceValue: 200_000, used: false, begin: "2026-06-30", usingShop: null, memberId: 101 },
  { id: "C3", faceValue: 50_000, used: true, begin: "2026-07-01", usingShop: "SG02", memberId: 103 },
  { id: "C4", faceValue: 75_000, used: false, begin: "2026-07-02", usingShop: null, memberId: 0 },
  { id: "C5", faceValue: 300_000, used: true, begin: "2026-07-03", usingShop: "HN05", memberId: null },
  { id: "C6", faceValue: 999, used: true, begin: "2026-05-31", usingShop: "HN01", memberId: 101 }, // before
  { id: "C7", faceValue: 1, used: false, begin: null, usingShop: null, memberId: 101 }, // no begin date: never in a period
  { id: "C8", faceValue: 20_000, used: true, begin: "2026-07-10", usingShop: "SG01", memberId: 104 }
]

const coupons = (issued: number, used: number, usageRate: number, faceValue: number, usedValue: number) => ({
  issued,
  used,
  usageRate,
  faceValue,
  usedValue
})
const NO_COUPONS = coupons(0, 0, 0, 0, 0)

export const EXPECTED_COUPONS = {
  from: "2026-06-01",
  to: "2026-07-10",
  shopGroup: null,
  total: coupons(6, 4, 66.67, 745_000, 470_000),
  byGrade: [
    { grade: "VIP0", ...coupons(1, 1, 100, 20_000, 20_000) },
    { grade: "VIP1", ...coupons(2, 1, 50, 300_000, 100_000) },
    { grade: "VIP2", ...NO_COUPONS },
    { grade: "VIP3", ...NO_COUPONS },
    { grade: "DIAMOND", ...coupons(1, 1, 100, 50_000, 50_000) },
    { grade: null, ...coupons(2, 1, 50, 375_000, 300_000) } // member 0 and no member
  ],
  bySeason: [
    { season: "SS2026", ...coupons(2, 1, 50, 300_000, 100_000) },
    { season: "AW2026", ...coupons(4, 3, 75, 445_000, 370_000) }
  ],
  byShopGroup: [
    { shopGroup: "HN", ...coupons(2, 2, 100, 400_000, 400_000) },
    { shopGroup: "SG", ...coupons(2, 2, 100, 70_000, 70_000) },
    { shopGroup: null, ...coupons(2, 0, 0, 275_000, 0) } // not used yet
  ]
}

const pos = (vipId: number, phone: string | null, phoneRaw: string, registered: string | null, name: string): PosCustomer => ({
  vipId,
  phone,
  phoneRaw,
  name,
  grade: vipId === 0 ? null : "VIP1",
  email: `${name.toLowerCase()}@example.vn`,
  registered,
  points: vipId
})
export const POS_CUSTOMERS: ReadonlyArray<PosCustomer> = [
  pos(201, "0912000001", "0912 000 001", "2026-01-05", "An"),
  pos(202, "0912000002", "+84 912 000 002", "2026-06-10", "Binh"),
  pos(203, "0912000003", "0912000003", "2026-06-15", "Chi"),
  pos(0, "0912000004", "0912.000.004", "2025-05-01", "Dung"),
  pos(204, null, "abc", "2026-06-20", "Em"), // does not normalise
  pos(205, "0912000002", "0912000002", "2026-07-01", "Giang"), // the same phone under another vip id
  pos(206, "0912000001", "0912000001", null, "Hoa")
]
const cnv = (cnvId: number, phone: string | null, phoneRaw: string, created: string | null): LoyaltyCustomer => ({
  cnvId,
  phone,
  phoneRaw,
  lastName: "Nguyễn Thị",
  firstName: String(cnvId),
  level: "Gold",
  email: null,
  created,
  totalPoints: cnvId * 2,
  usedPoints: 5
})
export const LOYALTY_CUSTOMERS: ReadonlyArray<LoyaltyCustomer> = [
  cnv(9001, "0912000001", "0912000001", "2025-03-01"),
  cnv(9002, "0912000002", "0912000002", "2026-06-11"),
  cnv(9003, "0912000009", "0912000009", "2026-06-12"),
  cnv(9004, null, "12345", "2026-02-01"),
  cnv(9005, "0912000008", "84912000008", "2024-12-31")
]


/** A web stream that keeps what is written to it, and the bytes once it is closed. */
export const memoryStream = () => {
  const parts: Array<Uint8Array> = []
  let closed = false
  const stream = new WritableStream<Uint8Array>({
    write: (chunk) => {
      parts.push(chunk)
    },
    close: () => {
      closed = true
    }
  })
  const bytes = () => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }
  return { stream, bytes, closed: () => closed }
}

/** Every row of a sheet of the workbook, header first, cells as read (`null` for empty ones). */
export const readSheet = (bytes: Uint8Array, sheet: string) =>
  Effect.promise(async () => {
    const rows: Array<ReadonlyArray<unknown>> = []
    for await (const row of readXlsx(fromBytes(bytes), { sheet })) rows.push(row.cells)
    return rows
  })

const day = (d: string | null) => (d === null ? null : serialOfDay(d)!)
const pct = (p: number) => p / 100
/** A sheet row as read: trailing empty cells are absent. */
const trim = (cells: ReadonlyArray<unknown>) => {
  const out = [...cells]
  while (out.length > 0 && (out[out.length - 1] === null || out[out.length - 1] === undefined)) out.pop()
  return out
}
const salesRow = (m: { salesAmount: number; invoices: number; customers: number; conversion: number; avgPerCustomer: number; avgPerInvoice: number }) =>
  [m.salesAmount, m.invoices, m.customers, pct(m.conversion), m.avgPerCustomer, m.avgPerInvoice]
const couponRow = (m: { issued: number; used: number; usageRate: number; faceValue: number; usedValue: number }) =>
  [m.issued, m.used, pct(m.usageRate), m.faceValue, m.usedValue]

const seedAll = Effect.all([
  clearRetail,
  insertVips(VIPS),
  insertSales(SALES),
  insertCoupons(COUPONS),
  insertPosCustomers(POS_CUSTOMERS),
  insertLoyaltyCustomers(LOYALTY_CUSTOMERS)
], { discard: true })

/** The sums that every breakdown of a report must add up to. */
const sumOf = (lines: ReadonlyArray<{ readonly salesAmount: number; readonly invoices: number; readonly customers: number }>) =>
  lines.reduce(
    (a, l) => ({ salesAmount: a.salesAmount + l.salesAmount, invoices: a.invoices + l.invoices, customers: a.customers + l.customers }),
    { salesAmount: 0, invoices: 0, customers: 0 }
  )

export const analyticsContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly propertyRuns?: number; readonly propertySales?: number; readonly exportRows?: number } = {}
) =>
  layer(servicesOver(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("on empty tables every figure is 0: the five grades at 0 and no null line, no seasons or shop groups, an empty comparison", () =>
      Effect.gen(function*() {
        yield* clearRetail
        const analytics = yield* Analytics
        const report = yield* analytics.sales({ from: "2026-01-01", to: "2026-12-31" })
        expect(report.total).toEqual(ZERO)
        expect(report.nonVip).toEqual({ salesAmount: 0, invoices: 0 })
        expect(report.byGrade.map((l) => l.grade)).toEqual([...GRADES])
        expect(report.byGrade.every((l) => l.salesAmount === 0 && l.conversion === 0)).toBe(true)
        expect([report.bySeason, report.byShopGroup, report.byGradeSeason]).toEqual([[], [], []])
        const c = yield* analytics.coupons({ from: "2026-01-01", to: "2026-12-31" })
        expect(c.total).toEqual(NO_COUPONS)
        const cmp = yield* analytics.comparison()
        expect(cmp.allTime).toEqual({
          pos: { customers: 0, matched: 0, only: 0, invalidPhones: 0 },
          loyalty: { customers: 0, matched: 0, only: 0, invalidPhones: 0 },
          phonesInBoth: 0
        })
        expect(cmp.period).toBeNull()
        expect(cmp.posOnly).toEqual({ total: 0, page: 1, pageSize: 50, rows: [] })
      }))

    it.effect("sales of a hand-computed set: total, non-VIP line, every grade (VIP0…DIAMOND, then the unknown/no-grade line), seasons in order, shop groups, grade × season, conversion against the VIPs registered by the period's end", () =>
      Effect.gen(function*() {
        yield* seedAll
        const analytics = yield* Analytics
        const report = yield* analytics.sales({ from: "2026-06-01", to: "2026-07-10" })
        expect(report).toEqual(EXPECTED_SALES)
        // each breakdown adds up to the total; customers too for grades (one current grade per vip id)
        expect(sumOf(report.byGrade)).toEqual({ salesAmount: 7_550_001, invoices: 8, customers: 7 })
        expect(sumOf(report.bySeason)).toMatchObject({ salesAmount: 7_550_001, invoices: 8 })
        expect(sumOf(report.byShopGroup)).toMatchObject({ salesAmount: 7_550_001, invoices: 8 })
        expect(sumOf(report.byGradeSeason)).toMatchObject({ salesAmount: 7_550_001, invoices: 8 })
      }))

    it.effect("Hanoi day and season edges: 23:30 on 30 June is SS2026 on 2026-06-30, 00:10 on 1 July (still 30 June in UTC) is AW2026 on 2026-07-01; a one-day period holds its day's sales only", () =>
      Effect.gen(function*() {
        yield* seedAll
        expect(hanoiDay("2026-06-30T16:30:00Z")).toBe("2026-06-30")
        expect(hanoiDay("2026-06-30T17:10:00Z")).toBe("2026-07-01")
        const analytics = yield* Analytics
        const june30 = yield* analytics.sales({ from: "2026-06-30", to: "2026-06-30" })
        expect(june30.bySeason).toEqual([{ season: "SS2026", ...line(500_000, 1, 1, 11.11, 500_000, 500_000) }])
        const july1 = yield* analytics.sales({ from: "2026-07-01", to: "2026-07-01" })
        expect(july1.bySeason.map((l) => [l.season, l.salesAmount])).toEqual([["AW2026", 2_000_001]])
        // the base of a period ending 30 June: 104 (15 July) out, as in the longer period; 107 registered 5 May in
        expect(june30.vipBase.total).toBe(9)
        // the last minute of 31 May and the first of 11 July fall outside June–10 July
        const edges = yield* analytics.sales({ from: "2026-05-31", to: "2026-07-11" })
        expect(edges.total.invoices).toBe(10)
      }))

    it.effect("vip id 0 is on the non-VIP line only: never in a grade, season or shop group, nor in the customers or conversion", () =>
      Effect.gen(function*() {
        yield* clearRetail
        yield* insertVips([{ vipId: 1, grade: "VIP2", registered: "2026-01-01" }])
        yield* insertSales([
          { invoice: "N1", shopId: "HN01", at: "2026-03-01T03:00:00Z", vipId: 0, amount: 123_456 },
          { invoice: "N2", shopId: "HN01", at: "2026-03-02T03:00:00Z", vipId: 0, amount: 1 }
        ])
        const report = yield* (yield* Analytics).sales({ from: "2026-03-01", to: "2026-03-31" })
        expect(report.nonVip).toEqual({ salesAmount: 123_457, invoices: 2 })
        expect(report.total).toEqual(ZERO)
        expect(report.byGrade.find((l) => l.grade === "VIP2")).toMatchObject({ salesAmount: 0, conversion: 0 })
        expect(report.byGrade.some((l) => l.grade === null)).toBe(false)
        expect([report.bySeason, report.byShopGroup, report.byGradeSeason]).toEqual([[], [], []])
        expect(report.vipBase.total).toBe(1)
      }))

    it.effect("the shop-group filter: only that group's sales (the non-VIP line too); the conversion base stays all registered VIPs", () =>
      Effect.gen(function*() {
        yield* seedAll
        const sg = yield* (yield* Analytics).sales({ from: "2026-06-01", to: "2026-07-10", shopGroup: "SG" })
        expect(sg.shopGroup).toBe("SG")
        expect(sg.total).toEqual(line(5_150_001, 3, 3, 33.33, 1_716_667, 1_716_667))
        expect(sg.nonVip).toEqual({ salesAmount: 250_000, invoices: 1 })
        expect(sg.byShopGroup.map((l) => l.shopGroup)).toEqual(["SG"])
        expect(sg.byGrade.filter((l) => l.invoices > 0).map((l) => [l.grade, l.salesAmount])).toEqual([
          ["VIP0", 150_000],
          ["VIP1", 2_000_001],
          ["DIAMOND", 3_000_000]
        ])
        expect(sg.vipBase).toEqual(EXPECTED_SALES.vipBase)
        const none = yield* (yield* Analytics).sales({ from: "2026-06-01", to: "2026-07-10", shopGroup: "ZZ" })
        expect(none.total).toEqual(ZERO)
      }))

    it.effect("coupons of a hand-computed set: selected by begin date; grade of the member (none for no member or vip id 0); unused coupons on the shop group null line; the filter keeps the coupons used in that group", () =>
      Effect.gen(function*() {
        yield* seedAll
        const analytics = yield* Analytics
        expect(yield* analytics.coupons({ from: "2026-06-01", to: "2026-07-10" })).toEqual(EXPECTED_COUPONS)
        const hn = yield* analytics.coupons({ from: "2026-06-01", to: "2026-07-10", shopGroup: "HN" })
        expect(hn.total).toEqual(coupons(2, 2, 100, 400_000, 400_000))
        expect(hn.byShopGroup).toEqual([{ shopGroup: "HN", ...coupons(2, 2, 100, 400_000, 400_000) }])
        expect(hn.byGrade.find((l) => l.grade === null)).toEqual({ grade: null, ...coupons(1, 1, 100, 300_000, 300_000) })
      }))

    it.effect("comparison of a hand-built set: counts all time and for a period (new in it, matched against the other system at any time), invalid phones match nothing and are listed, pages in a stable order", () =>
      Effect.gen(function*() {
        yield* seedAll
        const analytics = yield* Analytics
        const all = yield* analytics.comparison({ from: "2026-06-01", to: "2026-06-30", pageSize: 2 })
        expect(all.allTime).toEqual({
          pos: { customers: 7, matched: 4, only: 3, invalidPhones: 1 },
          loyalty: { customers: 5, matched: 2, only: 3, invalidPhones: 1 },
          phonesInBoth: 2
        })
        expect(all.period).toEqual({
          pos: { customers: 3, matched: 1, only: 2, invalidPhones: 1 },
          loyalty: { customers: 2, matched: 1, only: 1, invalidPhones: 0 }
        })
        expect(all.posOnly).toMatchObject({ total: 3, page: 1, pageSize: 2 })
        expect(all.posOnly.rows.map((r) => r.vipId)).toEqual([0, 203])
        expect(all.posOnly.rows[1]).toEqual({
          vipId: 203,
          phone: "0912000003",
          phoneRaw: "0912000003",
          phoneValid: true,
          name: "Chi",
          grade: "VIP1",
          email: "chi@example.vn",
          registrationDate: "2026-06-15",
          points: 203
        })
        expect(all.loyaltyOnly.rows.map((r) => r.cnvId)).toEqual([9003, 9004])
        expect(all.loyaltyOnly.rows[1]).toEqual({
          cnvId: 9004,
          phone: null,
          phoneRaw: "12345",
          phoneValid: false,
          name: "Nguyễn Thị 9004",
          level: "Gold",
          email: null,
          registrationDate: "2026-02-01",
          points: 18_008,
          usedPoints: 5
        })
        expect(all.posOnlyPeriod?.rows.map((r) => [r.vipId, r.phoneValid])).toEqual([[203, true], [204, false]])
        expect(all.loyaltyOnlyPeriod).toMatchObject({ total: 1, rows: [{ cnvId: 9003 }] })

        const page2 = yield* analytics.comparison({ from: "2026-06-01", to: "2026-06-30", pageSize: 2, page: 2 })
        expect(page2.posOnly.rows.map((r) => [r.vipId, r.phone, r.phoneRaw])).toEqual([[204, null, "abc"]])
        expect(page2.loyaltyOnly.rows.map((r) => r.cnvId)).toEqual([9005])
        expect(page2.posOnlyPeriod?.rows).toEqual([])

        const fromOnly = yield* analytics.comparison({ from: "2026-06-12" })
        expect(fromOnly).toMatchObject({ from: "2026-06-12", to: null })
        expect(fromOnly.period).toEqual({
          pos: { customers: 3, matched: 1, only: 2, invalidPhones: 1 }, // 203, 204, 205 (matched)
          loyalty: { customers: 1, matched: 0, only: 1, invalidPhones: 0 }
        })
        const noPeriod = yield* analytics.comparison({})
        expect([noPeriod.period, noPeriod.posOnlyPeriod, noPeriod.loyaltyOnlyPeriod]).toEqual([null, null, null])
        expect(noPeriod.posOnly.rows.map((r) => r.vipId)).toEqual([0, 203, 204])
      }))

    it.effect("validation: days that are not calendar days, from after to, a period over ten years, a bad shop group, unknown options, bad pages — ValidationError", () =>
      Effect.gen(function*() {
        const analytics = yield* Analytics
        const bad = [
          { from: "2026-02-30", to: "2026-03-01" },
          { from: "2026/01/01", to: "2026-03-01" },
          { from: "2026-03-02", to: "2026-03-01" },
          { from: "2000-01-01", to: "2026-01-01" },
          { from: "2026-01-01", to: "2026-01-02", shopGroup: "" },
          { from: "2026-01-01", to: "2026-01-02", shopGroup: 7 },
          { from: "2026-01-01", to: "2026-01-02", extra: 1 },
          { from: "2026-01-01" },
          "2026"
        ]
        for (const query of bad) {
          const sales = yield* Effect.flip(analytics.sales(query as never))
          expect(sales._tag).toBe("ValidationError")
          const c = yield* Effect.flip(analytics.coupons(query as never))
          expect(c._tag).toBe("ValidationError")
        }
        for (const query of [{ page: 0 }, { pageSize: 501 }, { pageSize: 1.5 }, { from: "2026-07-01", to: "2026-06-01" }, { to: "x" }]) {
          const e = yield* Effect.flip(analytics.comparison(query as never))
          expect(e._tag).toBe("ValidationError")
        }
        // ten years, both ends included, is the longest period
        yield* analytics.sales({ from: "2016-01-01", to: "2026-01-07" })
        expect((yield* Effect.flip(analytics.sales({ from: "2016-01-01", to: "2026-01-08" }))).message).toContain("at most 3660 days")
      }))


    it.effect("export read-back: each workbook, read with readXlsx, holds exactly the view's figures — sales' five sheets, coupons' four, the comparison's overview and four lists (every row, invalid phones flagged) — and the stream is closed", () =>
      Effect.gen(function*() {
        yield* seedAll
        const analytics = yield* Analytics
        const period = { from: "2026-06-01", to: "2026-07-10" }

        const sales = yield* analytics.sales(period)
        const out = memoryStream()
        const summary = yield* analytics.exportXlsx({ view: "sales", ...period, stream: out.stream })
        expect(out.closed()).toBe(true)
        expect(summary).toEqual({
          view: "sales",
          sheets: [
            { name: "Overview", rows: 2 },
            { name: "By VIP Grade", rows: 6 },
            { name: "By Season", rows: 2 },
            { name: "By Shop Group", rows: 3 },
            { name: "Grade × Season", rows: 6 }
          ]
        })
        const bytes = out.bytes()
        const overview = yield* readSheet(bytes, "Overview")
        expect(overview[0]).toEqual([
          "Line", "From", "To", "Shop group", "Sales amount", "Invoices", "Customers", "VIP customers registered",
          "Conversion", "Avg per customer", "Avg per invoice"
        ])
        const [amount, invoices, customers, ...rest] = salesRow(sales.total)
        expect(overview.slice(1).map(trim)).toEqual([
          ["VIP", day(sales.from), day(sales.to), ALL_SHOP_GROUPS, amount, invoices, customers, sales.vipBase.total, ...rest],
          ["Non-VIP", day(sales.from), day(sales.to), ALL_SHOP_GROUPS, sales.nonVip.salesAmount, sales.nonVip.invoices]
        ])
        expect((yield* readSheet(bytes, "By VIP Grade")).slice(1)).toEqual(sales.byGrade.map((l, i) => {
          const [a, n, c, ...r] = salesRow(l)
          return [l.grade ?? NO_GRADE, a, n, c, sales.vipBase.byGrade[i]!.vips, ...r]
        }))
        expect((yield* readSheet(bytes, "By Season")).slice(1)).toEqual(sales.bySeason.map((l) => [l.season, ...salesRow(l)]))
        expect((yield* readSheet(bytes, "By Shop Group")).slice(1)).toEqual(sales.byShopGroup.map((l) => [l.shopGroup, ...salesRow(l)]))
        expect((yield* readSheet(bytes, "Grade × Season")).slice(1)).toEqual(
          sales.byGradeSeason.map((l) => [l.grade ?? NO_GRADE, l.season, ...salesRow(l)])
        )

        const coupons = yield* analytics.coupons({ ...period, shopGroup: "HN" })
        const cOut = memoryStream()
        yield* analytics.exportXlsx({ view: "coupons", ...period, shopGroup: "HN", stream: cOut.stream })
        const cBytes = cOut.bytes()
        expect((yield* readSheet(cBytes, "Overview")).slice(1)).toEqual([[day(period.from), day(period.to), "HN", ...couponRow(coupons.total)]])
        expect((yield* readSheet(cBytes, "By VIP Grade")).slice(1)).toEqual(coupons.byGrade.map((l) => [l.grade ?? NO_GRADE, ...couponRow(l)]))
        expect((yield* readSheet(cBytes, "By Season")).slice(1)).toEqual(coupons.bySeason.map((l) => [l.season, ...couponRow(l)]))
        expect((yield* readSheet(cBytes, "By Shop Group")).slice(1)).toEqual(
          coupons.byShopGroup.map((l) => [l.shopGroup ?? NOT_USED, ...couponRow(l)])
        )
        const all = memoryStream()
        yield* analytics.exportXlsx({ view: "coupons", ...period, stream: all.stream })
        expect((yield* readSheet(all.bytes(), "By Shop Group")).map((r) => r[0])).toEqual(["Shop group", "HN", "SG", NOT_USED])

        const cmpPeriod = { from: "2026-06-01", to: "2026-06-30" }
        const cmp = yield* analytics.comparison({ ...cmpPeriod, pageSize: 500 })
        const xOut = memoryStream()
        const xSummary = yield* analytics.exportXlsx({ view: "comparison", ...cmpPeriod, stream: xOut.stream })
        expect(xSummary.sheets).toEqual([
          { name: "Overview", rows: 9 },
          { name: "POS Only - All Time", rows: 3 },
          { name: "Loyalty Only - All Time", rows: 3 },
          { name: "POS Only - Period", rows: 2 },
          { name: "Loyalty Only - Period", rows: 1 }
        ])
        const xBytes = xOut.bytes()
        const xOverview = yield* readSheet(xBytes, "Overview")
        expect(xOverview[1]).toEqual(["Customers (all time)", 7, 5])
        expect(xOverview[5]).toEqual(["Phones in both systems", 2, 2])
        const posRow = (r: (typeof cmp.posOnly.rows)[number]) =>
          trim([r.vipId, r.phone ?? r.phoneRaw, r.name, r.grade, r.email, day(r.registrationDate), r.points, r.phoneValid ? null : INVALID_PHONE])
        const cnvRow = (r: (typeof cmp.loyaltyOnly.rows)[number]) =>
          trim([r.cnvId, r.phone ?? r.phoneRaw, r.name, r.level, r.email, day(r.registrationDate), r.points, r.usedPoints, r.phoneValid ? null : INVALID_PHONE])
        const posSheet = yield* readSheet(xBytes, "POS Only - All Time")
        expect(posSheet[0]).toEqual(["VIP ID", "Phone", "Name", "Grade", "Email", "Registration date", "Points", "Phone check"])
        expect(posSheet.slice(1).map(trim)).toEqual(cmp.posOnly.rows.map(posRow))
        expect((yield* readSheet(xBytes, "Loyalty Only - All Time")).slice(1).map(trim)).toEqual(cmp.loyaltyOnly.rows.map(cnvRow))
        expect((yield* readSheet(xBytes, "POS Only - Period")).slice(1).map(trim)).toEqual(cmp.posOnlyPeriod!.rows.map(posRow))
        expect((yield* readSheet(xBytes, "Loyalty Only - Period")).slice(1).map(trim)).toEqual(cmp.loyaltyOnlyPeriod!.rows.map(cnvRow))
        expect(posSheet.some((r) => r.includes(INVALID_PHONE))).toBe(true)
      }))

    it.effect("export of a list longer than a keyset page: every row once, in the view's order, across the pages", () =>
      Effect.gen(function*() {
        yield* clearRetail
        const n = options.exportRows ?? EXPORT_PAGE * 2 + 7
        // generated in one statement (three phone keys per vip id: the keyset's second column)
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql`INSERT INTO c360_pos_customers (vip_id, phone_key, phone, phone_raw, name, registration_date, points, fingerprint)
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${n - 1})
            SELECT 1 + i / 3, 'k' || (100000 + i), 'p' || (100000 + i), 'p' || (100000 + i), 'K', '2026-01-01', i, 'test' FROM n`
        ).pipe(Effect.orDie)
        const out = memoryStream()
        const summary = yield* (yield* Analytics).exportXlsx({ view: "comparison", stream: out.stream })
        expect(summary.sheets[1]).toEqual({ name: "POS Only - All Time", rows: n })
        const rows = (yield* readSheet(out.bytes(), "POS Only - All Time")).slice(1)
        expect(rows.map((r) => r[6])).toEqual(Array.from({ length: n }, (_, i) => i))
      }))

    it.effect("export failures: options without exactly one of path and stream, or with a bad view or period, fail ValidationError before anything is written; a stream that refuses the bytes fails ExportFailed", () =>
      Effect.gen(function*() {
        const analytics = yield* Analytics
        const out = memoryStream()
        for (const bad of [
          { view: "sales", from: "2026-06-01", to: "2026-07-10" },
          { view: "sales", from: "2026-06-01", to: "2026-07-10", stream: out.stream, path: "x.xlsx" },
          { view: "sales", from: "2026-07-11", to: "2026-07-10", stream: out.stream },
          { view: "sales", to: "2026-07-10", stream: out.stream },
          { view: "nope", stream: out.stream },
          { view: "comparison", stream: {} },
          { view: "comparison", from: "2026-07-11", to: "2026-07-10", stream: out.stream }
        ]) {
          expect((yield* Effect.flip(analytics.exportXlsx(bad as never)))._tag).toBe("ValidationError")
        }
        expect(out.bytes().length).toBe(0)
        const refusing = new WritableStream<Uint8Array>({
          write: () => {
            throw new Error("disk full")
          }
        })
        const failed = yield* Effect.flip(analytics.exportXlsx({ view: "comparison", stream: refusing }))
        expect(failed).toMatchObject({ _tag: "ExportFailed", reason: "file" })
      }))

    const grades = fc.constantFrom<Grade | null>(...GRADES, null)
    it.effect.prop(
      "random sales: the grade, season, shop-group and grade × season breakdowns each add up to the total's amount and invoices; the grades' customers add up to the total's, the others' to at least it; each shop group's line is the shop-group-filtered total; the total, non-VIP line and base match a model",
      [
        fc.array(
          fc.record({ grade: grades, registered: fc.option(fc.constantFrom("2026-01-01", "2026-06-30", "2026-09-01"), { nil: null }) }),
          { minLength: 1, maxLength: 5 }
        ),
        fc.array(
          fc.record({
            vip: fc.integer({ min: 0, max: 7 }), // 0: non-VIP; above the VIP rows: unknown vip ids
            shop: fc.constantFrom("HN01", "HN02", "SG01", "DN9", "X"),
            at: fc.integer({ min: Date.parse("2026-05-01T00:00:00Z"), max: Date.parse("2026-09-30T00:00:00Z") }),
            amount: fc.integer({ min: -1_000_000, max: 50_000_000 })
          }),
          { maxLength: options.propertySales ?? 25 }
        ),
        fc.constantFrom("2026-05-01", "2026-06-15", "2026-06-30"),
        fc.constantFrom("2026-06-30", "2026-07-31", "2026-09-30")
      ],
      ([vipRows, saleRows, from, to]) =>
        Effect.gen(function*() {
            yield* clearRetail
          const analytics = yield* Analytics
          const vips = vipRows.map((v, i) => ({ vipId: i + 1, ...v }))
          yield* insertVips(vips)
          const sales = saleRows.map((s, i): Sale => ({
            invoice: `P${i}`,
            shopId: s.shop,
            at: new Date(s.at).toISOString(),
            vipId: s.vip,
            amount: s.amount
          }))
          yield* insertSales(sales)
          const report = yield* analytics.sales({ from, to })
          const inPeriod = sales.filter((s) => hanoiDay(s.at) >= from && hanoiDay(s.at) <= to)
          const vip = inPeriod.filter((s) => s.vipId !== 0)
          const base = vips.filter((v) => v.registered === null || v.registered <= to).length
          expect(report.total).toMatchObject({
            salesAmount: vip.reduce((n, s) => n + s.amount, 0),
            invoices: vip.length,
            customers: new Set(vip.map((s) => s.vipId)).size
          })
          expect(report.nonVip).toEqual({
            salesAmount: inPeriod.filter((s) => s.vipId === 0).reduce((n, s) => n + s.amount, 0),
            invoices: inPeriod.length - vip.length
          })
          expect(report.vipBase.total).toBe(base)
          expect(report.vipBase.byGrade.reduce((n, g) => n + g.vips, 0)).toBe(base)
          const total = report.total
          for (const lines of [report.byGrade, report.bySeason, report.byShopGroup, report.byGradeSeason]) {
            const sum = sumOf(lines)
            expect([sum.salesAmount, sum.invoices]).toEqual([total.salesAmount, total.invoices])
            expect(sum.customers).toBeGreaterThanOrEqual(total.customers)
          }
          expect(sumOf(report.byGrade).customers).toBe(total.customers)
          for (const group of report.byShopGroup) {
            const filtered = yield* analytics.sales({ from, to, shopGroup: group.shopGroup })
            const { shopGroup: _, ...figures } = group
            expect(filtered.total).toEqual(figures)
          }
        }),
      { fastCheck: { numRuns: options.propertyRuns ?? 20 } }
    )
  })
