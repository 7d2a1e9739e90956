/**
 * PostgreSQL through `@effect/sql-pg` (node-postgres pool).
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import pg from "pg"
import type { StorageError } from "../kernel/Errors.js"
import * as Storage from "./Storage.js"
import { PgHandle } from "../platform/pg/PgHandle.js"
import { pgBatch } from "../platform/pg/PgBatch.js"

export { PgHandle } from "../platform/pg/PgHandle.js"

/**
 * - `url`: a `postgres://` connection string.
 * - `maxConnections`: pool size (default 10).
 * - `connectTimeoutMs`: how long to wait for the server at start (default 5000).
 *
 * @since 0.1.0
 */
export interface PgOptions {
  readonly url: string
  readonly maxConnections?: number | undefined
  readonly connectTimeoutMs?: number | undefined
}

/**
 * The PostgreSQL client; the layer fails with `StorageError` (`unavailable`) when the server cannot
 * be reached.
 *
 * @since 0.1.0
 */
export const layerClient = (
  options: PgOptions
): Layer.Layer<SqlClient.SqlClient | PgClient.PgClient | PgHandle, StorageError> =>
  Layer.scopedContext(Effect.gen(function*() {
    const connectTimeout = options.connectTimeoutMs ?? 5000
    // The pool is ours (not PgClient.layer's) so that the wallet hot path can reach it (PgHandle).
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const created = new pg.Pool({
          connectionString: options.url,
          max: options.maxConnections ?? 10,
          connectionTimeoutMillis: connectTimeout,
          application_name: "customer360"
        })
        created.on("error", () => {}) // an idle connection that breaks is dropped; the next query reconnects
        return created
      }),
      (created) => Effect.promise(() => created.end()).pipe(Effect.interruptible, Effect.timeoutOption(1000))
    )
    yield* Effect.tryPromise({
      try: () => pool.query("SELECT 1"),
      catch: (cause) => new SqlError({ cause, message: "Failed to connect to PostgreSQL" })
    }).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(connectTimeout),
        onTimeout: () => new SqlError({ cause: new Error("connection timed out"), message: "Failed to connect to PostgreSQL" })
      })
    )
    const client = yield* PgClient.fromPool({ acquire: Effect.succeed(pool), applicationName: "customer360" })
    return Context.make(PgClient.PgClient, client).pipe(
      Context.add(SqlClient.SqlClient, client),
      Context.add(PgHandle, PgHandle.of({ pool }))
    )
  })).pipe(
    Layer.provide(Reactivity.layer),
    Layer.catchAllCause((cause) => Layer.fail(Storage.clientFailure("PostgreSQL")(cause)))
  )

/**
 * The library's storage on PostgreSQL: client, migrations, repositories, transactions.
 *
 * @since 0.1.0
 */
export const layer = (options: PgOptions): Layer.Layer<Storage.StoragePorts | SqlClient.SqlClient | PgHandle, StorageError> =>
  // D1's model, in one round trip per commit: see platform/pg/PgBatch.ts
  Storage.layer({ deferredWrites: true, batch: pgBatch }).pipe(Layer.provideMerge(layerClient(options)))
