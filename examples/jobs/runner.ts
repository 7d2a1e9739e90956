/**
 * `npm run jobs`: the library's jobs in one process, for a shop's server.
 *
 *   npm run jobs                             credit expiry at the top of every hour, the ticket deadline
 *                                            check every 6 hours (Asia/Ho_Chi_Minh), the outbox relay
 *                                            continuously; stop with Ctrl-C / SIGTERM
 *   npm run jobs -- --once expire-credits    one run of one job, then exit, for a host's own scheduler
 *   npm run jobs -- --once ticket-deadlines
 *   npm run jobs -- --once loyalty-sync      one sync of the loyalty program's customers (needs C360_CNV_TOKEN)
 *   npm run jobs -- --once relay             (exit 0: ok or skipped; 1: the run failed, or the database
 *                                            could not be opened; 2: bad usage)
 *
 * Environment:
 *   DATABASE_URL        PostgreSQL (postgres://…); without it, the SQLite file C360_SQLITE_FILE
 *                       (default customer360.db)
 *   C360_WEBHOOK_URL    where the relay POSTs each batch of events as JSON ({ events: [...] },
 *                       de-duplicate by event id); without it, one log line per event
 *   C360_RELAY_NAME     the relay's checkpoint (default "jobs"); C360_RELAY_FROM=start delivers the
 *                       whole outbox on its first run instead of only what comes next
 *   C360_RELAY_POLL_MS  pause between relay runs (default 500)
 *   C360_TIME_ZONE      the library's business time zone, also the cron's (default Asia/Ho_Chi_Minh)
 *   C360_CNV_TOKEN      the CNV loyalty API's bearer token: with it, `loyalty-sync` runs hourly (docs/loyalty.md);
 *                       without it, its scheduled runs do nothing (a debug line; `--once loyalty-sync` fails
 *                       LoyaltyNotConfigured)
 *   C360_CNV_BASE_URL   the CNV API (default https://apis.cnvloyalty.com); C360_CNV_PAGE_SIZE (default 100),
 *                       C360_CNV_TIMEOUT_MS (default 15000), C360_CNV_MAX_ATTEMPTS (default 5)
 *   C360_LOG_LEVEL      "debug" also logs the relay's idle runs
 *
 * One log line per run (`job=… status=ok|skipped|failed …`), whatever happens: with `--once`, a
 * database that cannot be opened or migrated is that run's failure, on the same line
 * (`status=failed reason=storage-unavailable …`), and its message also goes to stderr. Nothing else is
 * printed: no driver error or stack (a defect's cause is logged at debug level only). Any number of
 * runners may share one database: the library's job leases let only one of them run a job at a
 * time; the others log `status=skipped reason=held-by-another-runner`. A run that fails gives its
 * lease up (retrying the release for a moment if the database blipped), so the next `--once` runs
 * rather than skips. A signal lets the current run finish and release its lease, then closes the
 * database.
 *
 * This file only assembles layers and schedules; the jobs and their guarantees are the library's
 * (`Jobs` in src/jobs/Jobs.ts).
 */
import { hostname } from "node:os"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { Config, Customer360, Jobs } from "../../src/index.js"
import { Cnv } from "../../src/loyalty/index.js"

const USAGE = `usage: tsx examples/jobs/runner.ts [--once ${Jobs.jobNames.join("|")}]`

const usageError = (message: string): never => {
  console.error(`jobs: ${message}\n${USAGE}`)
  process.exit(2)
}

const parseOnce = (args: ReadonlyArray<string>): Jobs.JobName | undefined => {
  if (args.length === 0) return undefined
  if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) {
    console.log(USAGE)
    process.exit(0)
  }
  const name = args[0] === "--once" && args.length === 2 ? args[1]! : args.length === 1 && args[0]!.startsWith("--once=") ? args[0]!.slice(7) : undefined
  if (name === undefined) return usageError(`unexpected arguments: ${args.join(" ")}`)
  if (!Jobs.isJobName(name)) return usageError(`unknown job "${name}"`)
  return name
}

const positiveInt = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  return Number.isSafeInteger(n) && n > 0 ? n : usageError(`${name} must be a positive integer`)
}

const once = parseOnce(process.argv.slice(2))
const env = (name: string) => (process.env[name] === "" ? undefined : process.env[name])
const relayFrom = env("C360_RELAY_FROM") ?? "end"
if (relayFrom !== "end" && relayFrom !== "start") usageError("C360_RELAY_FROM must be \"end\" or \"start\"")
const pollMs = positiveInt("C360_RELAY_POLL_MS", 500)
const databaseUrl = env("DATABASE_URL")
const webhookUrl = env("C360_WEBHOOK_URL")
const holder = `${hostname()}:${process.pid}`

// Only the driver in use is loaded (better-sqlite3 and @effect/sql-pg are optional peers).
const storage = databaseUrl !== undefined
  ? (await import("../../src/pg.js")).PgDatabase.layer({ url: databaseUrl, maxConnections: 4 })
  : (await import("../../src/sqlite.js")).SqliteDatabase.layer({ filename: env("C360_SQLITE_FILE") ?? "customer360.db" })
