/**
 * The loyalty sync (DOMAIN §11, docs/loyalty.md): the loyalty program's customers, read from the
 * `LoyaltySource` page by page since the last checkpoint, with each one's membership, upserted into
 * `c360_loyalty_customers` by their program id, and every run logged.
 *
 * - **Incremental.** The checkpoint is the `updatedAt` and id of the last record committed; a run
 *   reads the customers updated at or after that instant and skips those it already took (same
 *   instant, id not above). `full: true` starts from the beginning.
 * - **Page by page, atomically.** Each page's rows, its failed records, the checkpoint and the run's
 *   figures commit in one transaction: a run that stops (a crash, a source failure) keeps whole pages,
 *   and the next run resumes after the last one. Rows are keyed by `cnv_id`, so a page taken twice
 *   creates nothing twice; a record whose values are the stored ones is `unchanged`.
 * - **Failures.** A record that does not decode (a point value with a fraction, a missing id) is
 *   counted `failed`, logged with its reason and kept in the run's failures; the page goes on. A
 *   source failure after the adapter's retries ends the run `failed`, with its error recorded; the
 *   pages committed before stay.
 * - **Exclusive.** A sync holds the job lease `loyalty-sync`, the scheduled job's: a second runner
 *   (another process, or an on-demand sync while the job runs) does nothing and fails
 *   `SyncInProgress`.
 *
 * @since 0.5.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { businessDay, dayToDate } from "../kernel/BusinessDay.js"
import { Customer360Config } from "../kernel/Config.js"
import type { StorageError, ValidationError } from "../kernel/Errors.js"
import { encodeId } from "../kernel/Ids.js"
import { decoder, randomBytes } from "../kernel/Input.js"
import * as Phone from "../kernel/Phone.js"
import { withSpans } from "../kernel/Spans.js"
import { makeRunExclusive } from "../platform/Exclusive.js"
import { JobLeases } from "../platform/JobLeases.js"
import {
  type Checkpoint,
  type LoyaltyCustomerRow,
  LoyaltyRepository,
  type StoredRun,
  type SyncFailure
} from "./LoyaltyRepository.js"
import {
  type LoyaltyCustomerRecord,
  type LoyaltyMembership,
  LoyaltyNotConfigured,
  LoyaltySource,
  type LoyaltySourceFailed
} from "./Source.js"

/**
 * Options of a sync:
 * - `full`: start from the beginning instead of the checkpoint (default `false`);
 * - `pageSize`: customers per page (1–1000; default the source's, else 100);
 * - `maxPages`: stop after this many pages (default: until the source has no more); the next run
 *   goes on from there;
 * - `concurrency`: memberships read at once (1–32, default 4).
 *
 * @since 0.5.0
 */
export interface SyncOptions {
  readonly full?: boolean | undefined
  readonly pageSize?: number | undefined
  readonly maxPages?: number | undefined
  readonly concurrency?: number | undefined
}

/** A checkpoint: the last committed record's `updatedAt` in the program and its id. @since 0.5.0 */
export interface SyncPosition {
  readonly updatedAt: Date
  readonly id: number
}

/**
 * A run of the sync, as logged: `running` while it runs (or when its runner stopped before the end:
 * the next run marks it `failed`), `completed`, or `failed` with `error`. The checkpoint it started
 * from and the one its committed pages reached; pages; customers created, updated, unchanged; records
 * failed. `durationMs` is wall time.
 *
 * @since 0.5.0
 */
export interface SyncRun {
  readonly id: string
  readonly status: "running" | "completed" | "failed"
  readonly full: boolean
  readonly startedAt: Date
  readonly finishedAt: Date | null
  readonly durationMs: number | null
  readonly checkpointFrom: SyncPosition | null
  readonly checkpoint: SyncPosition | null
  readonly pages: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly failed: number
  readonly error: string | null
}

/**
 * What a sync did: its run (now `completed` or `failed`) and the records that failed, with why
 * (the first 100; all of them are in the run's log). A `failed` run still kept the pages it
 * committed: its `checkpoint` says how far.
 *
 * @since 0.5.0
 */
