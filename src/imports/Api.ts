/**
 * The imports module's HTTP endpoints (docs/imports.md "HTTP"): a manager posts a POS export as the
 * request body (`text/csv` or the XLSX media type, streamed: never read whole) and gets the report;
 * a manager reads a run's stored report (it quotes rows of the file, phones included).
 *
 * @since 0.5.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"
import { Authentication, Instant, withRole } from "../platform/http/HttpKit.js"

/** The XLSX media type. @since 0.5.0 */
export const XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

/** An import's report as JSON. @since 0.5.0 */
export const ImportReportJson = Schema.Struct({
  id: Schema.String,
  kind: Schema.Literal("customers", "sales", "coupons"),
  format: Schema.Literal("csv", "xlsx"),
  status: Schema.Literal("running", "completed", "failed"),
  lines: Schema.Int,
  created: Schema.Int,
  updated: Schema.Int,
  unchanged: Schema.Int,
  failed: Schema.Array(Schema.Struct({
    line: Schema.Int,
    column: Schema.NullOr(Schema.String),
    value: Schema.NullOr(Schema.String),
    reason: Schema.String
  })),
  failedCount: Schema.Int,
  error: Schema.NullOr(Schema.String),
  actor: Schema.NullOr(Schema.String),
  startedAt: Instant,
  finishedAt: Schema.NullOr(Instant)
}).annotations({ identifier: "ImportReport" })

/** An import kind in a path. @since 0.5.0 */
export const KindParam = HttpApiSchema.param("kind", Schema.String.annotations({ description: "customers, sales or coupons" }))
/** An import's id in a path. @since 0.5.0 */
export const ImportIdParam = HttpApiSchema.param("id", Schema.String.annotations({ description: "an import's id (imp_…)" }))

/**
 * `POST /api/imports/:kind`, `GET /api/imports/:id`.
 *
 * @since 0.5.0
 */
export class ImportsGroup extends HttpApiGroup.make("imports")
  .add(
    HttpApiEndpoint.post("run")`/imports/${KindParam}`
      .addSuccess(ImportReportJson)
      .pipe(withRole(
        "manager",
        "Import a POS export (body text/csv or XLSX, streamed); answers the report — an unknown kind is 404, another media type 415"
      ))
  )
  .add(
    HttpApiEndpoint.get("get")`/imports/${ImportIdParam}`
      .addSuccess(ImportReportJson)
      .pipe(withRole("manager", "An import's stored report"))
  )
  .middleware(Authentication)
  .prefix("/api")
{}
