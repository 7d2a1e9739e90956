/**
 * The library's migrations (every module's, listed by the registry: the same record as on every engine), run on
 * D1 one batch per migration.
 *
 * `@effect/sql`'s Migrator runs all pending migrations in one `sql.withTransaction`, which D1 cannot
 * do. Here each migration effect runs against a recording client (same SQLite dialect) that collects
 * its statements instead of executing them; the statements then run as one D1 batch whose first
 * statement records the migration in `c360_migrations` (the Migrator's table and bookkeeping: id and
 * name, pending = id above the highest recorded). So a migration is applied entirely or not at all,
 * and a failed one is tried again at the next start. Several isolates starting at once on a fresh
 * database each try the pending migrations in order; the migration's primary key lets one batch
 * through and fails the others before they change anything, and those go on with the next one
 * (the one they lost was committed, or their insert would not have collided).
 *
 * A migration must therefore be statements only: one that reads and decides on what it reads would
 * see no rows here. Every migration of the library is (dialect branches are decided by the client,
 * not by reading the database).
 *
 * @internal
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import type { Migrations } from "../sql/Migrations.js"
import { classify } from "../sql/SqlFailure.js"
import { D1Handle } from "./D1Client.js"

const TABLE = "c360_migrations"

/** The statements a migration would run, in order. */
const record = (migration: Effect.Effect<unknown, unknown, SqlClient.SqlClient>) =>
  Effect.gen(function*() {
    const statements: Array<readonly [string, ReadonlyArray<unknown>]> = []
    const rows = (sql: string, params: ReadonlyArray<unknown> | undefined) => {
      statements.push([sql, params ?? []])
      return Effect.succeed([] as ReadonlyArray<any>)
    }
    const connection: Connection = {
      execute: (sql, params) => rows(sql, params),
      executeRaw: (sql, params) => rows(sql, params),
      executeValues: (sql, params) => rows(sql, params),
      executeUnprepared: (sql, params) => rows(sql, params),
      executeStream: () => Effect.dieMessage("a migration cannot stream on D1") as any
    }
    const recorder = yield* SqlClient.make({
      acquirer: Effect.succeed(connection),
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: []
    }).pipe(Effect.provide(Reactivity.layer))
    yield* Effect.provideService(migration, SqlClient.SqlClient, recorder)
    return statements
  })

/**
 * Brings the D1 database up to date; safe to run from several isolates at once.
 *
 * @internal
 */
export const migrate = (migrations: Migrations) => Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const handle = yield* D1Handle
  // The Migrator's table, as it creates it on SQLite.
  const [, latest] = yield* handle.batch([
    sql`CREATE TABLE IF NOT EXISTS ${sql(TABLE)} (
      migration_id integer PRIMARY KEY NOT NULL,
      created_at datetime NOT NULL DEFAULT current_timestamp,
      name VARCHAR(255) NOT NULL
    )`,
    sql`SELECT coalesce(max(migration_id), 0) AS id FROM ${sql(TABLE)}`
  ])
  const done = Number(latest?.[0]?.id ?? 0)
  const applied: Array<readonly [number, string]> = []
  for (const [id, name, load] of yield* Migrator.fromRecord(migrations)) {
    if (id <= done) continue
    const migration = yield* load as Effect.Effect<Effect.Effect<unknown, unknown, SqlClient.SqlClient>>
    const statements = yield* record(migration).pipe(
      Effect.mapError((cause) => new SqlError({ cause, message: `Migration "${id}_${name}" failed` }))
    )
    const ran = yield* handle.batch([
      sql`INSERT INTO ${sql(TABLE)} (migration_id, name) VALUES (${id}, ${name})`,
      ...statements.map(([text, params]) => sql.unsafe(text, params))
    ]).pipe(
      Effect.as(true),
      // Another isolate recorded (and so committed) this migration first.
      Effect.catchIf(
        (e) => {
          const failure = classify(e)
          return failure._tag === "UniqueViolation" && failure.constraint.includes(TABLE)
        },
        () => Effect.succeed(false)
      )
    )
    if (ran) applied.push([id, name])
  }
  return applied
})
