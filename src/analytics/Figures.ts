/**
 * Retail analytics (DOMAIN §11, §11a): the shapes of every figure, the queries' options, and the
 * rules of their ratios and orders.
 *
 * Every count and sum is one SQL aggregation over the imports' and loyalty's tables
 * (`AnalyticsRepository.ts`); the only arithmetic done here is a ratio of two of those exact
 * integers, in `bigint`: averages in đồng are floored ({@link floorAverage}), rates are percents
 * with two decimals rounded half up ({@link percent2}). No float ever drifts a figure.
 *
 * The rules, in full: docs/analytics.md.
 *
 * @since 0.5.0
 */
import * as Schema from "effect/Schema"
import { ratio2 } from "../stats/Figures.js"
import { Grade, GRADES } from "../imports/Retail.js"

// ---------------------------------------------------------------------------------------------
// Ratios

/**
 * `⌊sum ÷ count⌋` of two integers, exactly, toward −∞ (a period of refunds has a negative sum:
 * `−7 ÷ 2 = −4`); `0` when `count` is `0`. For a non-negative sum it is `stats`' `floorRatio`.
 *
 * @since 0.5.0
 */
export const floorAverage = (sum: number, count: number): number => {
  if (count === 0) return 0
  const s = BigInt(sum)
  const c = BigInt(count)
  const q = s / c
  return Number(s % c !== 0n && (s < 0n) !== (c < 0n) ? q - 1n : q)
}

/**
 * `part ÷ whole` as a percent with two decimals, rounded half up from the exact quotient
 * (`1 ÷ 3 = 33.33`, `2 ÷ 3 = 66.67`, `1 ÷ 8 = 12.5`); `0` when `whole` is `0`. Both are counts
 * (non-negative). A part above the whole gives more than 100 (documented data oddities only).
 *
 * @since 0.5.0
 */
export const percent2 = (part: number, whole: number): number => ratio2(part * 100, whole)

// ---------------------------------------------------------------------------------------------
// Orders

/**
 * The rank of a season label for a chronological order: `SS2025 < AW2025 < SS2026`; a label that is
 * not `SS`/`AW` and a year (or `null`) sorts after every season.
 *
 * @since 0.5.0
 */
export const seasonRank = (season: string | null): number => {
  const m = season === null ? null : /^(SS|AW)(\d{1,6})$/.exec(season)
  if (m === null) return Number.MAX_SAFE_INTEGER
  return Number(m[2]) * 2 + (m[1] === "AW" ? 1 : 0)
}

/** Seasons chronologically (ties, unknown labels: by the label's code units). @since 0.5.0 */
export const compareSeasons = (a: string | null, b: string | null): number =>
  seasonRank(a) - seasonRank(b) || compareText(a, b)

/** The rank of a grade line: `VIP0` 0 … `DIAMOND` 4, no grade (`null`) 5. @since 0.5.0 */
export const gradeLineRank = (grade: Grade | null): number => (grade === null ? GRADES.length : GRADES.indexOf(grade))

/**
 * Text by UTF-16 code units, the same on every engine and locale (`null` last): the order of shop
 * groups, whatever the database's collation.
 *
 * @since 0.5.0
 */
export const compareText = (a: string | null, b: string | null): number =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1

// ---------------------------------------------------------------------------------------------
// Business days and options

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/

const isCalendarDay = (s: string): boolean => {
  if (!DAY_PATTERN.test(s)) return false
  const t = Date.parse(`${s}T00:00:00Z`)
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === s
}

/**
 * A business-zone calendar day, `YYYY-MM-DD` (a real date: `2026-02-30` is refused). Stored days
 * are the same text, so they compare as text on every engine.
 *
 * @since 0.5.0
 */
export const Day = Schema.String.pipe(
  Schema.filter((s) => isCalendarDay(s), { message: () => "must be a calendar day written YYYY-MM-DD" })
).annotations({ identifier: "BusinessDay", description: "a business-zone day, YYYY-MM-DD" })

/** The longest period a query may cover: 3,660 days (ten years), both ends included. @since 0.5.0 */
export const MAX_PERIOD_DAYS = 3_660

