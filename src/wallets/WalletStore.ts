/**
 * Wallet storage: the port and its one SQL repository for every engine (see docs/wallets.md).
 * The rules live in the pure planner (`Wallet.ts`, `Wallets.ts`); this module decides how a planned
 * change reaches the database atomically, at most once per reference, and never on a stale read.
 *
 * **The write, everywhere.** A write reads the wallet, its active credits and the reference's record
 * (as one snapshot where the engine offers one), plans in TypeScript, and hands the unit of work the
 * statements of its change — wallet, idempotency record, credits, ledger, outbox — whose first
 * statement sets the wallet's `version` to the version read plus one. A trigger (the wallets
 * migration, on every engine) lets a version only step by one, so if any other write reached the
 * wallet in between, that statement fails and nothing of the change is written; the transaction
 * runs again on a fresh read (bounded, jittered). A write addressed by phone also sets an impossible
 * version unless the phone still belongs to the wallet's customer. The reference is the idempotency
 * record's primary key: of two concurrent deliveries of one reference, the loser fails on the key,
 * and its re-run replays the winner's result (or refuses another payload with `IdempotencyConflict`).
 * Rows travel as JSON arrays, so a write is at most six statements whatever its number of credits.
 *
 * Inside a caller's `Transactions.withTransaction`, a write joins that unit of work: it commits or
 * rolls back with everything else the transaction writes. The state it leaves is remembered in the
 * transaction, so a second write to the same wallet — or a write to a wallet whose customer the
 * transaction created — plans on it without reading its own pending writes (docs/transactions.md).
 *
 * **Expiry, everywhere.** Due credits are read wallet by wallet from a cursor, in bounded batches,
 * with each wallet's version; the pure `planExpiry` decides what expires; the batch — credits, ledger
 * entries, events and a guarded version step for every wallet touched — is one unit of work.
 *
 * **Fast paths** (`FastPaths.ts`, the one engine-specific file of this module): outside a caller's
 * transaction, PostgreSQL writes go through group commit (`c360_wallet_write_many`) and SQLite writes
 * through one synchronous better-sqlite3 transaction; expiry on both is set-based SQL. They apply
 * the same planned changes under the same guards, and are measured by `npm run bench -- wallet`.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { CustomerNotFound, journalRow, type MergeContext, memoKeys } from "../customers/index.js"
import type { StorageError } from "../kernel/Errors.js"
import type { DomainEvent, WalletCreditExpired } from "../kernel/Events.js"
import type { Phone } from "../kernel/Phone.js"
import { jsonRows } from "../platform/sql/JsonRows.js"
import { storage } from "../platform/sql/SqlFailure.js"
import { outboxInsert, rerun, UnitOfWork } from "../platform/UnitOfWork.js"
import * as FastPaths from "./FastPaths.js"
import {
  type CreditId,
  type CreditStatus,
  type EntryKind,
  IdempotencyConflict,
  LedgerEntry,
  type MergePlan,
  planExpiry,
  type VirtualCredit,
  type WalletState
} from "./Wallet.js"
import { int } from "../platform/sql/Columns.js"

/** Which wallet: by the customer's canonical phone or id. @since 0.1.0 */
export type WalletKey = { readonly phone: Phone } | { readonly customerId: string }

/** A ledger entry to append. @since 0.1.0 */
export interface NewEntry {
  readonly id: string
  readonly kind: EntryKind
  readonly amount: number
  readonly balanceAfter: number
  readonly creditId: string | null
  readonly creditRemainingAfter: number | null
  readonly source: string | null
  readonly note: string | null
}

/**
 * Everything one operation writes, planned purely from a {@link WalletState}: the new real balance,
 * credit remainders, new credits, ledger entries (in order), events, and the result to replay for
 * the same reference.
 *
 * @since 0.1.0
 */
