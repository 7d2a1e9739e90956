/**
 * The fraud module's job: the daily fraud run (DOMAIN §8, docs/fraud.md, docs/jobs.md).
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import type { ScheduledJob } from "../platform/ScheduledJob.js"
import { Fraud, JOB_ACTOR } from "./FraudService.js"

/** Daily at 02:00, in the configured time zone. @since 0.3.0 */
export const fraudCron = "0 2 * * *"

/** Options of the fraud job (`fraud` in `JobsOptions`): customers per batch (default 5000). @since 0.3.0 */
export interface FraudJobOptions {
  readonly batchSize?: number | undefined
}

/**
 * `fraud`: `Fraud.run` at the configured clock's now, as `job:fraud`; counts `evaluated`,
 * `decisions`, `flags`, `blacklisted`.
 *
 * @since 0.3.0
 */
export const fraudRun: ScheduledJob<"fraud", FraudJobOptions | undefined, Fraud> = {
  name: "fraud",
  cron: fraudCron,
  run: (options) =>
    Effect.flatMap(Fraud, (fraud) =>
      Effect.map(
        fraud.run({ actor: JOB_ACTOR, ...(options?.batchSize === undefined ? {} : { batchSize: options.batchSize }) }),
        (r) => ({ evaluated: r.evaluated, decisions: r.decisions, flags: r.flags, blacklisted: r.blacklisted })
      ))
}
