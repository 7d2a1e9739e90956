/**
 * The loyalty module's job: `loyalty-sync`, one incremental sync of the loyalty program's customers
 * (docs/loyalty.md).
 *
 * @since 0.5.0
 */
import * as Effect from "effect/Effect"
import type { ScheduledJob } from "../platform/ScheduledJob.js"
import { Loyalty, SyncFailed } from "./Loyalty.js"

/** Hourly at a quarter past, in the configured time zone. @since 0.5.0 */
export const loyaltySyncCron = "15 * * * *"

/**
 * `loyalty-sync`: `Loyalty.syncHeld` from the checkpoint (the runner holds the `loyalty-sync`
 * lease); counts `pages`, `created`, `updated`, `unchanged` and `failed` (records). A run that the
 * source failed is logged `failed` in the runs log (its committed pages kept) and fails the job's run
 * `SyncFailed` with the run's error; without a source the run fails `LoyaltyNotConfigured`.
 *
 * @since 0.5.0
 */
export const loyaltySync: ScheduledJob<"loyalty-sync", undefined, Loyalty> = {
  name: "loyalty-sync",
  cron: loyaltySyncCron,
  run: () =>
    Effect.flatMap(Loyalty, (service) =>
      Effect.flatMap(service.syncHeld(), (report) =>
        report.status === "failed"
          ? Effect.fail(new SyncFailed({ runId: report.id, error: report.error ?? "the run failed" }))
          : Effect.succeed({
            pages: report.pages,
            created: report.created,
            updated: report.updated,
            unchanged: report.unchanged,
            failed: report.failed
          })))
}