export interface WalletChange {
  readonly transactionId: string
  readonly balanceAfter: number
  readonly creditUpdates: ReadonlyArray<{ readonly id: string; readonly remaining: number; readonly status: "active" | "consumed" }>
  readonly newCredits: ReadonlyArray<VirtualCredit>
  readonly entries: ReadonlyArray<NewEntry>
  readonly events: ReadonlyArray<DomainEvent>
  /** The result; its JSON is stored with the reference and returned to a replay. */
  readonly result: unknown
  readonly at: Date
}

/**
 * An idempotent wallet write: `fingerprint` is the canonical payload; `plan` decides the change
 * (or a domain failure) from the state it is given, without I/O.
 *
 * @since 0.1.0
 */
export interface WalletRequest<E> {
  readonly wallet: WalletKey
  readonly reference: string
  readonly kind: "deposit" | "withdraw" | "credit"
  readonly fingerprint: string
  readonly plan: (state: WalletState) => Either.Either<WalletChange, E>
}

/**
 * Storage of wallets, credits, the ledger and the idempotency records.
 *
 * @since 0.1.0
 */
export interface WalletStoreShape {
  /**
   * Runs a request atomically and at most once per reference: when the reference is already
   * recorded with the same kind and fingerprint, returns its stored result (`replayed: true`) and
   * writes nothing; with another payload, fails `IdempotencyConflict`. Otherwise plans against the
   * current state and commits the change only if the wallet did not change meanwhile (row lock or
   * version check), retrying contention a bounded number of times; a failed plan writes nothing.
   */
  readonly apply: <E>(
    request: WalletRequest<E>
  ) => Effect.Effect<
    { readonly replayed: boolean; readonly result: unknown },
    E | CustomerNotFound | IdempotencyConflict | StorageError
  >
  /** The wallet's current state (credits: the active ones). */
  readonly load: (wallet: WalletKey) => Effect.Effect<WalletState, CustomerNotFound | StorageError>
  /** Ledger entries, newest first, strictly before `before` (an entry sequence number). */
  readonly entries: (
    customerId: string,
    options: { readonly limit: number; readonly before: number | null }
  ) => Effect.Effect<{ readonly items: ReadonlyArray<LedgerEntry & { readonly seq: number }> }, StorageError>
  /**
   * Expires the credits due at `now` (active, `expiresAt <= now`) in transactions of about
   * `batchSize` credits (on PostgreSQL: every due credit of the wallets of the first `batchSize` due
   * credits), until none is left or `maxBatches` have run: each credit's remainder leaves the wallet
   * as one `credit_expired` entry and one `wallet.credit_expired` event. Safe to run concurrently:
   * each credit is expired once. Other writes get in between batches.
   */
  readonly expire: (
    now: Date,
    options: { readonly batchSize: number; readonly maxBatches: number }
  ) => Effect.Effect<{ readonly expired: number; readonly amount: number }, StorageError>
  /**
   * A merge's read of one customer's own wallet (its real balance, version and active credits): what
   * the current transaction left it at, else the database; `undefined` when it has none.
   */
  readonly readForMerge: (customerId: string) => Effect.Effect<WalletState | undefined, StorageError>
  /**
   * Writes a planned wallet merge (DOMAIN §9a) in the current unit of work: both wallets' rows with
   * their versions stepped from the states planned on (a wallet written meanwhile makes the
   * transaction run again), the due credits expired (with the expiry job's entries and
   * `wallet.credit_expired` events), the moved credits closed as `merged` and their new credits
   * opened on the survivor's wallet, every ledger entry appended, and every entry and credit written
   * or closed journaled (`c360_merge_rows`). Afterwards, in the transaction, both profiles' ids and
   * phones lead to the survivor's wallet as it is after the merge.
   */
  readonly writeMerge: (context: MergeContext, merge: PlannedMerge) => Effect.Effect<void, StorageError>
}

/**
 * A wallet merge as planned on its reads: both wallets as read (the survivor's as the previous
 * merged profile of the same merge left it), the pure plan, and the ledger transaction of its entries.
 *
 * @since 0.4.0
 */
export interface PlannedMerge {
  readonly merged: WalletState
  readonly survivor: WalletState
  readonly plan: MergePlan
  readonly transactionId: string
}

