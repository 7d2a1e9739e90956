/**
 * Retail analytics (DOMAIN §11, §11a): sales by VIP grade, season, shop group and grade × season;
 * coupons by grade, season and shop group; the POS vs loyalty comparison by canonical phone; and each
 * of them as an Excel workbook (`Export.ts`). Every figure is one SQL aggregation
 * (`AnalyticsRepository.ts`); the service decodes the options, runs the breakdowns, puts their lines
 * in order and takes the ratios of the exact integer sums (`Figures.ts`). It writes nothing.
 *
 * The rules, in full: docs/analytics.md.
 *
 * @since 0.5.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GRADES, type Grade } from "../imports/Retail.js"
import type { StorageError, ValidationError } from "../kernel/Errors.js"
import { decoder } from "../kernel/Input.js"
import { withSpans } from "../kernel/Spans.js"
import { AnalyticsRepository, type Filter, type Keyed } from "./AnalyticsRepository.js"
import { type ExportFailed, type ExportOptions, type ExportSummary, exportWorkbook } from "./Export.js"
import {
  type ComparisonQuery as ComparisonQueryType,
  ComparisonQuery,
  type ComparisonReport,
  compareSeasons,
  compareText,
  type CouponReport,
  type CouponSums,
  couponMetrics,
  gradeLineRank,
  PAGE_SIZE,
  type Period,
  PeriodQuery,
  type PeriodQuery as PeriodQueryType,
  type SalesReport,
  type SalesSums,
  salesMetrics
} from "./Figures.js"

/**
 * The analytics service. Every method takes `unknown` input and validates it (`ValidationError`).
 *
 * @since 0.5.0
 */
export interface AnalyticsShape {
  /**
   * The VIP sales of the period `from`–`to` (business days, both included), optionally of one shop
   * group: in total, by grade, season, shop group and grade × season, and the non-VIP line (see
   * `SalesReport`, docs/analytics.md#sales).
   */
  readonly sales: (query: PeriodQueryType) => Effect.Effect<SalesReport, ValidationError | StorageError>
  /**
   * The coupons whose begin date is in the period (and, with `shopGroup`, used in that group's
   * shops): in total, by grade, season and shop group (see `CouponReport`, docs/analytics.md#coupons).
   */
  readonly coupons: (query: PeriodQueryType) => Effect.Effect<CouponReport, ValidationError | StorageError>
  /** POS vs loyalty by canonical phone: counts and four paged lists (see `ComparisonReport`). */
  readonly comparison: (query?: ComparisonQueryType) => Effect.Effect<ComparisonReport, ValidationError | StorageError>
  /**
   * Writes the view (`sales`, `coupons`, `comparison`, with the view's filters) as an `.xlsx`
   * workbook to `path` (Node) or `stream` (a web `WritableStream`, closed at the end), streamed with
   * bounded memory (docs/analytics.md#export); answers the sheets written and their data rows. A
   * path or stream that refuses the bytes fails `ExportFailed` (the file is removed, the stream
   * aborted).
   */
  readonly exportXlsx: (options: ExportOptions) => Effect.Effect<ExportSummary, ValidationError | StorageError | ExportFailed>
}

/** The Analytics service. @since 0.5.0 */
export class Analytics extends Context.Tag("customer360/Analytics")<Analytics, AnalyticsShape>() {}

const decodePeriod = decoder(PeriodQuery, "analytics options")
const decodeComparison = decoder(ComparisonQuery, "comparison options")

const filterOf = (q: typeof PeriodQuery.Type): Filter => ({ from: q.from, to: q.to, shopGroup: q.shopGroup ?? null })

const ZERO_SALES: SalesSums = { salesAmount: 0, invoices: 0, customers: 0 }
const ZERO_COUPONS: CouponSums = { issued: 0, used: 0, faceValue: 0, usedValue: 0 }

/** The five grades, always, then `null` when it has anything; each with its sums (zeros if none). */
const gradeLines = <S>(lines: ReadonlyArray<Keyed<Grade | null, S>>, zero: S, hasNone: boolean) => {
  const by = new Map(lines.map((l) => [l.key, l.sums]))
  const grades: Array<Grade | null> = [...GRADES]
  if (hasNone || by.has(null)) grades.push(null)
  return grades.map((grade) => ({ grade, sums: by.get(grade) ?? zero }))
}

