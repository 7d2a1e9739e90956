/**
 * The wallet module's fast paths: the one engine-specific file of the module (see `WalletStore.ts`
 * for the write every engine shares). They are used only outside a caller's transaction, and only on
 * the engines they are written for; each applies the same planned change under the same guards as
 * the shared write, and each is measured by `npm run bench -- wallet` against a hand-written
 * baseline (README, "Performance").
 *
 * - PostgreSQL: the plan in TypeScript on the wallet's state, then one statement that writes
 *   everything — wallet, credits, ledger, idempotency record, outbox — only if the wallet's version is
 *   still the one planned on. The state is the one this process last saw for the wallet (one round
 *   trip when it is current) or a fresh read of the wallet, its active credits and the reference's
 *   record (two). A lost race re-reads and re-plans; after three, the request takes the wallet row
 *   lock (`FOR UPDATE`) so it cannot starve. Read and write are PL/pgSQL functions (`c360_wallet_state`,
 *   `c360_wallet_write_many`) so that their plans are kept per connection; concurrent writes share
 *   one call (group commit, below). Expiry is one set-based statement per batch. A wallet row held
 *   by another transaction (an external session, a stuck job) is waited for at most
 *   `WALLET_LOCK_TIMEOUT_MS`, in the batch and on the locked path alike; such a wallet's writes then
 *   take the locked path, on a connection of their own, for a few seconds, so they cannot fail the
 *   batches of other wallets again and again, and after the bounded retries they fail
 *   `StorageError` `contention` (HTTP 503) while the other wallets' writes keep flowing.
 * - SQLite: the same steps as one synchronous better-sqlite3 transaction (`BEGIN IMMEDIATE`) on the
 *   library's connection: no interleaving is possible, so no retry is needed. Expiry is set-based
 *   SQL over a temporary table, per batch.
 *
 * Contention (serialization failures, deadlocks, busy database, lost version races) and a broken
 * connection are retried with jittered exponential backoff, a bounded number of times, outside any
 * transaction. Retrying is safe because every write is idempotent by its reference.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { CustomerNotFound } from "../customers/index.js"
import { PgHandle, type PgHandleShape } from "../platform/pg/PgHandle.js"
import { eventRow } from "../platform/sql/OutboxSql.js"
import { OPTIMISTIC_ATTEMPTS, Retry, sqlFailure, withRetries } from "../platform/sql/Retry.js"
import { classify, recoverSqlDefects, storage } from "../platform/sql/SqlFailure.js"
import { StorageError } from "../kernel/Errors.js"
import { SqliteHandle, type SqliteHandleShape } from "../platform/sqlite/SqliteHandle.js"
import { WALLET_LOCK_TIMEOUT_MS } from "./Migrations.js"
import type { IdempotencyConflict, WalletState } from "./Wallet.js"
import {
  creditRow,
  expireLoop,
  notFound,
  replay,
  stateAfter,
  type StoredOperation,
  toCredit,
  type WalletChange,
  type WalletKey,
  type WalletRequest
} from "./WalletStore.js"
import { int } from "../platform/sql/Columns.js"


// --- PostgreSQL ---------------------------------------------------------------------------------

/**
 * One statement on the pool itself, as a named (prepared once per connection) statement, outside any
 * transaction. Failures are `SqlError`s carrying the driver error, classified like any other.
 */
const direct = (pool: PgPool, name: string, text: string, values: ReadonlyArray<unknown>) =>
  Effect.async<ReadonlyArray<Record<string, unknown>>, SqlError>((resume) => {
    pool.query({ name, text, values: values as Array<unknown> }, (error, result) => {
      if (error) resume(Effect.fail(new SqlError({ cause: error, message: `PostgreSQL: ${name} failed` })))
      else resume(Effect.succeed(result.rows as ReadonlyArray<Record<string, unknown>>))
    })
  })

type PgPool = PgHandleShape["pool"]

/** A write's outcome in a batch: applied, planned on an outdated version, or a reference already recorded. */
type WriteOutcome = "applied" | "stale" | "duplicate"

interface PendingWrite {
  readonly wallet: string
  readonly payload: string
  readonly done: (outcome: "applied" | "stale" | SqlError) => void
}

/** The driver error PostgreSQL gives for a reference already recorded, so the caller's usual path replays it. */
const duplicateReference = () =>
  new SqlError({
    cause: Object.assign(new Error("duplicate key value violates unique constraint"), {
      code: "23505",
      constraint: "c360_wallet_operations_pkey"
    }),
    message: "PostgreSQL: the reference is already recorded"
  })