/**
 * The wallet repository as a service.
 *
 * @since 0.1.0
 */
export class WalletStore extends Context.Tag("customer360/WalletStore")<WalletStore, WalletStoreShape>() {}

type Row = Record<string, unknown>


/** @internal */
export const toCredit = (r: Row): VirtualCredit => ({
  id: String(r.id) as CreditId,
  amount: int(r.amount),
  remaining: int(r.remaining),
  issuedAt: new Date(int(r.issued_at)),
  expiresAt: new Date(int(r.expires_at)),
  status: r.status as CreditStatus,
  reason: String(r.reason),
  ticketId: r.ticket_id == null ? null : String(r.ticket_id)
})

/** @internal */
export const toEntry = (r: Row) =>
  Object.assign(
    new LedgerEntry({
      id: String(r.id),
      transactionId: String(r.transaction_id),
      kind: r.kind as LedgerEntry["kind"],
      amount: int(r.amount),
      balanceAfter: int(r.balance_after),
      creditId: r.credit_id == null ? null : String(r.credit_id),
      creditRemainingAfter: r.credit_remaining_after == null ? null : int(r.credit_remaining_after),
      reference: String(r.reference),
      source: r.source == null ? null : String(r.source),
      note: r.note == null ? null : String(r.note),
      createdAt: new Date(int(r.created_at))
    }),
    { seq: int(r.seq) }
  )

/** @internal */
export const notFound = (key: WalletKey) =>
  new CustomerNotFound("phone" in key ? { by: "phone", value: key.phone } : { by: "id", value: key.customerId })

/** @internal What is recorded with a reference. */
export interface StoredOperation {
  readonly kind: string
  readonly fingerprint: string
  readonly result: string
}

/** @internal The state a successful change leads to (only active credits are kept, as a read returns them). */
export const stateAfter = (state: WalletState, change: WalletChange): WalletState => {
  const updates = new Map(change.creditUpdates.map((u) => [u.id, u] as const))
  const credits: Array<VirtualCredit> = []
  for (const c of state.credits) {
    const u = updates.get(c.id)
    const next = u === undefined ? c : { ...c, remaining: u.remaining, status: u.status }
    if (next.status === "active") credits.push(next)
  }
  for (const c of change.newCredits) credits.push(c)
  return { customerId: state.customerId, balance: change.balanceAfter, version: state.version + 1, credits }
}

/** @internal Replays a recorded operation, or refuses a different payload under the same reference. */
export const replay = (reference: string, kind: string, fingerprint: string, op: StoredOperation) =>
  op.kind === kind && op.fingerprint === fingerprint
    ? Effect.succeed({ replayed: true, result: JSON.parse(op.result) as unknown })
    : Effect.fail(new IdempotencyConflict({ reference }))

/** @internal A new credit as the columns of its row (instants as epoch milliseconds), for JSON-fed inserts. */
export const creditRow = (c: VirtualCredit) => ({
  id: c.id,
  amount: c.amount,
  remaining: c.remaining,
  status: c.status,
  reason: c.reason,
  ticket_id: c.ticketId,
  issued_at: c.issuedAt.getTime(),
  expires_at: c.expiresAt.getTime()
})

/** @internal Runs expiry batches until one expires nothing or `maxBatches` have run. */
export const expireLoop = <R>(
  batch: Effect.Effect<{ readonly expired: number; readonly amount: number }, StorageError, R>,
  maxBatches: number
) =>
  Effect.gen(function*() {
    let expired = 0
    let amount = 0
    for (let n = 0; n < maxBatches; n++) {
      const r = yield* batch
      if (r.expired === 0) break
      expired += r.expired
      amount += r.amount
    }
    return { expired, amount }
  })

/** The most credits one expiry batch carries (D1 limits the size of a value and a batch's time). */
const EXPIRY_BATCH_LIMIT = 1000

const opKey = (reference: string) => `wallet:operation:${reference}`

