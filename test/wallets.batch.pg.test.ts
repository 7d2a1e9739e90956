/**
 * PostgreSQL group commit: concurrent wallet writes that the store sends together as one
 * `c360_wallet_write_many` statement. Each write in a batch stands alone — a duplicate reference or
 * an outdated version changes nothing of it and nothing of the others; a write the database refuses
 * fails the whole statement, which then wrote nothing (the store sends each write again alone) — and
 * under load batches do form, with every invariant intact.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Customer360, Customers, Wallets } from "../src/index.js"
import { PgDatabase } from "../src/pg.js"
import { auditLedger } from "./support/audit.js"
import { createDatabase, pgEnabled } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL wallet writes in batches", () => {
  let drop: () => Promise<void> = async () => {}
  let runtime: ManagedRuntime.ManagedRuntime<Customers.Customers | Wallets.Wallets | SqlClient.SqlClient | PgDatabase.PgHandle, unknown>
  let batches = 0
  let batchedWrites = 0

  beforeAll(async () => {
    const db = await createDatabase()
    drop = db.drop
    const storage = PgDatabase.layer({ url: db.url, maxConnections: 16 })
    runtime = ManagedRuntime.make(Customer360.layer(storage).pipe(Layer.provideMerge(storage)))
    const { pool } = await runtime.runPromise(PgDatabase.PgHandle)
    // count the batch statements the store sends (the pool is the library's own)
    const query = pool.query.bind(pool) as (...args: Array<unknown>) => unknown
    pool.query = ((...args: Array<unknown>) => {
      const config = args[0] as { name?: string; values?: Array<string> } | undefined
      if (config?.name === "c360_wallet_write_many") {
        batches += 1
        batchedWrites += (JSON.parse(config.values![0]!) as Array<unknown>).length
      }
      return query(...args)
    }) as typeof pool.query
  })
  afterAll(async () => {
    await runtime?.dispose()
    await drop()
  })

  const run = <A, E>(effect: Effect.Effect<A, E, Customers.Customers | Wallets.Wallets | SqlClient.SqlClient | PgDatabase.PgHandle>) =>
    runtime.runPromise(effect)

  const phone = (i: number) => `0977${String(i).padStart(6, "0")}`

  it("c360_wallet_write_many: an applied write, a duplicate reference and an outdated version stay independent; a refused write fails the whole batch, which writes nothing", async () => {
    const ids = await run(Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const wallets = yield* Wallets.Wallets
      const made = []
      for (const i of [1, 2, 3, 4]) made.push((yield* customers.create({ phone: phone(i), name: `Batch ${i}` })).id)
      yield* wallets.deposit({ phone: phone(2), amount: 500, reference: "batch-dup", source: "manual" })
      return made
    }))
    const at = Date.now()
    const write = (customer: string, version: number, balance: number, reference: string, n: number) => ({
      customer,
      phone: null,
      version,
      balance,
      at,
      reference,
      transaction: `txn_batchtest${n}`,
      kind: "deposit",
      fingerprint: "[]",
      result: "{}",
      creditUpdates: [],
      newCredits: [],
      entries: [{ ord: 0, id: `le_batchtest${n}_0`, kind: "deposit", amount: 100, balanceAfter: balance, creditId: null, creditRemainingAfter: null, source: "manual", note: null }],
      events: [{ ord: 0, id: `evt_batchtest${n}`, channel: "wallets", type: "wallet.deposit", subject: customer, payload: "{}", occurred_at: at }]
    })
    const outcome = await run(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const before = yield* sql<{ customer_id: string; balance: string; version: string }>`SELECT customer_id, balance, version
        FROM c360_wallets WHERE customer_id IN ${sql.in(ids)} ORDER BY customer_id`
      const state = new Map(before.map((r) => [r.customer_id, { balance: Number(r.balance), version: Number(r.version) }]))
      const [a, b, c, d] = ids as unknown as [string, string, string, string]
      const failing = write(d, state.get(d)!.version, state.get(d)!.balance + 100, "batch-failing", 4)
      failing.entries[0]!.kind = "bonus" // refused by the ledger's CHECK constraint: 23514
      const good = [
        write(a, state.get(a)!.version, state.get(a)!.balance + 100, "batch-new", 1), // applies
        write(b, state.get(b)!.version, state.get(b)!.balance + 100, "batch-dup", 2), // reference recorded: nothing of it
        write(c, state.get(c)!.version + 7, state.get(c)!.balance + 100, "batch-stale", 3) // outdated version: nothing
      ]
      const snapshot = Effect.gen(function*() {
        const wallets = yield* sql<{ customer_id: string; balance: string; version: string }>`SELECT customer_id, balance, version
          FROM c360_wallets WHERE customer_id IN ${sql.in(ids)} ORDER BY customer_id`
        const rows = yield* sql<{ n: string }>`SELECT
          (SELECT count(*) FROM c360_ledger_entries WHERE transaction_id LIKE 'txn_batchtest%')
          + (SELECT count(*) FROM c360_outbox WHERE id LIKE 'evt_batchtest%')
          + (SELECT count(*) FROM c360_wallet_operations WHERE transaction_id LIKE 'txn_batchtest%' OR reference = 'batch-stale') AS n`
        return { wallets: new Map(wallets.map((r) => [r.customer_id, { balance: Number(r.balance), version: Number(r.version) }])), rows: Number(rows[0]!.n) }
      })
      // with the refused write: the statement fails, and none of the four is written
      const refused = yield* Effect.either(sql`SELECT c360_wallet_write_many(${JSON.stringify([...good, failing])}::jsonb) AS results`)
      const afterRefused = yield* snapshot
      const [row] = yield* sql<{ results: unknown }>`SELECT c360_wallet_write_many(${JSON.stringify(good)}::jsonb) AS results`
      return { refused, afterRefused, results: row!.results, before: state, after: yield* snapshot, ids }
    }))
    expect(outcome.refused._tag).toBe("Left")
    expect(outcome.afterRefused).toEqual({ wallets: outcome.before, rows: 0 })
    const results = typeof outcome.results === "string" ? JSON.parse(outcome.results) : outcome.results
    expect(results).toEqual(["applied", "duplicate", "stale"])
    const [a, b, c] = outcome.ids as unknown as [string, string, string, string]
    expect(outcome.after.wallets.get(a)).toEqual({ balance: outcome.before.get(a)!.balance + 100, version: outcome.before.get(a)!.version + 1 })
    expect(outcome.after.wallets.get(b)).toEqual(outcome.before.get(b))
    expect(outcome.after.wallets.get(c)).toEqual(outcome.before.get(c))
    // the applied write's ledger entry, outbox event and operation; nothing of the others (the stale
    // write's reference row is gone again)
    expect(outcome.after.rows).toBe(3)
    expect((await run(auditLedger)).violations).toEqual([])
  })

  it("under load writes go in batches: every write once, replays and conflicts typed, the ledger audits clean", async () => {
    const N = 24
    await run(Effect.gen(function*() {
      const customers = yield* Customers.Customers
      const wallets = yield* Wallets.Wallets
      for (let i = 100; i < 100 + N; i++) {
        yield* customers.create({ phone: phone(i), name: `Load ${i}` })
        yield* wallets.deposit({ phone: phone(i), amount: 10_000, reference: `seed-${i}`, source: "manual" })
      }
    }))
    batches = 0
    batchedWrites = 0
    // 48 callers: each wallet gets withdrawals from two callers, and some writes reuse a reference
    // recorded on another wallet (IdempotencyConflict) or replay their own (the first result)
    const outcomes = await Promise.all(Array.from({ length: 48 }, (_, caller) =>
      run(Effect.gen(function*() {
        const wallets = yield* Wallets.Wallets
        const wallet = 100 + (caller % N)
        const results: Array<string> = []
        for (let k = 0; k < 25; k++) {
          const reference = k === 20 ? `seed-${100 + ((wallet + 1 - 100) % N)}` : `w-${caller}-${k % 20}`
          const r = yield* Effect.either(wallets.withdraw({ phone: phone(wallet), amount: 100, reference }))
          results.push(r._tag === "Right" ? "ok" : r.left._tag)
        }
        return results
      }))))
    const flat = outcomes.flat()
    expect(batches, "no batch was formed under load").toBeGreaterThan(0)
    expect(batchedWrites).toBeGreaterThan(batches)
    // per caller: 20 new withdrawals, 4 replays of its own (same payload: the first result), 1 conflict
    expect(flat.filter((r) => r === "ok")).toHaveLength(48 * 24)
    expect(flat.filter((r) => r === "IdempotencyConflict")).toHaveLength(48)
    const balances = await run(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return yield* sql<{ balance: string; n: string }>`SELECT w.balance,
          (SELECT count(*) FROM c360_wallet_operations o WHERE o.customer_id = w.customer_id AND o.kind = 'withdraw') AS n
        FROM c360_wallets w JOIN c360_customers c ON c.id = w.customer_id WHERE c.phone LIKE '0977%' AND c.name LIKE 'Load %'`
    }))
    expect(balances).toHaveLength(N)
    for (const b of balances) {
      expect(Number(b.n)).toBe(40) // two callers × 20 distinct references
      expect(Number(b.balance)).toBe(10_000 - 40 * 100)
    }
    expect((await run(auditLedger)).violations).toEqual([])
  })
})
