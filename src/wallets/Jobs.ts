/**
 * The wallets module's job: credit expiry (DOMAIN §3, docs/jobs.md).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { ScheduledJob } from "../platform/ScheduledJob.js"
import { Wallets } from "./Wallets.js"

/**
 * When credit expiry runs: at the top of every hour, in the configured time zone.
 *
 * @since 0.1.0
 */
export const expireCreditsCron = "0 * * * *"

/**
 * Options of the expiry job: credits per batch (default 5000) and batches per run (default: until
 * none is due).
 *
 * @since 0.1.0
 */
export interface ExpiryJobOptions {
  readonly batchSize?: number | undefined
  readonly maxBatches?: number | undefined
}

/**
 * `expire-credits`: `Wallets.expireCredits` at the configured clock's now; counts `expired`, `amount`.
 *
 * @since 0.1.0
 */
export const expireCredits: ScheduledJob<"expire-credits", ExpiryJobOptions | undefined, Wallets> = {
  name: "expire-credits",
  cron: expireCreditsCron,
  run: (options) =>
    Effect.flatMap(Wallets, (wallets) =>
      wallets.expireCredits({
        batchSize: options?.batchSize ?? 5000,
        maxBatches: options?.maxBatches ?? Number.MAX_SAFE_INTEGER
      }))
}
