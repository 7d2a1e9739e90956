/**
 * The analytics' HTTP endpoints (docs/analytics.md#http), all reads for any authenticated caller
 * (`viewer` and up):
 *
 * - `GET /api/analytics/sales?from&to&shopGroup`, `GET /api/analytics/coupons?from&to&shopGroup`,
 *   `GET /api/analytics/comparison?from&to&page&pageSize`: the views as JSON;
 * - `GET /api/analytics/sales.xlsx`, `/coupons.xlsx`, `/comparison.xlsx` (the same query
 *   parameters but the pages): the view's workbook, streamed as it is written
 *   (`content-disposition: attachment`).
 *
 * @since 0.5.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import { Authentication, IntFromString, withRole } from "../platform/http/HttpKit.js"
import { XLSX_MEDIA_TYPE } from "./Export.js"
import { ComparisonReport, CouponReport, SalesReport } from "./Figures.js"

const PeriodParams = Schema.Struct({
  from: Schema.String,
  to: Schema.String,
  shopGroup: Schema.optional(Schema.String)
})
const ComparisonParams = Schema.Struct({
  from: Schema.optional(Schema.String),
  to: Schema.optional(Schema.String),
  page: Schema.optional(IntFromString),
  pageSize: Schema.optional(IntFromString)
})
const ComparisonExportParams = Schema.Struct({ from: Schema.optional(Schema.String), to: Schema.optional(Schema.String) })

const Workbook = HttpApiSchema.Uint8Array({ contentType: XLSX_MEDIA_TYPE }).annotations({
  description: "an .xlsx workbook, streamed"
})

/** `/api/analytics/*`. @since 0.5.0 */
export class AnalyticsGroup extends HttpApiGroup.make("analytics")
  .add(
    HttpApiEndpoint.get("sales", "/analytics/sales")
      .setUrlParams(PeriodParams)
      .addSuccess(SalesReport)
      .pipe(withRole("viewer", "VIP sales of a period: total, by grade, season, shop group and grade × season, and the non-VIP line"))
  )
  .add(
    HttpApiEndpoint.get("coupons", "/analytics/coupons")
      .setUrlParams(PeriodParams)
      .addSuccess(CouponReport)
      .pipe(withRole("viewer", "Coupons begun in a period: issued, used, usage rate, face and used value, by grade, season and shop group"))
  )
  .add(
    HttpApiEndpoint.get("comparison", "/analytics/comparison")
      .setUrlParams(ComparisonParams)
      .addSuccess(ComparisonReport)
      .pipe(withRole("viewer", "POS vs loyalty customers by canonical phone: counts and the four paged lists"))
  )
  .add(
    HttpApiEndpoint.get("salesXlsx", "/analytics/sales.xlsx")
      .setUrlParams(PeriodParams)
      .addSuccess(Workbook)
      .pipe(withRole("viewer", "The sales analytics as an .xlsx workbook"))
  )
  .add(
    HttpApiEndpoint.get("couponsXlsx", "/analytics/coupons.xlsx")
      .setUrlParams(PeriodParams)
      .addSuccess(Workbook)
      .pipe(withRole("viewer", "The coupon analytics as an .xlsx workbook"))
  )
  .add(
    HttpApiEndpoint.get("comparisonXlsx", "/analytics/comparison.xlsx")
      .setUrlParams(ComparisonExportParams)
      .addSuccess(Workbook)
      .pipe(withRole("viewer", "The POS vs loyalty comparison as an .xlsx workbook, every row of its lists"))
  )
  .middleware(Authentication)
  .prefix("/api")
{}
