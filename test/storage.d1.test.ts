/**
 * What the D1 adapter adds to the shared contracts (customers.d1, wallets.d1): D1 under
 * concurrency, as Workers meet it. Several isolates — here, independent layers over one D1
 * database, each running its own migrations and its own unit of work — read and write the same rows
 * at once. D1 has no locks and no interactive transactions: what must hold is decided by the
 * database (unique keys, the wallet version guard) inside single batches. Runs on the live clock:
 * the stores' retry backoff really sleeps.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { migrations as allMigrations } from "../src/modules.js"
import { classify } from "../src/platform/sql/SqlFailure.js"
import { D1Database } from "../src/d1.js"
import { Transactions } from "../src/platform/Transactions.js"
import { Customers } from "../src/customers/Customers.js"
import { Wallets, type WalletsShape } from "../src/wallets/Wallets.js"
import { freshPhone, servicesOver } from "./contract/customers.js"
import { auditLedger } from "./support/audit.js"
import { atTime } from "./support/clock.js"
import { freshD1 } from "./support/d1.js"

const DAY = 86_400_000

/** An isolate: the library's services over its own D1 layer on the shared binding. */
const isolate = (binding: D1Database.D1DatabaseLike) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const runtime = ManagedRuntime.make(servicesOver(D1Database.layer({ binding })))
      return Effect.as(Effect.promise(() => runtime.runtime()), runtime)
    }),
    (runtime) => Effect.promise(() => runtime.dispose())
  )
type Isolate = Effect.Effect.Success<ReturnType<typeof isolate>>

/** `n` isolates started together on the binding. */
const isolates = (binding: D1Database.D1DatabaseLike, n: number) =>
  Effect.all(Array.from({ length: n }, () => isolate(binding)), { concurrency: "unbounded" })

type Services = Customers | Wallets | Transactions | SqlClient.SqlClient

/** Runs `effect` on an isolate; its exit, whatever it is. */
const on = <A, E>(runtime: Isolate, effect: Effect.Effect<A, E, Services>) =>
  Effect.promise(() => runtime.runPromiseExit(effect))

const tagOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
  return failure === undefined ? `defect: ${Cause.pretty(exit.cause)}` : String((failure as { _tag?: unknown })._tag)
}

const rows = <A extends object>(runtime: Isolate, query: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<A>, unknown>) =>
  Effect.promise(() => runtime.runPromise(Effect.orDie(Effect.flatMap(SqlClient.SqlClient, query))))

const audit = (runtime: Isolate) => Effect.promise(() => runtime.runPromise(auditLedger))

const newCustomer = (runtime: Isolate) =>
  Effect.gen(function*() {
    const phone = freshPhone()
    const exit = yield* on(runtime, Effect.flatMap(Customers, (c) => c.create({ phone, name: "Concurrent" })))
    expect(tagOf(exit)).toBe("success")
    return phone
  })

/**
 * A binding that lets a test act between a wallet write's read and its write: `beforeWalletWrite`
 * runs before the first batch that updates a wallet, which then goes to the database as planned;
 * `afterWalletWrite` sees that batch's failure, if it fails, before the store does.
 */
const interceptingBinding = (
  inner: D1Database.D1DatabaseLike,
  beforeWalletWrite: () => Promise<void>,
  afterWalletWrite: (error: unknown) => Promise<void>
): D1Database.D1DatabaseLike => {
  interface Traced extends D1Database.D1PreparedStatementLike {
    readonly sql: string
    readonly inner: D1Database.D1PreparedStatementLike
  }
  const trace = (statement: D1Database.D1PreparedStatementLike, sql: string): Traced => ({
    sql,
    inner: statement,
    bind: (...values) => trace(statement.bind(...values), sql),
    all: () => statement.all(),
    raw: () => statement.raw(),
    run: () => statement.run()
  })
  let armed = true
  return {
    prepare: (sql) => trace(inner.prepare(sql), sql),
    batch: async (statements) => {
      const traced = statements as unknown as ReadonlyArray<Traced>
      const plain = traced.map((s) => s.inner)
      if (!armed || !/^UPDATE c360_wallets SET balance/.test(traced[0]?.sql.trim() ?? "")) return inner.batch(plain)
      armed = false
      await beforeWalletWrite()
      try {
        return await inner.batch(plain)
      } catch (error) {
        await afterWalletWrite(error)
        throw error
      }
    }
  }
}

