/**
 * The model-based merge test (issue: "Merge"): random shops — customers with real balances,
 * credits (some expired by the time of the merge), withdrawals, tickets, bank transfers, purchases
 * and returns — then a merge of random duplicates into a random survivor. After the merge, against
 * a model kept alongside:
 * - total money across the shop (real balances + spendable credit remainders) is unchanged;
 * - every invariant of DOMAIN §3 holds (the ledger auditor rebuilds every wallet from its entries);
 * - the survivor's wallet holds the sum, each moved credit keeps its expiry;
 * - every ticket, transfer and purchase of a merged profile points to the survivor;
 * - the dry run before it predicted the merge exactly, and wrote nothing;
 * - a repeated merge changes nothing;
 * - every phone of a merged profile finds the survivor (the 360 view, the wallet).
 * Run on SQLite, deferred SQLite, PostgreSQL and D1 (merge.model.*.test.ts).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { Customers } from "../../src/customers/Customers.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { Tickets } from "../../src/tickets/Tickets.js"
import { Transfers } from "../../src/transfers/Transfers.js"
import { Purchases } from "../../src/purchases/Purchases.js"
import { auditLedger } from "../support/audit.js"
import type { UnitOfWork } from "../../src/platform/UnitOfWork.js"
import { comparable } from "./merge.js"
import { freshPhone, freshWord } from "./customers.js"
import { differences, snapshot } from "./purchases.js"
import { AUTHORIZATION, sepayBody, servicesWithTransfers } from "./transfers.js"

const DAY = 86_400_000

interface Profile {
  readonly deposits: ReadonlyArray<number>
  readonly credits: ReadonlyArray<{ readonly amount: number; readonly days: number }>
  readonly withdraw: number
  readonly tickets: number
  readonly transfers: ReadonlyArray<number>
  readonly purchases: ReadonlyArray<{ readonly amount: number; readonly returned: number }>
}

const amount = fc.integer({ min: 1, max: 500 }).map((n) => n * 1_000)
const profile: fc.Arbitrary<Profile> = fc.record({
  deposits: fc.array(amount, { maxLength: 3 }),
  // days until expiry; the merge happens 3 days later: 1–3 are expired by then
  credits: fc.array(fc.record({ amount, days: fc.integer({ min: 1, max: 20 }) }), { maxLength: 3 }),
  withdraw: fc.integer({ min: 0, max: 400 }).map((n) => n * 1_000),
  tickets: fc.integer({ min: 0, max: 2 }),
  transfers: fc.array(amount, { maxLength: 2 }),
  purchases: fc.array(fc.record({ amount, returned: fc.integer({ min: 0, max: 2 }) }), { maxLength: 2 })
})

const shop = fc.record({
  profiles: fc.array(profile, { minLength: 2, maxLength: 4 }),
  survivor: fc.nat(),
  merged: fc.nat()
})

/** Money a shop holds at `now`: real balances + spendable (unexpired) credit remainders. */
const moneyOf = (ids: ReadonlyArray<string>, now: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const real = yield* sql<{ n: unknown }>`SELECT COALESCE(sum(balance), 0) AS n FROM c360_wallets WHERE ${sql.in("customer_id", ids)}`
    const credits = yield* sql<{ n: unknown }>`SELECT COALESCE(sum(remaining), 0) AS n FROM c360_virtual_credits
      WHERE ${sql.in("customer_id", ids)} AND status = 'active' AND expires_at > ${now}`
    return Number(real[0]!.n) + Number(credits[0]!.n)
  }).pipe(Effect.orDie)

const countOf = (table: string, column: string, id: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: unknown }>`SELECT count(*) AS n FROM ${sql(table)} WHERE ${sql(column)} = ${id}`).pipe(
    Effect.map((rows) => Number(rows[0]!.n)),
    Effect.orDie
  )

const MOVED_TABLES = [["c360_tickets", "customer_id"], ["c360_bank_transfers", "customer_id"], ["c360_purchases", "customer_id"]] as const

