/**
 * `WalletStore` on D1. The rules live in the pure planner, as on the other engines; this module
 * decides how a planned change reaches D1 atomically, at most once per reference, and never on a
 * stale read — without a lock or an interactive transaction, which D1 does not have.
 *
 * A write reads the wallet, its active credits and the reference's record in one batch (one round
 * trip, one snapshot), plans in TypeScript, then writes everything — wallet, idempotency record,
 * credits, ledger, outbox — as one batch whose first statement sets the wallet's `version` to the
 * version read plus one. A trigger (migration 0010) lets a version only step by one, so if any
 * other write reached the wallet in between, that statement aborts and D1 rolls the whole batch
 * back: nothing is written, and the write re-reads and re-plans after a random wait (bounded; see
 * `d1Retries`). A write addressed by phone also sets an impossible version unless the phone still
 * belongs to the wallet's customer. The reference is the idempotency record's primary key, written in the same
 * batch: of two concurrent deliveries of one reference, the loser's batch fails on the key, and
 * its re-read replays the winner's result (or refuses another payload with `IdempotencyConflict`).
 * Rows travel as JSON arrays (`json_each`), so a batch has at most six statements whatever the
 * number of credits or entries, and stays under D1's 100 bound values per statement.
 *
 * Concurrent writers — requests of one isolate, or of several — are not queued in the process: the
 * version check alone orders them. (A Worker request must not wait for a promise of another request:
 * the runtime cancels it as hung. So there is no in-process lock to take, as there is on SQLite.)
 *
 * Inside `Transactions.withTransaction` a write joins the transaction's batch instead; a stale
 * read there runs the whole transaction again (see UnitOfWork). Such a transaction must not
 * write one wallet twice: its reads do not see its own pending writes.
 *
 * Expiry reads due credits wallet by wallet (from a cursor) with each wallet's version, and
 * expires a batch of them — credits, ledger entries, events, and a version step for every wallet
 * touched — as one D1 batch guarded the same way: two jobs at once, or a job racing a withdrawal,
 * cannot expire a credit twice or expire what was just spent. A D1 batch expires at most 1000
 * credits, whatever the `batchSize` asked for.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { CustomerNotFound } from "../customers/Customer.js"
import type { StorageError } from "../kernel/Errors.js"
import type { WalletCreditExpired } from "../kernel/Events.js"
import type { IdempotencyConflict, WalletState } from "./Wallet.js"
import { type WalletChange, type WalletKey, type WalletRequest, WalletStore } from "./WalletStore.js"
import { storage } from "../platform/sql/SqlFailure.js"
import {
  creditRow,
  expireLoop,
  ledgerEntries,
  notFound,
  replay,
  sqlFailure,
  type StoredOperation,
  toCredit,
  withRetries
} from "./FastPaths.js"
import { D1Handle } from "../platform/d1/D1Client.js"
import { d1Retries, outboxInsert, rerun, UnitOfWork } from "../platform/UnitOfWork.js"

const int = (v: unknown): number => (typeof v === "number" ? v : Number(v))

/** The most credits one expiry batch carries (D1 limits the size of a value and a batch's time). */
const EXPIRY_BATCH_LIMIT = 1000

type Row = Record<string, unknown>

