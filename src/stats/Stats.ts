/**
 * Customer statistics (DOMAIN §7): the shop's overview — customers, active, VIP, members, new this
 * month in the business time zone, buyers, orders, revenue, average lifetime value and purchases,
 * customers by level, top customers by spend, recent customers — and one customer's figures —
 * orders, total, returns, average order value, first and last purchase, top products, monthly
 * spending. Every count and sum is one SQL aggregation (`StatsRepository.ts`); the service decodes
 * the options, finds the customer by phone, fixes "now" from the Effect `Clock` and takes the
 * ratios of the exact integer sums (`Figures.ts`). It writes nothing.
 *
 * The rules, in full: docs/stats.md.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type CustomerNotFound, Customers } from "../customers/index.js"
import { businessDay, dayStart, dayToDate, monthStart } from "../kernel/BusinessDay.js"
import { Customer360Config } from "../kernel/Config.js"
import type { StorageError, ValidationError } from "../kernel/Errors.js"
import { decoder } from "../kernel/Input.js"
import type * as Phone from "../kernel/Phone.js"
import { withSpans } from "../kernel/Spans.js"
import {
  CustomerStats,
  CustomerStatsOptions,
  DEFAULTS,
  floorRatio,
  Overview,
  OverviewOptions,
  ratio2
} from "./Figures.js"
import { StatsRepository } from "./StatsRepository.js"

/**
 * The statistics service. Every method takes `unknown` input and validates it.
 *
 * @since 0.3.0
 */
export interface StatsShape {
  /**
   * The overview as of the configured clock's now (see `Overview`): over the customers not deleted;
   * `top` and `recent` (1–100, default 10) are the lengths of its two lists.
   */
  readonly overview: (options?: OverviewOptions) => Effect.Effect<Overview, ValidationError | StorageError>
  /**
   * The figures of the customer holding the phone (any format of DOMAIN §1), from their purchases
   * (see `CustomerStats`): `products` top products (default 5) and `months` months (default 12),
   * each 1–100. A phone nobody holds fails `CustomerNotFound`; one that is not a phone,
   * `InvalidPhone`. A deleted customer's figures are given: their history stays.
   */
  readonly customer: (
    phone: string,
    options?: CustomerStatsOptions
  ) => Effect.Effect<CustomerStats, Phone.InvalidPhone | ValidationError | CustomerNotFound | StorageError>
}

/** The Stats service. @since 0.3.0 */
export class Stats extends Context.Tag("customer360/Stats")<Stats, StatsShape>() {}

const decodeOverviewOptions = decoder(OverviewOptions, "statistics options")
const decodeCustomerOptions = decoder(CustomerStatsOptions, "customer statistics options")

/**
 * The business-zone calendar month of an instant: its label `YYYY-MM` and the instants it starts
 * and ends at (the first midnight of the month there, and of the next).
 *
 * @since 0.3.0
 */
export const businessMonth = (epochMillis: number, timeZone: string) => {
  const first = monthStart(businessDay(epochMillis, timeZone))
  // 32 days after the 1st is always in the next month
  const next = monthStart(first + 32)
  return { month: dayToDate(first).slice(0, 7), from: dayStart(first, timeZone), to: dayStart(next, timeZone) }
}

/** @since 0.3.0 */
export const make = Effect.gen(function*() {
  const repo = yield* StatsRepository
  const customers = yield* Customers
  const config = yield* Customer360Config

  const overview: StatsShape["overview"] = (raw) =>
    Effect.gen(function*() {
      const options = yield* decodeOverviewOptions(raw ?? {})
      const now = yield* Clock.currentTimeMillis
      const { from, month, to } = businessMonth(now, config.timeZone)
      const { recentCustomers, topCustomers, totals } = yield* Effect.all({
        totals: repo.customerTotals({ from, to }),
        topCustomers: repo.topCustomers(options.top ?? DEFAULTS.top),
        recentCustomers: repo.recentCustomers(options.recent ?? DEFAULTS.recent)
      }, { concurrency: "unbounded" })
      return new Overview({
        asOf: new Date(now),
        month,
        customers: totals.customers,
        active: totals.active,
        vip: totals.vip,
        members: totals.members,
        newThisMonth: totals.createdInWindow,
        buyers: totals.buyers,
        orders: totals.orders,
        revenue: totals.revenue,
        averageLifetimeValue: floorRatio(totals.revenue, totals.buyers),
        averagePurchases: ratio2(totals.orders, totals.buyers),
        byLevel: totals.byLevel,
        topCustomers,
        recentCustomers
      })
    })

  const customer: StatsShape["customer"] = (phone, raw) =>
    Effect.gen(function*() {
      const options = yield* decodeCustomerOptions(raw ?? {})
      const found = yield* customers.getByPhone(phone)
      const { monthly, topProducts, totals } = yield* Effect.all({
        totals: repo.purchaseTotals(found.id),
        topProducts: repo.topProducts(found.id, options.products ?? DEFAULTS.products),
        monthly: repo.monthly(found.id, options.months ?? DEFAULTS.months)
      }, { concurrency: "unbounded" })
      const totalSpent = totals.purchased - totals.returned
      return new CustomerStats({
        customerId: found.id,
        phone: found.phone,
        orders: totals.orders,
        purchased: totals.purchased,
        returned: totals.returned,
        totalSpent,
        averageOrderValue: floorRatio(totalSpent, totals.orders),
        firstPurchaseAt: totals.firstAt,
        lastPurchaseAt: totals.lastAt,
        topProducts,
        monthly
      })
    })

  return Stats.of(withSpans("Stats", { overview, customer }))
})

/** @since 0.3.0 */
export const layer: Layer.Layer<Stats, never, StatsRepository | Customers | Customer360Config> = Layer.effect(Stats, make)
