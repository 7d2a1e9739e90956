/**
 * Schema migrations: the platform's own (the outbox, relay checkpoints, job leases; ids 0001–0099)
 * and the runner that applies every module's (the registry in `src/modules.ts` lists them). Tables
 * carry the `c360_` prefix so the library can share a database with the host application's own
 * tables. Instants are UTC epoch milliseconds in `BIGINT` columns on every engine, so comparisons and
 * indexes behave the same everywhere; calendar dates are `YYYY-MM-DD` text.
 *
 * @since 0.1.0
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { recoverSqlDefects } from "./SqlFailure.js"

/** A module's migrations: name (`NNNN_what`, ids unique across modules) → effect. @since 0.1.0 */
export type Migrations = Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>

const outbox = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const serial = sql.onDialectOrElse({ pg: () => "BIGSERIAL PRIMARY KEY", orElse: () => "INTEGER PRIMARY KEY AUTOINCREMENT" })
  // Outbox: events written in the transaction of their change, numbered by seq (see OutboxSql for
  // how a relay reads them without skipping one that commits late). tx records the writing
  // transaction on PostgreSQL, for diagnosis.
  const tx = sql.onDialectOrElse({ pg: () => "BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)", orElse: () => "BIGINT NOT NULL DEFAULT 0" })
  yield* sql.unsafe(`CREATE TABLE c360_outbox (
    seq ${serial},
    tx ${tx},
    id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
  )`)
  yield* sql`CREATE TABLE c360_relay_checkpoints (
    name TEXT PRIMARY KEY,
    tx BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
})


/**
 * Leases on named jobs (see JobLeasesSql): one row per job, claimed and renewed by single statements,
 * so that two job runners on one database never run the same job at once.
 */
const jobLeases = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  )`
})

/**
 * The platform's migrations.
 *
 * @since 0.1.0
 */
export const migrations: Migrations = {
  "0001_outbox": outbox,
  "0002_job_leases": jobLeases
}

/**
 * Brings the connected database up to date. Safe to run from several processes at once: on
 * PostgreSQL the migrator locks its table; SQLite serialises writers.
 *
 * @since 0.1.0
 */
export const migrate = (all: Migrations) => Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // Created here first (same shape as the migrator's own) so that two processes starting on a fresh
  // PostgreSQL database do not race in the migrator's check-then-create; its table lock does the rest.
  yield* sql.onDialectOrElse({
    pg: () =>
      sql`CREATE TABLE IF NOT EXISTS c360_migrations (
        migration_id integer primary key,
        created_at timestamp with time zone not null default now(),
        name text not null
      )`.pipe(Effect.retry({ times: 3 })),
    orElse: () => Effect.void
  })
  // A COMMIT or ROLLBACK that fails (a connection lost at the end) is a defect in @effect/sql: made
  // a failure again, so that a host sees a StorageError rather than a driver's stack.
  return yield* recoverSqlDefects(Migrator.make({})({ loader: Migrator.fromRecord(all), table: "c360_migrations" }))
})

/**
 * The version guard of a table (the tickets' and transfers' rows; the customers' `purchase_version`):
 * its version column may only ever step by one. A write planned on a read sets it to the value it
 * read plus one; if another write got in between, the trigger refuses it with a message starting
 * `c360: stale` (a `StaleWrite` failure), and the write's unit of work runs again. `version = version
 * + 1` always passes.
 *
 * @internal
 */
export const versionGuard = (table: string, what: string, column = "version"): Effect.Effect<void, SqlError, SqlClient.SqlClient> => {
  const name = column === "version" ? `${table}_version_guard` : `${table}_${column}_guard`
  return Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.onDialectOrElse({
      pg: () =>
        Effect.zipRight(
          sql.unsafe(`CREATE FUNCTION ${name}_fn() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'c360: stale ${what} version'; END $$`),
          sql.unsafe(`CREATE TRIGGER ${name} BEFORE UPDATE OF ${column} ON ${table}
            FOR EACH ROW WHEN (NEW.${column} <> OLD.${column} + 1) EXECUTE FUNCTION ${name}_fn()`)
        ),
      orElse: () =>
        sql.unsafe(`CREATE TRIGGER ${name} BEFORE UPDATE OF ${column} ON ${table}
          WHEN NEW.${column} <> OLD.${column} + 1
          BEGIN SELECT RAISE(ABORT, 'c360: stale ${what} version'); END`)
    })).pipe(Effect.asVoid)
}
