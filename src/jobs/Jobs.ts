/**
 * The library's jobs, for a job runner (`examples/jobs/runner.ts`) or any host's scheduler:
 *
 * - `expire-credits` — `Wallets.expireCredits` at the configured clock's now (DOMAIN §3; hourly,
 *   {@link expireCreditsCron}, in the configured time zone);
 * - `relay` — one run of the outbox relay: the events committed since its checkpoint, in batches, to
 *   the {@link EventSink} (a webhook, a log), at least once.
 *
 * Each run reports what it did and how long it took ({@link JobReport}, {@link formatReport}) and runs
 * under {@link Jobs.runExclusive}: two processes on one database never run the same job at once.
 *
 * **How exclusivity is enforced.** A lease row per job (`c360_job_leases`, primary key on the name),
 * claimed by a single `INSERT … ON CONFLICT (name) DO UPDATE … WHERE expires_at <= now RETURNING`
 * statement: the database's unique key decides which of two concurrent claims wins, never a read
 * before a write. A lease rather than a PostgreSQL advisory lock because it works the same on
 * PostgreSQL, SQLite and D1 (one statement, no session to keep), and because a crashed holder cannot
 * keep it: the lease expires `leaseTtlMs` (default 30 s) after its last renewal, measured by the
 * database's clock. While a job runs, its lease is renewed every third of that time; a runner that
 * finds the lease held reports `skipped` instead of running. If a renewal finds the lease taken over
 * (the holder stalled past the TTL), or cannot renew it before it expires, the job is interrupted and
 * the run fails with `JobLeaseLost`. When a run ends, however it ends, its lease is released, and a
 * release that fails is tried again for a moment: a run that failed on a database blip does not
 * leave its job blocked for the TTL. A run whose claim fails reports `failed` (`storage-…`). The jobs do not rely on the lease for correctness — expiry
 * expires each credit once under row locks, the relay is at least once by design — the lease keeps
 * runners from doing the same work twice.
 *
 * The rules, in full: docs/jobs.md.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { StorageError, ValidationError } from "../kernel/Errors.js"
import { EventSink, type EventSinkShape } from "../platform/EventSink.js"
import { JobLeases } from "../platform/JobLeases.js"
import { type JobLeaseLost, makeRunExclusive } from "../platform/Exclusive.js"
import { Outbox } from "../platform/Outbox.js"
import { decoder } from "../kernel/Input.js"
import { traced, withSpans } from "../kernel/Spans.js"
import * as Relay from "../platform/Relay.js"
import * as Registry from "../modules.js"
import * as WalletJobs from "../wallets/Jobs.js"

/** @since 0.1.0 */
export { EventDeliveryFailed, EventSink } from "../platform/EventSink.js"
/** @since 0.1.0 */
export { JobLeases } from "../platform/JobLeases.js"
/** @since 0.1.0 */
export type { WebhookOptions } from "../platform/sinks/WebhookSink.js"
/**
 * A sink that POSTs each batch as JSON (`{ events: [...] }`) to a webhook; needs an `HttpClient`.
 *
 * @since 0.1.0
 */
export { layer as webhookSink } from "../platform/sinks/WebhookSink.js"
/**
 * A sink that logs one line per event.
 *
 * @since 0.1.0
 */
export { layer as logSink } from "../platform/sinks/LogSink.js"

/**
 * The jobs the library offers.
 *
 * @since 0.1.0
 */
export type JobName = Registry.ModuleJob["name"] | "relay"

/** Every job: each module's (the registry), then the relay. @since 0.1.0 */
export const jobNames: ReadonlyArray<JobName> = [...Registry.jobs.map(({ job }) => job.name), "relay"]

/**
 * When each module's job runs: its cron expression, read in the configured time zone. (The relay
 * runs continuously, at the runner's poll interval.)
 *
 * @since 0.1.0
 */
export const schedules: ReadonlyArray<{ readonly job: JobName; readonly cron: string }> = Registry.jobs.map((
  { job }
) => ({ job: job.name, cron: job.cron }))

/** @since 0.1.0 */
export const isJobName = (name: string): name is JobName => (jobNames as ReadonlyArray<string>).includes(name)

/**
 * When credit expiry runs (DOMAIN §3): at the top of every hour, in the configured time zone —
 * `Schedule.cron(expireCreditsCron, config.timeZone)`.
 *
 * @since 0.1.0
 */
