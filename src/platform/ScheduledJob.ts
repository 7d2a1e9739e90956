/**
 * A job a module offers to the job runner: its name, when it runs (a cron expression, read in the
 * configured business time zone), and one run. Runs are made exclusive across runners and reported
 * by the job service (`src/jobs/Jobs.ts`); the module's job only does its work, in bounded batches.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"

/**
 * One scheduled job of a module.
 *
 * @since 0.1.0
 */
export interface ScheduledJob<Name extends string, Options, R> {
  readonly name: Name
  /** When it runs, e.g. `"0 * * * *"` (hourly), in the configured time zone. */
  readonly cron: string
  /** One run, with the job's options (from `JobsOptions`); its counts go into the run's report. */
  readonly run: (options: Options) => Effect.Effect<Readonly<Record<string, number>>, unknown, R>
}
