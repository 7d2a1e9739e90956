/**
 * The unit of work: the one way every repository write of every module reaches the database, on
 * every engine (see docs/transactions.md).
 *
 * A repository expresses each write as statements ({@link Write}) handed to the unit of work, with
 * what a failure of those statements means (a unique phone is `CustomerExists`, a stale read asks for
 * the transaction to run again). What the unit of work does with them depends on the engine:
 *
 * - **immediate** (SQLite): inside `withTransaction` the statements run at once on the
 *   transaction's connection (in a savepoint, so that a write that fails leaves the transaction
 *   usable); outside, they run at once in a transaction of their own.
 * - **deferred** (Cloudflare D1, PostgreSQL — its batch one round trip, `pg/PgBatch.ts` — and SQLite
 *   with `deferredWrites`): inside `withTransaction` the
 *   statements are appended to the transaction's list, and the whole list runs as one batch — all of
 *   it or none of it — when the effect succeeds; when it fails, nothing is sent. Outside, each write
 *   is its own batch at once.
 *
 * The rule this imposes, the same on every engine: **inside a transaction, code does not read its own
 * pending writes back from the database.** On a deferred engine they are not there yet. What a
 * transaction wrote, a repository remembers in the transaction itself ({@link UnitOfWork.remember},
 * {@link UnitOfWork.recall}) — a customer created in it, the state a wallet write left — and reads
 * that first. A write is planned on what the transaction read; when it turns out, at commit (or, on an
 * immediate engine, at the statement), that the read was outdated (the phone a `getOrCreate` found
 * free is now taken; a wallet's version moved; a deadlock), the write's failure is {@link rerun}: the
 * transaction is rolled back and the whole effect runs again, after a short random wait, a bounded
 * number of times. The effect must therefore have no side effects other than its reads and writes —
 * every service's transaction has none. On a deferred engine, a write whose result must be read back
 * at once (`writeNow`: a customer update returns the stored row) runs at once, in one batch with the
 * writes pending before it, and must be the transaction's last write.
 *
 * Nested `withTransaction` calls join the outer unit of work.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { StorageError } from "../kernel/Errors.js"
import type { DomainEvent } from "../kernel/Events.js"
import { EventPublisher } from "./EventPublisher.js"
import { jsonRows } from "./sql/JsonRows.js"
import { eventRow } from "./sql/OutboxSql.js"
import { Retry, optimisticRetries, withRetries } from "./sql/Retry.js"
import { classify, logStorageFailure, recoverSqlDefects, type SqlFailure, storage, toStorageError } from "./sql/SqlFailure.js"
import { Transactions } from "./Transactions.js"

type Row = Record<string, unknown>

/**
 * The failure of a write that found what its transaction read outdated: the transaction runs again.
 * Only ever raised inside `withTransaction`, which handles it.
 *
 * @since 0.1.0
 */
export class Rerun {
  readonly _tag = "Rerun"
}

/** @since 0.1.0 */
export const rerun: Rerun = new Rerun()

/**
 * Statements that must commit together, and what their failure means.
 *
 * @since 0.1.0
 */
export interface Write<E> {
  /** What is being done, for a `StorageError` ("creating a customer"). */
  readonly operation: string
  readonly statements: ReadonlyArray<Statement.Statement<unknown>>
  /**
   * What a failure means for this write: its typed error, {@link rerun} (the transaction's read is
   * outdated: run it again), or `undefined` when the failure is not this write's business.
   */
  readonly onFailure?: ((failure: SqlFailure) => E | Rerun | undefined) | undefined
}

/**
 * The unit of work of the storage in use.
 *
 * @since 0.1.0
 */