/** Days from `from` to `to`, both included (`2026-01-01`–`2026-01-01` is 1). @since 0.5.0 */
export const periodDays = (from: string, to: string): number =>
  Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1

const periodCheck = (p: { readonly from?: string | undefined; readonly to?: string | undefined }) => {
  if (p.from === undefined || p.to === undefined) return true
  if (p.from > p.to) return { path: ["to"], message: "must not be before from" }
  if (periodDays(p.from, p.to) > MAX_PERIOD_DAYS) {
    return { path: ["to"], message: `the period must be at most ${MAX_PERIOD_DAYS} days` }
  }
  return true
}

/** A shop group as the imports store it (the first two characters of a shop id). @since 0.5.0 */
export const ShopGroup = Schema.String.pipe(
  Schema.filter((s) => s.length >= 1 && s.length <= 32 && s.trim() === s, {
    message: () => "must be a shop group of 1 to 32 characters without surrounding spaces"
  })
)

/**
 * Options of `Analytics.sales` and `Analytics.coupons`: the period `from`–`to` (business days, both
 * included, `from` ≤ `to`, at most {@link MAX_PERIOD_DAYS} days) and, optionally, one shop group.
 *
 * @since 0.5.0
 */
export const PeriodQuery = Schema.Struct({
  from: Day,
  to: Day,
  shopGroup: Schema.optional(ShopGroup)
}).pipe(Schema.filter(periodCheck))
/** @since 0.5.0 */
export type PeriodQuery = typeof PeriodQuery.Encoded

/** The default and the largest page size of the comparison's lists. @since 0.5.0 */
export const PAGE_SIZE = { default: 50, max: 500 } as const

/**
 * Options of `Analytics.comparison`: an optional period (`from`, `to`: either or both; its lists
 * and counts are omitted without one), the page (1-based, default 1) and its size (1–500, default
 * 50) of the four lists.
 *
 * @since 0.5.0
 */
export const ComparisonQuery = Schema.Struct({
  from: Schema.optional(Day),
  to: Schema.optional(Day),
  page: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000_000, { message: () => "must be a whole page number from 1" }))),
  pageSize: Schema.optional(
    Schema.Int.pipe(Schema.between(1, PAGE_SIZE.max, { message: () => `must be a whole number from 1 to ${PAGE_SIZE.max}` }))
  )
}).pipe(Schema.filter(periodCheck))
/** @since 0.5.0 */
export type ComparisonQuery = typeof ComparisonQuery.Encoded

// ---------------------------------------------------------------------------------------------
// Sales

/**
 * The sales figures of a set of VIP sales (vip id ≠ 0) of the period:
 * - `salesAmount`: Σ `sales_amount` (đồng; may be negative with refunds);
 * - `invoices`: the sales (one row per invoice number);
 * - `customers`: distinct vip ids among them (the buyers);
 * - `conversion`: `customers ÷ base` as a percent with two decimals ({@link percent2}), where the
 *   base is the VIP customers registered on or before the period's last day (the line's grade's for
 *   a grade line; all of them for the total, a season and a shop group — docs/analytics.md);
 * - `avgPerCustomer`, `avgPerInvoice`: `⌊salesAmount ÷ customers⌋`, `⌊salesAmount ÷ invoices⌋` đồng
 *   ({@link floorAverage}), `0` without any.
 *
 * @since 0.5.0
 */
export const SalesMetrics = Schema.Struct({
  salesAmount: Schema.Int,
  invoices: Schema.Int,
  customers: Schema.Int,
  conversion: Schema.Number,
  avgPerCustomer: Schema.Int,
  avgPerInvoice: Schema.Int
}).annotations({ identifier: "SalesMetrics" })
/** @since 0.5.0 */
export type SalesMetrics = typeof SalesMetrics.Type

/** What SQL adds up for one line of sales. @since 0.5.0 */
export interface SalesSums {
  readonly salesAmount: number
  readonly invoices: number
  readonly customers: number
}

