/**
 * The analytics' reads: the port and its one SQL implementation, the same on SQLite, PostgreSQL and
 * D1. It owns no table: it reads the imports' `c360_pos_customers`, `c360_pos_vips`,
 * `c360_pos_sales`, `c360_pos_coupons` and loyalty's `c360_loyalty_customers`, and writes nothing.
 *
 * Each breakdown is one SQL aggregation — `GROUP BY` with `count(DISTINCT …)` and `sum(CASE …)` —
 * run in the database; only its result lines (a handful: grades, seasons, shop groups) reach Node.
 * The comparison's lists are anti-joins (`NOT EXISTS`) read a page at a time. Business days are
 * `TEXT 'YYYY-MM-DD'`, compared as text on every engine. Every value read is checked to be a safe
 * integer (else a `corrupt` `StorageError`): no figure is ever a rounded float.
 *
 * @since 0.5.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { GRADES, Grade } from "../imports/Retail.js"
import type { StorageError } from "../kernel/Errors.js"
import { int, textOrNull } from "../platform/sql/Columns.js"
import { corrupt, storage } from "../platform/sql/SqlFailure.js"
import {
  type CouponSums,
  fullName,
  LoyaltyCustomerRow,
  type Period,
  PosCustomerRow,
  type SalesSums,
  SideCounts
} from "./Figures.js"

/** A period of sales or coupons: business days, both included; optionally one shop group. @since 0.5.0 */
export interface Filter {
  readonly from: string
  readonly to: string
  readonly shopGroup: string | null
}

/** Sums of one grade's line. @since 0.5.0 */
export interface Keyed<K, S> {
  readonly key: K
  readonly sums: S
}

/** The overview's sums: VIP sales, and the non-VIP line. @since 0.5.0 */
export interface SalesTotals {
  readonly vip: SalesSums
  readonly nonVip: { readonly salesAmount: number; readonly invoices: number }
}

/** Where a keyset page of POS customers starts (after this key). @since 0.5.0 */
export interface PosKey {
  readonly vipId: number
  readonly phoneKey: string
}

/** A page request: by offset (the HTTP lists) or after a key (the export's keyset walk). @since 0.5.0 */
export type PageAt<K> = { readonly offset: number } | { readonly after: K | null }

/** Which rows of a comparison side: all, or those new in the period. @since 0.5.0 */
export type Scope = Period | null

/**
 * The analytics repository: reads only.
 *
 * @since 0.5.0
 */
export class AnalyticsRepository extends Context.Tag("customer360/AnalyticsRepository")<AnalyticsRepository, {
  readonly salesTotals: (filter: Filter) => Effect.Effect<SalesTotals, StorageError>
  readonly salesByGrade: (filter: Filter) => Effect.Effect<ReadonlyArray<Keyed<Grade | null, SalesSums>>, StorageError>
  readonly salesBySeason: (filter: Filter) => Effect.Effect<ReadonlyArray<Keyed<string, SalesSums>>, StorageError>
  readonly salesByShopGroup: (filter: Filter) => Effect.Effect<ReadonlyArray<Keyed<string, SalesSums>>, StorageError>
  readonly salesByGradeSeason: (
    filter: Filter
  ) => Effect.Effect<ReadonlyArray<Keyed<{ readonly grade: Grade | null; readonly season: string }, SalesSums>>, StorageError>
  /** VIP customers (vip id ≠ 0) registered on or before `to` (or with no registration date), per current grade. */
  readonly vipBase: (to: string) => Effect.Effect<ReadonlyArray<Keyed<Grade | null, number>>, StorageError>
  readonly couponTotals: (filter: Filter) => Effect.Effect<CouponSums, StorageError>
  readonly couponsByGrade: (filter: Filter) => Effect.Effect<ReadonlyArray<Keyed<Grade | null, CouponSums>>, StorageError>
  readonly couponsBySeason: (filter: Filter) => Effect.Effect<ReadonlyArray<Keyed<string | null, CouponSums>>, StorageError>
  readonly couponsByShopGroup: (filter: Filter) => Effect.Effect<ReadonlyArray<Keyed<string | null, CouponSums>>, StorageError>
  readonly posCounts: (scope: Scope) => Effect.Effect<SideCounts, StorageError>
  readonly loyaltyCounts: (scope: Scope) => Effect.Effect<SideCounts, StorageError>
  /** Distinct canonical phones held by both systems. */
  readonly phonesInBoth: Effect.Effect<number, StorageError>
  /** POS customers whose phone the loyalty program does not hold (invalid phones included), by (vip id, phone key). */
  readonly posOnly: (
    scope: Scope,
    at: PageAt<PosKey>,
    limit: number
  ) => Effect.Effect<ReadonlyArray<{ readonly key: PosKey; readonly row: PosCustomerRow }>, StorageError>
  /** Loyalty customers whose phone no POS customer holds (invalid phones included), by cnv id. */
  readonly loyaltyOnly: (
    scope: Scope,
    at: PageAt<number>,
    limit: number
  ) => Effect.Effect<ReadonlyArray<LoyaltyCustomerRow>, StorageError>
}>() {}

