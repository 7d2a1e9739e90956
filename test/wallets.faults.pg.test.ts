/**
 * Wallet writes and the outbox relay on PostgreSQL when things break: a backend killed in the middle
 * of a write (inside its statement, or inside its transaction), a relay that stops with events in
 * flight, a process that commits and dies before delivering, and transactions that commit out of
 * their outbox order.
 *
 * The wallet suite runs on the live clock (`excludeTestServices`): the store's retry backoff really
 * sleeps. Where a test needs a credit already due it issues it under a clock set in the past.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, beforeAll, describe, expect, it, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import pg from "pg"
import type { StoredEvent } from "../src/kernel/Events.js"
import type { DepositResult, WithdrawResult } from "../src/wallets/Wallet.js"
import { type Customer360Instance, type Customer360Options, createCustomer360 } from "../src/index.js"
import { Customers } from "../src/customers/Customers.js"
import { Transactions } from "../src/platform/Transactions.js"
import * as Relay from "../src/platform/Relay.js"
import { Wallets } from "../src/wallets/Wallets.js"
import { freshPhone, servicesOver } from "./contract/customers.js"
import { auditLedger } from "./support/audit.js"
import { atTime } from "./support/clock.js"
import { createDatabase, pgEnabled, pgStorage, pgUrl } from "./support/pg.js"

const HOUR = 3_600_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// --- helpers -------------------------------------------------------------------------------------------


const num = (v: unknown): number => Number(v)
const str = (v: unknown): string => String(v)
const failureOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
const describeExit = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit)
    ? "success"
    : `${Cause.isDie(exit.cause) ? "DEFECT" : Cause.isInterrupted(exit.cause) ? "INTERRUPTED" : "failure"}: ${Cause.pretty(exit.cause)}`

/** The URL of the database the library is connected to (the layer made a fresh one). */
const libraryDatabaseUrl = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ name: string }>`SELECT current_database() AS name`
  const url = new URL(pgUrl!)
  url.pathname = `/${rows[0]!.name}`
  return url.toString()
}).pipe(Effect.orDie)

/** A plain node-postgres connection of the test's own, closed with the scope. */
const rawClient = (url: string): Effect.Effect<pg.Client, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: url, application_name: "c360-test" })
      client.on("error", () => undefined)
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.end().catch(() => undefined))
  )
const query = (client: pg.Client, text: string, values: ReadonlyArray<unknown> = []) =>
  Effect.promise(() => client.query(text, [...values]))
/** Ids are interpolated into multi-statement strings (simple protocol, no parameters): check them first. */
const literal = (id: string) => {
  if (!/^[a-z]+_[0-9A-Za-z_]+$/.test(id)) throw new Error(`not an id: ${id}`)
  return `'${id}'`
}

interface Blocked {
  readonly pid: number
  readonly query: string
}
/** Waits until a backend of the library (application_name customer360) waits on a lock, and returns it. */
const blockedBackend = (observer: pg.Client) =>
  Effect.promise(async (): Promise<Blocked> => {
    const deadline = Date.now() + 10_000
    for (;;) {
      const { rows } = await observer.query<Blocked>(`SELECT pid, query FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'customer360' AND state = 'active'
        AND wait_event_type = 'Lock'`)
      if (rows.length > 1) throw new Error(`several library backends blocked: ${JSON.stringify(rows)}`)
      if (rows[0] !== undefined) return rows[0]
      if (Date.now() > deadline) throw new Error("no library backend blocked on a lock within 10 s")
      await sleep(5)
    }
  })