export interface SyncReport extends SyncRun {
  readonly status: "completed" | "failed"
  readonly finishedAt: Date
  readonly durationMs: number
  readonly failures: ReadonlyArray<SyncFailure>
}

/**
 * Another sync holds the `loyalty-sync` lease (the scheduled job, or another process's sync); this
 * one did nothing. Try again when it is done.
 *
 * @since 0.5.0
 */
export class SyncInProgress extends Schema.TaggedError<SyncInProgress>()("SyncInProgress", {}) {
  override get message(): string {
    return "A loyalty sync is already running (the loyalty-sync job or another runner); this one did nothing"
  }
}

/**
 * A run of the `loyalty-sync` job ended `failed` (the source failed after its retries): the run's
 * id and its error. The pages it committed are kept; the next run resumes after them.
 *
 * @since 0.5.0
 */
export class SyncFailed extends Schema.TaggedError<SyncFailed>()("SyncFailed", { runId: Schema.String, error: Schema.String }) {
  override get message(): string {
    return `Loyalty sync ${this.runId} failed (the pages it committed are kept): ${this.error}`
  }
}

/** The lease a sync holds: the `loyalty-sync` job's. @since 0.5.0 */
export const LOYALTY_SYNC_LEASE = "loyalty-sync"

/** The checkpoint's name in `c360_loyalty_sync_state`. */
const SOURCE = "cnv"
/** Failures kept in a report (the log keeps them all). */
const REPORTED_FAILURES = 100
/** Without `maxPages`, a run stops after this many pages all the same (the next run goes on). */
const PAGE_LIMIT = 100_000

/**
 * The loyalty service.
 *
 * @since 0.5.0
 */
export interface LoyaltyShape {
  /**
   * One sync run (see the module's documentation), exclusive under the `loyalty-sync` lease.
   * Answers the run's report, `completed` or `failed` (a source failure: the committed pages stay);
   * fails `LoyaltyNotConfigured` without a source and `SyncInProgress` when another run holds the
   * lease, in both cases without doing anything.
   */
  readonly sync: (
    options?: SyncOptions
  ) => Effect.Effect<SyncReport, LoyaltyNotConfigured | SyncInProgress | ValidationError | StorageError>
  /** {@link LoyaltyShape.sync} without taking the lease, for the `loyalty-sync` job (run under it). */
  readonly syncHeld: (options?: SyncOptions) => Effect.Effect<SyncReport, LoyaltyNotConfigured | ValidationError | StorageError>
  /** The most recent runs, newest first (`limit` 1–1000, default 20). */
  readonly runs: (options?: { readonly limit?: number | undefined }) => Effect.Effect<ReadonlyArray<SyncRun>, ValidationError | StorageError>
}

/** The loyalty service. @since 0.5.0 */
export class Loyalty extends Context.Tag("customer360/Loyalty")<Loyalty, LoyaltyShape>() {}

const decodeOptions = decoder(
  Schema.Struct({
    full: Schema.optional(Schema.Boolean),
    pageSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000))),
    maxPages: Schema.optional(Schema.Int.pipe(Schema.between(1, Number.MAX_SAFE_INTEGER))),
    concurrency: Schema.optional(Schema.Int.pipe(Schema.between(1, 32)))
  }),
  "loyalty sync options"
)
const decodeRunsOptions = decoder(
  Schema.Struct({ limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 1000))) }),
  "loyalty runs options"
)

const Text = Schema.NullOr(Schema.String)
const Whole = Schema.Int.annotations({ message: () => "must be a whole number" })
const WholeOrNull = Schema.NullOr(Whole)

/** A source's record, checked again here: a host's own source is JavaScript too. */
const RecordSchema = Schema.Struct({
  id: Schema.Int.pipe(Schema.nonNegative()).annotations({ message: () => "must be a whole number, 0 or more" }),
  lastName: Text,
  firstName: Text,
  phone: Text,
  email: Text,
  gender: Text,
  birthdayDay: WholeOrNull,
  birthdayMonth: WholeOrNull,
  birthdayYear: WholeOrNull,
  tags: Text,
  physicalCardCode: Text,
  points: Whole,
  expPoints: Whole,
  totalSpending: Whole,
  totalPoints: Whole,
  createdAt: WholeOrNull,
  updatedAt: Whole
})
const MembershipSchema = Schema.Struct({
  levelName: Text,
  totalPoints: WholeOrNull,
  points: WholeOrNull,
  usedPoints: WholeOrNull
})

