/**
 * PostgreSQL for tests. `C360_PG_URL` points at a server (any database on it; the tests create
 * their own). Under `CI=true` it defaults to the local server, and an unreachable server fails the
 * run instead of skipping.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import pg from "pg"
import { PgDatabase } from "../../src/pg.js"

export const PG_URL_VARIABLE = "C360_PG_URL"

export const pgUrl: string | undefined = process.env[PG_URL_VARIABLE] ||
  (process.env.CI === "true" ? "postgres://postgres@127.0.0.1:5432/postgres" : undefined)

/** True when the PostgreSQL suites should run. */
export const pgEnabled = pgUrl !== undefined

const withDatabase = (url: string, database: string): string => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

const admin = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: pgUrl })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** Creates a new, empty database; `drop` removes it. */
export const createDatabase = async (): Promise<{ readonly url: string; readonly drop: () => Promise<void> }> => {
  const name = `c360_test_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  await admin((c) => c.query(`CREATE DATABASE ${name}`))
  return {
    url: withDatabase(pgUrl!, name),
    drop: async () => {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    }
  }
}

/** A new, empty database for the life of the scope; dropped afterwards. Yields its URL. */
export const freshDatabase: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(createDatabase),
  (db) => Effect.promise(db.drop)
).pipe(Effect.map((db) => db.url))

/** The library's PostgreSQL storage on a fresh database. */
export const pgStorage = (options: { readonly maxConnections?: number } = {}) =>
  Layer.unwrapScoped(
    Effect.map(freshDatabase, (url) => PgDatabase.layer({ url, maxConnections: options.maxConnections ?? 10 }))
  )