export const expireCreditsCron: string = WalletJobs.expireCreditsCron

/**
 * What one run did. `ok` carries the job's counts (`expired` and `amount` for `expire-credits`,
 * `delivered` for `relay`); `skipped` means another runner held the job's lease; `failed` says why
 * in `reason` (`lease-lost`, `storage-unavailable`, `storage-contention`, `delivery-rejected`, …)
 * and `message`. `durationMs` is wall time, lease included.
 *
 * @since 0.1.0
 */
export type JobReport =
  | {
    readonly job: JobName
    readonly status: "ok"
    readonly counts: Readonly<Record<string, number>>
    readonly durationMs: number
  }
  | {
    readonly job: JobName
    readonly status: "skipped"
    readonly reason: "held-by-another-runner"
    readonly durationMs: number
  }
  | {
    readonly job: JobName
    readonly status: "failed"
    readonly reason: string
    readonly message: string
    readonly durationMs: number
  }

/**
 * A run's one log line: `job=expire-credits status=ok expired=12 amount=340000 duration_ms=41`,
 * `job=relay status=skipped reason=held-by-another-runner duration_ms=3`,
 * `job=relay status=failed reason=delivery-rejected duration_ms=25 message="…"`.
 *
 * @since 0.1.0
 */
export const formatReport = (report: JobReport): string => {
  const head = `job=${report.job} status=${report.status}`
  switch (report.status) {
    case "ok":
      return `${head} ${Object.entries(report.counts).map(([k, v]) => `${k}=${v} `).join("")}duration_ms=${report.durationMs}`
    case "skipped":
      return `${head} reason=${report.reason} duration_ms=${report.durationMs}`
    case "failed":
      return `${head} reason=${report.reason} duration_ms=${report.durationMs} message=${JSON.stringify(report.message)}`
  }
}

/**
 * True when the run did nothing: skipped, or ok with every count zero (a relay that found no new
 * event). A runner that polls may log such runs at a lower level.
 *
 * @since 0.1.0
 */
export const isIdle = (report: JobReport): boolean =>
  report.status === "skipped" || (report.status === "ok" && Object.values(report.counts).every((n) => n === 0))

/** @since 0.1.0 */
export { JobLeaseLost } from "../platform/Exclusive.js"

/**
 * - `holder`: names this process in the lease table, e.g. `host:pid` (each run adds a unique id).
 * - `leaseTtlMs`: how long a lease outlives its last renewal (default 30000); a crashed runner's
 *   jobs are free again after that long.
 * - `expiry`: `batchSize` (default 5000) and `maxBatches` per run (default: until none is due).
 * - `deadlines` (`ticket-deadlines`): `batchSize` (default 200) and `maxBatches` per run (default: all).
 * - `rfm`: customers per batch (`batchSize`, default 5000) and `maxBatches` per run (default: all).
 * - `fraud`: customers per batch of the fraud run (`batchSize`, default 5000; docs/fraud.md).
 * - `relay`: `name` of the relay's checkpoint (default `"jobs"`; not a name an in-process
 *   subscriber uses), `from` for its first run (`"end"`, the default, or `"start"`), `batchSize`
 *   (default 500) and `maxBatches` per run (default 20).
 *
 * @since 0.1.0
 */
export interface JobsOptions {
  readonly holder?: string | undefined
  readonly leaseTtlMs?: number | undefined
  readonly expiry?: {
    readonly batchSize?: number | undefined
    readonly maxBatches?: number | undefined
  } | undefined
  readonly deadlines?: {
    readonly batchSize?: number | undefined
    readonly maxBatches?: number | undefined
  } | undefined
  readonly rfm?: {
    readonly batchSize?: number | undefined
    readonly maxBatches?: number | undefined
  } | undefined
  readonly fraud?: {
    readonly batchSize?: number | undefined
  } | undefined
  readonly relay?: {
    readonly name?: string | undefined
    readonly from?: "end" | "start" | undefined
    readonly batchSize?: number | undefined
    readonly maxBatches?: number | undefined
  } | undefined
}

/**
 * The job service.
 *
 * @since 0.1.0
 */
