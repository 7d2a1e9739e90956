/**
 * SQLite through better-sqlite3: a file or `:memory:`, in WAL mode.
 *
 * The `SqlClient` here is built with `@effect/sql` itself (`SqlClient.make` and its SQLite
 * compiler, as `@effect/sql-sqlite-node` does) on one better-sqlite3 connection, and additionally
 * exposes that connection as {@link SqliteHandle}. Why not `@effect/sql-sqlite-node` directly: it
 * keeps its handle private, and the wallet's hot path needs one synchronous better-sqlite3
 * transaction (a whole withdrawal in ~20 µs instead of ~50 µs of Effect machinery per statement),
 * on the same connection and under the same lock as every other statement.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import Sqlite from "better-sqlite3"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { StorageError } from "../kernel/Errors.js"
import * as Storage from "./Storage.js"
import { SqliteHandle, type SqliteHandleShape } from "../platform/sqlite/SqliteHandle.js"

/**
 * - `filename`: a path, or `:memory:` for a private in-memory database.
 * - `busyTimeoutMs`: how long a writer waits for another process's write lock (default 5000).
 * - `deferredWrites`: D1's semantics on SQLite (see `StorageOptions`), for tests of D1 code.
 *
 * @since 0.1.0
 */
export interface SqliteOptions extends Storage.StorageOptions {
  readonly filename: string
  readonly busyTimeoutMs?: number | undefined
}

export { SqliteHandle } from "../platform/sqlite/SqliteHandle.js"

const open = (options: SqliteOptions) =>
  Effect.gen(function*() {
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => new Sqlite(options.filename),
        catch: (cause) => new SqlError({ cause, message: "Failed to open the SQLite database" })
      }),
      (db) => Effect.sync(() => db.close())
    )
    yield* Effect.try({
      try: () => {
        if (options.filename !== ":memory:" && options.filename !== "") db.pragma("journal_mode = WAL")
        db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`)
        db.pragma("foreign_keys = ON")
        db.pragma("synchronous = NORMAL")
      },
      catch: (cause) => new SqlError({ cause, message: "Failed to configure the SQLite database" })
    })

    const cache = new Map<string, Sqlite.Statement>()
    const prepare = (sql: string): Sqlite.Statement => {
      let statement = cache.get(sql)
      if (statement === undefined) {
        statement = db.prepare(sql)
        if (cache.size >= 500) cache.delete(cache.keys().next().value!)
        cache.set(sql, statement)
      }
      return statement
    }
    const attempt = <A>(f: () => A): Effect.Effect<A, SqlError> => {
      try {
        return Effect.succeed(f())
      } catch (cause) {
        return Effect.fail(new SqlError({ cause, message: "Failed to execute statement" }))
      }
    }
    const runStatement = (sql: string, params: ReadonlyArray<unknown>, raw: boolean, cached = true) =>
      attempt(() => {
        const statement = cached ? prepare(sql) : db.prepare(sql)
        if (statement.reader) return statement.all(...params) as ReadonlyArray<any>
        const result = statement.run(...params)
        return raw ? (result as unknown as ReadonlyArray<any>) : []
      })

    const connection: Connection = {
      execute: (sql, params, transformRows) =>
        transformRows ? Effect.map(runStatement(sql, params, false), transformRows) : runStatement(sql, params, false),
      executeRaw: (sql, params) => runStatement(sql, params, true),
      executeValues: (sql, params) =>
        attempt(() => {
          const statement = prepare(sql)
          if (!statement.reader) {
            statement.run(...params)
            return []
          }
          statement.raw(true)
          try {
            return statement.all(...params) as ReadonlyArray<ReadonlyArray<unknown>>
          } finally {
            statement.raw(false)
          }
        }),
      executeUnprepared: (sql, params, transformRows) => {
        const rows = runStatement(sql, params ?? [], false, false)
        return transformRows ? Effect.map(rows, transformRows) : rows
      },
      executeStream: () => Effect.dieMessage("executeStream is not supported on SQLite") as any
    }

    const semaphore = yield* Effect.makeSemaphore(1)
    const acquirer = semaphore.withPermits(1)(Effect.succeed(connection))
    const transactionAcquirer = Effect.uninterruptibleMask((restore) =>
      Effect.as(
        Effect.zipRight(
          restore(semaphore.take(1)),
          Effect.tap(Effect.scope, (scope) => Scope.addFinalizer(scope, semaphore.release(1)))
        ),
        connection
      )
    )
    const client = yield* SqlClient.make({
      acquirer,
      compiler: Statement.makeCompilerSqlite(),
      transactionAcquirer,
      // IMMEDIATE takes the write lock at BEGIN: two processes never both read and then both
      // try to upgrade to a write (which SQLite resolves by failing one with SQLITE_BUSY).
      beginTransaction: "BEGIN IMMEDIATE",
      spanAttributes: [["db.system.name", "sqlite"]]
    })

    const handle: SqliteHandleShape = {
      db,
      run: <A>(f: (db: Sqlite.Database) => A) =>
        Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (tx) =>
          Option.isSome(tx)
            ? attempt(() => f(db))
            : semaphore.withPermits(1)(Effect.suspend(() => attempt(() => f(db)))))
    }
    return Context.make(SqlClient.SqlClient, client).pipe(Context.add(SqliteHandle, handle))
  })

/**
 * The SQLite client and its raw handle: WAL journal (except in memory), `synchronous = NORMAL`
 * (durable across process crashes in WAL mode), foreign keys on, a busy timeout, and transactions
 * that begin `IMMEDIATE`. The layer fails with `StorageError` (`unavailable`) when the file cannot
 * be opened.
 *
 * @since 0.1.0
 */
export const layerClient = (options: SqliteOptions): Layer.Layer<SqlClient.SqlClient | SqliteHandle, StorageError> =>
  Layer.scopedContext(open(options)).pipe(
    Layer.provide(Reactivity.layer),
    Layer.catchAllCause((cause) => Layer.fail(Storage.clientFailure(`the SQLite database ${options.filename}`)(cause)))
  )

/**
 * The library's storage on SQLite: client, migrations, repositories, transactions.
 *
 * @since 0.1.0
 */
export const layer = (
  options: SqliteOptions
): Layer.Layer<Storage.StoragePorts | SqlClient.SqlClient | SqliteHandle, StorageError> =>
  Storage.layer(options).pipe(Layer.provideMerge(layerClient(options)))