const reasonOf = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "is malformed"
  return issue.path.length === 0 ? issue.message : `${issue.path.map(String).join(".")}: ${issue.message}`
}
const decodeRecord = (u: unknown): Either.Either<LoyaltyCustomerRecord, string> =>
  Either.mapLeft(Schema.decodeUnknownEither(RecordSchema, { errors: "first" })(u), reasonOf)
const decodeMembership = (u: unknown): Either.Either<LoyaltyMembership, string> =>
  Either.mapLeft(Schema.decodeUnknownEither(MembershipSchema, { errors: "first" })(u), reasonOf)

/** Whether `(updatedAt, id)` comes after the checkpoint. */
const after = (cp: Checkpoint | null, updatedAt: number, id: number) =>
  cp === null || updatedAt > cp.updatedAt || (updatedAt === cp.updatedAt && id > cp.id)

/** A record's place, when it has a readable one. */
const placeOf = (u: unknown): Checkpoint | null => {
  const r = u as { id?: unknown; updatedAt?: unknown } | null
  return typeof r === "object" && r !== null && Number.isSafeInteger(r.id) && Number.isSafeInteger(r.updatedAt)
    ? { updatedAt: r.updatedAt as number, id: r.id as number }
    : null
}
const idOf = (u: unknown): number | null => {
  const id = (u as { id?: unknown } | null)?.id
  return Number.isSafeInteger(id) ? (id as number) : null
}

const position = (cp: Checkpoint | null): SyncPosition | null =>
  cp === null ? null : { updatedAt: new Date(cp.updatedAt), id: cp.id }

const runView = (r: StoredRun): SyncRun => ({
  id: r.id,
  status: r.status,
  full: r.full,
  startedAt: new Date(r.startedAt),
  finishedAt: r.finishedAt === null ? null : new Date(r.finishedAt),
  durationMs: r.durationMs,
  checkpointFrom: position(r.checkpointFrom),
  checkpoint: position(r.checkpoint),
  pages: r.pages,
  created: r.created,
  updated: r.updated,
  unchanged: r.unchanged,
  failed: r.failed,
  error: r.error
})