export interface JobsShape {
  /** One run of `expire-credits`, exclusive across processes. Never fails: a failure is a report. */
  readonly expireCredits: Effect.Effect<JobReport>
  /** One run of the relay to the `EventSink`, exclusive across processes. Never fails. */
  readonly relay: Effect.Effect<JobReport>
  /** One run of the named job. */
  readonly run: (job: JobName) => Effect.Effect<JobReport>
  /**
   * Runs `job` while holding the lease `name`: `Some(result)`, or `None` without running it when
   * another holder's lease is running. The lease is renewed while the job runs and released when it
   * ends, however it ends; a release that fails (a database blip, often the one that failed the job)
   * is tried again for about 1.5 s, and only if that fails too does the lease run out after its TTL.
   * If it is lost meanwhile, the job is interrupted and this fails `JobLeaseLost`. If the claim
   * itself fails (`StorageError`), the job does not run, and a claim that may have been taken all the
   * same (its answer lost with the connection) is released the same way. Any effect can be made
   * exclusive this way, under a name of its own.
   */
  readonly runExclusive: <A, E, R>(
    name: string,
    job: Effect.Effect<A, E, R>
  ) => Effect.Effect<Option.Option<A>, E | JobLeaseLost | StorageError, R>
}

/** The Jobs service. @since 0.1.0 */
export class Jobs extends Context.Tag("customer360/Jobs")<Jobs, JobsShape>() {}

const Positive = Schema.Int.pipe(Schema.positive())
const decodeOptions = decoder(
  Schema.Struct({
    holder: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))),
    leaseTtlMs: Schema.optional(Schema.Int.pipe(Schema.between(10, 86_400_000))),
    expiry: Schema.optional(Schema.Struct({
      batchSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 100_000))),
      maxBatches: Schema.optional(Positive)
    })),
    deadlines: Schema.optional(Schema.Struct({
      batchSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 10_000))),
      maxBatches: Schema.optional(Positive)
    })),
    rfm: Schema.optional(Schema.Struct({
      batchSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 100_000))),
      maxBatches: Schema.optional(Positive)
    })),
    fraud: Schema.optional(Schema.Struct({
      batchSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 100_000)))
    })),
    relay: Schema.optional(Schema.Struct({
      name: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))),
      from: Schema.optional(Schema.Literal("end", "start")),
      batchSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 10_000))),
      maxBatches: Schema.optional(Positive)
    }))
  }),
  "job options"
)

const elapsedSince = (start: number) => Math.round(performance.now() - start)

/** The report's `reason` for a typed failure of a run. */
const reasonOf = (error: unknown): string => {
  const e = error as { _tag?: unknown; reason?: unknown }
  switch (e?._tag) {
    case "JobLeaseLost":
      return "lease-lost"
    case "StorageError":
      return `storage-${String(e.reason)}`
    case "EventDeliveryFailed":
      return `delivery-${String(e.reason)}`
    case "ValidationError":
      return "invalid-options"
    case "LoyaltyNotConfigured":
      return "not-configured"
    case "SyncFailed":
      return "source-failed"
    default:
      return "unexpected"
  }
}

/**
 * The `failed` report of a run of `job` that ended with `cause`. A typed failure gives its reason
 * (`lease-lost`, `storage-…`, `delivery-…`, `invalid-options`, `not-configured` and `source-failed` for
 * the loyalty sync; anything else `unexpected`) and its
 * message, which never carries a driver's text (see `StorageError`). A defect gives `unexpected` and
 * a fixed message: its text may hold internals, so its cause is logged at debug level only. For hosts
 * that report the surroundings of a run as the run's failure too — the example runner's `--once`
 * reports a database that cannot be opened this way, in the same log line.
 *
 * @since 0.1.0
 */
export const failureReport = (
  job: JobName,
  cause: Cause.Cause<unknown>,
  durationMs: number
): Effect.Effect<Extract<JobReport, { readonly status: "failed" }>> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value as { message?: unknown }
    return Effect.succeed({
      job,
      status: "failed",
      reason: reasonOf(failure.value),
      message: typeof error?.message === "string" ? error.message : String(failure.value),
      durationMs
    })
  }
  return Effect.as(Effect.logDebug(`job ${job}: unexpected failure`, cause), {
    job,
    status: "failed",
    reason: "unexpected",
    message: "an unexpected error; its cause is logged at debug level",
    durationMs
  } as const)
}

/**
 * Builds the service; fails with `ValidationError` for bad options.
 *
 * @since 0.1.0
 */