/** Builds the sales report from the breakdowns' sums (pure: what the service does after SQL). @since 0.5.0 */
export const salesReport = (
  filter: Filter,
  parts: {
    readonly totals: { readonly vip: SalesSums; readonly nonVip: { readonly salesAmount: number; readonly invoices: number } }
    readonly byGrade: ReadonlyArray<Keyed<Grade | null, SalesSums>>
    readonly bySeason: ReadonlyArray<Keyed<string, SalesSums>>
    readonly byShopGroup: ReadonlyArray<Keyed<string, SalesSums>>
    readonly byGradeSeason: ReadonlyArray<Keyed<{ readonly grade: Grade | null; readonly season: string }, SalesSums>>
    readonly base: ReadonlyArray<Keyed<Grade | null, number>>
  }
): SalesReport => {
  const baseOf = new Map(parts.base.map((b) => [b.key, b.sums]))
  const total = parts.base.reduce((n, b) => n + b.sums, 0)
  const gradeBase = (grade: Grade | null) => baseOf.get(grade) ?? 0
  const grades = gradeLines(parts.byGrade, ZERO_SALES, baseOf.has(null))
  return {
    from: filter.from,
    to: filter.to,
    shopGroup: filter.shopGroup,
    total: salesMetrics(parts.totals.vip, total),
    nonVip: parts.totals.nonVip,
    vipBase: { total, byGrade: grades.map(({ grade }) => ({ grade, vips: gradeBase(grade) })) },
    byGrade: grades.map(({ grade, sums }) => ({ grade, ...salesMetrics(sums, gradeBase(grade)) })),
    bySeason: [...parts.bySeason]
      .sort((a, b) => compareSeasons(a.key, b.key))
      .map((l) => ({ season: l.key, ...salesMetrics(l.sums, total) })),
    byShopGroup: [...parts.byShopGroup]
      .sort((a, b) => compareText(a.key, b.key))
      .map((l) => ({ shopGroup: l.key, ...salesMetrics(l.sums, total) })),
    byGradeSeason: [...parts.byGradeSeason]
      .sort((a, b) => gradeLineRank(a.key.grade) - gradeLineRank(b.key.grade) || compareSeasons(a.key.season, b.key.season))
      .map((l) => ({ grade: l.key.grade, season: l.key.season, ...salesMetrics(l.sums, gradeBase(l.key.grade)) }))
  }
}

/** Builds the coupon report from the breakdowns' sums. @since 0.5.0 */
export const couponReport = (
  filter: Filter,
  parts: {
    readonly totals: CouponSums
    readonly byGrade: ReadonlyArray<Keyed<Grade | null, CouponSums>>
    readonly bySeason: ReadonlyArray<Keyed<string | null, CouponSums>>
    readonly byShopGroup: ReadonlyArray<Keyed<string | null, CouponSums>>
  }
): CouponReport => ({
  from: filter.from,
  to: filter.to,
  shopGroup: filter.shopGroup,
  total: couponMetrics(parts.totals),
  byGrade: gradeLines(parts.byGrade, ZERO_COUPONS, false).map(({ grade, sums }) => ({ grade, ...couponMetrics(sums) })),
  bySeason: [...parts.bySeason]
    .sort((a, b) => compareSeasons(a.key, b.key))
    .map((l) => ({ season: l.key, ...couponMetrics(l.sums) })),
  byShopGroup: [...parts.byShopGroup]
    .sort((a, b) => compareText(a.key, b.key))
    .map((l) => ({ shopGroup: l.key, ...couponMetrics(l.sums) }))
})

/** The period of decoded comparison options, `null` when neither end is given. @since 0.5.0 */
export const periodOf = (q: { readonly from?: string | undefined; readonly to?: string | undefined }): Period | null =>
  q.from === undefined && q.to === undefined ? null : { from: q.from ?? null, to: q.to ?? null }