export const mergeModelContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly runs?: number } = {}
) =>
  layer(servicesWithTransfers(storage), { timeout: "600 seconds" })(name, (it) => {
    it.effect("model-based: random shops merged — money unchanged, §3 invariants, every moved row on the survivor, the dry run exact, a repeat a no-op, every phone finds the survivor", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const tickets = yield* Tickets
        const transfers = yield* Transfers
        const purchases = yield* Purchases
        const runtime = yield* Effect.runtime<SqlClient.SqlClient | UnitOfWork>()
        const runPromise = Runtime.runPromise(runtime)
        let run = 0
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(shop, (s) =>
              runPromise(Effect.gen(function*() {
                run++
                const start = Date.UTC(2031, 5, 1, 3) + run * 40 * DAY
                yield* TestClock.setTime(start)
                const tag = freshWord()
                const made: Array<{ id: string; phone: string }> = []
                for (const [i, p] of s.profiles.entries()) {
                  const phone = freshPhone()
                  const c = yield* customers.create({ phone, name: `P${i} ${tag}` })
                  for (const [k, d] of p.deposits.entries()) yield* wallets.deposit({ phone, amount: d, source: "manual", reference: `${tag}:${i}:d${k}` })
                  for (const [k, cr] of p.credits.entries()) {
                    yield* wallets.issueVirtualCredit({ phone, amount: cr.amount, reason: "gift", reference: `${tag}:${i}:c${k}`, expiresInDays: cr.days })
                  }
                  const available = p.deposits.reduce((a, b) => a + b, 0) + p.credits.reduce((a, b) => a + b.amount, 0)
                  if (p.withdraw > 0 && p.withdraw <= available) {
                    yield* wallets.withdraw({ phone, amount: p.withdraw, reference: `${tag}:${i}:w` })
                  }
                  for (let k = 0; k < p.tickets; k++) yield* tickets.create({ phone, type: "KHAC", note: `t${k}` } as never)
                  for (const [k, t] of p.transfers.entries()) {
                    yield* transfers.receiveSepay(
                      sepayBody({ id: `${tag}${i}${k}${run}`.replace(/\D/g, "") + String(Math.floor(Math.random() * 1e9)), content: `CK ${c.paymentCode} don hang`, amount: t }),
                      AUTHORIZATION
                    )
                  }
                  for (const [k, pu] of p.purchases.entries()) {
                    const reference = `${tag}:${i}:p${k}`
                    yield* purchases.record({ phone, amount: pu.amount, reference })
                    if (pu.returned === 1) yield* purchases.recordReturn({ purchaseReference: reference, amount: Math.floor(pu.amount / 2), reference: `${reference}:r` })
                    if (pu.returned === 2) yield* purchases.recordReturn({ purchaseReference: reference, reference: `${reference}:r` })
                  }
                  made.push({ id: c.id, phone })
                }
                // three days later: credits of 1–3 days are due
                yield* TestClock.adjust(3 * DAY)
                const now = start + 3 * DAY
                const survivor = made[s.survivor % made.length]!
                const others = made.filter((m) => m !== survivor)
                const mergedSet = others.slice(0, 1 + (s.merged % others.length))
                const ids = made.map((m) => m.id)
                const moneyBefore = yield* moneyOf(ids, now)
                const movingExpiries = (yield* Effect.orDie(Effect.flatMap(SqlClient.SqlClient, (sql) =>
                  sql<{ expires_at: unknown; remaining: unknown }>`SELECT expires_at, remaining FROM c360_virtual_credits
                    WHERE ${sql.in("customer_id", mergedSet.map((m) => m.id))} AND status = 'active' AND expires_at > ${now}`)))
                  .map((r) => `${Number(r.expires_at)}:${Number(r.remaining)}`)
                const spendable = yield* Effect.forEach([survivor, ...mergedSet], (m) => Effect.map(wallets.get(m.phone), (v) => v.available))
                const rowsBefore = yield* Effect.forEach(MOVED_TABLES, ([table, column]) =>
                  Effect.map(Effect.forEach([survivor, ...mergedSet], (m) => countOf(table, column, m.id)), (ns) => ns.reduce((a, b) => a + b, 0)))

                // the dry run writes nothing
                const before = yield* snapshot
                const preview = yield* customers.merge({ survivorId: survivor.id, mergedIds: mergedSet.map((m) => m.id) })
                expect(differences(before, yield* snapshot)).toEqual([])
                // the merge does what the dry run said
                const real = yield* customers.merge({ survivorId: survivor.id, mergedIds: mergedSet.map((m) => m.id), dryRun: false })
                expect(comparable(real)).toEqual(comparable(preview))

                // money: unchanged in the shop, all of it on the survivor
                expect(yield* moneyOf(ids, now)).toBe(moneyBefore)
                expect((yield* wallets.get(survivor.phone)).available).toBe(spendable.reduce((a, b) => a + b, 0))
                const audit = yield* auditLedger
                expect(audit.violations.slice(0, 5)).toEqual([])
                for (const m of mergedSet) {
                  const sql = yield* SqlClient.SqlClient
                  const left = yield* sql<{ balance: unknown }>`SELECT balance FROM c360_wallets WHERE customer_id = ${m.id}`
                  expect(Number(left[0]!.balance)).toBe(0)
                  const active = yield* sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_virtual_credits WHERE customer_id = ${m.id} AND status = 'active'`
                  expect(Number(active[0]!.n)).toBe(0)
                }
                // every unexpired credit of a merged profile is on the survivor with its expiry
                const sql = yield* SqlClient.SqlClient
                const survivorCredits = (yield* sql<{ expires_at: unknown; remaining: unknown }>`SELECT expires_at, remaining
                  FROM c360_virtual_credits WHERE customer_id = ${survivor.id} AND status = 'active'`)
                  .map((r) => `${Number(r.expires_at)}:${Number(r.remaining)}`)
                for (const c of movingExpiries) {
                  const at = survivorCredits.indexOf(c)
                  expect(at, `a moved credit ${c} (expiry:remainder) on the survivor`).toBeGreaterThanOrEqual(0)
                  survivorCredits.splice(at, 1)
                }
                // every row moved
                for (const [k, [table, column]] of MOVED_TABLES.entries()) {
                  for (const m of mergedSet) expect(yield* countOf(table, column, m.id)).toBe(0)
                  expect(yield* countOf(table, column, survivor.id)).toBe(rowsBefore[k])
                }
                // a repeat changes nothing
                const settled = yield* snapshot
                const repeat = yield* customers.merge({ survivorId: survivor.id, mergedIds: mergedSet.map((m) => m.id), dryRun: false })
                expect(repeat.repeated).toBe(true)
                expect(differences(settled, yield* snapshot)).toEqual([])
                // every phone finds the survivor
                for (const m of mergedSet) {
                  expect(Option.map(yield* customers.findByPhone(m.phone), (c) => c.id)).toEqual(Option.some(survivor.id))
                  expect((yield* customers.view360(m.phone)).customer.id).toBe(survivor.id)
                  expect((yield* wallets.get(m.phone)).available).toBe((yield* wallets.get(survivor.phone)).available)
                }
              }).pipe(Effect.orDie))
            ),
            { numRuns: options.runs ?? 8, endOnFailure: true }
          )
        )
      }))
  })