export interface UnitOfWorkShape {
  /** Whether writes inside a transaction are collected and sent at commit (D1, deferred SQLite). */
  readonly deferred: boolean
  /** Whether the current fiber is inside a transaction. */
  readonly inTransaction: Effect.Effect<boolean>
  /** Inside a transaction: runs now (immediate) or appends to its batch (deferred). Outside: runs now, atomically. */
  readonly write: <E>(write: Write<E>) => Effect.Effect<void, E | StorageError>
  /**
   * Runs now and returns the rows of the write's statements. On a deferred engine inside a
   * transaction it runs in one batch with the writes pending before it, and no write may follow it.
   */
  readonly writeNow: <E>(write: Write<E>) => Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, E | StorageError>
  /** Reads, as one snapshot where the engine offers one (a D1 batch); each statement's rows. */
  readonly read: (
    statements: ReadonlyArray<Statement.Statement<unknown>>
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, SqlError>
  /** Runs the effect as one unit of work (see the module documentation). */
  readonly withTransaction: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StorageError, R>
  /** What the current transaction remembered under `key` (nothing outside a transaction). */
  readonly recall: <A>(key: string) => Effect.Effect<A | undefined>
  /** Remembers `value` under `key` for the rest of the current transaction (nothing outside one). */
  readonly remember: (key: string, value: unknown) => Effect.Effect<void>
  /** Forgets what the current transaction remembered under every key that starts with `prefix`. */
  readonly forget: (prefix: string) => Effect.Effect<void>
}

/**
 * The unit of work as a service.
 *
 * @since 0.1.0
 */
export class UnitOfWork extends Context.Tag("customer360/UnitOfWork")<UnitOfWork, UnitOfWorkShape>() {}

class Pending {
  readonly writes: Array<Write<unknown>> = []
  readonly memo = new Map<string, unknown>()
  /** Set once the batch ran (commit, or a write that had to run at once): nothing may be added. */
  closed = false
}

const isRerun = (e: unknown): e is Rerun => e instanceof Rerun
const isSqlError = (e: unknown): e is SqlError =>
  typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "SqlError"

/**
 * How an engine runs a list of statements atomically: one D1 batch, or one SQL transaction.
 *
 * @since 0.1.0
 */
export type Batch = (
  statements: ReadonlyArray<Statement.Statement<unknown>>
) => Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, SqlError>

const inOrder = (statements: ReadonlyArray<Statement.Statement<unknown>>) =>
  Effect.forEach(statements, (s) => s as Effect.Effect<ReadonlyArray<Row>, SqlError>)

/**
 * A batch as one SQL transaction on the client (SQLite, PostgreSQL): the statements in order.
 *
 * @since 0.1.0
 */
export const sqlBatch = (sql: SqlClient.SqlClient): Batch => (statements) =>
  statements.length === 1
    ? Effect.map(statements[0]! as Effect.Effect<ReadonlyArray<Row>, SqlError>, (rows) => [rows])
    : recoverSqlDefects(sql.withTransaction(inOrder(statements)))

/**
 * Builds the unit of work over the client in context. `deferred` gives D1's semantics (every write of
 * a transaction sent as one `batch` at commit); otherwise writes run at once inside the client's
 * transaction.
 *
 * @since 0.1.0
 */
export const make = (options: { readonly deferred: boolean; readonly batch?: Batch | undefined }) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const batch = options.batch ?? sqlBatch(sql)
    const current = FiberRef.unsafeMake<Pending | undefined>(undefined)

    /** What the first write that claims the failure says it means, or a `StorageError`. */
    const meaning = (writes: ReadonlyArray<Write<unknown>>, e: SqlError, inTransaction: boolean): unknown => {
      const failure = classify(e)
      for (const w of writes) {
        const meant = w.onFailure?.(failure)
        if (meant !== undefined) {
          // Outside a transaction there is nothing to run again: a stale read is contention.
          return isRerun(meant) && !inTransaction
            ? new StorageError({ reason: "contention", operation: w.operation })
            : meant
        }
      }
      // Inside a transaction, a deadlock or serialization failure runs the whole transaction again.
      if (inTransaction && failure._tag === "Retryable") return rerun
      return toStorageError(writes[0]!.operation)(e)
    }

    /** Fails with what a failed write means; a storage failure is logged with the driver's error. */
    const failWith = (meant: unknown, e: SqlError) =>
      meant instanceof StorageError ? Effect.zipRight(logStorageFailure(meant, e), Effect.fail(meant)) : Effect.fail(meant)

    /** Runs the writes as one batch; a busy database is retried (the batch is all or nothing). */
    const execute = (writes: ReadonlyArray<Write<unknown>>, inTransaction: boolean) =>
      withRetries(writes[0]!.operation, () =>
        Effect.catchIf(
          batch(writes.flatMap((w) => w.statements)),
          (e) => !inTransaction && classify(e)._tag === "Retryable",
          () => Effect.fail(new Retry("contention"))
        ), optimisticRetries).pipe(
          Effect.catchTag("SqlError", (e: SqlError) => failWith(meaning(writes, e, inTransaction), e))
        ) as Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, unknown>

    const closedDefect = Effect.dieMessage(
      "deferred writes: no write may follow, in one transaction, a write that had to run at once (a customer update)"
    )

    /** Immediate engines, inside a transaction: now, in a savepoint of the open transaction. */
    const nowInTransaction = (w: Write<unknown>) =>
      recoverSqlDefects(sql.withTransaction(inOrder(w.statements))).pipe(
        Effect.catchTag("SqlError", (e: SqlError) => failWith(meaning([w], e, true), e))
      ) as Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, unknown>

    const sqlTransaction = Effect.map(
      Effect.serviceOption(SqlClient.TransactionConnection),
      Option.isSome
    )

    const run = (w: Write<unknown>, now: boolean): Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, unknown> =>
      Effect.flatMap(FiberRef.get(current), (pending) => {
        if (!options.deferred) {
          if (pending !== undefined) return nowInTransaction(w)
          // a caller's own `sql.withTransaction` counts as a transaction too
          return Effect.flatMap(sqlTransaction, (inSql) => (inSql ? nowInTransaction(w) : execute([w], false)))
        }
        if (pending === undefined) return execute([w], false)
        if (pending.closed) return closedDefect
        if (!now) {
          pending.writes.push(w)
          return Effect.succeed([])
        }
        pending.closed = true
        return execute([...pending.writes.splice(0), w], true)
      })