/** The figures of a line from its sums and its conversion base. @since 0.5.0 */
export const salesMetrics = (sums: SalesSums, base: number): SalesMetrics => ({
  salesAmount: sums.salesAmount,
  invoices: sums.invoices,
  customers: sums.customers,
  conversion: percent2(sums.customers, base),
  avgPerCustomer: floorAverage(sums.salesAmount, sums.customers),
  avgPerInvoice: floorAverage(sums.salesAmount, sums.invoices)
})

const GradeOrNone = Schema.NullOr(Grade)

/** A grade's line: the sales of the VIPs whose current grade it is (`null`: no known grade). @since 0.5.0 */
export const GradeSalesLine = Schema.Struct({ grade: GradeOrNone, ...SalesMetrics.fields }).annotations({
  identifier: "GradeSalesLine"
})
/** @since 0.5.0 */
export type GradeSalesLine = typeof GradeSalesLine.Type

/** A season's line (the stored season of each sale: `SS2026`, `AW2026`). @since 0.5.0 */
export const SeasonSalesLine = Schema.Struct({ season: Schema.String, ...SalesMetrics.fields }).annotations({
  identifier: "SeasonSalesLine"
})
/** @since 0.5.0 */
export type SeasonSalesLine = typeof SeasonSalesLine.Type

/** A shop group's line (the stored shop group of each sale). @since 0.5.0 */
export const ShopGroupSalesLine = Schema.Struct({ shopGroup: Schema.String, ...SalesMetrics.fields }).annotations({
  identifier: "ShopGroupSalesLine"
})
/** @since 0.5.0 */
export type ShopGroupSalesLine = typeof ShopGroupSalesLine.Type

/** A grade × season line (conversion over the grade's base). @since 0.5.0 */
export const GradeSeasonSalesLine = Schema.Struct({ grade: GradeOrNone, season: Schema.String, ...SalesMetrics.fields })
  .annotations({ identifier: "GradeSeasonSalesLine" })
/** @since 0.5.0 */
export type GradeSeasonSalesLine = typeof GradeSeasonSalesLine.Type

/** The non-VIP sales of the period (vip id 0): amount and invoices only. @since 0.5.0 */
export const NonVipSales = Schema.Struct({ salesAmount: Schema.Int, invoices: Schema.Int }).annotations({
  identifier: "NonVipSales"
})

/** The conversion bases: VIP customers registered on or before the period's last day, in total and per grade. @since 0.5.0 */
export const VipBase = Schema.Struct({
  total: Schema.Int,
  byGrade: Schema.Array(Schema.Struct({ grade: GradeOrNone, vips: Schema.Int }))
}).annotations({ identifier: "VipBase" })
/** @since 0.5.0 */
export type VipBase = typeof VipBase.Type

/**
 * The sales analytics of a period (docs/analytics.md#sales). Every figure counts VIP sales only;
 * `nonVip` is the overview's line of the others.
 * - `byGrade`: the five grades, `VIP0` … `DIAMOND`, always (zeros included), then a `grade: null`
 *   line when there are sales of, or registered, VIPs without a known grade — so that its amounts,
 *   invoices and customers each add up to `total`'s.
 * - `bySeason`: the seasons with sales, chronologically; `byShopGroup`: the shop groups with sales,
 *   by their code units; `byGradeSeason`: the grade × season pairs with sales, by grade then season.
 *   Their amounts and invoices add up to `total`'s; their customers to at least `total`'s (a buyer
 *   may buy in two seasons or two shop groups).
 *
 * @since 0.5.0
 */
export const SalesReport = Schema.Struct({
  from: Schema.String,
  to: Schema.String,
  shopGroup: Schema.NullOr(Schema.String),
  total: SalesMetrics,
  nonVip: NonVipSales,
  vipBase: VipBase,
  byGrade: Schema.Array(GradeSalesLine),
  bySeason: Schema.Array(SeasonSalesLine),
  byShopGroup: Schema.Array(ShopGroupSalesLine),
  byGradeSeason: Schema.Array(GradeSeasonSalesLine)
}).annotations({ identifier: "SalesReport" })
/** @since 0.5.0 */
export type SalesReport = typeof SalesReport.Type

