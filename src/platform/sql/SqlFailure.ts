/**
 * The one place that reads driver errors. Everything above it sees typed failures only.
 *
 * @internal
 */
import * as SqlError from "@effect/sql/SqlError"
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

const PG_RETRYABLE = new Set(["40001", "40P01", "55P03"])
const NODE_CONNECTION = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH"])

/** D1 reports SQLite's result code at the end of its message: `…: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)`. */
const D1_CODE = /\(extended: (SQLITE_[A-Z_]+)\)|: (SQLITE_[A-Z_]+)$/
/** D1's own transient failures (Cloudflare's list of errors worth a retry). */
const D1_OVERLOADED = /D1 DB is overloaded|Too many requests queued/i
const D1_TRANSIENT = /Network connection lost|transient issue|was reset|client disconnected|D1 DB.*(?:timeout|exceeded)/i

/**
 * Classifies a `SqlError` by its cause: PostgreSQL SQLSTATE codes (`23505` unique violation,
 * `40001`/`40P01` serialization and deadlock, classes `08`/`57P` connection loss), SQLite's
 * extended result codes (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_BUSY`) — from better-sqlite3's `code`,
 * or from the end of a Cloudflare D1 error message — and D1's transient failures. A write refused by
 * the library's stale-version guard (its trigger's message starts `c360: stale`) is a `StaleWrite`.
 */
export const classify = (error: SqlError.SqlError): SqlFailure => {
  const cause = error.cause as { code?: unknown; constraint?: unknown; message?: unknown } | undefined
  const message = typeof cause?.message === "string" ? cause.message : ""
  const d1 = typeof cause?.code === "string" ? undefined : D1_CODE.exec(message)
  const code = typeof cause?.code === "string" ? cause.code : d1 ? (d1[1] ?? d1[2] ?? "") : ""
  if (code === "23505") {
    return { _tag: "UniqueViolation", constraint: typeof cause?.constraint === "string" ? cause.constraint : "" }
  }
  if (message.includes("c360: stale")) return { _tag: "StaleWrite" }
  if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    // "UNIQUE constraint failed: c360_customers.phone" (D1: "D1_ERROR: UNIQUE constraint failed: …: SQLITE_CONSTRAINT …")
    const failed = /constraint failed: ([^:]*)/.exec(message)
    return { _tag: "UniqueViolation", constraint: failed ? failed[1]!.trim() : "" }
  }
  if (
    PG_RETRYABLE.has(code) || code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_") || code === "SQLITE_LOCKED" ||
    D1_OVERLOADED.test(message)
  ) {
    return { _tag: "Retryable" }
  }
  if (
    code.startsWith("08") || code.startsWith("57P") || code === "53300" || NODE_CONNECTION.has(code) ||
    error.message.startsWith("Failed to acquire connection") || error.message === "Connection error" ||
    /Connection terminated|not open|closed/i.test(message) || D1_TRANSIENT.test(message)
  ) {
    return { _tag: "Unavailable" }
  }
  return { _tag: "Other" }
}

/** Turns a `SqlError` into the `StorageError` a caller may see. */
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

/** Maps every `SqlError` of `self` to a `StorageError` naming the operation. */
export const storage = (operation: string) =>
<A, E, R>(self: Effect.Effect<A, E | SqlError.SqlError, R>): Effect.Effect<A, Exclude<E, SqlError.SqlError> | StorageError, R> =>
  Effect.catchIf(
    self,
    (e): e is SqlError.SqlError => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "SqlError",
    (e) => Effect.fail(toStorageError(operation)(e))
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
