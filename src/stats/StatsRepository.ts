/**
 * The statistics' reads: the port and its one SQL implementation, the same on SQLite, PostgreSQL and
 * D1. It owns no table: it reads the customers' stored totals (`c360_customers`) and the purchases
 * (`c360_purchases`, `c360_purchase_items`), which their modules keep, and writes nothing.
 *
 * Each figure is one SQL aggregation — `count`, `sum`, `min`, `max` with `CASE` inside, `GROUP BY`
 * — and only the short result lists (at most 100 rows) ever reach Node. The one expression that
 * differs by dialect is the calendar month of a business day (`strftime` on SQLite and D1,
 * `to_char` on PostgreSQL). Every value read is checked to be a safe integer (else a `corrupt`
 * `StorageError`): no figure is ever a rounded float.
 *
 * @since 0.3.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { StorageError } from "../kernel/Errors.js"
import { int } from "../platform/sql/Columns.js"
import { corrupt, storage } from "../platform/sql/SqlFailure.js"
import { CustomerSummary, LevelCounts, MonthlySpending, TopProduct } from "./Figures.js"

/** What the counted customers add up to (see `Overview`), before any ratio. @since 0.3.0 */
export interface CustomerTotals {
  readonly customers: number
  readonly active: number
  readonly vip: number
  readonly members: number
  readonly createdInWindow: number
  readonly buyers: number
  readonly orders: number
  readonly revenue: number
  readonly byLevel: LevelCounts
}

/** What one customer's purchases add up to. @since 0.3.0 */
export interface PurchaseTotals {
  readonly orders: number
  readonly purchased: number
  readonly returned: number
  readonly firstAt: Date | null
  readonly lastAt: Date | null
}

/**
 * The statistics repository: reads only.
 *
 * @since 0.3.0
 */
export class StatsRepository extends Context.Tag("customer360/StatsRepository")<StatsRepository, {
  /** The totals of the counted customers; `createdInWindow` counts those created in `[from, to)` (epoch ms). */
  readonly customerTotals: (window: { readonly from: number; readonly to: number }) => Effect.Effect<CustomerTotals, StorageError>
  /** Counted customers with a total spent above 0, the highest first, ties by id. */
  readonly topCustomers: (limit: number) => Effect.Effect<ReadonlyArray<CustomerSummary>, StorageError>
  /** Counted customers, newest first (ties: the larger id first). */
  readonly recentCustomers: (limit: number) => Effect.Effect<ReadonlyArray<CustomerSummary>, StorageError>
  readonly purchaseTotals: (customerId: string) => Effect.Effect<PurchaseTotals, StorageError>
  /** The customer's products by quantity, then revenue, highest first, ties by product id. */
  readonly topProducts: (customerId: string, limit: number) => Effect.Effect<ReadonlyArray<TopProduct>, StorageError>
  /** The customer's latest months with purchases, newest first. */
  readonly monthly: (customerId: string, limit: number) => Effect.Effect<ReadonlyArray<MonthlySpending>, StorageError>
}>() {}

/**
 * Counted customers: not deleted, not merged into another profile (DOMAIN §9a: a merged profile's
 * purchases and totals are its survivor's). Listing the statuses kept (rather than excluding
 * `inactive`) also leaves out any status a later version adds.
 */
const COUNTED = "status IN ('active', 'blocked') AND merged_into IS NULL"

/** Decodes a value built from a row, or fails `corrupt` naming the read. */
const decodeAs = <A, I>(schema: Schema.Schema<A, I>, operation: string) => {
  const decode = Schema.decodeUnknown(schema)
  return (value: unknown): Effect.Effect<A, StorageError> => Effect.catchAll(decode(value), corrupt(operation))
}

const Totals = Schema.Struct({
  customers: Schema.Int,
  active: Schema.Int,
  vip: Schema.Int,
  members: Schema.Int,
  createdInWindow: Schema.Int,
  buyers: Schema.Int,
  orders: Schema.Int,
  revenue: Schema.Int,
  byLevel: LevelCounts
})

