/**
 * The loyalty module's storage, one SQL implementation for every engine: the synced customers
 * (`c360_loyalty_customers`), the runs log, its failures, and the checkpoint.
 *
 * A page commits as one unit of work: its customers' upserts, its failures, the checkpoint and the
 * run's figures — all of it or none of it — so a run that stops between pages (a crash, a source
 * failure) leaves whole pages and a checkpoint that matches them. An upsert whose fingerprint is
 * the stored one changes nothing (`ON CONFLICT (cnv_id) DO UPDATE … WHERE fingerprint <>`).
 *
 * @since 0.5.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { StorageError } from "../kernel/Errors.js"
import { int, textOrNull } from "../platform/sql/Columns.js"
import { storage } from "../platform/sql/SqlFailure.js"
import { UnitOfWork } from "../platform/UnitOfWork.js"

/** A position of the sync: the last record's `cnv_updated_at` (epoch ms) and `cnv_id`. @since 0.5.0 */
export interface Checkpoint {
  readonly updatedAt: number
  readonly id: number
}

/** One row of `c360_loyalty_customers`, as the sync writes it (bookkeeping aside). @since 0.5.0 */
export interface LoyaltyCustomerRow {
  readonly cnvId: number
  readonly lastName: string | null
  readonly firstName: string | null
  readonly phoneRaw: string | null
  readonly phone: string | null
  readonly email: string | null
  readonly gender: string | null
  readonly birthdayDay: number | null
  readonly birthdayMonth: number | null
  readonly birthdayYear: number | null
  readonly tags: string | null
  readonly physicalCardCode: string | null
  readonly points: number
  readonly expPoints: number
  readonly totalSpending: number
  readonly totalPoints: number
  readonly levelName: string | null
  readonly usedPoints: number | null
  readonly cnvCreatedAt: number | null
  readonly cnvUpdatedAt: number
  readonly createdDate: string | null
  readonly fingerprint: string
}

/** A record a run could not take. @since 0.5.0 */
export interface SyncFailure {
  readonly cnvId: number | null
  readonly reason: string
}

/** A run as the log holds it. @since 0.5.0 */
export interface StoredRun {
  readonly id: string
  readonly status: "running" | "completed" | "failed"
  readonly full: boolean
  readonly startedAt: number
  readonly finishedAt: number | null
  readonly durationMs: number | null
  readonly checkpointFrom: Checkpoint | null
  readonly checkpoint: Checkpoint | null
  readonly pages: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly failed: number
  readonly error: string | null
}

/** What one page adds to its run. @since 0.5.0 */
export interface PageCommit {
  readonly runId: string
  readonly rows: ReadonlyArray<LoyaltyCustomerRow>
  readonly failures: ReadonlyArray<SyncFailure>
  /** The first failure's sequence number in the run. */
  readonly failureSeq: number
  /** The checkpoint after this page (unchanged when the page moved nothing). */
  readonly checkpoint: Checkpoint | null
  /** The run's figures after this page. */
  readonly figures: { readonly pages: number; readonly created: number; readonly updated: number; readonly unchanged: number; readonly failed: number }
  readonly at: number
}

/** The loyalty repository. @since 0.5.0 */
export class LoyaltyRepository extends Context.Tag("customer360/LoyaltyRepository")<LoyaltyRepository, {
  /** The checkpoint of `source`, `None` before its first committed page. */
  readonly checkpoint: (source: string) => Effect.Effect<Option.Option<Checkpoint>, StorageError>
  /** The stored fingerprints of those of `ids` that are stored. */
  readonly fingerprints: (ids: ReadonlyArray<number>) => Effect.Effect<ReadonlyMap<number, string>, StorageError>
  /**
   * Logs a new `running` run; a run still `running` (its runner stopped without finishing it; the
   * caller holds the sync's lease, so none is live) is marked `failed` first.
   */
  readonly startRun: (run: StoredRun) => Effect.Effect<void, StorageError>
  /** Commits one page, atomically (see the module's documentation). */
  readonly commitPage: (source: string, page: PageCommit) => Effect.Effect<void, StorageError>
  /** Ends a run. */
  readonly finishRun: (
    runId: string,
    end: { readonly status: "completed" | "failed"; readonly finishedAt: number; readonly durationMs: number; readonly error: string | null }
  ) => Effect.Effect<void, StorageError>
  /** The most recent runs, newest first. */
  readonly runs: (limit: number) => Effect.Effect<ReadonlyArray<StoredRun>, StorageError>
}>() {}

