/**
 * The statistics' HTTP endpoints: `GET /api/customers/stats` (the overview) and
 * `GET /api/customer/:phone/stats` (one customer's figures). Both are reads: any authenticated
 * caller (`viewer` and up), like every other `GET` (docs/stats.md#http).
 *
 * @since 0.3.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Authentication, Instant, IntFromString, PhoneParam } from "../platform/http/HttpKit.js"
import { CustomerStats, CustomerSummary, MonthlySpending, Overview, TopProduct } from "./Figures.js"

/** A customer of a statistics list as JSON (instants as ISO strings). @since 0.3.0 */
export const CustomerSummaryJson = Schema.Struct({
  ...CustomerSummary.fields,
  lastPurchaseAt: Schema.NullOr(Instant),
  createdAt: Instant
}).annotations({ identifier: "CustomerSummary" })

/** The overview as JSON. @since 0.3.0 */
export const OverviewJson = Schema.Struct({
  ...Overview.fields,
  asOf: Instant,
  topCustomers: Schema.Array(CustomerSummaryJson),
  recentCustomers: Schema.Array(CustomerSummaryJson)
}).annotations({ identifier: "StatsOverview" })

/** One customer's figures as JSON. @since 0.3.0 */
export const CustomerStatsJson = Schema.Struct({
  ...CustomerStats.fields,
  firstPurchaseAt: Schema.NullOr(Instant),
  lastPurchaseAt: Schema.NullOr(Instant),
  topProducts: Schema.Array(Schema.Struct(TopProduct.fields).annotations({ identifier: "TopProduct" })),
  monthly: Schema.Array(Schema.Struct(MonthlySpending.fields).annotations({ identifier: "MonthlySpending" }))
}).annotations({ identifier: "CustomerStats" })

/** `/api/customers/stats`, `/api/customer/:phone/stats`. @since 0.3.0 */
export class StatsGroup extends HttpApiGroup.make("stats")
  .add(
    HttpApiEndpoint.get("overview", "/customers/stats")
      .setUrlParams(Schema.Struct({ top: Schema.optional(IntFromString), recent: Schema.optional(IntFromString) }))
      .addSuccess(OverviewJson)
      .annotate(
        OpenApi.Summary,
        "Customers, active, VIP, members, new this month, buyers, orders, revenue, averages, by level, top and recent customers"
      )
  )
  .add(
    HttpApiEndpoint.get("customer")`/customer/${PhoneParam}/stats`
      .setUrlParams(Schema.Struct({ products: Schema.optional(IntFromString), months: Schema.optional(IntFromString) }))
      .addSuccess(CustomerStatsJson)
      .annotate(
        OpenApi.Summary,
        "A customer's orders, total spent, returns, average order value, last purchase, top products and monthly spending"
      )
  )
  .middleware(Authentication)
  .prefix("/api")
{}
