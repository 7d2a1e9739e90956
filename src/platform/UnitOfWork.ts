/**
 * `Transactions` and `EventPublisher` on D1, where the only atomic unit is one batch.
 *
 * `withTransaction` opens a unit of work (a fiber-local list of pending writes) and runs the effect
 * in it. Repository writes and published events made inside it are not executed: each appends its
 * statements to the list, together with what a failure of those statements would mean (a unique
 * phone is `CustomerExists`, a stale read asks for the transaction to run again). When the effect
 * succeeds, the list is executed as one D1 batch — all of it or none of it — and a failed batch is
 * mapped to the typed error of the write it concerns; when the effect fails, the list is dropped and
 * nothing was written. Outside a transaction each write is its own batch at once.
 *
 * What this means for code inside a transaction, unlike on PostgreSQL or SQLite:
 * - reads see what is committed, not the transaction's own pending writes;
 * - a write is planned on what the transaction read. When the commit shows that read is outdated
 *   (the unique key a `getOrCreate` found free is now taken; a wallet's version moved), the writes
 *   of the failed batch were rolled back and the whole effect runs again, after a short random
 *   wait, a bounded number of times ({@link d1Retries}).
 *   The effect must therefore be free of side effects other than its reads and pending writes —
 *   every service's transaction is;
 * - a write whose result must be read back at once (a customer update returns the stored row) runs
 *   immediately, in one batch with the writes pending before it, and must be the transaction's last
 *   write: a later write in the same transaction is a defect.
 *
 * Nested `withTransaction` calls join the outer unit of work, as nested transactions do elsewhere.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import { StorageError } from "../kernel/Errors.js"
import type { DomainEvent } from "../kernel/Events.js"
import { EventPublisher } from "./EventPublisher.js"
import { Transactions } from "./Transactions.js"
import { eventRow } from "./sql/OutboxSql.js"
import { classify, sleepLive, type SqlFailure, toStorageError } from "./sql/SqlFailure.js"
import { Retry, type RetryPolicy, withRetries } from "../wallets/FastPaths.js"
import { D1Handle } from "./d1/D1Client.js"

type Row = Record<string, unknown>

/**
 * The failure of a write that found, at commit, that what its transaction read is outdated: the
 * transaction runs again. Only ever raised inside `withTransaction`, which handles it.
 *
 * @internal
 */
export class Rerun {
  readonly _tag = "Rerun"
}

/** @internal */
export const rerun: Rerun = new Rerun()

/**
 * Statements that must commit together, and what their failure means.
 *
 * @internal
 */
export interface Write<E> {
  /** What is being done, for a `StorageError` ("creating a customer"). */
  readonly operation: string
  readonly statements: ReadonlyArray<Statement.Statement<unknown>>
  /**
   * What a failed batch means for this write: its typed error, {@link rerun} (the transaction's read
   * is outdated: run it again), or `undefined` when the failure is not this write's business.
   */
  readonly onFailure?: ((failure: SqlFailure) => E | Rerun | undefined) | undefined
}

/** @internal */
export interface UnitOfWork {
  /** Whether the current fiber is inside a transaction. */
  readonly inTransaction: Effect.Effect<boolean>
  /** Inside a transaction: appends to its batch. Outside: runs now, as one batch. */
  readonly write: <E>(write: Write<E>) => Effect.Effect<void, E | StorageError>
  /**
   * Runs now, in one batch with the writes pending in the transaction if any (and then no write may
   * follow in that transaction); returns the rows of this write's statements.
   */
  readonly writeNow: <E>(write: Write<E>) => Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, E | StorageError>
  readonly withTransaction: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StorageError, R>
}

/** @internal */
export const UnitOfWork: Context.Tag<UnitOfWork, UnitOfWork> = Context.GenericTag<UnitOfWork>("customer360/D1UnitOfWork")

/**
 * Retries on D1: full jitter over a window that doubles from 4 ms to 500 ms, 16 attempts. Without
 * locks, writers that lost a race to one wallet all re-read the same new version; waiting a random
 * time from the start spreads them out, so that later rounds have several winners instead of one.
 *
 * @internal
 */
export const d1Retries: RetryPolicy = {
  maxAttempts: 16,
  wait: (n) => Effect.flatMap(Random.next, (r) => sleepLive(Duration.millis(r * Math.min(500, 4 * 2 ** n))))
}

class Pending {
  readonly writes: Array<Write<unknown>> = []
  /** Set once the batch ran (commit, or a write that had to run at once): nothing may be added. */
  closed = false
}

const isRerun = (e: unknown): e is Rerun => e instanceof Rerun

/**
 * Builds the unit of work over the D1 handle.
 *
 * @internal
 */