/**
 * The outcomes of a `c360_wallet_write_many` answer, one per write: `applied`, `stale`, or the unique
 * violation PostgreSQL gives for a reference already recorded (so the caller's usual path replays it).
 * An answer that cannot be read fails every write (its caller retries; the references make a write
 * that did commit replay).
 */
const outcomesOf = (raw: unknown, writes: number): ReadonlyArray<"applied" | "stale" | SqlError> => {
  let outcomes: ReadonlyArray<WriteOutcome>
  try {
    outcomes = (typeof raw === "string" ? JSON.parse(raw) : raw) as ReadonlyArray<WriteOutcome>
    if (!Array.isArray(outcomes)) throw new Error("not an array")
  } catch (cause) {
    const failure = new SqlError({ cause, message: "PostgreSQL: unreadable c360_wallet_write_many result" })
    return Array.from({ length: writes }, () => failure)
  }
  return Array.from({ length: writes }, (_, i) => {
    const o = outcomes[i]
    return o === "applied" || o === "stale" ? o : o === "duplicate" ? duplicateReference() : new SqlError({
      cause: new Error(`unexpected outcome ${String(o)}`),
      message: "PostgreSQL: incomplete c360_wallet_write_many result"
    })
  })
}

/** @internal How many batches may run at once on a pool of `max` connections: an eighth of it, at least two. */
export const batchesInFlight = (max: number) => Math.min(max, Math.max(2, Math.ceil(max / 8)))

/**
 * @internal Group commit from the client. A write is sent at once while fewer than `maxInFlight`
 * statements are running; otherwise it waits, and the writes that waited go together as one statement
 * and one transaction (`c360_wallet_write_many`, migration 0012), at most one per wallet and in
 * wallet-id order, the lock order of every writer. Under load this shares one commit — its WAL flush
 * and its round trip — and the ledger and outbox inserts among several withdrawals; alone, a write
 * goes out immediately, through the same statement.
 *
 * The writes that waited are spread evenly over the free slots (a batch runs on one backend, so two
 * batches of eight finish sooner than one of sixteen). The limit is an eighth of the pool, at least
 * two (`batchesInFlight`): measured with 16 callers on a 16-connection pool, two batches in flight
 * turned around 1.37× the withdrawals of one and 1.17× those of three (each batch's commit waits for
 * the WAL flush; more batches mean more flushes and more per-batch work for the same writes).
 *
 * A batch that fails as a whole — a write the database refuses, a deadlock, a broken connection — is
 * sent again one write at a time, so that one write that cannot be written fails no other; a write
 * that fails alone fails its caller, who retries contention as usual. Sending again is safe: a failed
 * statement wrote nothing, and should a connection break while committing, a write that did commit
 * finds its reference recorded and replays.
 */
export const makeCombiner = (pool: PgPool, maxInFlight: number, maxBatch: number) => {
  const queue: Array<PendingWrite> = []
  let inFlight = 0

  const send = (batch: ReadonlyArray<PendingWrite>, finished: () => void) => {
    pool.query(
      { name: "c360_wallet_write_many", text: "SELECT c360_wallet_write_many($1::jsonb) AS results", values: [`[${batch.map((w) => w.payload).join(",")}]`] },
      (error, result) => {
        if (error && batch.length > 1) {
          // the slot stays taken until every write has been answered alone
          let left = batch.length
          for (const w of batch) send([w], () => --left === 0 && finished())
          return
        }
        finished()
        if (error) return batch[0]!.done(new SqlError({ cause: error, message: "PostgreSQL: c360_wallet_write_many failed" }))
        const outcomes = outcomesOf(result.rows[0]?.results, batch.length)
        batch.forEach((w, i) => w.done(outcomes[i]!))
      }
    )
  }

  // Sending waits for the end of the current turn, so that every fiber woken by the same event (a
  // batch's answer resumes all its writers) has queued its next write by then.
  let scheduled = false
  const schedule = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(() => {
      scheduled = false
      pump()
    })
  }

  const pump = (): void => {
    while (inFlight < maxInFlight && queue.length > 0) {
      // What waits is spread over the free slots: a batch runs on one backend, one write after
      // another, so two half batches side by side finish sooner than one whole batch.
      const limit = Math.min(maxBatch, Math.ceil(queue.length / (maxInFlight - inFlight)))
      const wallets = new Set<string>()
      const batch: Array<PendingWrite> = []
      const later: Array<PendingWrite> = []
      for (const w of queue) {
        if (batch.length < limit && !wallets.has(w.wallet)) {
          wallets.add(w.wallet)
          batch.push(w)
        } else later.push(w)
      }
      queue.length = 0
      queue.push(...later)
      batch.sort((a, b) => (a.wallet < b.wallet ? -1 : a.wallet > b.wallet ? 1 : 0))
      inFlight += 1
      send(batch, () => {
        inFlight -= 1
        schedule()
      })
    }
  }

  /** Queues a write; `done` is called once with its outcome. Returns a function that withdraws it if not yet sent. */
  const submit = (wallet: string, payload: string, done: PendingWrite["done"]) => {
    const pending: PendingWrite = { wallet, payload, done }
    queue.push(pending)
    schedule()
    return () => {
      const i = queue.indexOf(pending)
      if (i >= 0) queue.splice(i, 1)
    }
  }

  const write = (wallet: string, payload: string): Effect.Effect<"applied" | "stale", SqlError> =>
    Effect.async<"applied" | "stale", SqlError>((resume) => {
      const withdraw = submit(wallet, payload, (outcome) => resume(typeof outcome === "string" ? Effect.succeed(outcome) : Effect.fail(outcome)))
      // interrupted before it was sent: withdraw it (once sent, its outcome is simply not awaited)
      return Effect.sync(withdraw)
    })
  return Object.assign(write, { submit })
}

