/**
 * `JobLeases` on the generic `SqlClient`: one row per job in `c360_job_leases` (migration 0009),
 * each method a single statement, so it runs unchanged on PostgreSQL, on SQLite and on a
 * SQLite-dialect client without transactions (Cloudflare D1).
 *
 * A claim is `INSERT … ON CONFLICT (name) DO UPDATE … WHERE expires_at <= now RETURNING`: it
 * inserts a free lease, takes over an expired one, and returns no row when the lease is held. The
 * primary key makes the decision: on PostgreSQL a concurrent claim waits for the row and re-checks
 * the `WHERE` on the newest version, so of two claims one wins; SQLite runs one writer at a time.
 * "Now" is the database's clock (`clock_timestamp()`, `julianday('now')`), one clock for every host.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobLeases } from "../JobLeases.js"
import { storage } from "./SqlFailure.js"

/**
 * Builds the leases over the `SqlClient` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // The database's time in epoch milliseconds, as every instant column stores it.
  const now = sql.literal(sql.onDialectOrElse({
    pg: () => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint",
    orElse: () => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
  }))
  const ttl = (ttlMs: number) => Math.max(1, Math.ceil(ttlMs))

  return JobLeases.of({
    claim: (name, holder, ttlMs) =>
      sql<{ holder: unknown }>`INSERT INTO c360_job_leases (name, holder, acquired_at, expires_at)
        VALUES (${name}, ${holder}, ${now}, ${now} + ${ttl(ttlMs)})
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at,
          expires_at = excluded.expires_at
        WHERE c360_job_leases.expires_at <= excluded.acquired_at
        RETURNING holder`.pipe(
        Effect.map((rows) => rows.length === 1 && String(rows[0]!.holder) === holder),
        storage("claiming a job lease")
      ),
    renew: (name, holder, ttlMs) =>
      sql<{ name: unknown }>`UPDATE c360_job_leases SET expires_at = ${now} + ${ttl(ttlMs)}
        WHERE name = ${name} AND holder = ${holder}
        RETURNING name`.pipe(
        Effect.map((rows) => rows.length === 1),
        storage("renewing a job lease")
      ),
    release: (name, holder) =>
      sql`DELETE FROM c360_job_leases WHERE name = ${name} AND holder = ${holder}`.pipe(
        Effect.asVoid,
        storage("releasing a job lease")
      )
  })
})

/**
 * The leases as a layer over any `SqlClient` (PostgreSQL, SQLite, D1).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<JobLeases, never, SqlClient.SqlClient> = Layer.effect(JobLeases, make)