/** @since 0.5.0 */
export const make = Effect.gen(function*() {
  const repo = yield* LoyaltyRepository
  const config = yield* Customer360Config
  const leases = yield* JobLeases
  // Optional, like the identity module's ports: without it a sync fails LoyaltyNotConfigured.
  const source = yield* Effect.serviceOption(LoyaltySource)

  /** The row of a record and its membership: the phone normalised (NULL when it does not), the day. */
  const rowOf = (record: LoyaltyCustomerRecord, membership: LoyaltyMembership | null): LoyaltyCustomerRow => {
    const raw = record.phone
    const normalized = raw === null ? null : Phone.normalize(raw, config.phone)
    const values = {
      cnvId: record.id,
      lastName: record.lastName,
      firstName: record.firstName,
      phoneRaw: raw,
      phone: normalized !== null && Either.isRight(normalized) ? normalized.right as string : null,
      email: record.email,
      gender: record.gender,
      birthdayDay: record.birthdayDay,
      birthdayMonth: record.birthdayMonth,
      birthdayYear: record.birthdayYear,
      tags: record.tags,
      physicalCardCode: record.physicalCardCode,
      // the membership's figures are the program's own; the customer's are the fallback
      points: membership?.points ?? record.points,
      expPoints: record.expPoints,
      totalSpending: record.totalSpending,
      totalPoints: membership?.totalPoints ?? record.totalPoints,
      levelName: membership?.levelName ?? null,
      usedPoints: membership?.usedPoints ?? null,
      cnvCreatedAt: record.createdAt,
      cnvUpdatedAt: record.updatedAt,
      createdDate: record.createdAt === null ? null : dayToDate(businessDay(record.createdAt, config.timeZone))
    }
    return { ...values, fingerprint: JSON.stringify(Object.values(values)) }
  }

  const syncWith = (src: Context.Tag.Service<LoyaltySource>, options: SyncOptions) =>
    Effect.gen(function*() {
      const pageSize = options.pageSize ?? src.pageSize ?? 100
      const maxPages = options.maxPages ?? PAGE_LIMIT
      const concurrency = options.concurrency ?? 4
      const full = options.full === true
      const from = full ? null : Option.getOrNull(yield* repo.checkpoint(SOURCE))
      const startedAt = yield* Clock.currentTimeMillis
      const started = performance.now()
      const id = encodeId("lsr", startedAt, yield* randomBytes)
      yield* repo.startRun({
        id,
        status: "running",
        full,
        startedAt,
        finishedAt: null,
        durationMs: null,
        checkpointFrom: from,
        checkpoint: from,
        pages: 0,
        created: 0,
        updated: 0,
        unchanged: 0,
        failed: 0,
        error: null
      })
      const figures = { pages: 0, created: 0, updated: 0, unchanged: 0, failed: 0 }
      const reported: Array<SyncFailure> = []
      let checkpoint = from
      let page = 1

      const end = (status: "completed" | "failed", error: string | null) =>
        Effect.gen(function*() {
          const durationMs = Math.round(performance.now() - started)
          const finishedAt = yield* Clock.currentTimeMillis
          yield* repo.finishRun(id, { status, finishedAt, durationMs, error })
          const report: SyncReport = {
            ...runView({ id, status, full, startedAt, finishedAt, durationMs, checkpointFrom: from, checkpoint, ...figures, error }),
            status,
            finishedAt: new Date(finishedAt),
            durationMs,
            failures: reported
          }
          yield* Effect.logInfo(
            `loyalty sync ${id}: ${status} pages=${figures.pages} created=${figures.created} updated=${figures.updated} ` +
              `unchanged=${figures.unchanged} failed=${figures.failed} duration_ms=${durationMs}` +
              (error === null ? "" : ` error=${JSON.stringify(error)}`)
          )
          return report
        })

      const sourceFailed = (e: LoyaltySourceFailed) => end("failed", e.message)

      const body: Effect.Effect<SyncReport, StorageError> = Effect.gen(function*() {
        while (figures.pages < maxPages) {
          const fetched = yield* Effect.either(
            src.customersUpdatedSince({ since: checkpoint?.updatedAt ?? 0, afterId: checkpoint?.id, page, pageSize })
          )
          if (Either.isLeft(fetched)) return yield* sourceFailed(fetched.left)
          const { customers, hasMore, rejected } = fetched.right

          // the records not taken yet, the last of each id only
          const fresh = new Map<number, unknown>()
          const failures: Array<SyncFailure> = rejected.map((r) => ({ cnvId: r.cnvId, reason: r.reason }))
          let reached = checkpoint
          for (const record of customers) {
            const place = placeOf(record)
            if (place === null) {
              failures.push({ cnvId: idOf(record), reason: Either.match(decodeRecord(record), { onLeft: (r) => r, onRight: () => "is malformed" }) })
              continue
            }
            if (!after(checkpoint, place.updatedAt, place.id)) continue
            if (after(reached, place.updatedAt, place.id)) reached = place
            fresh.delete(place.id)
            fresh.set(place.id, record)
          }

          const taken = yield* Effect.forEach(
            [...fresh.entries()],
            ([cnvId, record]) =>
              Either.match(decodeRecord(record), {
                onLeft: (reason) => Effect.succeed(Either.left<SyncFailure>({ cnvId, reason })),
                onRight: (valid) =>
                  src.membership(cnvId).pipe(
                    Effect.flatMap((found) =>
                      Option.match(found, {
                        onNone: () => Effect.succeed(Either.right(rowOf(valid, null))),
                        onSome: (m) =>
                          Effect.succeed(Either.match(decodeMembership(m), {
                            onLeft: (reason) => Either.left<SyncFailure>({ cnvId, reason: `membership ${reason}` }),
                            onRight: (membership) => Either.right(rowOf(valid, membership))
                          }))
                      })
                    ),
                    Effect.catchTag("LoyaltyRecordRejected", (e) => Effect.succeed(Either.left<SyncFailure>({ cnvId, reason: e.reason })))
                  )
              }),
            { concurrency }
          ).pipe(Effect.either)
          // a membership that cannot be read after the retries: the run stops, this page uncommitted
          if (Either.isLeft(taken)) return yield* sourceFailed(taken.left)

          const rows: Array<LoyaltyCustomerRow> = []
          for (const t of taken.right) {
            if (Either.isRight(t)) rows.push(t.right)
            else failures.push(t.left)
          }
          const stored = yield* repo.fingerprints(rows.map((r) => r.cnvId))
          let created = 0
          let updated = 0
          let unchanged = 0
          for (const row of rows) {
            const was = stored.get(row.cnvId)
            if (was === undefined) created += 1
            else if (was === row.fingerprint) unchanged += 1
            else updated += 1
          }
          const failureSeq = figures.failed
          const next = {
            pages: figures.pages + 1,
            created: figures.created + created,
            updated: figures.updated + updated,
            unchanged: figures.unchanged + unchanged,
            failed: figures.failed + failures.length
          }
          yield* repo.commitPage(SOURCE, {
            runId: id,
            rows,
            failures,
            failureSeq,
            checkpoint: reached,
            figures: next,
            at: yield* Clock.currentTimeMillis
          })
          Object.assign(figures, next)
          for (const f of failures) {
            yield* Effect.logWarning(`loyalty sync ${id}: customer ${f.cnvId ?? "(no id)"} failed: ${f.reason}`)
            if (reported.length < REPORTED_FAILURES) reported.push(f)
          }

          // Re-anchored on the new checkpoint when it moved to a later instant (a customer updated
          // meanwhile cannot shift the pages under us); otherwise the next page of the same instant.
          page = reached !== null && (checkpoint === null || reached.updatedAt > checkpoint.updatedAt) ? 1 : page + 1
          checkpoint = reached
          if (!hasMore || customers.length + rejected.length === 0) break
        }
        return yield* end("completed", null)
      })

      return yield* body.pipe(
        // a database failure mid-run: the run is marked failed if the database lets us, then the failure goes on
        Effect.tapError((e) => Effect.ignore(end("failed", e.message))),
        Effect.onInterrupt(() => Effect.ignore(end("failed", "interrupted: the run was stopped (the pages it committed are kept)")))
      )
    })

  const syncHeld: LoyaltyShape["syncHeld"] = (raw) =>
    Effect.gen(function*() {
      const options = yield* decodeOptions(raw ?? {})
      if (Option.isNone(source)) return yield* new LoyaltyNotConfigured()
      return yield* syncWith(source.value, options)
    })

  const exclusive = makeRunExclusive(leases, { ttlMs: 30_000, holderPrefix: "customer360:loyalty-sync" })
  const sync: LoyaltyShape["sync"] = (raw) =>
    Effect.gen(function*() {
      const options = yield* decodeOptions(raw ?? {})
      if (Option.isNone(source)) return yield* new LoyaltyNotConfigured()
      const ran = yield* exclusive(LOYALTY_SYNC_LEASE, syncWith(source.value, options)).pipe(
        // a lost lease means another runner took over: this one stopped, as when it found it held
        Effect.catchTag("JobLeaseLost", () => Effect.fail(new SyncInProgress()))
      )
      return yield* Option.match(ran, { onNone: () => Effect.fail(new SyncInProgress()), onSome: Effect.succeed })
    })

  const runs: LoyaltyShape["runs"] = (raw) =>
    Effect.gen(function*() {
      const options = yield* decodeRunsOptions(raw ?? {})
      return (yield* repo.runs(options.limit ?? 20)).map(runView)
    })

  return Loyalty.of(withSpans("Loyalty", { sync, syncHeld, runs }))
})

/**
 * The service as a layer. Its port, `LoyaltySource`, is optional: provide it under the library's
 * layer (the facade's `loyalty` option does; `Cnv.layer` is the CNV adapter).
 *
 * @since 0.5.0
 */
export const layer: Layer.Layer<Loyalty, never, LoyaltyRepository | Customer360Config | JobLeases> = Layer.effect(Loyalty, make)