/**
 * Builds the store over the client and unit of work in context, with the engine's fast paths where
 * it has them (see `FastPaths.ts`).
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork
  // the fast paths write outside transactions, at once: on every engine that can (PostgreSQL's unit
  // of work is deferred too, for its one-round-trip commits, but its fast path is its own statement)
  const fast = uow.deferred
    ? yield* sql.onDialectOrElse({ pg: () => FastPaths.make, orElse: () => Effect.succeed(undefined) })
    : yield* FastPaths.make

  // A merged profile's phone or id reaches its survivor's wallet (`merged_into`, DOMAIN §9a).
  const owner = (key: WalletKey) => ("phone" in key ? sql`c.phone = ${key.phone}` : sql`c.id = ${key.customerId}`)

  const walletRow = (key: WalletKey) =>
    sql`SELECT w.customer_id, w.balance, w.version FROM c360_customers c
      JOIN c360_wallets w ON w.customer_id = COALESCE(c.merged_into, c.id) WHERE ${owner(key)}`

  const creditRows = (key: WalletKey) =>
    sql`SELECT vc.id, vc.amount, vc.remaining, vc.issued_at, vc.expires_at, vc.status, vc.reason, vc.ticket_id
      FROM c360_customers c JOIN c360_virtual_credits vc ON vc.customer_id = COALESCE(c.merged_into, c.id)
      WHERE ${owner(key)} AND vc.status = 'active'`

  const walletMemoKey = (key: WalletKey) =>
    "phone" in key ? memoKeys.walletByPhone(key.phone) : memoKeys.walletById(key.customerId)

  /** The wallet, its active credits and (given a reference) its record: what this transaction left, else the database. */
  const read = (key: WalletKey, reference: string | null) =>
    Effect.gen(function*() {
      const remembered = yield* uow.recall<WalletState>(walletMemoKey(key))
      const recorded = reference === null ? undefined : yield* uow.recall<StoredOperation>(opKey(reference))
      if (remembered !== undefined && reference === null) return { state: remembered, operation: undefined }
      if (remembered !== undefined && recorded !== undefined) return { state: remembered, operation: recorded }
      const [wallets, credits, operations] = yield* uow.read([
        ...(remembered === undefined ? [walletRow(key), creditRows(key)] : []),
        ...(reference === null || recorded !== undefined
          ? []
          : [sql`SELECT kind, fingerprint, result FROM c360_wallet_operations WHERE reference = ${reference}`])
      ])
      if (remembered !== undefined) return { state: remembered, operation: wallets?.[0] as StoredOperation | undefined }
      const wallet = wallets?.[0]
      const state: WalletState | undefined = wallet === undefined ? undefined : {
        customerId: String(wallet.customer_id),
        balance: int(wallet.balance),
        version: int(wallet.version),
        credits: (credits ?? []).map(toCredit)
      }
      return { state, operation: recorded ?? (operations?.[0] as StoredOperation | undefined) }
    })

  /** The statements that apply `change`, planned on `state`, if the wallet is still at `state.version`. */
  const writeStatements = (request: WalletRequest<unknown>, state: WalletState, change: WalletChange) => {
    const at = change.at.getTime()
    const customer = state.customerId
    const next = state.version + 1
    // An impossible version (the guard refuses it) when the phone moved, after the read, to a customer
    // other than the wallet's (or one merged into it).
    const version = "phone" in request.wallet
      ? sql`CASE WHEN EXISTS (SELECT 1 FROM c360_customers WHERE phone = ${request.wallet.phone}
            AND COALESCE(merged_into, id) = ${customer})
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
      statements.push(sql`UPDATE c360_virtual_credits SET remaining = x.remaining, status = x.status
        FROM (SELECT value->>'id' AS id, CAST(value->>'remaining' AS BIGINT) AS remaining, value->>'status' AS status
          FROM ${jsonRows(sql, change.creditUpdates)}) AS x
        WHERE c360_virtual_credits.id = x.id AND c360_virtual_credits.customer_id = ${customer}
          AND c360_virtual_credits.status = 'active'`)
    }
    if (change.newCredits.length > 0) {
      statements.push(sql`INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id,
          transaction_id, issued_at, expires_at)
        SELECT value->>'id', ${customer}, CAST(value->>'amount' AS BIGINT), CAST(value->>'remaining' AS BIGINT),
          value->>'status', value->>'reason', value->>'ticket_id', ${change.transactionId},
          CAST(value->>'issued_at' AS BIGINT), CAST(value->>'expires_at' AS BIGINT)
        FROM ${jsonRows(sql, change.newCredits.map(creditRow))} ORDER BY key`)
    }
    if (change.entries.length > 0) {
      statements.push(sql`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after,
          credit_id, credit_remaining_after, reference, source, note, created_at)
        SELECT value->>'id', ${change.transactionId}, ${customer}, value->>'kind', CAST(value->>'amount' AS BIGINT),
          CAST(value->>'balanceAfter' AS BIGINT), value->>'creditId', CAST(value->>'creditRemainingAfter' AS BIGINT),
          ${request.reference}, value->>'source', value->>'note', ${at}
        FROM ${jsonRows(sql, change.entries)} ORDER BY key`)
    }
    if (change.events.length > 0) statements.push(outboxInsert(sql, change.events))
    return statements
  }

  /**
   * In the unit of work (the caller's, or one of its own): read, replay or plan, then hand the
   * change to the unit of work and remember the state it leads to.
   */
  const applyInTransaction = <E>(request: WalletRequest<E>) =>
    Effect.gen(function*() {
      const { operation, state } = yield* storage(`a wallet ${request.kind}`)(read(request.wallet, request.reference))
      if (state === undefined) return yield* notFound(request.wallet)
      if (operation !== undefined) return yield* replay(request.reference, request.kind, request.fingerprint, operation)
      const change = yield* request.plan(state)
      yield* uow.write<never>({
        operation: `a wallet ${request.kind}`,
        statements: writeStatements(request as WalletRequest<unknown>, state, change),
        // a stale read, or the reference recorded meanwhile: run the transaction again on a fresh read
        onFailure: (failure) =>
          failure._tag === "StaleWrite" ||
            (failure._tag === "UniqueViolation" && failure.constraint.includes("c360_wallet_operations"))
            ? rerun
            : undefined
      })
      const after = stateAfter(state, change)
      yield* uow.remember(memoKeys.walletById(state.customerId), after)
      if ("phone" in request.wallet) yield* uow.remember(memoKeys.walletByPhone(request.wallet.phone), after)
      yield* uow.remember(opKey(request.reference), {
        kind: request.kind,
        fingerprint: request.fingerprint,
        result: JSON.stringify(change.result)
      } satisfies StoredOperation)
      return { replayed: false, result: change.result }
    })

  const apply: WalletStoreShape["apply"] = <E>(request: WalletRequest<E>) =>
    Effect.flatMap(
      uow.inTransaction,
      (inTransaction): Effect.Effect<
        { readonly replayed: boolean; readonly result: unknown },
        E | CustomerNotFound | IdempotencyConflict | StorageError
      > =>
        inTransaction
          ? applyInTransaction(request)
          : fast !== undefined
          ? fast.apply(request)
          : uow.withTransaction(applyInTransaction(request))
    )

  const load: WalletStoreShape["load"] = (key) =>
    Effect.flatMap(uow.inTransaction, (inTransaction) =>
      !inTransaction && fast !== undefined
        ? fast.load(key)
        : read(key, null).pipe(
          storage("reading a wallet"),
          Effect.flatMap(({ state }) => (state === undefined ? Effect.fail(notFound(key)) : Effect.succeed(state)))
        ))

  const entries: WalletStoreShape["entries"] = (customerId, options) =>
    (options.before === null
      ? sql<Row>`SELECT * FROM c360_ledger_entries WHERE customer_id = ${customerId}
          ORDER BY seq DESC LIMIT ${options.limit}`
      : sql<Row>`SELECT * FROM c360_ledger_entries WHERE customer_id = ${customerId}
          AND seq < ${options.before} ORDER BY seq DESC LIMIT ${options.limit}`).pipe(
        Effect.map((rows) => ({ items: rows.map(toEntry) })),
        storage("reading wallet transactions")
      )

  /** One expiry batch from the wallet cursor, as one unit of work; the cursor moves to the batch's last wallet. */
  const expireBatch = (now: Date, limit: number, cursor: { from: string }) =>
    uow.withTransaction(Effect.gen(function*() {
      const at = now.getTime()
      const [due = []] = yield* uow.read([
        sql`SELECT vc.id, vc.customer_id, vc.amount, vc.remaining, vc.issued_at, vc.expires_at, vc.status, vc.reason,
            vc.ticket_id, w.balance, w.version
          FROM c360_virtual_credits vc JOIN c360_wallets w ON w.customer_id = vc.customer_id
          WHERE vc.status = 'active' AND vc.expires_at <= ${at} AND vc.customer_id >= ${cursor.from}
          ORDER BY vc.customer_id, vc.expires_at, vc.id LIMIT ${limit}`
      ])
      if (due.length === 0) return { expired: 0, amount: 0, last: cursor.from }
      const wallets = new Map<string, { version: number; balance: number; credits: Array<VirtualCredit> }>()
      for (const r of due) {
        const id = String(r.customer_id)
        const w = wallets.get(id) ?? { version: int(r.version), balance: int(r.balance), credits: [] }
        w.credits.push(toCredit(r))
        wallets.set(id, w)
      }
      const expired = [...wallets].flatMap(([customer, w]) =>
        planExpiry(w.credits, now).map((e) => ({ id: e.creditId, customer, amount: e.amount, balance: w.balance }))
      )
      const expiresAt = new Map(due.map((r) => [String(r.id), int(r.expires_at)] as const))
      const events = expired.map((c): WalletCreditExpired => ({
        id: `evt_exp_${c.id}`,
        type: "wallet.credit_expired",
        channel: "wallets",
        subject: c.customer,
        occurredAt: now,
        data: { creditId: c.id, amount: c.amount, expiresAt: new Date(expiresAt.get(c.id)!).toISOString() }
      }))
      yield* uow.write<never>({
        operation: "expiring credits",
        statements: [
          sql`UPDATE c360_wallets SET version = x.version + 1, updated_at = ${at}
            FROM (SELECT value->>'id' AS id, CAST(value->>'version' AS BIGINT) AS version
              FROM ${jsonRows(sql, [...wallets].map(([id, w]) => ({ id, version: w.version })))}) AS x
            WHERE c360_wallets.customer_id = x.id`,
          sql`UPDATE c360_virtual_credits SET expired_amount = remaining, remaining = 0, status = 'expired'
            WHERE id IN (SELECT value->>'id' FROM ${jsonRows(sql, expired.map((c) => ({ id: c.id })))}) AND status = 'active'`,
          sql`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
              credit_remaining_after, reference, created_at)
            SELECT 'le_exp_' || (value->>'id'), 'txn_exp_' || (value->>'id'), value->>'customer', 'credit_expired',
              -CAST(value->>'amount' AS BIGINT), CAST(value->>'balance' AS BIGINT), value->>'id', 0,
              'expire:' || (value->>'id'), ${at}
            FROM ${jsonRows(sql, expired)} ORDER BY key`,
          outboxInsert(sql, events)
        ],
        // another writer reached one of the wallets since the read: read the batch again
        onFailure: (failure) => (failure._tag === "StaleWrite" ? rerun : undefined)
      })
      return {
        expired: expired.length,
        amount: expired.reduce((sum, c) => sum + c.amount, 0),
        last: String(due[due.length - 1]!.customer_id)
      }
    }).pipe(storage("expiring credits"))).pipe(
      Effect.map((r) => {
        cursor.from = r.last
        return { expired: r.expired, amount: r.amount }
      })
    )

  const expire: WalletStoreShape["expire"] = (now, options) =>
    fast !== undefined
      ? fast.expire(now, options)
      : Effect.suspend(() => {
        const cursor = { from: "" }
        return expireLoop(expireBatch(now, Math.min(options.batchSize, EXPIRY_BATCH_LIMIT), cursor), options.maxBatches)
      })

  const readForMerge: WalletStoreShape["readForMerge"] = (customerId) =>
    Effect.gen(function*() {
      const remembered = yield* uow.recall<WalletState>(memoKeys.walletById(customerId))
      if (remembered !== undefined) return remembered
      const [wallets = [], credits = []] = yield* uow.read([
        sql`SELECT customer_id, balance, version FROM c360_wallets WHERE customer_id = ${customerId}`,
        sql`SELECT id, amount, remaining, issued_at, expires_at, status, reason, ticket_id
          FROM c360_virtual_credits WHERE customer_id = ${customerId} AND status = 'active'`
      ])
      const wallet = wallets[0]
      return wallet === undefined ? undefined : {
        customerId,
        balance: int(wallet.balance),
        version: int(wallet.version),
        credits: credits.map(toCredit)
      } satisfies WalletState
    }).pipe(storage("reading a wallet for a merge"))

  const writeMerge: WalletStoreShape["writeMerge"] = (context, merge) =>
    Effect.gen(function*() {
      const { plan, transactionId } = merge
      const from = merge.merged.customerId
      const to = merge.survivor.customerId
      const at = context.at.getTime()
      const reference = `merge:${context.mergeId}`
      type Row = NewEntry & { readonly customer: string; readonly transaction: string; readonly reference: string }
      const entries: Array<Row> = []
      const entry = (e: Omit<Row, "id" | "transaction" | "reference" | "source" | "note">) =>
        entries.push({ ...e, id: `le_${transactionId.slice(4)}_${entries.length}`, transaction: transactionId, reference, source: null, note: null })
      // due credits leave as the expiry job's entries would (its ids: each credit expires once)
      for (const c of plan.expired) {
        entries.push({
          id: `le_exp_${c.id}`,
          transaction: `txn_exp_${c.id}`,
          reference: `expire:${c.id}`,
          customer: from,
          kind: "credit_expired",
          amount: -c.remaining,
          balanceAfter: merge.merged.balance,
          creditId: c.id,
          creditRemainingAfter: 0,
          source: null,
          note: null
        })
      }
      for (const { from: c } of plan.moved) {
        entry({ customer: from, kind: "credit_merged_out", amount: -c.remaining, balanceAfter: merge.merged.balance, creditId: c.id, creditRemainingAfter: 0 })
      }
      if (plan.balance > 0) {
        entry({ customer: from, kind: "merge_out", amount: -plan.balance, balanceAfter: 0, creditId: null, creditRemainingAfter: null })
        entry({ customer: to, kind: "merge_in", amount: plan.balance, balanceAfter: plan.survivorBalanceAfter, creditId: null, creditRemainingAfter: null })
      }
      for (const { to: c } of plan.moved) {
        entry({ customer: to, kind: "credit_merged_in", amount: c.amount, balanceAfter: plan.survivorBalanceAfter, creditId: c.id, creditRemainingAfter: c.amount })
      }
      const events = plan.expired.map((c): WalletCreditExpired => ({
        id: `evt_exp_${c.id}`,
        type: "wallet.credit_expired",
        channel: "wallets",
        subject: from,
        occurredAt: context.at,
        data: { creditId: c.id, amount: c.remaining, expiresAt: c.expiresAt.toISOString() }
      }))
      const statements: Array<Statement.Statement<unknown>> = [
        sql`UPDATE c360_wallets SET balance = 0, version = ${merge.merged.version + 1}, updated_at = ${at}
          WHERE customer_id = ${from}`,
        sql`UPDATE c360_wallets SET balance = ${plan.survivorBalanceAfter}, version = ${merge.survivor.version + 1},
          updated_at = ${at} WHERE customer_id = ${to}`
      ]
      if (plan.expired.length > 0) {
        statements.push(sql`UPDATE c360_virtual_credits SET expired_amount = remaining, remaining = 0, status = 'expired'
          WHERE id IN (SELECT value->>'id' FROM ${jsonRows(sql, plan.expired.map((c) => ({ id: c.id })))})
            AND customer_id = ${from} AND status = 'active'`)
      }
      if (plan.moved.length > 0) {
        statements.push(sql`UPDATE c360_virtual_credits SET merged_amount = remaining, remaining = 0, status = 'merged',
            merged_to = x.merged_to
          FROM (SELECT value->>'id' AS id, value->>'to' AS merged_to
            FROM ${jsonRows(sql, plan.moved.map((m) => ({ id: m.from.id, to: m.to.id })))}) AS x
          WHERE c360_virtual_credits.id = x.id AND c360_virtual_credits.customer_id = ${from}
            AND c360_virtual_credits.status = 'active'`)
        statements.push(sql`INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id,
            transaction_id, issued_at, expires_at)
          SELECT value->>'id', ${to}, CAST(value->>'amount' AS BIGINT), CAST(value->>'remaining' AS BIGINT),
            value->>'status', value->>'reason', value->>'ticket_id', ${transactionId},
            CAST(value->>'issued_at' AS BIGINT), CAST(value->>'expires_at' AS BIGINT)
          FROM ${jsonRows(sql, plan.moved.map((m) => creditRow(m.to)))} ORDER BY key`)
      }
      if (entries.length > 0) {
        statements.push(sql`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after,
            credit_id, credit_remaining_after, reference, source, note, created_at)
          SELECT value->>'id', value->>'transaction', value->>'customer', value->>'kind', CAST(value->>'amount' AS BIGINT),
            CAST(value->>'balanceAfter' AS BIGINT), value->>'creditId', CAST(value->>'creditRemainingAfter' AS BIGINT),
            value->>'reference', value->>'source', value->>'note', ${at}
          FROM ${jsonRows(sql, entries)} ORDER BY key`)
      }
      if (events.length > 0) statements.push(outboxInsert(sql, events))
      const journal = (table: string, rowId: string, action: "created" | "closed", data?: unknown) =>
        journalRow(sql, context, { part: "wallets", table, rowId, action, data })
      for (const e of entries) {
        statements.push(journal("c360_ledger_entries", e.id, "created", { kind: e.kind, amount: e.amount, customerId: e.customer }))
      }
      for (const c of plan.expired) {
        statements.push(journal("c360_virtual_credits", c.id, "closed", { status: "expired", remaining: c.remaining }))
      }
      for (const m of plan.moved) {
        statements.push(journal("c360_virtual_credits", m.from.id, "closed", { status: "merged", remaining: m.from.remaining, mergedTo: m.to.id }))
        statements.push(journal("c360_virtual_credits", m.to.id, "created", { from: m.from.id, amount: m.to.amount }))
      }
      yield* uow.write<never>({
        operation: "merging wallets",
        statements,
        // either wallet written since the read (a write, the expiry job, another merge): plan again
        onFailure: (failure) =>
          failure._tag === "StaleWrite" ||
            (failure._tag === "UniqueViolation" && failure.constraint.includes("c360_ledger_entries"))
            ? rerun
            : undefined
      })
      const after: WalletState = {
        customerId: to,
        balance: plan.survivorBalanceAfter,
        version: merge.survivor.version + 1,
        credits: [...merge.survivor.credits, ...plan.moved.map((m) => m.to)]
      }
      for (const c of [context.survivor, context.merged]) {
        yield* uow.remember(memoKeys.walletById(c.id), after)
        if (c.phone !== null) yield* uow.remember(memoKeys.walletByPhone(c.phone), after)
      }
    })

  return WalletStore.of({ apply, load, entries, expire, readForMerge, writeMerge })
})

/**
 * The store as a layer over the client and the unit of work (and, on the engines that have one, the
 * fast path's handle: `SqliteHandle`, `PgHandle`).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<WalletStore, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(WalletStore, make)
