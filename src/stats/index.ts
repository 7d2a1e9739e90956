/**
 * The statistics module (DOMAIN §7, docs/stats.md): the shop's overview and one customer's figures,
 * read from the customers' totals and the purchases. It has no tables of its own.
 *
 * @since 0.3.0
 */
export {
  CustomerStats,
  type CustomerStatsOptions,
  CustomerSummary,
  type LevelCounts,
  MonthlySpending,
  Overview,
  type OverviewOptions,
  TopProduct
} from "./Figures.js"
export { Stats, type StatsShape } from "./Stats.js"
