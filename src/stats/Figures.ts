/**
 * Customer statistics (DOMAIN §7): the figures, what each counts, and the rules of their ratios.
 *
 * Every count and sum is one SQL aggregation over the stored rows (`StatsRepository.ts`); the only
 * arithmetic done here is a ratio of two of those exact integers — the floor for amounts in đồng
 * ({@link floorRatio}), two decimals rounded half up for counts per customer ({@link ratio2}) — in
 * `bigint`, so that no float ever drifts a figure.
 *
 * The rules, in full: docs/stats.md.
 *
 * @since 0.3.0
 */
import * as Schema from "effect/Schema"
import { Customer } from "../customers/index.js"

/** The membership levels, lowest first (DOMAIN §7). @since 0.3.0 */
export const LEVELS = ["bronze", "silver", "gold", "platinum"] as const

/**
 * `floor(sum ÷ count)` of two non-negative integers, exactly; `0` when `count` is `0`.
 *
 * @since 0.3.0
 */
export const floorRatio = (sum: number, count: number): number =>
  count === 0 ? 0 : Number(BigInt(sum) / BigInt(count))

/**
 * `sum ÷ count` of two non-negative integers to two decimals, half up, from the exact quotient
 * (`7 ÷ 3 = 2.33`, `5 ÷ 8 = 0.63`); `0` when `count` is `0`.
 *
 * @since 0.3.0
 */
export const ratio2 = (sum: number, count: number): number =>
  count === 0 ? 0 : Number((BigInt(sum) * 200n + BigInt(count)) / (2n * BigInt(count))) / 100

/**
 * A customer in a statistics list: who, and what their purchases add up to (the customer's stored
 * totals: orders, total spent — purchases less returns — and last purchase).
 *
 * @since 0.3.0
 */
export class CustomerSummary extends Schema.Class<CustomerSummary>("CustomerSummary")({
  id: Schema.String,
  phone: Customer.fields.phone,
  name: Schema.NullOr(Schema.String),
  type: Customer.fields.type,
  status: Customer.fields.status,
  membershipLevel: Customer.fields.membershipLevel,
  totalOrders: Schema.Int,
  totalSpent: Schema.Int,
  lastPurchaseAt: Schema.NullOr(Schema.DateFromSelf),
  createdAt: Schema.DateFromSelf
}) {}

/** How many counted customers are at each membership level; every level is present, `0` included. @since 0.3.0 */
export const LevelCounts = Schema.Struct({
  bronze: Schema.Int,
  silver: Schema.Int,
  gold: Schema.Int,
  platinum: Schema.Int
})
/** @since 0.3.0 */
export type LevelCounts = typeof LevelCounts.Type

/**
 * The shop's overview, as of `asOf` (the configured clock's now). Counted customers are those not
 * deleted: status `active` or `blocked`; every figure below is over them.
 *
 * - `customers`: counted customers; `active`: of them, status `active`; `vip`: type `vip`;
 *   `members`: type `member`.
 * - `newThisMonth`: created in `month` (`YYYY-MM`), the calendar month of `asOf` in the business
 *   time zone — from its first midnight there to the next month's.
 * - `buyers`: customers with at least one order; `orders`: their orders (Σ total orders);
 *   `revenue`: Σ total spent (purchases less returns), in đồng.
 * - `averageLifetimeValue`: `floor(revenue ÷ buyers)` đồng; `averagePurchases`: `orders ÷ buyers`
 *   to two decimals, half up; both `0` without buyers.
 * - `byLevel`: counted customers per membership level.
 * - `topCustomers`: the highest total spent first (ties: the smaller id first), only customers
 *   whose total spent is above 0; `recentCustomers`: the newest first (ties: the larger id first).
 *
 * @since 0.3.0
 */
