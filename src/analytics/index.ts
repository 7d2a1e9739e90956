/**
 * The retail analytics module (DOMAIN §11, §11a, docs/analytics.md): sales and coupons by VIP
 * grade, season and shop group, the POS vs loyalty comparison by canonical phone, and their Excel
 * workbooks — read from the imports' and loyalty's tables. It has no tables of its own.
 *
 * @since 0.5.0
 */
import type * as ExportTypes from "./Export.js"
import type * as M0 from "./Analytics.js"
export {
  ComparisonQuery,
  ComparisonReport,
  CouponMetrics,
  CouponReport,
  Day,
  floorAverage,
  GradeCouponLine,
  GradeSalesLine,
  GradeSeasonSalesLine,
  LoyaltyCustomerRow,
  MAX_PERIOD_DAYS,
  NonVipSales,
  PAGE_SIZE,
  percent2,
  PeriodQuery,
  PosCustomerRow,
  SalesMetrics,
  SalesReport,
  SeasonCouponLine,
  SeasonSalesLine,
  ShopGroupCouponLine,
  ShopGroupSalesLine,
  SideCounts,
  VipBase
} from "./Figures.js"
export { Analytics } from "./Analytics.js"
// Types as local aliases: re-exported types of a namespace would be made values by the declaration
// bundler (their declarations live in a chunk shared with the other entry points).
/** The type of that name in `Analytics.ts` (see there). @since 0.5.0 */
export type AnalyticsShape = M0.AnalyticsShape
export {
  ExportFailed,
  ExportOptions,
  XLSX_MEDIA_TYPE
} from "./Export.js"
/** The type of that name in `Export.ts` (see there). @since 0.5.0 */
export type ExportSummary = ExportTypes.ExportSummary
/** The type of that name in `Export.ts` (see there). @since 0.5.0 */
export type ExportView = ExportTypes.ExportView
