/**
 * Everything the services need from a SQL database, over whichever `SqlClient` is provided:
 * migrations (run when the layer is built), the repositories and transactions.
 *
 * @since 0.1.0
 */
import type { MigrationError } from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { StorageError } from "../kernel/Errors.js"
import { migrations, type ModuleRepositories, repositories } from "../modules.js"
import type { EventPublisher } from "../platform/EventPublisher.js"
import type { JobLeases } from "../platform/JobLeases.js"
import type { Outbox } from "../platform/Outbox.js"
import * as JobLeasesSql from "../platform/sql/JobLeasesSql.js"
import { migrate } from "../platform/sql/Migrations.js"
import * as OutboxSql from "../platform/sql/OutboxSql.js"
import { classify } from "../platform/sql/SqlFailure.js"
import type { Transactions } from "../platform/Transactions.js"
import * as UnitOfWork from "../platform/UnitOfWork.js"

/**
 * The ports every service uses, all backed by SQL.
 *
 * @since 0.1.0
 */
export type StoragePorts =
  | ModuleRepositories
  | Transactions
  | Outbox
  | EventPublisher
  | JobLeases
  | UnitOfWork.UnitOfWork

/**
 * Options of every SQL storage layer.
 *
 * - `deferredWrites`: every write of a transaction is collected and sent as one batch at commit,
 *   as on Cloudflare D1 (and reads inside a transaction see only committed data). For testing code
 *   that will run on D1 without D1; slower than the default, which writes at once.
 *
 * @since 0.1.0
 */
export interface StorageOptions {
  readonly deferredWrites?: boolean | undefined
  /** @internal How the engine runs a deferred batch (default: its statements in one SQL transaction). */
  readonly batch?: ((sql: SqlClient.SqlClient) => UnitOfWork.Batch) | undefined
}

/**
 * The ports over a unit of work: the platform's (transactions, events, outbox, job leases) and
 * every module's repositories — the same on every engine.
 *
 * @internal
 */
export const ports: Layer.Layer<Exclude<StoragePorts, UnitOfWork.UnitOfWork>, never, SqlClient.SqlClient | UnitOfWork.UnitOfWork> =
  Layer.mergeAll(
    UnitOfWork.portsLayer,
    OutboxSql.layer,
    JobLeasesSql.layer,
    repositories
  ) as Layer.Layer<Exclude<StoragePorts, UnitOfWork.UnitOfWork>, never, SqlClient.SqlClient | UnitOfWork.UnitOfWork>

/**
 * Runs every module's migrations, then provides the repositories over the unit of work. A database
 * that cannot be migrated fails the layer with a `StorageError` (`unavailable` when it cannot be
 * reached).
 *
 * @since 0.1.0
 */
export const layer = (options: StorageOptions = {}): Layer.Layer<StoragePorts, StorageError, SqlClient.SqlClient> =>
  ports.pipe(
    Layer.provideMerge(Layer.unwrapEffect(Effect.map(SqlClient.SqlClient, (sql) =>
      UnitOfWork.layer({ deferred: options.deferredWrites === true, batch: options.batch?.(sql) })))),
    // the repositories may prepare statements when built: the schema must exist first
    Layer.provide(Layer.effectDiscard(Effect.asVoid(migrate(migrations)).pipe(
      // another process holds the write lock (SQLite) or migrates at the same moment: wait for it
      Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200, while: isRetryable }),
      // waiting for the database is not business time, whatever clock the host's rules run on
      Effect.withClock(Clock.make()),
      Effect.catchAll(failMigration)
    )))
  )

const isRetryable = (e: MigrationError | SqlError): boolean => e._tag === "SqlError" && classify(e)._tag === "Retryable"

/**
 * @internal Fails with the `StorageError` of a migration that failed (also used by D1). Not logged
 * here: the layer's failure is what the host or the job runner reports, in its own words.
 */
export const failMigration = (e: MigrationError | SqlError): Effect.Effect<never, StorageError> =>
  Effect.fail(migrationFailure(e))

/** @internal The `StorageError` of a database that cannot be migrated (also used by the D1 adapter). */
export function migrationFailure(e: MigrationError | SqlError): StorageError {
  const failure = e._tag === "SqlError" ? classify(e)._tag : "Other"
  const reason = failure === "Unavailable" ? "unavailable" : failure === "Retryable" ? "contention" : "unexpected"
  return new StorageError({ reason, operation: "migrating the database" })
}

/**
 * Maps a failure to build the client (unreachable server, unopenable file) to a `StorageError`.
 *
 * @since 0.1.0
 */
export const clientFailure = (what: string) => (_: unknown): StorageError =>
  new StorageError({ reason: "unavailable", operation: `connecting to ${what}` })
