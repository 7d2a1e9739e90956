/**
 * The loyalty module's HTTP endpoints (docs/loyalty.md#http): `POST /api/jobs/loyalty-sync` runs one
 * sync now and answers its report (manager); `GET /api/loyalty/runs` lists the recent runs (any
 * token).
 *
 * @since 0.5.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Authentication, Instant, IntFromString, withRole } from "../platform/http/HttpKit.js"

const Position = Schema.NullOr(Schema.Struct({ updatedAt: Instant, id: Schema.Int }))

/** A run of the sync as JSON (see `SyncRun`). @since 0.5.0 */
export const SyncRunJson = Schema.Struct({
  id: Schema.String,
  status: Schema.Literal("running", "completed", "failed"),
  full: Schema.Boolean,
  startedAt: Instant,
  finishedAt: Schema.NullOr(Instant),
  durationMs: Schema.NullOr(Schema.Int),
  checkpointFrom: Position,
  checkpoint: Position,
  pages: Schema.Int,
  created: Schema.Int,
  updated: Schema.Int,
  unchanged: Schema.Int,
  failed: Schema.Int,
  error: Schema.NullOr(Schema.String)
}).annotations({ identifier: "LoyaltySyncRun" })

/** What `POST /api/jobs/loyalty-sync` did (see `SyncReport`). @since 0.5.0 */
export const SyncReportJson = Schema.Struct({
  ...SyncRunJson.fields,
  status: Schema.Literal("completed", "failed"),
  finishedAt: Instant,
  durationMs: Schema.Int,
  failures: Schema.Array(Schema.Struct({ cnvId: Schema.NullOr(Schema.Int), reason: Schema.String }))
}).annotations({ identifier: "LoyaltySyncReport" })

/** The recent runs, newest first. @since 0.5.0 */
export const SyncRunsJson = Schema.Struct({ runs: Schema.Array(SyncRunJson) }).annotations({ identifier: "LoyaltySyncRuns" })

/** The loyalty endpoints, under `/api`. @since 0.5.0 */
export class LoyaltyGroup extends HttpApiGroup.make("loyalty")
  .add(
    HttpApiEndpoint.post("sync", "/jobs/loyalty-sync")
      .setUrlParams(Schema.Struct({ full: Schema.optional(Schema.BooleanFromString) }))
      .addSuccess(SyncReportJson)
      .annotate(
        OpenApi.Description,
        "One sync of the loyalty program's customers from the checkpoint (`full=true`: from the beginning). Answers the run's report, " +
          "`completed` or `failed` (the source failed after its retries; the pages committed before stay). 409 JOB_RUNNING when another " +
          "sync holds the loyalty-sync lease; 503 SERVICE_UNAVAILABLE when no loyalty source is configured."
      )
      .pipe(withRole("manager", "Sync the loyalty program's customers now"))
  )
  .add(
    HttpApiEndpoint.get("runs", "/loyalty/runs")
      .setUrlParams(Schema.Struct({ limit: Schema.optional(IntFromString) }))
      .addSuccess(SyncRunsJson)
      .annotate(OpenApi.Summary, "The loyalty sync's recent runs, newest first")
  )
  .middleware(Authentication)
  .prefix("/api")
{}