const sink = webhookUrl !== undefined
  ? Jobs.webhookSink({ url: webhookUrl }).pipe(Layer.provide(FetchHttpClient.layer))
  : Jobs.logSink
// The loyalty program's customers come from CNV when its token is given; its options fail the start if bad.
const cnv = Cnv.optionsFromEnv(process.env)
const live = Jobs.layer({ holder, relay: { name: env("C360_RELAY_NAME"), from: relayFrom as "end" | "start" } }).pipe(
  Layer.provide(sink),
  Layer.provideMerge(
    Customer360.layer(storage, { timeZone: env("C360_TIME_ZONE") }).pipe(Layer.provide(cnv === undefined ? Layer.empty : Cnv.layer(cnv)))
  )
)
// without a loyalty source the sync has nothing to read: its scheduled runs only log that, at debug level
const unconfigured = (job: Jobs.JobName) => job === "loyalty-sync" && cnv === undefined

/** A run's one line: at ERROR when it failed, at `idleLevel` when it did nothing, else at INFO. */
const logReport = (report: Jobs.JobReport, idleLevel: LogLevel.LogLevel) =>
  Effect.logWithLevel(
    report.status === "failed" ? LogLevel.Error : Jobs.isIdle(report) ? idleLevel : LogLevel.Info,
    Jobs.formatReport(report)
  )

/** One run, logged on one line. A signal waits for it: it finishes and releases its lease first. */
const runLogged = (job: Jobs.JobName, idleLevel: LogLevel.LogLevel) =>
  Effect.flatMap(Jobs.Jobs, (jobs) => jobs.run(job)).pipe(
    Effect.uninterruptible,
    Effect.tap((report) => logReport(report, idleLevel))
  )

/**
 * `--once`: one run, exit 0 (ok, skipped) or 1 (failed). The run never fails (a failure is its
 * report); what can fail around it — opening or migrating the database — is reported as that run's
 * failure, on the same one line, with "cannot start" and its message on stderr.
 */
const runOnce = (job: Jobs.JobName) =>
  Effect.suspend(() => {
    const started = performance.now()
    return runLogged(job, LogLevel.Info).pipe(
      Effect.map((report) => {
        if (report.status !== "failed") return 0
        console.error(`jobs: ${job} failed (${report.reason}): ${report.message}`)
        return 1
      }),
      Effect.provide(live),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.gen(function*() {
          const report = yield* Jobs.failureReport(job, cause, Math.round(performance.now() - started))
          yield* logReport(report, LogLevel.Info)
          console.error(`jobs: cannot start: ${report.message}`)
          return 1
        })
      )
    )
  })

const runForever = Effect.gen(function*() {
  const config = yield* Config.Customer360Config
  yield* Effect.logInfo(
    `runner=started holder=${holder} database=${databaseUrl !== undefined ? "postgresql" : "sqlite"} ` +
      `sink=${webhookUrl !== undefined ? "webhook" : "log"} ` +
      Jobs.schedules.map(({ cron, job }) => `${job}="${cron}" `).join("") +
      `time_zone=${config.timeZone} relay_poll_ms=${pollMs}`
  )
  yield* Effect.all([
    // every module's job on its own cron, in the business time zone; the relay continuously
    ...Jobs.schedules.map(({ cron, job }) =>
      Effect.schedule(
        unconfigured(job) ? Effect.logDebug(`job=${job} status=skipped reason=not-configured`) : runLogged(job, LogLevel.Info),
        Schedule.cron(cron, config.timeZone)
      )
    ),
    Effect.repeat(runLogged("relay", LogLevel.Debug), Schedule.spaced(Duration.millis(pollMs)))
  ], { concurrency: "unbounded", discard: true })
  return 0
}).pipe(
  Effect.provide(live),
  // The database could not be opened, or the options are bad: a clear message, never a stack (a
  // defect's cause at debug level only).
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
    const failure = Cause.failureOption(cause)
    const message = Option.isSome(failure)
      ? failure.value.message
      : "an unexpected error; its cause is logged at debug level"
    return Effect.zipRight(
      Option.isSome(failure) ? Effect.void : Effect.logDebug("jobs: cannot start", cause),
      Effect.sync(() => {
        console.error(`jobs: cannot start: ${message}`)
        return 1
      })
    )
  })
)

const logger = Logger.make(({ cause, date, logLevel, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
  const detail = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
  console.log(`${date.toISOString()} ${logLevel.label} ${text}${detail}`)
})

const program = (once === undefined ? runForever : runOnce(once)).pipe(
  // after the layers are released: runs finished, leases released, database closed
  Effect.onInterrupt(() => Effect.logInfo("runner=stopped")),
  Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
  Logger.withMinimumLogLevel(env("C360_LOG_LEVEL") === "debug" ? LogLevel.Debug : LogLevel.Info)
)

NodeRuntime.runMain(program, {
  disablePrettyLogger: true,
  teardown: (exit) => process.exit(Exit.isSuccess(exit) ? Number(exit.value) : Cause.isInterruptedOnly(exit.cause) ? 0 : 1)
})
