/**
 * The one place that reads driver errors. Everything above it sees typed failures only.
 *
 * @internal
 */
import * as SqlError from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { StorageError } from "../../kernel/Errors.js"

/** What a failed statement means to the library, whatever the engine. */
export type SqlFailure =
  | { readonly _tag: "UniqueViolation"; readonly constraint: string }
  /** A write guard of the library refused a write planned on a stale read (the wallets migration's version guard). */
  | { readonly _tag: "StaleWrite" }
  | { readonly _tag: "Retryable" }
  | { readonly _tag: "Unavailable" }
  | { readonly _tag: "Other" }

/** SQLSTATE codes of a lost race worth another attempt: serialization failure, deadlock, lock not available. */
const PG_RETRYABLE = new Set(["40001", "40P01", "55P03"])
/**
 * SQLSTATE codes and classes of a server that cannot serve the connection: class `08` (connection
 * exception), `57P` (the server shut down, crashed, is starting, or the database was dropped — what
 * `pg_terminate_backend` sends), `53300` (too many connections).
 */
const pgUnavailable = (code: string) => code.startsWith("08") || code.startsWith("57P") || code === "53300"
/** Node's socket error codes (`errno` names) that the drivers pass through when the connection fails. */
const NODE_CONNECTION = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH"
])
/** SQLite's result codes of a database that cannot be reached: the file cannot be opened or read, or the disk is full. */
const sqliteUnavailable = (code: string) =>
  code === "SQLITE_CANTOPEN" || code.startsWith("SQLITE_CANTOPEN_") || code === "SQLITE_IOERR" ||
  code.startsWith("SQLITE_IOERR_") || code === "SQLITE_FULL"

/**
 * The `SqlError` messages with which the SQL clients report that no connection could be had or that
 * the connection failed while a statement ran — the connection's state, whatever the driver's error:
 * `@effect/sql-pg` ("Failed to acquire connection", "… for transaction"; "Connection error" when
 * the client emits an error during a statement) and the library's own storage layers.
 */
const CONNECTION_FAILED = ["Failed to acquire connection", "Connection error", "Failed to connect to PostgreSQL", "Failed to open the SQLite database"]

/**
 * The errors without a code that the drivers raise for a connection that is gone, by the start of
 * their message (node-postgres 8, pg-pool 3, better-sqlite3). Read only when the error has no code:
 * where a driver gives a code, the code decides.
 */
const CONNECTION_GONE = [
  // pg: the socket closed ("… unexpectedly": by the server, e.g. pg_terminate_backend), or
  // pg-pool: "… due to connection timeout" (a new connection took longer than connectionTimeoutMillis)
  "Connection terminated",
  // pg: a query on a client that has seen its connection fail, or that was ended
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
  // pg-pool: no connection became free within connectionTimeoutMillis; the pool was closed
  "timeout exceeded when trying to connect",
  "Cannot use a pool after calling end on the pool",
  // pg: query_timeout, and a client's own connectionTimeoutMillis
  "Query read timeout",
  "timeout expired",
  // better-sqlite3: a statement on a closed database
  "The database connection is not open"
]

/** D1 reports SQLite's result code at the end of its message: `…: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)`. */
const D1_CODE = /\(extended: (SQLITE_[A-Z_]+)\)|: (SQLITE_[A-Z_]+)$/
/** D1's own transient failures (Cloudflare's list of errors worth a retry); D1 gives them no code. */
const D1_OVERLOADED = /D1 DB is overloaded|Too many requests queued/i
const D1_TRANSIENT = /Network connection lost|transient issue|was reset|client disconnected|D1 DB.*(?:timeout|exceeded)/i

/** What a driver's error code means: PostgreSQL's SQLSTATE, SQLite's extended result code, Node's errno name. */
const byCode = (code: string, constraint: unknown, message: string): SqlFailure => {
  if (code === "23505") return { _tag: "UniqueViolation", constraint: typeof constraint === "string" ? constraint : "" }
  if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    // "UNIQUE constraint failed: c360_customers.phone" (D1: "D1_ERROR: UNIQUE constraint failed: …: SQLITE_CONSTRAINT …")
    const failed = /constraint failed: ([^:]*)/.exec(message)
    return { _tag: "UniqueViolation", constraint: failed ? failed[1]!.trim() : "" }
  }
  if (PG_RETRYABLE.has(code) || code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return { _tag: "Retryable" }
  if (pgUnavailable(code) || NODE_CONNECTION.has(code) || sqliteUnavailable(code)) return { _tag: "Unavailable" }
  return { _tag: "Other" }
}

/**
 * Classifies a `SqlError`, in this order:
 *
 * 1. the client's report that no connection could be had, or that it failed during the statement
 *    (the `SqlError`'s own message, {@link CONNECTION_FAILED}): `Unavailable`;
 * 2. a write refused by the library's stale-version guard (its trigger's message starts
 *    `c360: stale`, whatever code the engine gives a raised error): `StaleWrite`;
 * 3. the driver's error code when it has one — PostgreSQL SQLSTATE (`23505` unique violation;
 *    `40001`/`40P01`/`55P03` contention; classes `08`, `57P` and `53300` connection loss), SQLite's
 *    extended result codes (`SQLITE_CONSTRAINT_UNIQUE`/`_PRIMARYKEY`; `SQLITE_BUSY*`/`SQLITE_LOCKED*`
 *    contention; `SQLITE_CANTOPEN*`, `SQLITE_IOERR*`, `SQLITE_FULL` unavailable), Node's socket
 *    errors (`ECONNRESET`, `ECONNREFUSED`, …: unavailable). A code decides alone: an error with a code
 *    not listed is `Other`, whatever its text;
 * 4. without a code: Cloudflare D1's messages (its transient failures, then the SQLite code it puts at
 *    the end of the text), then the code-less errors node-postgres, pg-pool and better-sqlite3 raise
 *    for a connection that is gone (a client that is no longer queryable, `Connection terminated
 *    unexpectedly`, a pool checkout timeout, a closed pool or database): `Unavailable`;
 * 5. anything else: `Other`.
 */