/** @since 0.5.0 */
export const make = Effect.gen(function*() {
  const repo = yield* AnalyticsRepository

  const salesOf = (filter: Filter) =>
    Effect.map(
      Effect.all({
        totals: repo.salesTotals(filter),
        byGrade: repo.salesByGrade(filter),
        bySeason: repo.salesBySeason(filter),
        byShopGroup: repo.salesByShopGroup(filter),
        byGradeSeason: repo.salesByGradeSeason(filter),
        base: repo.vipBase(filter.to)
      }, { concurrency: "unbounded" }),
      (parts) => salesReport(filter, parts)
    )

  const couponsOf = (filter: Filter) =>
    Effect.map(
      Effect.all({
        totals: repo.couponTotals(filter),
        byGrade: repo.couponsByGrade(filter),
        bySeason: repo.couponsBySeason(filter),
        byShopGroup: repo.couponsByShopGroup(filter)
      }, { concurrency: "unbounded" }),
      (parts) => couponReport(filter, parts)
    )

  const comparisonOf = (q: typeof ComparisonQuery.Type) =>
    Effect.gen(function*() {
      const period = periodOf(q)
      const page = q.page ?? 1
      const pageSize = q.pageSize ?? PAGE_SIZE.default
      const at = { offset: (page - 1) * pageSize }
      const r = yield* Effect.all({
        pos: repo.posCounts(null),
        loyalty: repo.loyaltyCounts(null),
        phonesInBoth: repo.phonesInBoth,
        posPeriod: period === null ? Effect.succeed(null) : repo.posCounts(period),
        loyaltyPeriod: period === null ? Effect.succeed(null) : repo.loyaltyCounts(period),
        posOnly: repo.posOnly(null, at, pageSize),
        loyaltyOnly: repo.loyaltyOnly(null, at, pageSize),
        posOnlyPeriod: period === null ? Effect.succeed(null) : repo.posOnly(period, at, pageSize),
        loyaltyOnlyPeriod: period === null ? Effect.succeed(null) : repo.loyaltyOnly(period, at, pageSize)
      }, { concurrency: "unbounded" })
      const paged = <A>(total: number, rows: ReadonlyArray<A>) => ({ total, page, pageSize, rows })
      return {
        from: period?.from ?? null,
        to: period?.to ?? null,
        allTime: { pos: r.pos, loyalty: r.loyalty, phonesInBoth: r.phonesInBoth },
        period: r.posPeriod === null || r.loyaltyPeriod === null ? null : { pos: r.posPeriod, loyalty: r.loyaltyPeriod },
        posOnly: paged(r.pos.only, r.posOnly.map((x) => x.row)),
        loyaltyOnly: paged(r.loyalty.only, r.loyaltyOnly),
        posOnlyPeriod: r.posPeriod === null || r.posOnlyPeriod === null
          ? null
          : paged(r.posPeriod.only, r.posOnlyPeriod.map((x) => x.row)),
        loyaltyOnlyPeriod: r.loyaltyPeriod === null || r.loyaltyOnlyPeriod === null
          ? null
          : paged(r.loyaltyPeriod.only, r.loyaltyOnlyPeriod)
      } satisfies ComparisonReport
    })

  const sales: AnalyticsShape["sales"] = (raw) => Effect.flatMap(decodePeriod(raw), (q) => salesOf(filterOf(q)))
  const coupons: AnalyticsShape["coupons"] = (raw) => Effect.flatMap(decodePeriod(raw), (q) => couponsOf(filterOf(q)))
  const comparison: AnalyticsShape["comparison"] = (raw) => Effect.flatMap(decodeComparison(raw ?? {}), comparisonOf)
  const exportXlsx: AnalyticsShape["exportXlsx"] = (options) =>
    exportWorkbook(options, {
      sales: (q) => salesOf(filterOf(q)),
      coupons: (q) => couponsOf(filterOf(q)),
      comparison: (q) => comparisonOf({ ...q, pageSize: 1 })
    }).pipe(Effect.provideService(AnalyticsRepository, repo))

  return Analytics.of(withSpans("Analytics", { sales, coupons, comparison, exportXlsx }))
})

/** @since 0.5.0 */
export const layer: Layer.Layer<Analytics, never, AnalyticsRepository> = Layer.effect(Analytics, make)