export const make = Effect.gen(function*() {
  const handle = yield* D1Handle
  const current = FiberRef.unsafeMake<Pending | undefined>(undefined)

  /**
   * Runs the writes as one batch; a busy database is retried (the batch is all or nothing). Fails
   * with what the first write that claims the failure says it means, or a `StorageError`.
   */
  const execute = (writes: ReadonlyArray<Write<unknown>>): Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, unknown> =>
    withRetries(writes[0]!.operation, () =>
      Effect.catchIf(
        handle.batch(writes.flatMap((w) => w.statements)),
        (e) => classify(e)._tag === "Retryable",
        () => Effect.fail(new Retry("contention"))
      ), d1Retries).pipe(
        Effect.catchTag("SqlError", (e: SqlError) => {
          const failure = classify(e)
          for (const w of writes) {
            const meant = w.onFailure?.(failure)
            if (meant !== undefined) return Effect.fail(meant)
          }
          return Effect.fail(toStorageError(writes[0]!.operation)(e))
        })
      )

  /** Outside a transaction there is nothing to run again: a stale read is contention. */
  const alone = <A>(self: Effect.Effect<A, unknown>, operation: string): Effect.Effect<A, unknown> =>
    Effect.catchIf(self, isRerun, () => Effect.fail(new StorageError({ reason: "contention", operation })))

  const closedDefect = Effect.dieMessage(
    "D1: no write may follow, in one transaction, a write that had to run at once (a customer update)"
  )

  // The error types below are the writes' own (`E`, from their `onFailure`) and `StorageError`;
  // `Rerun` only ever fails inside `withTransaction`, which handles it.
  const write: UnitOfWork["write"] = (w) =>
    Effect.flatMap(FiberRef.get(current), (pending): Effect.Effect<void, unknown> => {
      if (pending === undefined) return alone(Effect.asVoid(execute([w as Write<unknown>])), w.operation)
      if (pending.closed) return closedDefect
      pending.writes.push(w as Write<unknown>)
      return Effect.void
    }) as Effect.Effect<void, never>

  const writeNow: UnitOfWork["writeNow"] = (w) =>
    Effect.flatMap(FiberRef.get(current), (pending): Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, unknown> => {
      const own = (rows: ReadonlyArray<ReadonlyArray<Row>>) => rows.slice(rows.length - w.statements.length)
      if (pending === undefined) return alone(Effect.map(execute([w as Write<unknown>]), own), w.operation)
      if (pending.closed) return closedDefect
      pending.closed = true
      return Effect.map(execute([...pending.writes.splice(0), w as Write<unknown>]), own)
    }) as Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, never>

  const withTransaction: UnitOfWork["withTransaction"] = <A, E, R>(self: Effect.Effect<A, E, R>) => {
    const run = (n: number): Effect.Effect<A, E | StorageError, R> =>
      Effect.suspend(() => {
        const pending = new Pending()
        return Effect.locally(self, current, pending).pipe(
          Effect.flatMap((a) => {
            pending.closed = true
            return pending.writes.length === 0 ? Effect.succeed(a) : Effect.as(execute(pending.writes), a)
          }),
          Effect.ensuring(Effect.sync(() => {
            pending.closed = true
          })),
          Effect.catchIf(isRerun, () =>
            n + 1 < d1Retries.maxAttempts
              ? Effect.zipRight(d1Retries.wait(n, "stale"), run(n + 1))
              : Effect.fail(new StorageError({ reason: "contention", operation: "a transaction" })))
        ) as Effect.Effect<A, E | StorageError, R>
      })
    return Effect.flatMap(FiberRef.get(current), (outer) => (outer === undefined ? run(0) : self))
  }

  return UnitOfWork.of({
    inTransaction: Effect.map(FiberRef.get(current), (pending) => pending !== undefined),
    write,
    writeNow,
    withTransaction
  })
})

/** @internal */
export const layer: Layer.Layer<UnitOfWork, never, D1Handle> = Layer.effect(UnitOfWork, make)

/**
 * One statement that appends the events to the outbox in order, whatever their number (D1 binds at
 * most 100 values per statement, so the rows travel as one JSON array).
 *
 * @internal
 */
export const outboxInsert = (sql: SqlClient.SqlClient, events: ReadonlyArray<DomainEvent>): Statement.Statement<unknown> =>
  sql`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
    SELECT value->>'id', value->>'channel', value->>'type', value->>'subject', value->>'payload', value->>'occurred_at'
    FROM json_each(${JSON.stringify(events.map(eventRow))}) ORDER BY key`

/**
 * `Transactions` as units of work, and the `EventPublisher` that appends outbox rows to them.
 *
 * @internal
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