export const classify = (error: SqlError.SqlError): SqlFailure => {
  if (CONNECTION_FAILED.some((m) => error.message.startsWith(m))) return { _tag: "Unavailable" }
  const cause = error.cause as { code?: unknown; constraint?: unknown; message?: unknown } | undefined
  const message = typeof cause?.message === "string" ? cause.message : ""
  if (message.includes("c360: stale")) return { _tag: "StaleWrite" }
  if (typeof cause?.code === "string" && cause.code !== "") return byCode(cause.code, cause.constraint, message)
  if (D1_OVERLOADED.test(message)) return { _tag: "Retryable" }
  if (D1_TRANSIENT.test(message)) return { _tag: "Unavailable" }
  const d1 = D1_CODE.exec(message)
  if (d1) return byCode(d1[1] ?? d1[2] ?? "", undefined, message)
  if (CONNECTION_GONE.some((m) => message.startsWith(m))) return { _tag: "Unavailable" }
  return { _tag: "Other" }
}

/**
 * The `StorageError` a caller may see for a `SqlError`: `unavailable`, `contention` (a lost race or
 * a stale write) or `unexpected`. It names the operation only; nothing of the driver's error goes into
 * it. Pure: it logs nothing — a caller that fails with it logs it with {@link logStorageFailure}, or
 * uses {@link storageFailure}, which does both.
 */
export const toStorageError = (operation: string) => (error: SqlError.SqlError): StorageError => {
  const failure = classify(error)
  return new StorageError({
    operation,
    reason: failure._tag === "Unavailable"
      ? "unavailable"
      : failure._tag === "Retryable" || failure._tag === "StaleWrite"
      ? "contention"
      : "unexpected"
  })
}

/** The driver's side of a failure, for the server's log only: the `SqlError`'s message, then its cause's code and text. */
const describeCause = (cause: unknown): string => {
  if (cause instanceof SqlError.SqlError) {
    const inner = describeCause(cause.cause)
    return inner === "" ? cause.message : `${cause.message}: ${inner}`
  }
  if (cause === undefined || cause === null) return ""
  const { code, message, name } = cause as { code?: unknown; message?: unknown; name?: unknown }
  const text = typeof message === "string" ? message : String(cause)
  return [typeof name === "string" ? name : "", typeof code === "string" ? `[${code}]` : "", text].filter((s) => s !== "").join(" ")
}

/**
 * Logs a `StorageError` on the server with what caused it (a `SqlError`, a decoding failure), its
 * operation and reason annotated (`storage_operation`, `storage_reason`):
 *
 * - `unexpected`, `corrupt` (a bug, a damaged database): at error level, the cause's code and text
 *   in the message and the cause itself, with its stack, as the log entry's cause;
 * - `unavailable`, `contention` (the database is unreachable or busy; the caller may retry): at
 *   warning level, one line with the cause's code and text.
 *
 * The `StorageError` that callers see carries none of it.
 */
export const logStorageFailure = (error: StorageError, cause: unknown): Effect.Effect<void> => {
  const detail = describeCause(cause)
  const message = detail === "" ? error.message : `${error.message} (${detail})`
  const log = error.reason === "unexpected" || error.reason === "corrupt"
    ? Effect.logError(message, Cause.fail(cause))
    : Effect.logWarning(message)
  return Effect.annotateLogs(log, { storage_operation: error.operation, storage_reason: error.reason })
}

/** Fails with the `StorageError` for `error` ({@link toStorageError}), logged with its cause ({@link logStorageFailure}). */
export const storageFailure = (operation: string) => (error: SqlError.SqlError): Effect.Effect<never, StorageError> => {
  const failure = toStorageError(operation)(error)
  return Effect.zipRight(logStorageFailure(failure, error), Effect.fail(failure))
}

/**
 * Fails with a `corrupt` `StorageError` for a stored row that does not decode, logged at error level
 * with the decoding failure (which may quote the row: the log is the server's, the error the caller's).
 */
export const corrupt = (operation: string) => (cause: unknown): Effect.Effect<never, StorageError> => {
  const failure = new StorageError({ reason: "corrupt", operation })
  return Effect.zipRight(logStorageFailure(failure, cause), Effect.fail(failure))
}

/** Maps every `SqlError` of `self` to a `StorageError` naming the operation, logged with its cause ({@link storageFailure}). */
export const storage = (operation: string) =>
<A, E, R>(self: Effect.Effect<A, E | SqlError.SqlError, R>): Effect.Effect<A, Exclude<E, SqlError.SqlError> | StorageError, R> =>
  Effect.catchIf(
    self,
    (e): e is SqlError.SqlError => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "SqlError",
    storageFailure(operation)
  ) as any

/**
 * `@effect/sql` turns a failed `COMMIT` or `ROLLBACK` (a connection killed mid-transaction) into a
 * defect; this turns such a defect back into the `SqlError` it carries, so it can be classified.
 */
export const recoverSqlDefects = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError.SqlError, R> =>
  Effect.catchAllDefect(self, (defect) =>
    defect instanceof SqlError.SqlError ? Effect.fail(defect) : Effect.die(defect))

const liveClock = Clock.make()

/**
 * Waits in real time, whatever clock the caller's rules run on (a test clock, a host's fixed
 * `now`): retry backoff and waiting for the database are not business time.
 */
export const sleepLive = (duration: Duration.DurationInput): Effect.Effect<void> =>
  Effect.withClock(Effect.sleep(duration), liveClock)