/**
 * Builds the store over the D1 client, its handle and the unit of work.
 *
 * @internal
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const handle = yield* D1Handle
  const uow = yield* UnitOfWork

  const walletRow = (key: WalletKey) =>
    "phone" in key
      ? sql`SELECT c.id AS customer_id, w.balance, w.version FROM c360_customers c
          JOIN c360_wallets w ON w.customer_id = c.id WHERE c.phone = ${key.phone}`
      : sql`SELECT customer_id, balance, version FROM c360_wallets WHERE customer_id = ${key.customerId}`

  const creditRows = (key: WalletKey) =>
    "phone" in key
      ? sql`SELECT vc.id, vc.amount, vc.remaining, vc.issued_at, vc.expires_at, vc.status, vc.reason, vc.ticket_id
          FROM c360_customers c JOIN c360_virtual_credits vc ON vc.customer_id = c.id
          WHERE c.phone = ${key.phone} AND vc.status = 'active'`
      : sql`SELECT id, amount, remaining, issued_at, expires_at, status, reason, ticket_id
          FROM c360_virtual_credits WHERE customer_id = ${key.customerId} AND status = 'active'`

  /** The wallet, its active credits and (given a reference) its record, in one batch: one snapshot. */
  const read = (key: WalletKey, reference: string | null) =>
    handle.batch([
      walletRow(key),
      creditRows(key),
      ...(reference === null
        ? []
        : [sql`SELECT kind, fingerprint, result FROM c360_wallet_operations WHERE reference = ${reference}`])
    ]).pipe(Effect.map(([wallets, credits, operations]) => {
      const wallet = wallets?.[0]
      const state: WalletState | undefined = wallet === undefined ? undefined : {
        customerId: String(wallet.customer_id),
        balance: int(wallet.balance),
        version: int(wallet.version),
        credits: (credits ?? []).map(toCredit)
      }
      const operation = operations?.[0] as StoredOperation | undefined
      return { state, operation }
    }))

  /** The batch that applies `change`, planned on `state`, if the wallet is still at `state.version`. */
  const writeStatements = (request: WalletRequest<unknown>, state: WalletState, change: WalletChange) => {
    const at = change.at.getTime()
    const customer = state.customerId
    const next = state.version + 1
    // An impossible version (the trigger aborts) when the phone moved to another customer after the read.
    const version = "phone" in request.wallet
      ? sql`CASE WHEN EXISTS (SELECT 1 FROM c360_customers WHERE id = ${customer} AND phone = ${request.wallet.phone})
          THEN ${next} ELSE -1 END`
      : sql`${next}`
    const statements: Array<Statement.Statement<unknown>> = [
      sql`UPDATE c360_wallets SET balance = ${change.balanceAfter}, version = ${version}, updated_at = ${at}
        WHERE customer_id = ${customer}`,
      sql`INSERT INTO c360_wallet_operations (reference, transaction_id, customer_id, kind, fingerprint, result, created_at)
        VALUES (${request.reference}, ${change.transactionId}, ${customer}, ${request.kind}, ${request.fingerprint},
          ${JSON.stringify(change.result)}, ${at})`
    ]
    if (change.creditUpdates.length > 0) {
      statements.push(sql`UPDATE c360_virtual_credits AS vc SET remaining = x.remaining, status = x.status
        FROM (SELECT value->>'id' AS id, value->>'remaining' AS remaining, value->>'status' AS status
          FROM json_each(${JSON.stringify(change.creditUpdates)})) AS x
        WHERE vc.id = x.id AND vc.customer_id = ${customer} AND vc.status = 'active'`)
    }
    if (change.newCredits.length > 0) {
      statements.push(sql`INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id,
          transaction_id, issued_at, expires_at)
        SELECT value->>'id', ${customer}, value->>'amount', value->>'remaining', value->>'status', value->>'reason',
          value->>'ticket_id', ${change.transactionId}, value->>'issued_at', value->>'expires_at'
        FROM json_each(${JSON.stringify(change.newCredits.map(creditRow))}) ORDER BY key`)
    }
    if (change.entries.length > 0) {
      statements.push(sql`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after,
          credit_id, credit_remaining_after, reference, source, note, created_at)
        SELECT value->>'id', ${change.transactionId}, ${customer}, value->>'kind', value->>'amount',
          value->>'balanceAfter', value->>'creditId', value->>'creditRemainingAfter', ${request.reference},
          value->>'source', value->>'note', ${at}
        FROM json_each(${JSON.stringify(change.entries)}) ORDER BY key`)
    }
    if (change.events.length > 0) statements.push(outboxInsert(sql, change.events))
    return statements
  }

  /** Read, replay or plan: the change to write, or the result of a recorded operation. */
  const prepare = <E>(request: WalletRequest<E>) =>
    Effect.gen(function*() {
      const { operation, state } = yield* read(request.wallet, request.reference)
      if (state === undefined) return yield* notFound(request.wallet)
      if (operation !== undefined) {
        const replayed = yield* replay(request.reference, request.kind, request.fingerprint, operation)
        return { _tag: "Replayed" as const, replayed }
      }
      const change = yield* request.plan(state)
      const statements = writeStatements(request as WalletRequest<unknown>, state, change)
      return { _tag: "Planned" as const, change, statements }
    })

  const applyAlone = <E>(request: WalletRequest<E>) => {
    const operation = `a wallet ${request.kind}`
    return withRetries(operation, () =>
      Effect.gen(function*() {
        const prepared = yield* prepare(request)
        if (prepared._tag === "Replayed") return prepared.replayed
        yield* handle.batch(prepared.statements)
        return { replayed: false, result: prepared.change.result }
      }).pipe(Effect.catchIf((e): e is SqlError => e instanceof SqlError, sqlFailure(operation))), d1Retries)
  }

  const applyInTransaction = <E>(request: WalletRequest<E>) =>
    Effect.gen(function*() {
      const prepared = yield* storage(`a wallet ${request.kind}`)(prepare(request))
      if (prepared._tag === "Replayed") return prepared.replayed
      yield* uow.write<never>({
        operation: `a wallet ${request.kind}`,
        statements: prepared.statements,
        // a stale read, or the reference recorded meanwhile: run the transaction again on a fresh read
        onFailure: (failure) =>
          failure._tag === "StaleWrite" ||
            (failure._tag === "UniqueViolation" && failure.constraint.includes("c360_wallet_operations"))
            ? rerun
            : undefined
      })
      return { replayed: false, result: prepared.change.result }
    })

  const apply: WalletStore["apply"] = <E>(request: WalletRequest<E>) =>
    Effect.flatMap(
      uow.inTransaction,
      (inTransaction): Effect.Effect<
        { readonly replayed: boolean; readonly result: unknown },
        E | CustomerNotFound | IdempotencyConflict | StorageError
      > => (inTransaction ? applyInTransaction(request) : applyAlone(request))
    )

  const load = (key: WalletKey) =>
    read(key, null).pipe(
      storage("reading a wallet"),
      Effect.flatMap(({ state }) => (state === undefined ? Effect.fail(notFound(key)) : Effect.succeed(state)))
    )

  /** One expiry batch from the wallet cursor; the cursor moves to the batch's last wallet. */
  const expireBatch = (at: number, limit: number, cursor: { from: string }) =>
    withRetries("expiring credits", () =>
      Effect.gen(function*() {
        const due = yield* sql<Row>`SELECT vc.id, vc.customer_id, vc.remaining, vc.expires_at, w.balance, w.version
          FROM c360_virtual_credits vc JOIN c360_wallets w ON w.customer_id = vc.customer_id
          WHERE vc.status = 'active' AND vc.expires_at <= ${at} AND vc.customer_id >= ${cursor.from}
          ORDER BY vc.customer_id, vc.expires_at, vc.id LIMIT ${limit}`
        if (due.length === 0) return { expired: 0, amount: 0, last: cursor.from }
        const versions = new Map<string, number>()
        for (const r of due) versions.set(String(r.customer_id), int(r.version))
        const credits = due.map((r) => ({
          id: String(r.id),
          customer: String(r.customer_id),
          amount: int(r.remaining),
          balance: int(r.balance),
          expiresAt: int(r.expires_at)
        }))
        const events = credits.map((c): WalletCreditExpired => ({
          id: `evt_exp_${c.id}`,
          type: "wallet.credit_expired",
          channel: "wallets",
          subject: c.customer,
          occurredAt: new Date(at),
          data: { creditId: c.id, amount: c.amount, expiresAt: new Date(c.expiresAt).toISOString() }
        }))
        yield* handle.batch([
          sql`UPDATE c360_wallets AS w SET version = x.version + 1, updated_at = ${at}
            FROM (SELECT value->>'id' AS id, value->>'version' AS version
              FROM json_each(${JSON.stringify([...versions].map(([id, version]) => ({ id, version })))})) AS x
            WHERE w.customer_id = x.id`,
          sql`UPDATE c360_virtual_credits SET expired_amount = remaining, remaining = 0, status = 'expired'
            WHERE id IN (SELECT value FROM json_each(${JSON.stringify(credits.map((c) => c.id))})) AND status = 'active'`,
          sql`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
              credit_remaining_after, reference, created_at)
            SELECT 'le_exp_' || (value->>'id'), 'txn_exp_' || (value->>'id'), value->>'customer', 'credit_expired',
              -(value->>'amount'), value->>'balance', value->>'id', 0, 'expire:' || (value->>'id'), ${at}
            FROM json_each(${JSON.stringify(credits)}) ORDER BY key`,
          outboxInsert(sql, events)
        ])
        return {
          expired: credits.length,
          amount: credits.reduce((sum, c) => sum + c.amount, 0),
          last: credits[credits.length - 1]!.customer
        }
      }).pipe(Effect.catchTag("SqlError", sqlFailure("expiring credits"))), d1Retries).pipe(
        Effect.map((r) => {
          cursor.from = r.last
          return { expired: r.expired, amount: r.amount }
        })
      )

  const expire: WalletStore["expire"] = (now, options) =>
    Effect.suspend(() => {
      const cursor = { from: "" }
      return expireLoop(
        expireBatch(now.getTime(), Math.min(options.batchSize, EXPIRY_BATCH_LIMIT), cursor),
        options.maxBatches
      )
    })

  return WalletStore.of({ apply, load, entries: ledgerEntries(sql), expire })
})

/** @internal */
export const layer: Layer.Layer<WalletStore, never, SqlClient.SqlClient | D1Handle | UnitOfWork> = Layer.effect(
  WalletStore,
  make
)