export class Overview extends Schema.Class<Overview>("Overview")({
  asOf: Schema.DateFromSelf,
  month: Schema.String,
  customers: Schema.Int,
  active: Schema.Int,
  vip: Schema.Int,
  members: Schema.Int,
  newThisMonth: Schema.Int,
  buyers: Schema.Int,
  orders: Schema.Int,
  revenue: Schema.Int,
  averageLifetimeValue: Schema.Int,
  averagePurchases: Schema.Number,
  byLevel: LevelCounts,
  topCustomers: Schema.Array(CustomerSummary),
  recentCustomers: Schema.Array(CustomerSummary)
}) {}

/**
 * A product the customer bought: `quantity` Σ of its lines' quantities, `revenue` Σ quantity ×
 * unit price, `orders` the purchases it appears in, `name` as on its latest line. Lines are as
 * purchased: returns name no lines, so they take nothing off.
 *
 * @since 0.3.0
 */
export class TopProduct extends Schema.Class<TopProduct>("TopProduct")({
  productId: Schema.String,
  name: Schema.String,
  quantity: Schema.Int,
  revenue: Schema.Int,
  orders: Schema.Int
}) {}

/**
 * A business-zone calendar month (`YYYY-MM`, from the purchases' business days) of the customer's
 * purchases: `orders` made in it, `spent` their amounts, `returned` what has been returned of them
 * (whenever returned), `net` = `spent − returned`.
 *
 * @since 0.3.0
 */
export class MonthlySpending extends Schema.Class<MonthlySpending>("MonthlySpending")({
  month: Schema.String,
  orders: Schema.Int,
  spent: Schema.Int,
  returned: Schema.Int,
  net: Schema.Int
}) {}

/**
 * One customer's figures, from their purchases.
 *
 * - `orders`: purchases (a purchase returned in full is still one); `purchased`: Σ their amounts;
 *   `returned`: Σ what was returned of them; `totalSpent`: `purchased − returned`.
 * - `averageOrderValue`: `floor(totalSpent ÷ orders)` đồng, `0` without orders.
 * - `firstPurchaseAt`, `lastPurchaseAt`: the earliest and latest purchase (`null` without any).
 * - `topProducts`: by quantity, then revenue, highest first (ties: the smaller product id first).
 * - `monthly`: the latest months that have purchases, newest first.
 *
 * @since 0.3.0
 */
export class CustomerStats extends Schema.Class<CustomerStats>("CustomerStats")({
  customerId: Schema.String,
  phone: Customer.fields.phone,
  orders: Schema.Int,
  purchased: Schema.Int,
  returned: Schema.Int,
  totalSpent: Schema.Int,
  averageOrderValue: Schema.Int,
  firstPurchaseAt: Schema.NullOr(Schema.DateFromSelf),
  lastPurchaseAt: Schema.NullOr(Schema.DateFromSelf),
  topProducts: Schema.Array(TopProduct),
  monthly: Schema.Array(MonthlySpending)
}) {}

const ListLength = (what: string) =>
  Schema.Int.pipe(Schema.between(1, 100, { message: () => `must be a whole number of ${what} from 1 to 100` }))

/**
 * Options of `Stats.overview`: the length of the top-customers list (`top`, default 10) and of the
 * recent-customers list (`recent`, default 10), each 1–100.
 *
 * @since 0.3.0
 */
export const OverviewOptions = Schema.Struct({
  top: Schema.optional(ListLength("customers")),
  recent: Schema.optional(ListLength("customers"))
})
/** @since 0.3.0 */
export type OverviewOptions = typeof OverviewOptions.Encoded

/**
 * Options of `Stats.customer`: how many top products (`products`, default 5) and months
 * (`months`, default 12), each 1–100.
 *
 * @since 0.3.0
 */
export const CustomerStatsOptions = Schema.Struct({
  products: Schema.optional(ListLength("products")),
  months: Schema.optional(ListLength("months"))
})
/** @since 0.3.0 */
export type CustomerStatsOptions = typeof CustomerStatsOptions.Encoded

/** Defaults of the lists' lengths. @since 0.3.0 */
export const DEFAULTS = { top: 10, recent: 10, products: 5, months: 12 } as const