describe("storage on Cloudflare D1 (Miniflare): atomic batches under concurrency", () => {
  it.scopedLive("isolates starting together on a fresh database run each migration once, entirely", () =>
    Effect.gen(function*() {
      const binding = yield* freshD1
      const started = yield* isolates(binding, 6)
      const migrations = yield* rows(started[0]!, (sql) =>
        sql<{ migration_id: number; n: number }>`SELECT migration_id, count(*) AS n FROM c360_migrations GROUP BY migration_id`)
      // every migration of every module, each once
      expect(migrations.length).toBe(Object.keys(allMigrations).length)
      expect(migrations.every((m) => m.n === 1)).toBe(true)
      const guard = yield* rows(started[0]!, (sql) =>
        sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name = 'c360_wallets_version_guard'`)
      expect(guard).toHaveLength(1)
      // every isolate works on the schema
      const phone = yield* newCustomer(started[1]!)
      for (const runtime of started) {
        expect(tagOf(yield* on(runtime, Effect.flatMap(Wallets, (w) => w.get(phone))))).toBe("success")
      }
    }))

  it.scopedLive("16 concurrent getOrCreate of one new phone across 4 isolates create one customer, one wallet, one event", () =>
    Effect.gen(function*() {
      const binding = yield* freshD1
      const started = yield* isolates(binding, 4)
      const phone = freshPhone()
      const exits = yield* Effect.all(
        Array.from({ length: 16 }, (_, i) =>
          on(started[i % 4]!, Effect.flatMap(Customers, (c) => c.getOrCreate({ phone, source: "ticket" })))),
        { concurrency: "unbounded" }
      )
      expect(exits.map(tagOf)).toEqual(exits.map(() => "success"))
      const results = exits.map((e) => Exit.isSuccess(e) ? e.value : undefined)
      expect(results.filter((r) => r?.created)).toHaveLength(1)
      expect(new Set(results.map((r) => r?.customer.id)).size).toBe(1)
      const counts = yield* rows(started[0]!, (sql) =>
        sql<{ customers: number; wallets: number; events: number }>`SELECT
          (SELECT count(*) FROM c360_customers WHERE phone = ${phone}) AS customers,
          (SELECT count(*) FROM c360_wallets w JOIN c360_customers c ON c.id = w.customer_id WHERE c.phone = ${phone}) AS wallets,
          (SELECT count(*) FROM c360_outbox WHERE type = 'customer.created') AS events`)
      expect(counts[0]).toEqual({ customers: 1, wallets: 1, events: 1 })
    }))

  it.scopedLive("20 concurrent deliveries of one deposit reference across 4 isolates deposit once", () =>
    Effect.gen(function*() {
      const binding = yield* freshD1
      const started = yield* isolates(binding, 4)
      const phone = yield* newCustomer(started[0]!)
      const input = { phone, amount: 250_000, reference: "sepay-20-at-once", source: "bank_transfer" as const }
      const exits = yield* Effect.all(
        Array.from({ length: 20 }, (_, i) => on(started[i % 4]!, Effect.flatMap(Wallets, (w) => w.deposit(input)))),
        { concurrency: "unbounded" }
      )
      expect(exits.map(tagOf)).toEqual(exits.map(() => "success"))
      const transactions = new Set(exits.map((e) => (Exit.isSuccess(e) ? e.value.transactionId : "")))
      expect(transactions.size).toBe(1)
      expect(tagOf(yield* on(started[1]!, Effect.flatMap(Wallets, (w) => w.get(phone))))).toBe("success")
      const counts = yield* rows(started[0]!, (sql) =>
        sql<{ balance: number; entries: number; events: number; operations: number }>`SELECT
          (SELECT w.balance FROM c360_wallets w JOIN c360_customers c ON c.id = w.customer_id WHERE c.phone = ${phone}) AS balance,
          (SELECT count(*) FROM c360_ledger_entries WHERE reference = ${input.reference}) AS entries,
          (SELECT count(*) FROM c360_outbox WHERE type = 'wallet.deposit') AS events,
          (SELECT count(*) FROM c360_wallet_operations WHERE reference = ${input.reference}) AS operations`)
      expect(counts[0]).toEqual({ balance: 250_000, entries: 1, events: 1, operations: 1 })
      expect((yield* audit(started[0]!)).violations).toEqual([])
    }))

  it.scopedLive("20 concurrent withdrawals across 4 isolates from a wallet that covers 10: exactly 10 succeed, the ledger audits clean", () =>
    Effect.gen(function*() {
      const binding = yield* freshD1
      const started = yield* isolates(binding, 4)
      const phone = yield* newCustomer(started[0]!)
      const wallets = (runtime: Isolate) => <A, E>(f: (w: WalletsShape) => Effect.Effect<A, E>) =>
        on(runtime, Effect.flatMap(Wallets, f))
      // 10 × 1,000 available: 3,000 of a credit (spent first) and 7,000 of real money
      expect(tagOf(yield* wallets(started[0]!)((w) => w.deposit({ phone, amount: 7_000, reference: "d", source: "manual" }))))
        .toBe("success")
      expect(tagOf(yield* wallets(started[0]!)((w) => w.issueVirtualCredit({ phone, amount: 3_000, reason: "BOOM", reference: "c" }))))
        .toBe("success")
      const exits = yield* Effect.all(
        Array.from({ length: 20 }, (_, i) =>
          wallets(started[i % 4]!)((w) => w.withdraw({ phone, amount: 1_000, reference: `order-${i}` }))),
        { concurrency: "unbounded" }
      )
      const tags = exits.map(tagOf)
      expect(tags.filter((t) => t === "success")).toHaveLength(10)
      expect(tags.filter((t) => t === "InsufficientFunds")).toHaveLength(10)
      const spent = exits.flatMap((e) => (Exit.isSuccess(e) ? [e.value] : []))
      expect(spent.reduce((s, w) => s + w.fromReal + w.fromCredits.reduce((c, p) => c + p.amount, 0), 0)).toBe(10_000)
      expect(spent.reduce((s, w) => s + w.fromCredits.reduce((c, p) => c + p.amount, 0), 0)).toBe(3_000)
      const view = yield* wallets(started[2]!)((w) => w.get(phone))
      expect(Exit.isSuccess(view) && view.value).toMatchObject({ balance: 0, virtualBalance: 0, available: 0 })
      const report = yield* audit(started[0]!)
      expect(report.violations).toEqual([])
      expect(report.entries).toBe(2 + 10) // the deposit, the credit issue, one entry per withdrawal (3 spend the credit)
    }))

  it.scopedLive("a write whose wallet changed between its read and its write leaves no partial write and re-plans", () =>
    Effect.gen(function*() {
      const raw = yield* freshD1
      const [other] = yield* isolates(raw, 1)
      const phone = yield* newCustomer(other!)
      yield* on(other!, Effect.flatMap(Wallets, (w) => w.deposit({ phone, amount: 5_000, reference: "first", source: "manual" })))
      const seen: Array<unknown> = []
      const binding = interceptingBinding(
        raw,
        // another isolate's deposit commits after our withdrawal read the wallet, before it writes
        () => other!.runPromise(Effect.flatMap(Wallets, (w) => w.deposit({ phone, amount: 2_000, reference: "racer", source: "manual" })))
          .then(() => undefined),
        async (error) => {
          const partial = await raw.prepare(`SELECT
              (SELECT count(*) FROM c360_wallet_operations WHERE reference = 'late') AS operations,
              (SELECT count(*) FROM c360_ledger_entries WHERE reference = 'late') AS entries,
              (SELECT count(*) FROM c360_outbox WHERE type = 'wallet.withdraw') AS events,
              (SELECT balance FROM c360_wallets) AS balance`).all()
          seen.push({ error: String((error as Error).message), partial: partial.results?.[0] })
        }
      )
      const [late] = yield* isolates(binding, 1)
      const exit = yield* on(late!, Effect.flatMap(Wallets, (w) => w.withdraw({ phone, amount: 4_000, reference: "late" })))
      expect(seen).toEqual([{
        error: expect.stringContaining("c360: stale wallet version"),
        partial: { operations: 0, entries: 0, events: 0, balance: 7_000 }
      }])
      // re-planned on the new state: 7,000 − 4,000, not the 5,000 − 4,000 it first planned
      expect(Exit.isSuccess(exit) && exit.value).toMatchObject({ fromReal: 4_000, wallet: { balance: 3_000 } })
      expect((yield* audit(other!)).violations).toEqual([])
    }))

  it.scopedLive("two expiry jobs at once on two isolates expire each credit once", () =>
    Effect.gen(function*() {
      const binding = yield* freshD1
      const started = yield* isolates(binding, 2)
      const T = Date.UTC(2026, 0, 1)
      const phones = yield* Effect.all(Array.from({ length: 4 }, () => newCustomer(started[0]!)))
      for (const [i, phone] of phones.entries()) {
        for (let k = 0; k < 5; k++) {
          const exit = yield* on(started[0]!, atTime(T)(Effect.flatMap(Wallets, (w) =>
            w.issueVirtualCredit({ phone, amount: 1_000 * (k + 1), reason: "r", reference: `c-${i}-${k}`, expiresInDays: 1 + (k % 2) }))))
          expect(tagOf(exit)).toBe("success")
        }
      }
      const jobs = yield* Effect.all(
        [0, 1, 0, 1].map((i) =>
          on(started[i]!, atTime(T + 3 * DAY)(Effect.flatMap(Wallets, (w) => w.expireCredits({ batchSize: 3 }))))),
        { concurrency: "unbounded" }
      )
      const totals = jobs.map((e) => (Exit.isSuccess(e) ? e.value : { expired: NaN, amount: NaN }))
      expect(totals.reduce((s, t) => s + t.expired, 0)).toBe(20)
      expect(totals.reduce((s, t) => s + t.amount, 0)).toBe(4 * 15_000)
      const counts = yield* rows(started[0]!, (sql) =>
        sql<{ entries: number; events: number; active: number }>`SELECT
          (SELECT count(*) FROM c360_ledger_entries WHERE kind = 'credit_expired') AS entries,
          (SELECT count(*) FROM c360_outbox WHERE type = 'wallet.credit_expired') AS events,
          (SELECT count(*) FROM c360_virtual_credits WHERE status = 'active') AS active`)
      expect(counts[0]).toEqual({ entries: 20, events: 20, active: 0 })
      expect((yield* audit(started[0]!)).violations).toEqual([])
    }))

  it("D1's error messages are classified like the other engines' error codes", () => {
    const failure = (message: string) => classify(new SqlError({ cause: new Error(message), message: "Failed to execute statement" }))
    expect(failure("D1_ERROR: UNIQUE constraint failed: c360_customers.phone: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"))
      .toEqual({ _tag: "UniqueViolation", constraint: "c360_customers.phone" })
    expect(failure("D1_ERROR: UNIQUE constraint failed: c360_wallet_operations.reference: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_PRIMARYKEY)"))
      .toEqual({ _tag: "UniqueViolation", constraint: "c360_wallet_operations.reference" })
    expect(failure("D1_ERROR: c360: stale wallet version: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_TRIGGER)"))
      .toEqual({ _tag: "StaleWrite" })
    expect(failure("D1_ERROR: CHECK constraint failed: balance >= 0: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_CHECK)"))
      .toEqual({ _tag: "Other" })
    expect(failure("D1 DB is overloaded. Too many requests queued.")).toEqual({ _tag: "Retryable" })
    expect(failure("D1_ERROR: database is locked: SQLITE_BUSY")).toEqual({ _tag: "Retryable" })
    expect(failure("Network connection lost.")).toEqual({ _tag: "Unavailable" })
    expect(failure("D1 DB storage operation exceeded timeout which caused object to be reset.")).toEqual({ _tag: "Unavailable" })
    expect(failure("D1_ERROR: no such table: c360_nope: SQLITE_ERROR")).toEqual({ _tag: "Other" })
  })

  it.scopedLive("the D1 client refuses interactive transactions instead of running them unprotected", () =>
    Effect.gen(function*() {
      const binding = yield* freshD1
      const [runtime] = yield* isolates(binding, 1)
      const exit = yield* on(runtime!, Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(sql`SELECT 1`)))
      expect(tagOf(exit)).toBe("SqlError")
    }))

  it.scopedLive("a transaction writes all of its writes in one batch, or none of them when it fails", () =>
    Effect.gen(function*() {
      const binding = yield* freshD1
      const [runtime] = yield* isolates(binding, 1)
      const a = yield* newCustomer(runtime!)
      const b = yield* newCustomer(runtime!)
      const both = (tail: Effect.Effect<void, string>) =>
        Effect.gen(function*() {
          const tx = yield* Transactions
          const wallets = yield* Wallets
          return yield* tx.withTransaction(Effect.gen(function*() {
            yield* wallets.deposit({ phone: a, amount: 1_000, reference: "tx-a", source: "manual" })
            yield* wallets.deposit({ phone: b, amount: 2_000, reference: "tx-b", source: "manual" })
            yield* tail
          }))
        })
      const failed = yield* on(runtime!, both(Effect.fail("boom")))
      expect(Exit.isFailure(failed)).toBe(true)
      const nothing = yield* rows(runtime!, (sql) =>
        sql<{ n: number }>`SELECT (SELECT count(*) FROM c360_ledger_entries) + (SELECT count(*) FROM c360_wallet_operations)
          + (SELECT count(*) FROM c360_outbox WHERE channel = 'wallets') + (SELECT sum(balance) FROM c360_wallets) AS n`)
      expect(nothing[0]!.n).toBe(0)
      expect(tagOf(yield* on(runtime!, both(Effect.void)))).toBe("success")
      const all = yield* rows(runtime!, (sql) =>
        sql<{ entries: number; events: number; balance: number }>`SELECT
          (SELECT count(*) FROM c360_ledger_entries) AS entries,
          (SELECT count(*) FROM c360_outbox WHERE channel = 'wallets') AS events,
          (SELECT sum(balance) FROM c360_wallets) AS balance`)
      expect(all[0]).toEqual({ entries: 2, events: 2, balance: 3_000 })
      expect((yield* audit(runtime!)).violations).toEqual([])
    }))
})