/** The wallet write statement: the planned change applied by c360_wallet_write_many (earlier: c360_wallet_write, _batch) (PostgreSQL). */
const isWrite = (q: string) => /^\s*(WITH w AS \(|SELECT c360_wallet_write(_batch|_many)?\()/.test(q)
const isLockedRead = (q: string) => /FOR UPDATE OF w/.test(q)

/** What one wallet holds, to compare before and after a fault. */
const snapshot = (customerId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [wallet] = yield* sql<Record<string, unknown>>`SELECT balance FROM c360_wallets WHERE customer_id = ${customerId}`
    const credits = yield* sql<Record<string, unknown>>`SELECT id, remaining, status FROM c360_virtual_credits
      WHERE customer_id = ${customerId} ORDER BY id`
    const [entries] = yield* sql<Record<string, unknown>>`SELECT count(*) AS n FROM c360_ledger_entries WHERE customer_id = ${customerId}`
    const [operations] = yield* sql<Record<string, unknown>>`SELECT count(*) AS n FROM c360_wallet_operations WHERE customer_id = ${customerId}`
    const [events] = yield* sql<Record<string, unknown>>`SELECT count(*) AS n FROM c360_outbox WHERE subject = ${customerId}`
    return {
      balance: num(wallet!.balance),
      credits: credits.map((c) => [str(c.id), num(c.remaining), str(c.status)]),
      entries: num(entries!.n),
      operations: num(operations!.n),
      events: num(events!.n)
    }
  }).pipe(Effect.orDie)

/** The audit violations that `since` did not have (a test checks what it wrote). */
const newViolations = (since: ReadonlyArray<string>) =>
  Effect.map(auditLedger, (audit) => audit.violations.filter((v) => !since.includes(v)))

/**
 * What the relay delivers after `position`, batch by batch as the relay would, until `enough` holds
 * (or 10 s pass). The read horizon is the oldest transaction running anywhere on the server, so
 * other databases' transactions (other test files) may delay what is readable: poll, do not read once.
 */
const drainRelay = (name: string, position: string, enough: (delivered: ReadonlyArray<StoredEvent>) => boolean = () => true) =>
  Effect.gen(function*() {
    const delivered: Array<StoredEvent> = []
    let at = position
    const deadline = Date.now() + 10_000
    for (;;) {
      const next = yield* Relay.step({ name, batchSize: 7 }, at, (events) => Effect.sync(() => void delivered.push(...events)))
      if (next !== at) {
        at = next
        continue
      }
      if (enough(delivered) || Date.now() > deadline) return { delivered, position: at }
      yield* Effect.sleep("20 millis")
    }
  })

/** The ledger transaction an event reports (credit expiries have their own). */
const transactionOf = (e: { readonly type: string; readonly data: unknown }): string | null => {
  const data = e.data as { transactionId?: string; creditId?: string }
  if (e.type === "wallet.credit_expired") return `txn_exp_${data.creditId}`
  return data.transactionId ?? null
}

/** Where two orders first differ, for a readable failure. */
const divergence = (relayed: ReadonlyArray<string>, committed: ReadonlyArray<string>) => {
  const k = committed.findIndex((t, i) => relayed[i] !== t)
  return k < 0 && relayed.length === committed.length
    ? "same"
    : `first difference at #${k < 0 ? committed.length : k} of ${committed.length}: relayed ${JSON.stringify(relayed.slice(k, k + 3))}, committed ${JSON.stringify(committed.slice(k, k + 3))}`
}

/** True once events of every one of `transactions` were delivered. */
const allOf = (transactions: ReadonlyArray<string>) => (delivered: ReadonlyArray<StoredEvent>) => {
  const seen = new Set(delivered.map(transactionOf))
  return transactions.every((t) => seen.has(t))
}

/**
 * The ledger transactions of `subject` in the order the relay delivered their events, restricted to
 * `watched` (a relay may also deliver events committed just before its start: at least once).
 */
const relayedOf = (delivered: ReadonlyArray<StoredEvent>, subject: string, watched: ReadonlySet<string>) =>
  delivered.flatMap((e) => {
    const txn = transactionOf(e)
    return e.subject === subject && txn !== null && watched.has(txn) ? [txn] : []
  })

type Path = "statement" | "transaction"

describe.skipIf(!pgEnabled)("PostgreSQL faults", () => {
  layer(servicesOver(pgStorage({ maxConnections: 8 })), { timeout: "60 seconds", excludeTestServices: true })("wallet writes", (it) => {
    /**
     * Kills the library's backend while its write waits on a lock held by a connection of the test:
     * - `statement`: the optimistic single-statement write, blocked on the wallet row (deposit) or, having
     *   already updated the wallet row, on the credit it spends (withdraw);
     * - `transaction`: the locked path (`BEGIN; SELECT … FOR UPDATE OF w; write; COMMIT`), reached by making
     *   the optimistic attempts lose their version race three times (the test's connection bumps the
     *   wallet's version while holding its row); killed at the `SELECT … FOR UPDATE` (deposit) or, after it
     *   took the wallet row, in the write blocked on the credit (withdraw).
     */
    const killMidWrite = (kind: "deposit" | "withdraw", path: Path) =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const sql = yield* SqlClient.SqlClient
        const baseline = (yield* auditLedger).violations
        const url = yield* libraryDatabaseUrl
        const phone = freshPhone()
        const customer = yield* customers.create({ phone, name: "Fault" })
        yield* wallets.deposit({ phone, amount: 100_000, reference: `fund-${phone}`, source: "manual" })
        const credit = (yield* wallets.issueVirtualCredit({ phone, amount: 30_000, reason: "promo", reference: `promo-${phone}` })).credit
        const before = yield* snapshot(customer.id)
        const reference = `${kind}-${path}-${phone}`
        // a withdrawal of 40 000: 30 000 from the credit, 10 000 from the real balance
        const call: Effect.Effect<DepositResult | WithdrawResult, unknown> = kind === "deposit"
          ? wallets.deposit({ phone, amount: 25_000, reference, source: "bank_transfer" })
          : wallets.withdraw({ phone, amount: 40_000, reference })

        const holder = yield* rawClient(url)
        const observer = yield* rawClient(url)
        yield* query(holder, "BEGIN")
        if (path === "transaction") {
          yield* query(holder, "UPDATE c360_wallets SET version = version + 1 WHERE customer_id = $1", [customer.id])
        } else if (kind === "deposit") {
          yield* query(holder, "SELECT 1 FROM c360_wallets WHERE customer_id = $1 FOR UPDATE", [customer.id])
        } else {
          yield* query(holder, "SELECT 1 FROM c360_virtual_credits WHERE id = $1 FOR UPDATE", [credit.id])
        }
        const fiber = yield* Effect.fork(Effect.exit(call))
        let creditHolder: pg.Client | undefined

        let victim = yield* blockedBackend(observer)
        if (path === "transaction") {
          // Each time the optimistic write waits on the row, commit a version bump under it and take the row
          // again at once: the write loses its race. After three, the store takes the row lock in a transaction.
          for (let cycle = 0; !isLockedRead(victim.query); cycle++) {
            expect(cycle, "the store never took the locked path").toBeLessThan(30)
            expect(isWrite(victim.query), victim.query).toBe(true)
            yield* query(holder, `COMMIT; BEGIN; UPDATE c360_wallets SET version = version + 1 WHERE customer_id = ${literal(customer.id)}`)
            yield* Effect.promise(() => sleep(10))
            victim = yield* blockedBackend(observer)
          }
          if (kind === "withdraw") {
            // Hold the credit on a second connection first, then let it take the wallet row: it now waits
            // inside its transaction, in the write (in this order, the store cannot reach the credit first).
            creditHolder = yield* rawClient(url)
            yield* query(creditHolder, `BEGIN; SELECT 1 FROM c360_virtual_credits WHERE id = ${literal(credit.id)} FOR UPDATE`)
            yield* query(holder, "COMMIT; BEGIN")
            victim = yield* blockedBackend(observer)
            while (isLockedRead(victim.query)) victim = yield* blockedBackend(observer)
            expect(isWrite(victim.query), victim.query).toBe(true)
          }
        } else {
          expect(isWrite(victim.query), victim.query).toBe(true)
        }
        const [killed] = (yield* query(observer, "SELECT pg_terminate_backend($1) AS ok", [victim.pid])).rows as Array<{ ok: boolean }>
        expect(killed?.ok).toBe(true)
        yield* query(holder, "ROLLBACK")
        if (creditHolder !== undefined) yield* query(creditHolder, "ROLLBACK")
        const exit = yield* Fiber.join(fiber)

        // A typed StorageError or a success by the store's own retry; never a defect or a driver error.
        expect(Exit.isSuccess(exit) || (!Cause.isDie(exit.cause) && !Cause.isInterrupted(exit.cause)), describeExit(exit)).toBe(true)
        if (Exit.isFailure(exit)) expect(failureOf(exit), describeExit(exit)).toMatchObject({ _tag: "StorageError" })
        expect(yield* newViolations(baseline), "audit after the fault").toEqual([])
        if (Exit.isFailure(exit)) {
          expect(yield* snapshot(customer.id), "a failed write changed nothing").toEqual(before)
        }

        // The same request again applies exactly once (a replay if the first committed).
        const again = yield* Effect.exit(call)
        expect(Exit.isSuccess(again), describeExit(again)).toBe(true)
        const result = (again as Exit.Success<DepositResult | WithdrawResult, unknown>).value
        if (Exit.isSuccess(exit)) expect(result.transactionId).toBe(exit.value.transactionId)
        const after = yield* snapshot(customer.id)
        expect(after.balance).toBe(before.balance + (kind === "deposit" ? 25_000 : -10_000))
        expect(after.credits).toEqual([[credit.id, kind === "deposit" ? 30_000 : 0, kind === "deposit" ? "active" : "consumed"]])
        expect(after.operations).toBe(before.operations + 1)
        expect(after.entries).toBe(before.entries + (kind === "deposit" ? 1 : 2))
        expect(after.events).toBe(before.events + 1)
        const ledger = yield* sql<Record<string, unknown>>`SELECT transaction_id FROM c360_ledger_entries WHERE reference = ${reference}`
        expect(ledger.map((e) => str(e.transaction_id))).toEqual(ledger.map(() => result.transactionId))
        expect(yield* newViolations(baseline), "audit after the retry").toEqual([])
      })

    it.scoped("deposit: a backend killed while the write statement waits on the wallet row fails typed or succeeds by retry, leaves no partial write, and the reference then applies exactly once", () =>
      killMidWrite("deposit", "statement"))

    it.scoped("withdraw: a backend killed inside the write statement (wallet row updated, waiting on the credit) fails typed or succeeds by retry, leaves no partial write, and the reference then applies exactly once", () =>
      killMidWrite("withdraw", "statement"))

    it.scoped("deposit: a backend killed inside the locked-path transaction (BEGIN; SELECT … FOR UPDATE waiting) fails typed or succeeds by retry — never a defect — and the reference then applies exactly once", () =>
      killMidWrite("deposit", "transaction"))

    it.scoped("withdraw: a backend killed inside the locked-path transaction (row locked, write waiting on the credit) fails typed or succeeds by retry — never a defect — and the reference then applies exactly once", () =>
      killMidWrite("withdraw", "transaction"))

    it.scoped("a deposit in a caller's transaction holds no connection before its commit: a backend killed meanwhile (the caller's own read's) changes nothing, and it applies once", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const transactions = yield* Transactions
        const sql = yield* SqlClient.SqlClient
        const url = yield* libraryDatabaseUrl
        const observer = yield* rawClient(url)
        const phone = freshPhone()
        const customer = yield* customers.create({ phone, name: "Killed" })
        const before = yield* snapshot(customer.id)
        const deposit = wallets.deposit({ phone, amount: 7_000, reference: `killed-${phone}`, source: "manual" })

        const result = yield* transactions.withTransaction(Effect.gen(function*() {
          // the unit of work is deferred on PostgreSQL: its reads use any pooled connection, its
          // writes go in one round trip at commit; killing the connection a read used loses nothing
          const [own] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`
          yield* query(observer, "SELECT pg_terminate_backend($1)", [own!.pid])
          for (let i = 0; i < 500; i++) {
            const { rows } = yield* query(observer, "SELECT 1 FROM pg_stat_activity WHERE pid = $1", [own!.pid])
            if (rows.length === 0) break
            yield* Effect.sleep("10 millis")
          }
          yield* Effect.sleep("100 millis")
          return yield* deposit
        })).pipe(
          // the pool may hand the killed connection to the commit before it noticed: that is a typed
          // `unavailable` (503), and nothing was written
          Effect.catchTag("StorageError", (e) => {
            expect(e.reason).toBe("unavailable")
            return Effect.succeed(undefined)
          })
        )
        if (result === undefined) {
          expect(yield* snapshot(customer.id), "a failed write changed nothing").toEqual(before)
        }
        const again = yield* deposit
        expect((yield* snapshot(customer.id)).balance).toBe(before.balance + 7_000)
        expect((yield* deposit).transactionId).toBe(again.transactionId)
        if (result !== undefined) expect(result.transactionId).toBe(again.transactionId)
      }))

    it.scoped("the relay never delivers past an outbox row of a transaction still open, and delivers it once it commits", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const url = yield* libraryDatabaseUrl
        const phone = freshPhone()
        yield* customers.create({ phone, name: "Horizon" })
        const name = `horizon-${phone}`
        const start = yield* Relay.start({ name, from: "end" })

        const open = yield* rawClient(url)
        const rawId = `evt_open_${phone}`
        yield* query(open, "BEGIN")
        yield* query(
          open,
          `INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at) VALUES ($1, 'customers', 'customer.created', $2, '{}', 0)`,
          [rawId, `other_${phone}`]
        )
        // The library commits events after the open transaction took its outbox position.
        const deposits: Array<string> = []
        for (let i = 0; i < 5; i++) {
          deposits.push((yield* wallets.deposit({ phone, amount: 1_000, reference: `horizon-${phone}-${i}`, source: "manual" })).transactionId)
        }
        const first = yield* drainRelay(name, start)
        // (other events, including ones committed before the relay's start, may be delivered too: at least once)
        const watched = new Set(deposits)
        const mine = (events: ReadonlyArray<StoredEvent>) =>
          events.flatMap((e) => (e.id === rawId ? ["open"] : watched.has(transactionOf(e) ?? "") ? [transactionOf(e)] : []))
        expect(mine(first.delivered), "delivered past the open transaction's row").toEqual([])

        yield* query(open, "COMMIT")
        const second = yield* drainRelay(name, first.position, (d) => mine(d).length >= deposits.length + 1)
        expect(mine(second.delivered)).toEqual(["open", ...deposits])
        expect(mine((yield* drainRelay(name, second.position)).delivered)).toEqual([])
      }))

    it.scoped("an expiry job that commits after a deposit on the same wallet is delivered after it: the relay follows each wallet's commit order", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const sql = yield* SqlClient.SqlClient
        const url = yield* libraryDatabaseUrl
        const holder = yield* rawClient(url)
        const observer = yield* rawClient(url)
        const a = yield* customers.create({ phone: freshPhone(), name: "Order A" })
        const b = yield* customers.create({ phone: freshPhone(), name: "Order B" })
        let reached = false
        // One expiry batch covers both wallets and updates their rows one after the other. The test holds
        // the row of one of them; if the job takes that one first, it waits there — already holding its
        // transaction id and the credits' locks — while a deposit on the other wallet commits. Which row the
        // job takes first is the planner's choice, so the roles are swapped until that happens.
        for (let trial = 0; trial < 4 && !reached; trial++) {
          const [held, target] = trial % 2 === 0 ? [b, a] : [a, b]
          const now = Date.now()
          for (const c of [a, b]) {
            yield* wallets.issueVirtualCredit({
              phone: c.phone!,
              amount: 2_000,
              reason: "due",
              reference: `due-${trial}-${c.phone}`,
              expiresAt: new Date(now - HOUR).toISOString()
            }).pipe(atTime(now - 2 * HOUR))
          }
          const name = `order-${trial}-${a.phone}`
          const start = yield* Relay.start({ name, from: "end" })
          const [mark] = yield* sql<Record<string, unknown>>`SELECT coalesce(max(seq), 0) AS seq FROM c360_ledger_entries`

          yield* query(holder, "BEGIN")
          yield* query(holder, "SELECT 1 FROM c360_wallets WHERE customer_id = $1 FOR UPDATE", [held.id])
          const job = yield* Effect.fork(Effect.exit(wallets.expireCredits()))
          yield* blockedBackend(observer) // the job waits on the held row
          const deposit = yield* Effect.fork(
            Effect.exit(wallets.deposit({ phone: target.phone!, amount: 1_000, reference: `order-${trial}-${target.phone}`, source: "manual" }))
          )
          reached = Option.isSome(yield* Fiber.await(deposit).pipe(Effect.timeoutOption("500 millis")))
          yield* query(holder, "ROLLBACK")
          const jobExit = yield* Fiber.join(job)
          const depositExit = yield* Fiber.join(deposit)
          expect(Exit.isSuccess(jobExit), describeExit(jobExit)).toBe(true)
          expect(Exit.isSuccess(depositExit), describeExit(depositExit)).toBe(true)

          const entries = yield* sql<Record<string, unknown>>`SELECT customer_id, transaction_id, min(seq) AS seq
            FROM c360_ledger_entries WHERE customer_id IN (${a.id}, ${b.id}) AND seq > ${num(mark!.seq)}
            GROUP BY customer_id, transaction_id ORDER BY min(seq)`
          const { delivered } = yield* drainRelay(name, start, allOf(entries.map((e) => str(e.transaction_id))))
          for (const c of [a, b]) {
            const committed = entries.filter((e) => str(e.customer_id) === c.id).map((e) => str(e.transaction_id))
            const relayed = relayedOf(delivered, c.id, new Set(committed))
            expect(
              relayed,
              `trial ${trial}, wallet ${c === a ? "A" : "B"}${c === target && reached ? " (its deposit committed while the job waited)" : ""}: relay order vs commit order, ${divergence(relayed, committed)}`
            ).toEqual(committed)
          }
        }
        expect(reached, "the job never waited on the held row while the deposit committed").toBe(true)
      }))

    it.scoped("events of wallets written by concurrent writers and expiry jobs are delivered in each wallet's commit order, none lost", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const sql = yield* SqlClient.SqlClient
        // Expiry jobs and writers deadlock now and then (credits→wallet vs wallet→credits); detected after
        // deadlock_timeout. A shorter one on this test's own database keeps the run short (best effort).
        const database = (yield* sql<{ name: string }>`SELECT current_database() AS name`)[0]!.name
        yield* Effect.ignore(sql.unsafe(`ALTER DATABASE "${database}" SET deadlock_timeout = '100ms'`))
        const phones = [freshPhone(), freshPhone()]
        const ids: Array<string> = []
        for (const phone of phones) ids.push((yield* customers.create({ phone, name: "Relay order" })).id)
        const name = `concurrent-${phones[0]}`
        const start = yield* Relay.start({ name, from: "end" })
        const [mark] = yield* sql<Record<string, unknown>>`SELECT coalesce(max(seq), 0) AS seq FROM c360_ledger_entries`
        // Logical time: one simulated second per started operation; credits live 10–60 s of it.
        const base = Date.now() - 2 * HOUR
        let tick = 0
        yield* Effect.forEach(
          Array.from({ length: 12 }, (_, c) => c),
          (c) =>
            Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) => {
              const at = base + ++tick * 1_000
              const phone = phones[(c + i) % 2]!
              const reference = `concurrent-${phones[0]}-${c}-${i}`
              const op = (c * 7 + i * 3) % 10
              const effect: Effect.Effect<unknown, unknown> = op < 3
                ? wallets.deposit({ phone, amount: 5_000, reference, source: "manual" })
                : op < 6
                ? wallets.withdraw({ phone, amount: 4_000, reference })
                : op < 9
                ? wallets.issueVirtualCredit({
                  phone,
                  amount: 3_000,
                  reason: "promo",
                  reference,
                  expiresAt: new Date(at + (10 + (i % 6) * 10) * 1_000).toISOString()
                })
                : wallets.expireCredits({ batchSize: 3 })
              return Effect.exit(effect.pipe(atTime(at)))
            }, { discard: true }),
          { concurrency: "unbounded", discard: true }
        )
        const entries = yield* sql<Record<string, unknown>>`SELECT customer_id, transaction_id, min(seq) AS seq
          FROM c360_ledger_entries WHERE customer_id IN ${sql.in(ids)} AND seq > ${num(mark!.seq)}
          GROUP BY customer_id, transaction_id ORDER BY min(seq)`
        const { delivered } = yield* drainRelay(name, start, allOf(entries.map((e) => str(e.transaction_id))))
        expect(entries.length).toBeGreaterThan(100)
        for (const id of ids) {
          const committed = entries.filter((e) => str(e.customer_id) === id).map((e) => str(e.transaction_id))
          const relayed = relayedOf(delivered, id, new Set(committed))
          expect(relayed, `wallet ${id}: relay order vs commit order, ${divergence(relayed, committed)}`).toEqual(committed)
        }
      }))
  })

  describe("outbox relay through the Promise facade", () => {
    let database: { readonly url: string; readonly drop: () => Promise<void> }
    beforeAll(async () => {
      database = await createDatabase()
    })
    afterAll(async () => {
      await database.drop()
    })

    let now = Date.UTC(2026, 3, 1, 9)
    const options = (relay: string): Customer360Options => ({
      database: { postgres: { url: database.url, maxConnections: 4 } },
      events: { relay, pollIntervalMs: 20 },
      now: () => new Date(now)
    })
    /** Subscribes to every channel; a handler that takes `workMs` per event, like one that does real work. */
    const listen = (instance: Customer360Instance, workMs: number) => {
      const seen: Array<StoredEvent> = []
      const stop = instance.events.subscribe(["customers", "wallets", "tickets"], (event) => {
        const until = performance.now() + workMs
        while (performance.now() < until) {
          // busy: the handler works synchronously, as many do
        }
        seen.push(event)
      })
      return { seen, stop }
    }
    /** Some writes on each wallet: deposits, withdrawals, short credits (wallets in parallel). */
    const writeSome = (instance: Customer360Instance, phones: ReadonlyArray<string>, tag: string, count: number) =>
      Promise.all(phones.map(async (phone, w) => {
        for (let i = 0; i < count; i++) {
          const reference = `${tag}-${w}-${i}`
          if (i % 3 === 0) await instance.wallets.deposit({ phone, amount: 20_000, reference, source: "manual" })
          else if (i % 3 === 1) {
            await instance.wallets.issueVirtualCredit({
              phone,
              amount: 3_000,
              reason: "promo",
              reference,
              expiresAt: new Date(now + 30 * 60_000).toISOString()
            })
          } else await instance.wallets.withdraw({ phone, amount: 4_000, reference })
        }
      }))
    /** Every event about `subjects`, per subject in commit order (the ledger's, for wallet events). */
    const committed = async (subjects: ReadonlyArray<string>) => {
      const client = new pg.Client({ connectionString: database.url })
      await client.connect()
      try {
        const events = (await client.query(`SELECT id, type, subject, payload FROM c360_outbox WHERE subject = ANY($1)`, [subjects])).rows
        const ledger = (await client.query(
          `SELECT transaction_id, min(seq) AS seq FROM c360_ledger_entries WHERE customer_id = ANY($1) GROUP BY transaction_id`,
          [subjects]
        )).rows
        const seqOf = new Map(ledger.map((r) => [str(r.transaction_id), num(r.seq)]))
        const order = new Map<string, Array<string>>()
        const keyed = events.map((e) => {
          const type = str(e.type)
          const txn = transactionOf({ type, data: JSON.parse(str(e.payload)) })
          return { id: str(e.id), subject: str(e.subject), key: type === "customer.created" ? 0 : seqOf.get(txn ?? "") ?? Infinity }
        })
        for (const e of keyed.sort((x, y) => x.key - y.key)) order.set(e.subject, [...(order.get(e.subject) ?? []), e.id])
        expect(keyed.every((e) => e.key !== Infinity), "every wallet event has its ledger transaction").toBe(true)
        return order
      } finally {
        await client.end()
      }
    }
    const waitUntil = async (done: () => boolean, ms: number) => {
      const deadline = Date.now() + ms
      while (!done() && Date.now() < deadline) await sleep(20)
    }
    /** Per subject, the ids a consumer saw, in the order it saw them (first sighting). */
    const bySubject = (events: ReadonlyArray<StoredEvent>, subjects: ReadonlySet<string>) => {
      const out = new Map<string, Array<string>>()
      const once = new Set<string>()
      for (const e of events) {
        if (!subjects.has(e.subject) || once.has(e.id)) continue
        once.add(e.id)
        out.set(e.subject, [...(out.get(e.subject) ?? []), e.id])
      }
      return out
    }

    it("a relay restarted under the same name delivers every committed event at least once, each wallet in commit order, although the previous instance closed with events in flight and more were committed while no relay ran", async () => {
      const phones = [freshPhone(), freshPhone(), freshPhone()]
      // 1. Writes while no relay runs (this instance registers the relay name and never subscribes).
      const writer = await createCustomer360(options("restart"))
      let subjects: Set<string>
      try {
        subjects = new Set((await Promise.all(phones.map((phone) => writer.customers.create({ phone, name: "Relay" })))).map((c) => c.id))
        await writeSome(writer, phones, `restart-a-${phones[0]}`, 12)
      } finally {
        await writer.close()
      }
      // 2. An instance subscribes with a handler that takes 5 ms per event, writes more, and closes while
      //    its relay has handed it events its handler has not reached yet.
      const first = await createCustomer360(options("restart"))
      const firstSeen = listen(first, 5).seen
      try {
        await writeSome(first, phones, `restart-b-${phones[0]}`, 6)
        await waitUntil(() => firstSeen.length >= 5, 5_000)
      } finally {
        await first.close()
      }
      const handledByFirst = firstSeen.length
      // 3. The relay is down again: another instance commits more, and expires the credits.
      const second = await createCustomer360(options("restart"))
      try {
        await writeSome(second, phones, `restart-c-${phones[0]}`, 6)
        now += 2 * HOUR
        await second.jobs.expireCredits()
      } finally {
        await second.close()
      }
      // 4. The restarted relay.
      const expected = await committed([...subjects])
      const third = await createCustomer360(options("restart"))
      const thirdSeen = listen(third, 0).seen
      const all = () => new Set([...firstSeen, ...thirdSeen].map((e) => e.id))
      try {
        await waitUntil(() => [...expected.values()].flat().every((id) => all().has(id)), 10_000)
      } finally {
        await third.close()
      }

      const missing = [...expected.values()].flat().filter((id) => !all().has(id))
      expect(
        missing,
        `${missing.length} of ${[...expected.values()].flat().length} committed events never reached a handler (the closed instance handled ${handledByFirst})`
      ).toEqual([])
      const firstBy = bySubject(firstSeen, subjects)
      const thirdBy = bySubject(thirdSeen, subjects)
      for (const [subject, ids] of expected) {
        // The first instance saw a prefix of each wallet's history; the restarted one continues from at most
        // where it stopped (it may repeat some: at least once), to the end, without gaps or reordering.
        const early = firstBy.get(subject) ?? []
        const late = thirdBy.get(subject) ?? []
        expect(early, `first instance, ${subject}`).toEqual(ids.slice(0, early.length))
        const from = ids.length - late.length
        expect(from, `restarted instance, ${subject}: starts after what the first saw`).toBeLessThanOrEqual(early.length)
        expect(late, `restarted instance, ${subject}`).toEqual(ids.slice(from))
      }
    })

    it("a crash between commit and delivery loses nothing: events of an instance that never subscribed are delivered, each wallet in commit order, to the next instance under the same relay name", async () => {
      const writer = await createCustomer360(options("crash"))
      const phones = [freshPhone(), freshPhone()]
      let subjects: Set<string>
      try {
        subjects = new Set((await Promise.all(phones.map((phone) => writer.customers.create({ phone, name: "Crash" })))).map((c) => c.id))
        await writeSome(writer, phones, `crash-${phones[0]}`, 15)
        now += 2 * HOUR
        await writer.jobs.expireCredits()
      } finally {
        await writer.close()
      }
      const expected = await committed([...subjects])
      const reader = await createCustomer360(options("crash"))
      const seen = listen(reader, 0).seen
      try {
        await waitUntil(() => [...expected.values()].flat().every((id) => seen.some((e) => e.id === id)), 15_000)
      } finally {
        await reader.close()
      }
      const got = bySubject(seen, subjects)
      for (const [subject, ids] of expected) expect(got.get(subject) ?? [], `wallet ${subject}`).toEqual(ids)
      expect(seen.filter((e) => subjects.has(e.subject))).toHaveLength([...expected.values()].flat().length)
    })
  })
})