export const make = (options: JobsOptions = {}) =>
  Effect.gen(function*() {
    const config = yield* decodeOptions(options)
    const leases = yield* JobLeases
    const context = yield* Effect.context<Registry.ModuleJobServices>()
    const outbox = yield* Outbox
    const sink = yield* EventSink
    const ttlMs = config.leaseTtlMs ?? 30_000
    const holderPrefix = config.holder ?? "customer360"

    const runExclusive = makeRunExclusive(leases, { ttlMs, holderPrefix })

    /** Runs `work` under the job's lease and reports; a failure becomes a `failed` report. */
    const reported = <E>(job: JobName, lease: string, work: Effect.Effect<Readonly<Record<string, number>>, E>) =>
      Effect.suspend(() => {
        const started = performance.now()
        return runExclusive(lease, work).pipe(
          Effect.map((ran): JobReport =>
            Option.isSome(ran)
              ? { job, status: "ok", counts: ran.value, durationMs: elapsedSince(started) }
              : { job, status: "skipped", reason: "held-by-another-runner", durationMs: elapsedSince(started) }
          ),
          Effect.catchAllCause((cause): Effect.Effect<JobReport> =>
            Cause.isInterruptedOnly(cause)
              ? Effect.failCause(cause as Cause.Cause<never>)
              : failureReport(job, cause, elapsedSince(started))
          )
        )
      })

    // Each module's job, reported and exclusive under its own name; its options are its key's in JobsOptions.
    const moduleJobs = Object.fromEntries(Registry.jobs.map(({ job, optionsKey }) => [
      job.name,
      reported(
        job.name,
        job.name,
        Effect.provide(job.run((config as Record<string, unknown>)[optionsKey] as never) as Effect.Effect<Readonly<Record<string, number>>, unknown, Registry.ModuleJobServices>, context)
      )
    ])) as Record<Registry.ModuleJob["name"], Effect.Effect<JobReport>>
    const expireCredits = moduleJobs["expire-credits"]

    const relayOptions: Relay.RelayOptions = {
      name: config.relay?.name ?? "jobs",
      from: config.relay?.from ?? "end",
      batchSize: config.relay?.batchSize ?? 500
    }
    const relayBatches = config.relay?.maxBatches ?? 20
    // The checkpoint is read at the start of every run: another runner may have moved it.
    const relayRun = Effect.gen(function*() {
      let position = yield* Relay.start(relayOptions)
      let delivered = 0
      const deliver = (events: Parameters<EventSinkShape["deliver"]>[0]) =>
        Effect.tap(sink.deliver(events), () => Effect.sync(() => (delivered += events.length)))
      for (let n = 0; n < relayBatches; n++) {
        const next = yield* Relay.step(relayOptions, position, deliver)
        if (next === position) break
        position = next
      }
      return { delivered }
    }).pipe(Effect.provideService(Outbox, outbox))
    const relay = reported("relay", `relay:${relayOptions.name}`, relayRun)

    const named: Record<JobName, Effect.Effect<JobReport>> = { ...moduleJobs, relay }
    return Jobs.of({
      expireCredits: traced(expireCredits, "customer360.Jobs.expireCredits"),
      relay: traced(relay, "customer360.Jobs.relay"),
      ...withSpans("Jobs", {
        run: (job: string) => (isJobName(job) ? named[job] : Effect.dieMessage(`unknown job ${JSON.stringify(job)}`)),
        runExclusive
      })
    })
  })

/**
 * The service as a layer: the jobs run on the library's `Wallets`, `Outbox` and `JobLeases` (all in
 * `Customer360.layer`) and deliver to the `EventSink` provided (`webhookSink`, `logSink`, or the host's).
 *
 * @example
 * ```ts
 * import { Customer360, Jobs } from "customer360"
 * import { PgDatabase } from "customer360/pg"
 * import { Layer } from "effect"
 *
 * const live = Jobs.layer({ holder: "worker-1" }).pipe(
 *   Layer.provide(Jobs.logSink),
 *   Layer.provideMerge(Customer360.layer(PgDatabase.layer({ url: process.env.DATABASE_URL! })))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layer = (
  options: JobsOptions = {}
): Layer.Layer<Jobs, ValidationError, JobLeases | Registry.ModuleJobServices | Outbox | EventSink> =>
  Layer.effect(Jobs, make(options))
