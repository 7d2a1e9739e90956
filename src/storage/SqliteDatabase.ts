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
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import type { StorageError } from "../kernel/Errors.js"
import { sleepLive } from "../platform/sql/SqlFailure.js"
import * as Storage from "./Storage.js"
import { SqliteHandle, type SqliteHandleShape } from "../platform/sqlite/SqliteHandle.js"

/**
 * - `filename`: a path, or `:memory:` for a private in-memory database.
 * - `busyTimeoutMs`: how long a write waits, in all, for another process's write lock (default
 *   5000); then it fails `StorageError` `contention` (HTTP 503). The wait does not block the event
 *   loop: SQLite itself waits at most {@link LOCK_POLL_MS} at a time, and the library retries
 *   asynchronously in between, so reads (WAL), `/health` and event streams keep answering.
 * - `deferredWrites`: D1's semantics on SQLite (see `StorageOptions`), for tests of D1 code.
 *
 * @since 0.1.0
 */
export interface SqliteOptions extends Storage.StorageOptions {
  readonly filename: string
  readonly busyTimeoutMs?: number | undefined
}

export { SqliteHandle } from "../platform/sqlite/SqliteHandle.js"

/**
 * The longest SQLite blocks the thread waiting for another process's lock (its `busy_timeout`)
 * before the library takes over and waits asynchronously (see `busyTimeoutMs`).
 *
 * @since 0.1.0
 */
export const LOCK_POLL_MS = 10

const isBusy = (e: SqlError): boolean => {
  const code = (e.cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" && (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_"))
}

const open = (options: SqliteOptions) =>
  Effect.gen(function*() {
    const busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))
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
        db.pragma(`busy_timeout = ${Math.min(LOCK_POLL_MS, busyTimeoutMs)}`)
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
    /**
     * Runs `f` (a statement, or a whole transaction on the raw handle) again while another process
     * holds the write lock, asynchronously, until `busyTimeoutMs` have passed; `take` is what must be
     * held while it runs (the connection's permit), released while waiting.
     */
    const whileBusy = <A>(f: () => Effect.Effect<A, SqlError>, take: <B, E>(self: Effect.Effect<B, E>) => Effect.Effect<B, E>) =>
      Effect.suspend(() => {
        const deadline = Date.now() + busyTimeoutMs
        const loop = (n: number): Effect.Effect<A, SqlError> =>
          Effect.catchIf(
            take(Effect.suspend(f)),
            (e) => isBusy(e) && Date.now() < deadline,
            () =>
              Effect.zipRight(
                Effect.flatMap(Random.next, (r) =>
                  sleepLive(Duration.millis(Math.min(deadline - Date.now(), Math.min(50, 2 ** n) * (0.5 + r))))),
                loop(n + 1)
              )
          )
        return loop(0)
      })
    const now = <B, E>(self: Effect.Effect<B, E>) => self

    const runStatement = (sql: string, params: ReadonlyArray<unknown>, raw: boolean, cached = true) =>
      whileBusy(() => runStatementOnce(sql, params, raw, cached), now)
    const runStatementOnce = (sql: string, params: ReadonlyArray<unknown>, raw: boolean, cached = true) =>
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
      // BEGIN, COMMIT, savepoints: run once (a busy BEGIN fails its transaction, which the unit of
      // work runs again after a wait, with the connection free for reads meanwhile)
      executeUnprepared: (sql, params, transformRows) => {
        // a BEGIN that was refused (busy) left nothing to roll back: the ROLLBACK that follows is moot
        if (sql === "ROLLBACK" && !db.inTransaction) return Effect.succeed([])
        const rows = runStatementOnce(sql, params ?? [], false, false)
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
            : whileBusy(() => attempt(() => f(db)), semaphore.withPermits(1)))
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