/** How long a wallet that hit the lock timeout takes the locked path. */
const STUCK_FOR_MS = 5_000

const makePg = (sql: SqlClient.SqlClient, pool: PgPool | undefined) => {
  /** The locked path's transaction waits for a wallet row at most as long as the batch function does. */
  const boundedLockWait = sql.unsafe(`SET LOCAL lock_timeout = '${WALLET_LOCK_TIMEOUT_MS}ms'`)
  const combine = pool === undefined ? undefined : makeCombiner(pool, batchesInFlight(pool.options.max), 32)
  const loadRow = (key: WalletKey, reference: string | null, locked: boolean) => {
    const where = "phone" in key ? sql`c.phone = ${key.phone}` : sql`c.id = ${key.customerId}`
    // a merged profile's phone or id: its survivor's wallet (DOMAIN §9a)
    return sql<Record<string, unknown>>`SELECT w.customer_id, w.balance, w.version,
        (SELECT coalesce(json_agg(json_build_object('id', vc.id, 'amount', vc.amount, 'remaining', vc.remaining,
            'issued_at', vc.issued_at, 'expires_at', vc.expires_at, 'status', vc.status, 'reason', vc.reason,
            'ticket_id', vc.ticket_id)), '[]'::json)
          FROM c360_virtual_credits vc WHERE vc.customer_id = w.customer_id AND vc.status = 'active') AS credits,
        (SELECT json_build_object('kind', o.kind, 'fingerprint', o.fingerprint, 'result', o.result)
          FROM c360_wallet_operations o WHERE o.reference = ${reference ?? ""}) AS operation
      FROM c360_customers c JOIN c360_wallets w ON w.customer_id = COALESCE(c.merged_into, c.id)
      WHERE ${where} ${locked ? sql`FOR UPDATE OF w` : sql.literal("")}`
  }

  const toState = (row: Record<string, unknown>): WalletState => {
    const credits = (typeof row.credits === "string" ? JSON.parse(row.credits) : row.credits) as Array<Record<string, unknown>>
    return {
      customerId: String(row.customer_id),
      balance: int(row.balance),
      version: int(row.version),
      credits: credits.map(toCredit)
    }
  }

  /** The JSON of one planned write, as `c360_wallet_write_many` reads it. */
  const payloadOf = (state: WalletState, change: WalletChange, request: WalletRequest<unknown>) =>
    JSON.stringify({
      customer: state.customerId,
      phone: "phone" in request.wallet ? request.wallet.phone : null,
      version: state.version,
      balance: change.balanceAfter,
      at: change.at.getTime(),
      reference: request.reference,
      transaction: change.transactionId,
      kind: request.kind,
      fingerprint: request.fingerprint,
      result: JSON.stringify(change.result),
      creditUpdates: change.creditUpdates,
      newCredits: change.newCredits.map(creditRow),
      // written out rather than spread: this runs for every write, and spreading costs more than it says
      entries: change.entries.map((e, ord) => ({
        id: e.id,
        kind: e.kind,
        amount: e.amount,
        balanceAfter: e.balanceAfter,
        creditId: e.creditId,
        creditRemainingAfter: e.creditRemainingAfter,
        source: e.source,
        note: e.note,
        ord
      })),
      events: change.events.map((e, ord) => Object.assign(eventRow(e), { ord }))
    })

  const write = (state: WalletState, change: WalletChange, request: WalletRequest<unknown>, inTransaction: boolean) => {
    const payload = payloadOf(state, change, request)
    if (combine !== undefined && !inTransaction) {
      return Effect.map(combine(state.customerId, payload), (outcome) => outcome === "applied")
    }
    // in the locked path's transaction: the same statement, for one write
    return Effect.flatMap(
      sql<Record<string, unknown>>`SELECT c360_wallet_write_many(${`[${payload}]`}::jsonb) AS results`,
      (r) => {
        const [outcome] = outcomesOf(r[0]?.results, 1)
        return typeof outcome === "string" ? Effect.succeed(outcome === "applied") : Effect.fail(outcome!)
      }
    )
  }

  /** The unlocked read, through the function whose plan the connection keeps. */
  const readState = (key: WalletKey, reference: string | null, inTransaction = false) => {
    const phone = "phone" in key ? key.phone : null
    const customer = "phone" in key ? null : key.customerId
    const rows: Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError> = pool !== undefined && !inTransaction
      ? direct(pool, "c360_wallet_state", "SELECT c360_wallet_state($1, $2, $3) AS state", [phone, customer, reference ?? ""])
      : sql<Record<string, unknown>>`SELECT c360_wallet_state(${phone}, ${customer}, ${reference ?? ""}) AS state`
    return rows.pipe(
      Effect.map((rows) => {
        const state = rows[0]?.state
        if (state == null) return []
        return [(typeof state === "string" ? JSON.parse(state) : state) as Record<string, unknown>]
      })
    )
  }

  // The state this process last read or wrote, per wallet: a write planned on it needs one round trip
  // instead of two. It is only a guess — the write applies only if the wallet's version still matches,
  // and a plan that fails on it (InsufficientFunds, a recorded reference) is re-done on a fresh read.
  const cache = new Map<string, WalletState>()
  const cacheKey = (key: WalletKey) => ("phone" in key ? `p:${key.phone}` : `c:${key.customerId}`)
  const remember = (key: WalletKey, state: WalletState) => {
    const k = cacheKey(key)
    cache.delete(k)
    cache.set(k, state)
    if (cache.size > 10_000) cache.delete(cache.keys().next().value!)
  }

  /** Writes a change planned on `state`; on success remembers the state the change leads to. */
  /** What the process remembers after a write planned on `state`: the state it led to, or nothing. */
  const settle = (key: WalletKey, state: WalletState, change: WalletChange, applied: boolean) => {
    if (applied) remember(key, stateAfter(state, change))
    else cache.delete(cacheKey(key))
    return applied
  }

  const commit = (
    key: WalletKey,
    state: WalletState,
    change: WalletChange,
    request: WalletRequest<unknown>,
    inTransaction = false
  ) => Effect.map(write(state, change, request, inTransaction), (applied) => settle(key, state, change, applied))

  /**
   * One round trip when the remembered state is current: the plan on it, sent as one step (no
   * intermediate effects on the hot path). Where that cannot work — nothing remembered, a plan that
   * fails on it (InsufficientFunds, a recorded reference), a version that moved on, a reference already
   * recorded — the attempt goes on with `fresh` (read and plan afresh). `undefined`: go fresh at once.
   */
  const fromMemory = <A, E>(
    request: WalletRequest<E>,
    fresh: Effect.Effect<A | { replayed: boolean; result: unknown }, E | SqlError | Retry | CustomerNotFound | IdempotencyConflict>
  ) => {
    const remembered = cache.get(cacheKey(request.wallet))
    if (remembered === undefined) return undefined
    const planned = request.plan(remembered)
    if (Either.isLeft(planned)) return undefined
    const change = planned.right
    if (combine === undefined) {
      return commit(request.wallet, remembered, change, request as WalletRequest<unknown>).pipe(
        Effect.flatMap((applied) => (applied ? Effect.succeed({ replayed: false, result: change.result }) : fresh)),
        // a unique violation here is the reference already recorded: the fresh path replays it
        Effect.catchIf((e): e is SqlError => e instanceof SqlError && classify(e)._tag === "UniqueViolation", () => fresh)
      )
    }
    const payload = payloadOf(remembered, change, request as WalletRequest<unknown>)
    return Effect.async<A | { replayed: boolean; result: unknown }, E | SqlError | Retry | CustomerNotFound | IdempotencyConflict>((resume) => {
      const withdraw = combine.submit(remembered.customerId, payload, (outcome) => {
        settle(request.wallet, remembered, change, outcome === "applied")
        if (outcome === "applied") return resume(Effect.succeed({ replayed: false, result: change.result }))
        // stale: the version moved on; a unique violation: the reference is recorded — both go fresh
        if (outcome === "stale" || classify(outcome)._tag === "UniqueViolation") return resume(fresh)
        resume(Effect.fail(outcome))
      })
      return Effect.sync(withdraw)
    })
  }

  // Wallets whose row another transaction held past the lock timeout, until when: their writes go
  // straight to the locked path, on a connection of their own, so that a stuck wallet does not fail
  // the group-commit batches of the other wallets again and again.
  const stuck = new Map<string, number>()
  const isStuck = (key: WalletKey) => {
    const until = stuck.get(cacheKey(key))
    if (until === undefined) return false
    if (until > Date.now()) return true
    stuck.delete(cacheKey(key))
    return false
  }
  const noteLockTimeout = (key: WalletKey) => (e: SqlError) => {
    if ((e.cause as { code?: unknown } | undefined)?.code === "55P03") {
      stuck.set(cacheKey(key), Date.now() + STUCK_FOR_MS)
      if (stuck.size > 10_000) stuck.delete(stuck.keys().next().value!)
    }
  }

  const apply = <E>(request: WalletRequest<E>) =>
    withRetries(`a wallet ${request.kind}`, (n) => {
      const locked = n >= OPTIMISTIC_ATTEMPTS || isStuck(request.wallet)
      const fresh = Effect.gen(function*() {
        // Lock first, then read in a new statement: a SELECT … FOR UPDATE that had to wait returns the
        // newest wallet row but evaluates its subqueries (credits, the reference) on its older snapshot.
        if (locked) yield* loadRow(request.wallet, null, true)
        const rows = yield* readState(request.wallet, request.reference, locked)
        if (rows.length === 0) return yield* notFound(request.wallet)
        const row = rows[0]!
        if (row.operation != null) {
          const op = (typeof row.operation === "string" ? JSON.parse(row.operation) : row.operation) as StoredOperation
          return yield* replay(request.reference, request.kind, request.fingerprint, op)
        }
        const state = toState(row)
        remember(request.wallet, state)
        const change = yield* request.plan(state)
        const applied = yield* commit(request.wallet, state, change, request as WalletRequest<unknown>, locked)
        if (!applied) return yield* Effect.fail(new Retry("stale"))
        return { replayed: false, result: change.result }
      })
      const attempt = locked
        ? recoverSqlDefects(sql.withTransaction(Effect.zipRight(boundedLockWait, fresh)))
        : (n === 0 && fromMemory(request, fresh)) || fresh
      return Effect.catchIf(attempt, (e): e is SqlError => e instanceof SqlError, (e) => {
        noteLockTimeout(request.wallet)(e)
        return sqlFailure(`a wallet ${request.kind}`)(e)
      })
    })

  const load = (key: WalletKey) =>
    readState(key, null).pipe(
      storage("reading a wallet"),
      Effect.flatMap((rows) => (rows.length === 0 ? Effect.fail(notFound(key)) : Effect.succeed(toState(rows[0]!))))
    )

  const expireBatch = (now: Date, limit: number) => {
    const at = now.getTime()
    return withRetries("expiring credits", () =>
      // Wallets are locked first and in id order — the order every writer uses (wallet, then its
      // credits) — so jobs and writers do not deadlock, and the outbox rows get their sequence numbers
      // under the wallet locks (the relay's per-wallet order). A job that waited finds the credits
      // another job expired no longer active (the UPDATE re-checks its WHERE on the newest row).
      sql<{ expired: unknown; amount: unknown }>`WITH due AS (
          SELECT w.customer_id, w.balance FROM c360_wallets w
          WHERE w.customer_id IN (
            SELECT customer_id FROM c360_virtual_credits
            WHERE status = 'active' AND expires_at <= ${at} ORDER BY expires_at, id LIMIT ${limit}
          )
          ORDER BY w.customer_id
          FOR UPDATE
        ), upd AS (
          UPDATE c360_virtual_credits vc SET expired_amount = vc.remaining, remaining = 0, status = 'expired'
          FROM due WHERE vc.customer_id = due.customer_id AND vc.status = 'active' AND vc.expires_at <= ${at}
          RETURNING vc.id, vc.customer_id, vc.expired_amount AS amount, vc.expires_at, due.balance
        ), w AS (
          UPDATE c360_wallets w SET version = w.version + 1, updated_at = ${at}
          FROM (SELECT DISTINCT customer_id FROM upd) x WHERE w.customer_id = x.customer_id
        ), le AS (
          INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
            credit_remaining_after, reference, created_at)
          SELECT 'le_exp_' || upd.id, 'txn_exp_' || upd.id, upd.customer_id, 'credit_expired', -upd.amount, upd.balance,
            upd.id, 0, 'expire:' || upd.id, ${at}
          FROM upd ORDER BY upd.expires_at, upd.id
        ), ob AS (
          INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
          SELECT 'evt_exp_' || upd.id, 'wallets', 'wallet.credit_expired', upd.customer_id,
            json_build_object('creditId', upd.id, 'amount', upd.amount,
              'expiresAt', to_char(to_timestamp(upd.expires_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text,
            ${at}
          FROM upd ORDER BY upd.expires_at, upd.id
        )
        SELECT count(*) AS expired, coalesce(sum(amount), 0) AS amount FROM upd`.pipe(
        Effect.map((rows) => ({ expired: int(rows[0]?.expired), amount: int(rows[0]?.amount) })),
        Effect.catchTag("SqlError", sqlFailure("expiring credits"))
      ))
  }

  const expire = (now: Date, options: { readonly batchSize: number; readonly maxBatches: number }) =>
    expireLoop(expireBatch(now, options.batchSize), options.maxBatches)

  return { apply, load, expire }
}