// ---------------------------------------------------------------------------------------------
// Coupons

/**
 * The coupon figures of a set of coupons: `issued` (coupons), `used` (those marked used),
 * `usageRate` (`used ÷ issued`, percent with two decimals), `faceValue` (Σ face values, đồng),
 * `usedValue` (Σ face values of the used ones).
 *
 * @since 0.5.0
 */
export const CouponMetrics = Schema.Struct({
  issued: Schema.Int,
  used: Schema.Int,
  usageRate: Schema.Number,
  faceValue: Schema.Int,
  usedValue: Schema.Int
}).annotations({ identifier: "CouponMetrics" })
/** @since 0.5.0 */
export type CouponMetrics = typeof CouponMetrics.Type

/** What SQL adds up for one line of coupons. @since 0.5.0 */
export interface CouponSums {
  readonly issued: number
  readonly used: number
  readonly faceValue: number
  readonly usedValue: number
}

/** The figures of a line of coupons from its sums. @since 0.5.0 */
export const couponMetrics = (sums: CouponSums): CouponMetrics => ({
  issued: sums.issued,
  used: sums.used,
  usageRate: percent2(sums.used, sums.issued),
  faceValue: sums.faceValue,
  usedValue: sums.usedValue
})

/** A grade's coupons (the member's current grade; `null`: no member, vip id 0 or no known grade). @since 0.5.0 */
export const GradeCouponLine = Schema.Struct({ grade: GradeOrNone, ...CouponMetrics.fields }).annotations({
  identifier: "GradeCouponLine"
})
/** A season's coupons (the stored season of the begin date). @since 0.5.0 */
export const SeasonCouponLine = Schema.Struct({ season: Schema.NullOr(Schema.String), ...CouponMetrics.fields }).annotations({
  identifier: "SeasonCouponLine"
})
/** A shop group's coupons (of the using shop; `null`: not used anywhere yet). @since 0.5.0 */
export const ShopGroupCouponLine = Schema.Struct({ shopGroup: Schema.NullOr(Schema.String), ...CouponMetrics.fields })
  .annotations({ identifier: "ShopGroupCouponLine" })

/**
 * The coupon analytics of a period (docs/analytics.md#coupons): the coupons whose begin date is in
 * the period (and, with `shopGroup`, whose using shop is in that group). `byGrade`: the five grades
 * always, then `null` when it has coupons; `bySeason` chronologically; `byShopGroup` by code units,
 * `null` (unused) last. Each breakdown's five figures add up to `total`'s.
 *
 * @since 0.5.0
 */
export const CouponReport = Schema.Struct({
  from: Schema.String,
  to: Schema.String,
  shopGroup: Schema.NullOr(Schema.String),
  total: CouponMetrics,
  byGrade: Schema.Array(GradeCouponLine),
  bySeason: Schema.Array(SeasonCouponLine),
  byShopGroup: Schema.Array(ShopGroupCouponLine)
}).annotations({ identifier: "CouponReport" })
/** @since 0.5.0 */
export type CouponReport = typeof CouponReport.Type

// ---------------------------------------------------------------------------------------------
// Comparison

/**
 * A POS customer of a comparison list: the seed's columns (vip id, phone, name, grade, e-mail,
 * registration date, points) and the phone as imported; `phoneValid` is `false` when it did not
 * normalise (`phone` is then `null`: it matches nothing).
 *
 * @since 0.5.0
 */
export const PosCustomerRow = Schema.Struct({
  vipId: Schema.Int,
  phone: Schema.NullOr(Schema.String),
  phoneRaw: Schema.String,
  phoneValid: Schema.Boolean,
  name: Schema.NullOr(Schema.String),
  grade: Schema.NullOr(Schema.String),
  email: Schema.NullOr(Schema.String),
  registrationDate: Schema.NullOr(Schema.String),
  points: Schema.NullOr(Schema.Int)
}).annotations({ identifier: "PosCustomerRow" })
/** @since 0.5.0 */
export type PosCustomerRow = typeof PosCustomerRow.Type