const Purchases = Schema.Struct({
  orders: Schema.Int,
  purchased: Schema.Int,
  returned: Schema.Int,
  firstAt: Schema.NullOr(Schema.DateFromSelf),
  lastAt: Schema.NullOr(Schema.DateFromSelf)
})

const instantOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(int(v)))

const summaryOf = (r: Record<string, unknown>) => ({
  id: r.id,
  phone: r.phone ?? null,
  name: r.name ?? null,
  type: r.type,
  status: r.status,
  membershipLevel: r.membership_level,
  totalOrders: int(r.total_orders),
  totalSpent: int(r.total_spent),
  lastPurchaseAt: instantOrNull(r.last_purchase_at),
  createdAt: instantOrNull(r.created_at)
})

const decodeTotals = decodeAs(Totals, "reading the customers' totals")
const decodeSummaries = decodeAs(Schema.Array(CustomerSummary), "reading a list of customers")
const decodePurchases = decodeAs(Purchases, "reading a customer's purchase totals")
const decodeProducts = decodeAs(Schema.Array(TopProduct), "reading a customer's top products")
const decodeMonths = decodeAs(Schema.Array(MonthlySpending), "reading a customer's monthly spending")

/** @since 0.3.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  // a sum of a BIGINT is numeric on PostgreSQL, which its driver reads as exact text; `int` reads both
  const sumOf = (expression: string) => sql.literal(`coalesce(sum(${expression}), 0)`)

  /** The business day's calendar month, `YYYY-MM` (a business day is a date's days since 1970-01-01). */
  const monthOf = sql.onDialectOrElse({
    pg: () => sql.literal(`to_char(DATE '1970-01-01' + business_day, 'YYYY-MM')`),
    orElse: () => sql.literal(`strftime('%Y-%m', business_day * 86400, 'unixepoch')`)
  })

  const customerTotals = (window: { readonly from: number; readonly to: number }) =>
    sql<Record<string, unknown>>`SELECT
        count(*) AS customers,
        count(CASE WHEN status = 'active' THEN 1 END) AS active,
        count(CASE WHEN type = 'vip' THEN 1 END) AS vip,
        count(CASE WHEN type = 'member' THEN 1 END) AS members,
        count(CASE WHEN created_at >= ${window.from} AND created_at < ${window.to} THEN 1 END) AS created_in_window,
        count(CASE WHEN total_orders > 0 THEN 1 END) AS buyers,
        ${sumOf("total_orders")} AS orders,
        ${sumOf("total_spent")} AS revenue,
        count(CASE WHEN membership_level = 'bronze' THEN 1 END) AS bronze,
        count(CASE WHEN membership_level = 'silver' THEN 1 END) AS silver,
        count(CASE WHEN membership_level = 'gold' THEN 1 END) AS gold,
        count(CASE WHEN membership_level = 'platinum' THEN 1 END) AS platinum
      FROM c360_customers WHERE ${sql.literal(COUNTED)}`.pipe(
      storage("reading the customers' totals"),
      Effect.flatMap((rows) => {
        const r = rows[0] ?? {}
        return decodeTotals({
          customers: int(r.customers),
          active: int(r.active),
          vip: int(r.vip),
          members: int(r.members),
          createdInWindow: int(r.created_in_window),
          buyers: int(r.buyers),
          orders: int(r.orders),
          revenue: int(r.revenue),
          byLevel: { bronze: int(r.bronze), silver: int(r.silver), gold: int(r.gold), platinum: int(r.platinum) }
        })
      })
    )

  const SUMMARY_COLUMNS = sql.literal(
    "id, phone, name, type, status, membership_level, total_orders, total_spent, last_purchase_at, created_at"
  )

  const topCustomers = (limit: number) =>
    sql<Record<string, unknown>>`SELECT ${SUMMARY_COLUMNS} FROM c360_customers
      WHERE ${sql.literal(COUNTED)} AND total_spent > 0
      ORDER BY total_spent DESC, id ASC LIMIT ${limit}`.pipe(
      storage("reading the top customers"),
      Effect.flatMap((rows) => decodeSummaries(rows.map(summaryOf)))
    )

  const recentCustomers = (limit: number) =>
    sql<Record<string, unknown>>`SELECT ${SUMMARY_COLUMNS} FROM c360_customers
      WHERE ${sql.literal(COUNTED)}
      ORDER BY created_at DESC, id DESC LIMIT ${limit}`.pipe(
      storage("reading the recent customers"),
      Effect.flatMap((rows) => decodeSummaries(rows.map(summaryOf)))
    )

  const purchaseTotals = (customerId: string) =>
    sql<Record<string, unknown>>`SELECT count(*) AS orders, ${sumOf("amount")} AS purchased,
        ${sumOf("returned")} AS returned, min(at) AS first_at, max(at) AS last_at
      FROM c360_purchases WHERE customer_id = ${customerId}`.pipe(
      storage("reading a customer's purchase totals"),
      Effect.flatMap((rows) => {
        const r = rows[0] ?? {}
        return decodePurchases({
          orders: int(r.orders),
          purchased: int(r.purchased),
          returned: int(r.returned),
          firstAt: instantOrNull(r.first_at),
          lastAt: instantOrNull(r.last_at)
        })
      })
    )

  // the top lines are chosen first; only they look up their latest name
  const topProducts = (customerId: string, limit: number) =>
    sql<Record<string, unknown>>`SELECT t.product_id, t.total_quantity, t.total_revenue, t.orders,
        (SELECT n.name FROM c360_purchase_items n JOIN c360_purchases p ON p.id = n.purchase_id
          WHERE n.customer_id = ${customerId} AND n.product_id = t.product_id
          ORDER BY p.at DESC, p.id DESC, n.line DESC LIMIT 1) AS name
      FROM (
        SELECT product_id, sum(quantity) AS total_quantity, sum(quantity * unit_price) AS total_revenue,
          count(DISTINCT purchase_id) AS orders
        FROM c360_purchase_items WHERE customer_id = ${customerId}
        GROUP BY product_id
        ORDER BY total_quantity DESC, total_revenue DESC, product_id ASC LIMIT ${limit}
      ) t
      ORDER BY t.total_quantity DESC, t.total_revenue DESC, t.product_id ASC`.pipe(
      storage("reading a customer's top products"),
      Effect.flatMap((rows) =>
        decodeProducts(rows.map((r) => ({
          productId: r.product_id,
          name: r.name,
          quantity: int(r.total_quantity),
          revenue: int(r.total_revenue),
          orders: int(r.orders)
        })))
      )
    )

  const monthly = (customerId: string, limit: number) =>
    sql<Record<string, unknown>>`SELECT ${monthOf} AS month, count(*) AS orders, ${sumOf("amount")} AS spent,
        ${sumOf("returned")} AS returned
      FROM c360_purchases WHERE customer_id = ${customerId}
      GROUP BY ${monthOf}
      ORDER BY month DESC LIMIT ${limit}`.pipe(
      storage("reading a customer's monthly spending"),
      Effect.flatMap((rows) =>
        decodeMonths(rows.map((r) => {
          const spent = int(r.spent)
          const returned = int(r.returned)
          return { month: r.month, orders: int(r.orders), spent, returned, net: spent - returned }
        }))
      )
    )

  return StatsRepository.of({ customerTotals, topCustomers, recentCustomers, purchaseTotals, topProducts, monthly })
})

/** @since 0.3.0 */
export const layer: Layer.Layer<StatsRepository, never, SqlClient.SqlClient> = Layer.effect(StatsRepository, make)