const Count = Schema.Int
const SalesSumsSchema = Schema.Struct({ salesAmount: Schema.Int, invoices: Count, customers: Count })
const CouponSumsSchema = Schema.Struct({ issued: Count, used: Count, faceValue: Schema.Int, usedValue: Schema.Int })
const GradeOrNone = Schema.NullOr(Grade)

/** Decodes a value built from rows, or fails `corrupt` naming the read. */
const decodeAs = <A, I>(schema: Schema.Schema<A, I>, operation: string) => {
  const decode = Schema.decodeUnknown(schema)
  return (value: unknown): Effect.Effect<A, StorageError> => Effect.catchAll(decode(value), corrupt(operation))
}

const keyed = <K, KI, S, SI>(key: Schema.Schema<K, KI>, sums: Schema.Schema<S, SI>) =>
  Schema.Array(Schema.Struct({ key, sums }))

const salesSumsOf = (r: Record<string, unknown>) => ({
  salesAmount: int(r.sales_amount),
  invoices: int(r.invoices),
  customers: int(r.customers)
})
const couponSumsOf = (r: Record<string, unknown>) => ({
  issued: int(r.issued),
  used: int(r.used),
  faceValue: int(r.face_value),
  usedValue: int(r.used_value)
})
const nullableInt = (v: unknown): number | null => (v === null || v === undefined ? null : int(v))

/** The current grade of the VIP row `v` as one of the five, else `NULL` (no row, no grade, an unknown text). */
const GRADE_OF = (alias: string) =>
  `CASE WHEN ${alias}.vip_grade IN (${GRADES.map((g) => `'${g}'`).join(", ")}) THEN ${alias}.vip_grade END`