/**
 * A loyalty customer of a comparison list: cnv id, phone, name (last name and first name), level,
 * e-mail, registration date (`created_date`), points (`total_points`), used points.
 *
 * @since 0.5.0
 */
export const LoyaltyCustomerRow = Schema.Struct({
  cnvId: Schema.Int,
  phone: Schema.NullOr(Schema.String),
  phoneRaw: Schema.NullOr(Schema.String),
  phoneValid: Schema.Boolean,
  name: Schema.NullOr(Schema.String),
  level: Schema.NullOr(Schema.String),
  email: Schema.NullOr(Schema.String),
  registrationDate: Schema.NullOr(Schema.String),
  points: Schema.NullOr(Schema.Int),
  usedPoints: Schema.NullOr(Schema.Int)
}).annotations({ identifier: "LoyaltyCustomerRow" })
/** @since 0.5.0 */
export type LoyaltyCustomerRow = typeof LoyaltyCustomerRow.Type

/** `last first`, trimmed, without the missing part; `null` when both are empty. @since 0.5.0 */
export const fullName = (last: string | null, first: string | null): string | null => {
  const name = [last, first].map((p) => (p ?? "").trim()).filter((p) => p !== "").join(" ")
  return name === "" ? null : name
}

/**
 * One side's counts: `customers` (rows), `matched` (rows whose canonical phone the other system
 * has, at any time), `only` (`customers − matched`: the rows of its "only" list), `invalidPhones`
 * (rows whose phone did not normalise; all of them are in `only`).
 *
 * @since 0.5.0
 */
export const SideCounts = Schema.Struct({
  customers: Schema.Int,
  matched: Schema.Int,
  only: Schema.Int,
  invalidPhones: Schema.Int
}).annotations({ identifier: "ComparisonSideCounts" })
/** @since 0.5.0 */
export type SideCounts = typeof SideCounts.Type

/** A page of a comparison list: `total` rows in the list, `page` (1-based), `pageSize`, the rows. @since 0.5.0 */
export const Page = <A, I>(row: Schema.Schema<A, I>) =>
  Schema.Struct({ total: Schema.Int, page: Schema.Int, pageSize: Schema.Int, rows: Schema.Array(row) })

/** A page of POS customers. @since 0.5.0 */
export const PosPage = Page(PosCustomerRow).annotations({ identifier: "PosCustomerPage" })
/** A page of loyalty customers. @since 0.5.0 */
export const LoyaltyPage = Page(LoyaltyCustomerRow).annotations({ identifier: "LoyaltyCustomerPage" })

/**
 * POS vs loyalty by canonical phone (docs/analytics.md#comparison).
 * - `allTime`: every POS customer row and every loyalty customer; `phonesInBoth`: distinct
 *   canonical phones that both systems hold.
 * - `period` (`null` without `from`/`to`): the customers new in the period — POS by registration
 *   date, loyalty by created date — matched against the other system at any time.
 * - The four lists, ordered POS by (vip id, phone key), loyalty by cnv id, paged by offset:
 *   `posOnly`, `loyaltyOnly` (all time); `posOnlyPeriod`, `loyaltyOnlyPeriod` (`null` without a period).
 *
 * @since 0.5.0
 */
export const ComparisonReport = Schema.Struct({
  from: Schema.NullOr(Schema.String),
  to: Schema.NullOr(Schema.String),
  allTime: Schema.Struct({ pos: SideCounts, loyalty: SideCounts, phonesInBoth: Schema.Int }),
  period: Schema.NullOr(Schema.Struct({ pos: SideCounts, loyalty: SideCounts })),
  posOnly: PosPage,
  loyaltyOnly: LoyaltyPage,
  posOnlyPeriod: Schema.NullOr(PosPage),
  loyaltyOnlyPeriod: Schema.NullOr(LoyaltyPage)
}).annotations({ identifier: "ComparisonReport" })
/** @since 0.5.0 */
export type ComparisonReport = typeof ComparisonReport.Type

/** The period of a comparison: either end may be open. @since 0.5.0 */
export interface Period {
  readonly from: string | null
  readonly to: string | null
}