    const write: UnitOfWorkShape["write"] = (w) =>
      Effect.asVoid(run(w as Write<unknown>, false)) as Effect.Effect<void, never>

    const writeNow: UnitOfWorkShape["writeNow"] = (w) =>
      Effect.map(run(w as Write<unknown>, true), (rows) => rows.slice(rows.length - w.statements.length)) as unknown as Effect.Effect<
        ReadonlyArray<ReadonlyArray<Row>>,
        never
      >

    const withTransaction: UnitOfWorkShape["withTransaction"] = <A, E, R>(self: Effect.Effect<A, E, R>) => {
      const attempt = (n: number): Effect.Effect<A, E | StorageError, R> =>
        Effect.suspend(() => {
          const pending = new Pending()
          const body = Effect.locally(self, current, pending)
          const committed: Effect.Effect<A, unknown, R> = options.deferred
            ? body.pipe(
              Effect.flatMap((a) => {
                pending.closed = true
                return pending.writes.length === 0 ? Effect.succeed(a) : Effect.as(execute(pending.writes, true), a)
              }),
              Effect.ensuring(Effect.sync(() => {
                pending.closed = true
              }))
            )
            : storage("a transaction")(
              recoverSqlDefects(sql.withTransaction(body)).pipe(
                // BEGIN refused while another process holds the write lock (SQLite), a serialization
                // failure or deadlock at commit (PostgreSQL): nothing was written; run it again
                Effect.catchIf(
                  (e): e is SqlError => isSqlError(e) && classify(e)._tag === "Retryable",
                  () => Effect.fail(rerun)
                )
              )
            )
          return committed.pipe(
            Effect.catchIf(isRerun, () =>
              n + 1 < optimisticRetries.maxAttempts
                ? Effect.zipRight(optimisticRetries.wait(n, "stale"), attempt(n + 1))
                : Effect.fail(new StorageError({ reason: "contention", operation: "a transaction" })))
          ) as Effect.Effect<A, E | StorageError, R>
        })
      return Effect.flatMap(FiberRef.get(current), (outer) => (outer === undefined ? attempt(0) : self))
    }

    const read: UnitOfWorkShape["read"] = options.deferred && options.batch !== undefined
      ? options.batch
      : (statements) => inOrder(statements)

    return UnitOfWork.of({
      deferred: options.deferred,
      // a caller's own `sql.withTransaction` counts as a transaction too (D1 has none)
      inTransaction: Effect.flatMap(FiberRef.get(current), (pending) => (pending !== undefined ? Effect.succeed(true) : sqlTransaction)),
      write,
      writeNow,
      read,
      withTransaction,
      recall: <A>(key: string) => Effect.map(FiberRef.get(current), (pending) => pending?.memo.get(key) as A | undefined),
      remember: (key, value) =>
        Effect.flatMap(FiberRef.get(current), (pending) =>
          Effect.sync(() => {
            pending?.memo.set(key, value)
          })),
      forget: (prefix) =>
        Effect.flatMap(FiberRef.get(current), (pending) =>
          Effect.sync(() => {
            if (pending === undefined) return
            for (const key of [...pending.memo.keys()]) if (key.startsWith(prefix)) pending.memo.delete(key)
          }))
    })
  })

/**
 * The unit of work as a layer over the client in context.
 *
 * @since 0.1.0
 */
export const layer = (
  options: { readonly deferred: boolean; readonly batch?: Batch | undefined }
): Layer.Layer<UnitOfWork, never, SqlClient.SqlClient> => Layer.effect(UnitOfWork, make(options))

/**
 * One statement that appends the events to the outbox in order, whatever their number (D1 binds at
 * most 100 values per statement, so the rows travel as one JSON array).
 *
 * @since 0.1.0
 */
export const outboxInsert = (sql: SqlClient.SqlClient, events: ReadonlyArray<DomainEvent>): Statement.Statement<unknown> =>
  sql`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
    SELECT value->>'id', value->>'channel', value->>'type', value->>'subject', value->>'payload',
      CAST(value->>'occurred_at' AS BIGINT)
    FROM ${jsonRows(sql, events.map(eventRow))} ORDER BY key`

/**
 * `Transactions` as units of work, and the `EventPublisher` that appends outbox rows to them: the
 * same on every engine.
 *
 * @since 0.1.0
 */
export const portsLayer: Layer.Layer<Transactions | EventPublisher, never, UnitOfWork | SqlClient.SqlClient> = Layer
  .effectContext(Effect.gen(function*() {
    const uow = yield* UnitOfWork
    const sql = yield* SqlClient.SqlClient
    const transactions = Transactions.of({ withTransaction: uow.withTransaction })
    const publisher = EventPublisher.of({
      publish: (events) =>
        events.length === 0
          ? Effect.void
          : uow.write({ operation: "writing events to the outbox", statements: [outboxInsert(sql, events)] })
    })
    return Context.make(Transactions, transactions).pipe(Context.add(EventPublisher, publisher))
  }))