const INTERRUPTED = "interrupted: its runner stopped before the run ended (the pages it committed are kept)"

/** IN lists stay under D1's 100 bound parameters per statement. */
const IN_CHUNK = 90

/** @since 0.5.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork

  const checkpointOf = (at: unknown, id: unknown): Checkpoint | null =>
    at === null || at === undefined || id === null || id === undefined ? null : { updatedAt: int(at), id: int(id) }

  const runOf = (r: Record<string, unknown>): StoredRun => ({
    id: String(r.id),
    status: String(r.status) as StoredRun["status"],
    full: int(r.full_sync) === 1,
    startedAt: int(r.started_at),
    finishedAt: r.finished_at === null ? null : int(r.finished_at),
    durationMs: r.duration_ms === null ? null : int(r.duration_ms),
    checkpointFrom: checkpointOf(r.checkpoint_from, r.checkpoint_from_id),
    checkpoint: checkpointOf(r.checkpoint, r.checkpoint_id),
    pages: int(r.pages),
    created: int(r.created),
    updated: int(r.updated),
    unchanged: int(r.unchanged),
    failed: int(r.failed),
    error: textOrNull(r.error)
  })

  const upsert = (row: LoyaltyCustomerRow, at: number): Statement.Statement<unknown> =>
    sql`INSERT INTO c360_loyalty_customers (cnv_id, last_name, first_name, phone_raw, phone, email, gender,
        birthday_day, birthday_month, birthday_year, tags, physical_card_code, points, exp_points, total_spending,
        total_points, level_name, used_points, cnv_created_at, cnv_updated_at, created_date, fingerprint, synced_at,
        created_at, updated_at)
      VALUES (${row.cnvId}, ${row.lastName}, ${row.firstName}, ${row.phoneRaw}, ${row.phone}, ${row.email}, ${row.gender},
        ${row.birthdayDay}, ${row.birthdayMonth}, ${row.birthdayYear}, ${row.tags}, ${row.physicalCardCode}, ${row.points},
        ${row.expPoints}, ${row.totalSpending}, ${row.totalPoints}, ${row.levelName}, ${row.usedPoints}, ${row.cnvCreatedAt},
        ${row.cnvUpdatedAt}, ${row.createdDate}, ${row.fingerprint}, ${at}, ${at}, ${at})
      ON CONFLICT (cnv_id) DO UPDATE SET last_name = excluded.last_name, first_name = excluded.first_name,
        phone_raw = excluded.phone_raw, phone = excluded.phone, email = excluded.email, gender = excluded.gender,
        birthday_day = excluded.birthday_day, birthday_month = excluded.birthday_month,
        birthday_year = excluded.birthday_year, tags = excluded.tags, physical_card_code = excluded.physical_card_code,
        points = excluded.points, exp_points = excluded.exp_points, total_spending = excluded.total_spending,
        total_points = excluded.total_points, level_name = excluded.level_name, used_points = excluded.used_points,
        cnv_created_at = excluded.cnv_created_at, cnv_updated_at = excluded.cnv_updated_at,
        created_date = excluded.created_date, fingerprint = excluded.fingerprint, synced_at = excluded.synced_at,
        updated_at = excluded.updated_at
      WHERE c360_loyalty_customers.fingerprint IS NULL OR c360_loyalty_customers.fingerprint <> excluded.fingerprint`

  return LoyaltyRepository.of({
    checkpoint: (source) =>
      sql<{ updated_at: unknown; last_id: unknown }>`SELECT updated_at, last_id FROM c360_loyalty_sync_state
        WHERE source = ${source}`.pipe(
        storage("reading the loyalty sync's checkpoint"),
        Effect.map((rows) => Option.fromNullable(rows[0] === undefined ? null : checkpointOf(rows[0].updated_at, rows[0].last_id)))
      ),

    fingerprints: (ids) =>
      Effect.gen(function*() {
        const found = new Map<number, string>()
        for (let i = 0; i < ids.length; i += IN_CHUNK) {
          const chunk = ids.slice(i, i + IN_CHUNK)
          const rows = yield* sql<{ cnv_id: unknown; fingerprint: unknown }>`SELECT cnv_id, fingerprint
            FROM c360_loyalty_customers WHERE ${sql.in("cnv_id", chunk)}`.pipe(storage("reading loyalty customers"))
          for (const r of rows) found.set(int(r.cnv_id), String(r.fingerprint))
        }
        return found
      }),

    startRun: (run) =>
      uow.write<never>({
        operation: "starting a loyalty sync run",
        statements: [
          sql`UPDATE c360_loyalty_sync_runs SET status = 'failed', error = ${INTERRUPTED}, finished_at = ${run.startedAt}
            WHERE status = 'running'`,
          // runs are numbered in the order they start (the caller holds the lease: no two at once)
          sql`INSERT INTO c360_loyalty_sync_runs (id, seq, status, full_sync, started_at, checkpoint_from, checkpoint_from_id,
              checkpoint, checkpoint_id)
            SELECT ${run.id}, COALESCE(MAX(seq), 0) + 1, 'running', ${run.full ? 1 : 0}, ${run.startedAt},
              ${run.checkpointFrom?.updatedAt ?? null}, ${run.checkpointFrom?.id ?? null}, ${run.checkpointFrom?.updatedAt ?? null},
              ${run.checkpointFrom?.id ?? null}
            FROM c360_loyalty_sync_runs`
        ]
      }),

    commitPage: (source, page) =>
      uow.withTransaction(uow.write<never>({
        operation: "committing a page of loyalty customers",
        statements: [
          ...page.rows.map((row) => upsert(row, page.at)),
          ...page.failures.map((f, i) =>
            sql`INSERT INTO c360_loyalty_sync_failures (run_id, seq, cnv_id, reason)
              VALUES (${page.runId}, ${page.failureSeq + i}, ${f.cnvId}, ${f.reason})`
          ),
          ...(page.checkpoint === null ? [] : [
            sql`INSERT INTO c360_loyalty_sync_state (source, updated_at, last_id, run_id, changed_at)
              VALUES (${source}, ${page.checkpoint.updatedAt}, ${page.checkpoint.id}, ${page.runId}, ${page.at})
              ON CONFLICT (source) DO UPDATE SET updated_at = excluded.updated_at, last_id = excluded.last_id,
                run_id = excluded.run_id, changed_at = excluded.changed_at`
          ]),
          sql`UPDATE c360_loyalty_sync_runs SET pages = ${page.figures.pages}, created = ${page.figures.created},
              updated = ${page.figures.updated}, unchanged = ${page.figures.unchanged}, failed = ${page.figures.failed},
              checkpoint = ${page.checkpoint?.updatedAt ?? null}, checkpoint_id = ${page.checkpoint?.id ?? null}
            WHERE id = ${page.runId}`
        ]
      })),

    finishRun: (runId, end) =>
      uow.write<never>({
        operation: "ending a loyalty sync run",
        statements: [sql`UPDATE c360_loyalty_sync_runs SET status = ${end.status}, finished_at = ${end.finishedAt},
            duration_ms = ${end.durationMs}, error = ${end.error}
          WHERE id = ${runId}`]
      }),

    runs: (limit) =>
      sql<Record<string, unknown>>`SELECT * FROM c360_loyalty_sync_runs ORDER BY seq DESC LIMIT ${limit}`.pipe(
        storage("reading the loyalty sync runs"),
        Effect.map((rows) => rows.map(runOf))
      )
  })
})

/** @since 0.5.0 */
export const layer: Layer.Layer<LoyaltyRepository, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(LoyaltyRepository, make)
