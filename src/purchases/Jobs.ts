/**
 * The purchases module's job: the daily RFM recomputation (DOMAIN §6, docs/jobs.md).
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import type { ScheduledJob } from "../platform/ScheduledJob.js"
import { type RecomputeOptions, Rfm } from "./RfmService.js"

/** Daily at 03:00, in the configured time zone. @since 0.3.0 */
export const rfmCron = "0 3 * * *"

/**
 * `rfm`: `Rfm.recomputeHeld` over every customer, in batches (the runner holds the `rfm` lease); counts `customers`, `changed` (tiers, one
 * `customer.tier_changed` each) and `batches`.
 *
 * @since 0.3.0
 */
export const rfm: ScheduledJob<"rfm", RecomputeOptions | undefined, Rfm> = {
  name: "rfm",
  cron: rfmCron,
  run: (options) => Effect.flatMap(Rfm, (service) => Effect.map(service.recomputeHeld(options ?? {}), (r) => ({ ...r })))
}