// --- SQLite ---------------------------------------------------------------------------------------

type SqliteOutcome =
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "Recorded"; readonly op: StoredOperation }
  | { readonly _tag: "Refused"; readonly error: unknown }
  | { readonly _tag: "Applied"; readonly result: unknown }

/**
 * SQLite: the handle has already waited, asynchronously and as long as configured (`busyTimeoutMs`),
 * for another process's write lock; a write still refused as busy is contention, not retried again.
 */
const sqliteFailure = (operation: string) => (e: SqlError): Effect.Effect<never, Retry | StorageError> =>
  classify(e)._tag === "Retryable"
    ? Effect.fail(new StorageError({ reason: "contention", operation }))
    : sqlFailure(operation)(e)

const makeSqlite = (handle: SqliteHandleShape) => {
  const db = handle.db
  const statements = {
    // a merged profile's phone or id: its survivor's wallet (DOMAIN §9a)
    walletByPhone: db.prepare(`SELECT w.customer_id, w.balance, w.version FROM c360_customers c
      JOIN c360_wallets w ON w.customer_id = COALESCE(c.merged_into, c.id) WHERE c.phone = ?`),
    walletById: db.prepare(`SELECT w.customer_id, w.balance, w.version FROM c360_customers c
      JOIN c360_wallets w ON w.customer_id = COALESCE(c.merged_into, c.id) WHERE c.id = ?`),
    credits: db.prepare(`SELECT id, amount, remaining, issued_at, expires_at, status, reason, ticket_id
      FROM c360_virtual_credits WHERE customer_id = ? AND status = 'active'`),
    operation: db.prepare(`SELECT kind, fingerprint, result FROM c360_wallet_operations WHERE reference = ?`),
    updateWallet: db.prepare(`UPDATE c360_wallets SET balance = ?, version = version + 1, updated_at = ?
      WHERE customer_id = ? AND version = ?`),
    insertOperation: db.prepare(`INSERT INTO c360_wallet_operations
      (reference, transaction_id, customer_id, kind, fingerprint, result, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    updateCredit: db.prepare(`UPDATE c360_virtual_credits SET remaining = ?, status = ?
      WHERE id = ? AND customer_id = ? AND status = 'active'`),
    insertCredit: db.prepare(`INSERT INTO c360_virtual_credits
      (id, customer_id, amount, remaining, status, reason, ticket_id, transaction_id, issued_at, expires_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertEntry: db.prepare(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount,
      balance_after, credit_id, credit_remaining_after, reference, source, note, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertEvent: db.prepare(`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
      VALUES (?, ?, ?, ?, ?, ?)`)
  }

  const loadState = (key: WalletKey): WalletState | undefined => {
    const row = ("phone" in key ? statements.walletByPhone.get(key.phone) : statements.walletById.get(key.customerId)) as
      | Record<string, unknown>
      | undefined
    if (row === undefined) return undefined
    const customerId = String(row.customer_id)
    return {
      customerId,
      balance: int(row.balance),
      version: int(row.version),
      credits: (statements.credits.all(customerId) as Array<Record<string, unknown>>).map(toCredit)
    }
  }

  const transact = db.transaction((request: WalletRequest<unknown>): SqliteOutcome => {
    const state = loadState(request.wallet)
    if (state === undefined) return { _tag: "NotFound" }
    const op = statements.operation.get(request.reference) as StoredOperation | undefined
    if (op !== undefined) return { _tag: "Recorded", op }
    const planned = request.plan(state)
    if (Either.isLeft(planned)) return { _tag: "Refused", error: planned.left }
    const change = planned.right
    const at = change.at.getTime()
    const customerId = state.customerId
    if (statements.updateWallet.run(change.balanceAfter, at, customerId, state.version).changes !== 1) {
      throw new Error("wallet changed under its write lock") // impossible: IMMEDIATE holds the lock
    }
    statements.insertOperation.run(
      request.reference, change.transactionId, customerId, request.kind, request.fingerprint, JSON.stringify(change.result), at
    )
    for (const u of change.creditUpdates) {
      if (statements.updateCredit.run(u.remaining, u.status, u.id, customerId).changes !== 1) {
        throw new Error("credit changed under its write lock")
      }
    }
    for (const c of change.newCredits) {
      statements.insertCredit.run(
        c.id, customerId, c.amount, c.remaining, c.status, c.reason, c.ticketId, change.transactionId,
        c.issuedAt.getTime(), c.expiresAt.getTime()
      )
    }
    for (const e of change.entries) {
      statements.insertEntry.run(
        e.id, change.transactionId, customerId, e.kind, e.amount, e.balanceAfter, e.creditId, e.creditRemainingAfter,
        request.reference, e.source, e.note, at
      )
    }
    for (const e of change.events) {
      const r = eventRow(e)
      statements.insertEvent.run(r.id, r.channel, r.type, r.subject, r.payload, r.occurred_at)
    }
    return { _tag: "Applied", result: change.result }
  })

  const apply = <E>(request: WalletRequest<E>) =>
    withRetries(`a wallet ${request.kind}`, () =>
      handle.run(() => transact.immediate(request as WalletRequest<unknown>)).pipe(
        Effect.catchTag("SqlError", sqliteFailure(`a wallet ${request.kind}`)),
        Effect.flatMap((outcome): Effect.Effect<{ replayed: boolean; result: unknown }, E | CustomerNotFound | IdempotencyConflict> => {
          switch (outcome._tag) {
            case "NotFound":
              return Effect.fail(notFound(request.wallet))
            case "Recorded":
              return replay(request.reference, request.kind, request.fingerprint, outcome.op)
            case "Refused":
              return Effect.fail(outcome.error as E)
            case "Applied":
              return Effect.succeed({ replayed: false, result: outcome.result })
          }
        })
      ))

  const load = (key: WalletKey) =>
    handle.run(() => loadState(key)).pipe(
      storage("reading a wallet"),
      Effect.flatMap((state) => (state === undefined ? Effect.fail(notFound(key)) : Effect.succeed(state)))
    )

  db.exec(`CREATE TEMP TABLE IF NOT EXISTS c360_expiry_batch (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL,
    amount INTEGER NOT NULL, expires_at INTEGER NOT NULL)`)
  const expiry = {
    clear: db.prepare(`DELETE FROM temp.c360_expiry_batch`),
    // Wallet by wallet (from a cursor), not earliest-first: a batch then touches one stretch of the
    // per-wallet indexes instead of pages all over them, which is what each commit writes to the WAL.
    pick: db.prepare(`INSERT INTO temp.c360_expiry_batch (id, customer_id, amount, expires_at)
      SELECT id, customer_id, remaining, expires_at FROM c360_virtual_credits INDEXED BY c360_virtual_credits_wallet_idx
      WHERE status = 'active' AND customer_id >= ? AND expires_at <= ?
      ORDER BY customer_id, expires_at, id LIMIT ?`),
    cursor: db.prepare(`SELECT max(customer_id) AS last FROM temp.c360_expiry_batch`),
    entries: db.prepare(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after,
        credit_id, credit_remaining_after, reference, created_at)
      SELECT 'le_exp_' || b.id, 'txn_exp_' || b.id, b.customer_id, 'credit_expired', -b.amount, w.balance, b.id, 0,
        'expire:' || b.id, ?
      FROM temp.c360_expiry_batch b JOIN c360_wallets w ON w.customer_id = b.customer_id
      ORDER BY b.customer_id, b.expires_at, b.id`),
    events: db.prepare(`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
      SELECT 'evt_exp_' || b.id, 'wallets', 'wallet.credit_expired', b.customer_id,
        json_object('creditId', b.id, 'amount', b.amount,
          'expiresAt', strftime('%Y-%m-%dT%H:%M:%fZ', b.expires_at / 1000.0, 'unixepoch')), ?
      FROM temp.c360_expiry_batch b ORDER BY b.customer_id, b.expires_at, b.id`),
    credits: db.prepare(`UPDATE c360_virtual_credits SET expired_amount = remaining, remaining = 0, status = 'expired'
      WHERE id IN (SELECT id FROM temp.c360_expiry_batch)`),
    wallets: db.prepare(`UPDATE c360_wallets SET version = version + 1, updated_at = ?
      WHERE customer_id IN (SELECT DISTINCT customer_id FROM temp.c360_expiry_batch)`),
    totals: db.prepare(`SELECT count(*) AS expired, coalesce(sum(amount), 0) AS amount FROM temp.c360_expiry_batch`)
  }
  const expireTransaction = db.transaction((at: number, limit: number, from: string) => {
    expiry.clear.run()
    expiry.pick.run(from, at, limit)
    const totals = expiry.totals.get() as { expired: number; amount: number }
    const last = (expiry.cursor.get() as { last: string | null }).last ?? from
    if (totals.expired > 0) {
      expiry.entries.run(at)
      expiry.events.run(at)
      expiry.credits.run()
      expiry.wallets.run(at)
    }
    expiry.clear.run()
    return { expired: int(totals.expired), amount: int(totals.amount), last }
  })
  /** One batch from the wallet cursor; the cursor moves to the batch's last wallet (whose remaining
   * due credits, if the batch cut through them, are still active and so picked again). */
  const expireBatch = (now: Date, limit: number, cursor: { from: string }) =>
    withRetries("expiring credits", () =>
      handle.run(() => expireTransaction.immediate(now.getTime(), limit, cursor.from)).pipe(
        Effect.catchTag("SqlError", sqliteFailure("expiring credits"))
      )).pipe(Effect.map((r) => {
        cursor.from = r.last
        return { expired: r.expired, amount: r.amount }
      }))

  // A batch touches pages all over the per-wallet indexes, so each commit appends thousands of pages
  // to the WAL; with the default autocheckpoint (1000 pages) every batch would also pay a full
  // checkpoint. The job checkpoints once, at its end, instead.
  const expire = (now: Date, options: { readonly batchSize: number; readonly maxBatches: number }) =>
    Effect.acquireUseRelease(
      handle.run((db) => {
        const previous = db.pragma("wal_autocheckpoint", { simple: true }) as number
        db.pragma("wal_autocheckpoint = 0")
        return previous
      }).pipe(Effect.orElseSucceed(() => 1000)),
      () => Effect.suspend(() => {
        const cursor = { from: "" }
        return expireLoop(expireBatch(now, options.batchSize, cursor), options.maxBatches)
      }),
      (previous) =>
        handle.run((db) => {
          db.pragma(`wal_autocheckpoint = ${previous}`)
          db.pragma("wal_checkpoint(PASSIVE)")
        }).pipe(Effect.ignore)
    )

  return { apply, load, expire }
}

/**
 * The fast path of the engine behind the client in context: SQLite when the library's SQLite
 * handle is there, PostgreSQL on a PostgreSQL client; `undefined` elsewhere (the shared write serves).
 *
 * @internal
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const handle = yield* Effect.serviceOption(SqliteHandle)
  const pgHandle = yield* Effect.serviceOption(PgHandle)
  if (Option.isSome(handle)) return makeSqlite(handle.value)
  return sql.onDialectOrElse({
    pg: () => makePg(sql, Option.getOrUndefined(pgHandle)?.pool),
    orElse: () => undefined
  })
})
