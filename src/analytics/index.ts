/**
 * The retail analytics module (DOMAIN §11, §11a, docs/analytics.md): sales and coupons by VIP
 * grade, season and shop group, the POS vs loyalty comparison by canonical phone, and their Excel
 * workbooks — read from the imports' and loyalty's tables. It has no tables of its own.
 *
 * @since 0.5.0
 */
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
export { Analytics, type AnalyticsShape } from "./Analytics.js"