/** @since 0.5.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  // a sum of a BIGINT is numeric on PostgreSQL, which its driver reads as exact text; `int` reads both
  const sumOf = (expression: string) => sql.literal(`coalesce(sum(${expression}), 0)`)
  const none = sql.literal("")

  const salesWhere = (f: Filter): Statement.Fragment =>
    sql`s.sales_date >= ${f.from} AND s.sales_date <= ${f.to}${
      f.shopGroup === null ? none : sql` AND s.shop_group = ${f.shopGroup}`
    }`
  const couponWhere = (f: Filter): Statement.Fragment =>
    sql`c.begin_date >= ${f.from} AND c.begin_date <= ${f.to}${
      f.shopGroup === null ? none : sql` AND c.shop_group = ${f.shopGroup}`
    }`

  const SALES_SUMS = sql.literal(
    `coalesce(sum(s.sales_amount), 0) AS sales_amount, count(*) AS invoices, count(DISTINCT s.vip_id) AS customers`
  )
  const SALE_GRADE = sql.literal(GRADE_OF("v"))
  const VIPS_JOIN = sql.literal(`LEFT JOIN c360_pos_vips v ON v.vip_id = s.vip_id`)

  const decodeTotals = decodeAs(
    Schema.Struct({ vip: SalesSumsSchema, nonVip: Schema.Struct({ salesAmount: Schema.Int, invoices: Count }) }),
    "reading the sales totals"
  )
  const salesTotals = (f: Filter) =>
    sql<Record<string, unknown>>`SELECT
        ${sumOf("CASE WHEN s.vip_id <> 0 THEN s.sales_amount END")} AS sales_amount,
        count(CASE WHEN s.vip_id <> 0 THEN 1 END) AS invoices,
        count(DISTINCT CASE WHEN s.vip_id <> 0 THEN s.vip_id END) AS customers,
        ${sumOf("CASE WHEN s.vip_id = 0 THEN s.sales_amount END")} AS non_vip_amount,
        count(CASE WHEN s.vip_id = 0 THEN 1 END) AS non_vip_invoices
      FROM c360_pos_sales s WHERE ${salesWhere(f)}`.pipe(
      storage("reading the sales totals"),
      Effect.flatMap((rows) => {
        const r = rows[0] ?? {}
        return decodeTotals({
          vip: salesSumsOf(r),
          nonVip: { salesAmount: int(r.non_vip_amount), invoices: int(r.non_vip_invoices) }
        })
      })
    )

  const decodeGradeSales = decodeAs(keyed(GradeOrNone, SalesSumsSchema), "reading the sales by grade")
  const salesByGrade = (f: Filter) =>
    sql<Record<string, unknown>>`SELECT ${SALE_GRADE} AS grade, ${SALES_SUMS}
      FROM c360_pos_sales s ${VIPS_JOIN}
      WHERE s.vip_id <> 0 AND ${salesWhere(f)}
      GROUP BY ${SALE_GRADE}`.pipe(
      storage("reading the sales by grade"),
      Effect.flatMap((rows) => decodeGradeSales(rows.map((r) => ({ key: r.grade ?? null, sums: salesSumsOf(r) }))))
    )

  const decodeKeyedSales = (what: string) => decodeAs(keyed(Schema.String, SalesSumsSchema), what)
  const decodeSeasonSales = decodeKeyedSales("reading the sales by season")
  const salesBySeason = (f: Filter) =>
    sql<Record<string, unknown>>`SELECT s.season AS season, ${SALES_SUMS}
      FROM c360_pos_sales s WHERE s.vip_id <> 0 AND ${salesWhere(f)}
      GROUP BY s.season`.pipe(
      storage("reading the sales by season"),
      Effect.flatMap((rows) => decodeSeasonSales(rows.map((r) => ({ key: r.season, sums: salesSumsOf(r) }))))
    )

  const decodeShopSales = decodeKeyedSales("reading the sales by shop group")
  const salesByShopGroup = (f: Filter) =>
    sql<Record<string, unknown>>`SELECT s.shop_group AS shop_group, ${SALES_SUMS}
      FROM c360_pos_sales s WHERE s.vip_id <> 0 AND ${salesWhere(f)}
      GROUP BY s.shop_group`.pipe(
      storage("reading the sales by shop group"),
      Effect.flatMap((rows) => decodeShopSales(rows.map((r) => ({ key: r.shop_group, sums: salesSumsOf(r) }))))
    )

  const decodeGradeSeason = decodeAs(
    keyed(Schema.Struct({ grade: GradeOrNone, season: Schema.String }), SalesSumsSchema),
    "reading the sales by grade and season"
  )
  const salesByGradeSeason = (f: Filter) =>
    sql<Record<string, unknown>>`SELECT ${SALE_GRADE} AS grade, s.season AS season, ${SALES_SUMS}
      FROM c360_pos_sales s ${VIPS_JOIN}
      WHERE s.vip_id <> 0 AND ${salesWhere(f)}
      GROUP BY ${SALE_GRADE}, s.season`.pipe(
      storage("reading the sales by grade and season"),
      Effect.flatMap((rows) =>
        decodeGradeSeason(rows.map((r) => ({ key: { grade: r.grade ?? null, season: r.season }, sums: salesSumsOf(r) })))
      )
    )

  const decodeBase = decodeAs(keyed(GradeOrNone, Count), "reading the registered VIP customers")
  const vipBase = (to: string) =>
    sql<Record<string, unknown>>`SELECT ${SALE_GRADE} AS grade, count(*) AS vips
      FROM c360_pos_vips v
      WHERE v.vip_id <> 0 AND (v.registration_date IS NULL OR v.registration_date <= ${to})
      GROUP BY ${SALE_GRADE}`.pipe(
      storage("reading the registered VIP customers"),
      Effect.flatMap((rows) => decodeBase(rows.map((r) => ({ key: r.grade ?? null, sums: int(r.vips) }))))
    )

  const COUPON_SUMS = sql.literal(
    `count(*) AS issued, count(CASE WHEN c.used = 1 THEN 1 END) AS used,
     coalesce(sum(c.face_value), 0) AS face_value,
     coalesce(sum(CASE WHEN c.used = 1 THEN c.face_value END), 0) AS used_value`
  )
  // the member's current grade; no member, vip id 0 and an unknown vip id have none
  const COUPON_GRADE = sql.literal(`CASE WHEN c.member_id <> 0 THEN ${GRADE_OF("v")} END`)
  const MEMBERS_JOIN = sql.literal(`LEFT JOIN c360_pos_vips v ON v.vip_id = c.member_id`)

  const decodeCouponTotals = decodeAs(CouponSumsSchema, "reading the coupon totals")
  const couponTotals = (f: Filter) =>
    sql<Record<string, unknown>>`SELECT ${COUPON_SUMS} FROM c360_pos_coupons c WHERE ${couponWhere(f)}`.pipe(
      storage("reading the coupon totals"),
      Effect.flatMap((rows) => decodeCouponTotals(couponSumsOf(rows[0] ?? {})))
    )

  const decodeGradeCoupons = decodeAs(keyed(GradeOrNone, CouponSumsSchema), "reading the coupons by grade")
  const couponsByGrade = (f: Filter) =>
    sql<Record<string, unknown>>`SELECT ${COUPON_GRADE} AS grade, ${COUPON_SUMS}
      FROM c360_pos_coupons c ${MEMBERS_JOIN}
      WHERE ${couponWhere(f)}
      GROUP BY ${COUPON_GRADE}`.pipe(
      storage("reading the coupons by grade"),
      Effect.flatMap((rows) => decodeGradeCoupons(rows.map((r) => ({ key: r.grade ?? null, sums: couponSumsOf(r) }))))
    )

  const decodeKeyedCoupons = (what: string) => decodeAs(keyed(Schema.NullOr(Schema.String), CouponSumsSchema), what)
  const decodeSeasonCoupons = decodeKeyedCoupons("reading the coupons by season")
  const couponsBySeason = (f: Filter) =>
    sql<Record<string, unknown>>`SELECT c.season AS season, ${COUPON_SUMS}
      FROM c360_pos_coupons c WHERE ${couponWhere(f)}
      GROUP BY c.season`.pipe(
      storage("reading the coupons by season"),
      Effect.flatMap((rows) => decodeSeasonCoupons(rows.map((r) => ({ key: r.season ?? null, sums: couponSumsOf(r) }))))
    )

  const decodeShopCoupons = decodeKeyedCoupons("reading the coupons by shop group")
  const couponsByShopGroup = (f: Filter) =>
    sql<Record<string, unknown>>`SELECT c.shop_group AS shop_group, ${COUPON_SUMS}
      FROM c360_pos_coupons c WHERE ${couponWhere(f)}
      GROUP BY c.shop_group`.pipe(
      storage("reading the coupons by shop group"),
      Effect.flatMap((rows) => decodeShopCoupons(rows.map((r) => ({ key: r.shop_group ?? null, sums: couponSumsOf(r) }))))
    )

  // ------------------------------------------------------------------------------------------
  // Comparison

  const IN_LOYALTY = sql.literal(`EXISTS (SELECT 1 FROM c360_loyalty_customers l WHERE l.phone = p.phone)`)
  const IN_POS = sql.literal(`EXISTS (SELECT 1 FROM c360_pos_customers p WHERE p.phone = l.phone)`)

  const inScope = (column: string, scope: Scope): Statement.Fragment => {
    if (scope === null) return none
    const col = sql.literal(column)
    return sql` AND ${col} IS NOT NULL${scope.from === null ? none : sql` AND ${col} >= ${scope.from}`}${
      scope.to === null ? none : sql` AND ${col} <= ${scope.to}`
    }`
  }

  const decodeSide = decodeAs(SideCounts, "reading the comparison's counts")
  const sideOf = (r: Record<string, unknown>) => {
    const customers = int(r.customers)
    const matched = int(r.matched)
    return { customers, matched, only: customers - matched, invalidPhones: int(r.invalid) }
  }

  const posCounts = (scope: Scope) =>
    sql<Record<string, unknown>>`SELECT count(*) AS customers,
        count(CASE WHEN p.phone IS NULL THEN 1 END) AS invalid,
        count(CASE WHEN p.phone IS NOT NULL AND ${IN_LOYALTY} THEN 1 END) AS matched
      FROM c360_pos_customers p WHERE 1 = 1${inScope("p.registration_date", scope)}`.pipe(
      storage("reading the comparison's counts"),
      Effect.flatMap((rows) => decodeSide(sideOf(rows[0] ?? {})))
    )

  const loyaltyCounts = (scope: Scope) =>
    sql<Record<string, unknown>>`SELECT count(*) AS customers,
        count(CASE WHEN l.phone IS NULL THEN 1 END) AS invalid,
        count(CASE WHEN l.phone IS NOT NULL AND ${IN_POS} THEN 1 END) AS matched
      FROM c360_loyalty_customers l WHERE 1 = 1${inScope("l.created_date", scope)}`.pipe(
      storage("reading the comparison's counts"),
      Effect.flatMap((rows) => decodeSide(sideOf(rows[0] ?? {})))
    )

  const decodeCount = decodeAs(Count, "reading the phones in both systems")
  const phonesInBoth = sql<Record<string, unknown>>`SELECT count(DISTINCT p.phone) AS n
      FROM c360_pos_customers p WHERE p.phone IS NOT NULL AND ${IN_LOYALTY}`.pipe(
    storage("reading the phones in both systems"),
    Effect.flatMap((rows) => decodeCount(int(rows[0]?.n)))
  )

  const decodePosRows = decodeAs(
    Schema.Array(Schema.Struct({ key: Schema.Struct({ vipId: Schema.Int, phoneKey: Schema.String }), row: PosCustomerRow })),
    "reading POS customers"
  )
  const posOnly = (scope: Scope, at: PageAt<PosKey>, limit: number) => {
    const after = "after" in at && at.after !== null
      ? sql` AND (p.vip_id, p.phone_key) > (${at.after.vipId}, ${at.after.phoneKey})` // a row value: a range of the key's index
      : none
    const offset = "offset" in at ? sql` OFFSET ${at.offset}` : none
    return sql<Record<string, unknown>>`SELECT p.vip_id, p.phone_key, p.phone, p.phone_raw, p.name, p.vip_grade,
        p.email, p.registration_date, p.points
      FROM c360_pos_customers p
      WHERE (p.phone IS NULL OR NOT ${IN_LOYALTY})${inScope("p.registration_date", scope)}${after}
      ORDER BY p.vip_id, p.phone_key LIMIT ${limit}${offset}`.pipe(
      storage("reading POS customers"),
      Effect.flatMap((rows) =>
        decodePosRows(rows.map((r) => ({
          key: { vipId: int(r.vip_id), phoneKey: r.phone_key },
          row: {
            vipId: int(r.vip_id),
            phone: textOrNull(r.phone),
            phoneRaw: String(r.phone_raw ?? ""),
            phoneValid: r.phone !== null && r.phone !== undefined,
            name: textOrNull(r.name),
            grade: textOrNull(r.vip_grade),
            email: textOrNull(r.email),
            registrationDate: textOrNull(r.registration_date),
            points: nullableInt(r.points)
          }
        })))
      )
    )
  }

  const decodeLoyaltyRows = decodeAs(Schema.Array(LoyaltyCustomerRow), "reading loyalty customers")
  const loyaltyOnly = (scope: Scope, at: PageAt<number>, limit: number) => {
    const after = "after" in at && at.after !== null ? sql` AND l.cnv_id > ${at.after}` : none
    const offset = "offset" in at ? sql` OFFSET ${at.offset}` : none
    return sql<Record<string, unknown>>`SELECT l.cnv_id, l.phone, l.phone_raw, l.last_name, l.first_name, l.level_name,
        l.email, l.created_date, l.total_points, l.used_points
      FROM c360_loyalty_customers l
      WHERE (l.phone IS NULL OR NOT ${IN_POS})${inScope("l.created_date", scope)}${after}
      ORDER BY l.cnv_id LIMIT ${limit}${offset}`.pipe(
      storage("reading loyalty customers"),
      Effect.flatMap((rows) =>
        decodeLoyaltyRows(rows.map((r) => ({
          cnvId: int(r.cnv_id),
          phone: textOrNull(r.phone),
          phoneRaw: textOrNull(r.phone_raw),
          phoneValid: r.phone !== null && r.phone !== undefined,
          name: fullName(textOrNull(r.last_name), textOrNull(r.first_name)),
          level: textOrNull(r.level_name),
          email: textOrNull(r.email),
          registrationDate: textOrNull(r.created_date),
          points: nullableInt(r.total_points),
          usedPoints: nullableInt(r.used_points)
        })))
      )
    )
  }

  return AnalyticsRepository.of({
    salesTotals,
    salesByGrade,
    salesBySeason,
    salesByShopGroup,
    salesByGradeSeason,
    vipBase,
    couponTotals,
    couponsByGrade,
    couponsBySeason,
    couponsByShopGroup,
    posCounts,
    loyaltyCounts,
    phonesInBoth,
    posOnly,
    loyaltyOnly
  })
})

/** @since 0.5.0 */
export const layer: Layer.Layer<AnalyticsRepository, never, SqlClient.SqlClient> = Layer.effect(AnalyticsRepository, make)
