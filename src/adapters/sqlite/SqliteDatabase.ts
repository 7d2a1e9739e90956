/**
 * SQLite through `@effect/sql-sqlite-node` (better-sqlite3): a file or `:memory:`, in WAL mode.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { StorageError } from "../../domain/Errors.js"
import * as Storage from "../sql/Storage.js"

/**
 * - `filename`: a path, or `:memory:` for a private in-memory database.
 * - `busyTimeoutMs`: how long a writer waits for another process's write lock (default 5000).
 *
 * @since 0.1.0
 */
export interface SqliteOptions {
  readonly filename: string
  readonly busyTimeoutMs?: number | undefined
}

/**
 * The SQLite client, configured: WAL journal (except in memory), `synchronous = NORMAL` (durable
 * across process crashes in WAL mode), foreign keys on, and a busy timeout.
 *
 * @since 0.1.0
 */
export const layerClient = (options: SqliteOptions): Layer.Layer<SqlClient.SqlClient, StorageError> =>
  Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`)
      yield* sql`PRAGMA foreign_keys = ON`
      yield* sql`PRAGMA synchronous = NORMAL`
    })
  ).pipe(
    Layer.provideMerge(SqliteClient.layer({ filename: options.filename })),
    // better-sqlite3 throws (a defect, not a SqlError) when the file cannot be opened
    Layer.catchAllCause((cause) => Layer.fail(Storage.clientFailure(`the SQLite database ${options.filename}`)(cause)))
  )

/**
 * The library's storage on SQLite: client, migrations, repositories, transactions.
 *
 * @since 0.1.0
 */
export const layer = (options: SqliteOptions): Layer.Layer<Storage.StoragePorts | SqlClient.SqlClient, StorageError> =>
  Storage.layer.pipe(Layer.provideMerge(layerClient(options)))
