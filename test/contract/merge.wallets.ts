/**
 * The wallets part of a merge (DOMAIN §3, §9a; docs/wallets.md#merge), run on SQLite, deferred
 * SQLite, PostgreSQL and D1 (merge.wallets.*.test.ts): money conserved and every §3 invariant on both
 * wallets (a ledger replay that knows the merge's entry kinds), expiry and spend order kept on the
 * survivor, due credits expired first, the dry run writing nothing and predicting the part exactly, a
 * repeat a no-op, several profiles merged at once, the merged profile's phone and id reaching the
 * survivor's wallet (fast paths included, and inside a caller's transaction), and — on
 * PostgreSQL — deposits racing a merge each counted exactly once.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { Customers } from "../../src/customers/Customers.js"
import { Transactions } from "../../src/platform/Transactions.js"
import { Outbox } from "../../src/platform/Outbox.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { WalletStore } from "../../src/wallets/WalletStore.js"
import { freshPhone, freshWord, servicesOver } from "./customers.js"
import { differences, snapshot } from "./purchases.js"
import { auditLedger } from "../support/audit.js"

const DAY = 86_400_000

let refs = 0
const ref = (what: string) => `${what}-${freshWord()}-${refs++}`

/** The §3 invariants with the merge's kinds: the shared ledger auditor's violations (none is good). */
export const auditWithMerges = Effect.map(auditLedger, (report) => report.violations)

/** Money at `now` of the given wallets: real balances + unexpired credit remainders. */
const moneyOf = (ids: ReadonlyArray<string>, now: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const real = yield* sql<{ n: unknown }>`SELECT COALESCE(sum(balance), 0) AS n FROM c360_wallets WHERE ${sql.in("customer_id", ids)}`
    const credits = yield* sql<{ n: unknown }>`SELECT COALESCE(sum(remaining), 0) AS n FROM c360_virtual_credits
      WHERE ${sql.in("customer_id", ids)} AND status = 'active' AND expires_at > ${now}`
    return Number(real[0]!.n) + Number(credits[0]!.n)
  }).pipe(Effect.orDie)

const kindsOf = (customerId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ kind: string; amount: unknown }>`SELECT kind, amount FROM c360_ledger_entries WHERE customer_id = ${customerId} ORDER BY seq`)
    .pipe(Effect.map((rows) => rows.map((r) => `${r.kind} ${Number(r.amount)}`)), Effect.orDie)

/** Two profiles: the survivor with 50 000 and a 10-day credit; the duplicate with money and credits. */
const twoProfiles = Effect.gen(function*() {
  const customers = yield* Customers
  const wallets = yield* Wallets
  const start = Date.UTC(2032, 0, 10, 3) + refs * 90 * DAY
  yield* TestClock.setTime(start)
  const word = freshWord()
  const survivor = yield* customers.create({ phone: freshPhone(), name: `Survivor ${word}` })
  const merged = yield* customers.create({ phone: freshPhone(), name: `Duplicate ${word}` })
  yield* wallets.deposit({ phone: survivor.phone!, amount: 50_000, reference: ref("s-d"), source: "manual" })
  const own = yield* wallets.issueVirtualCredit({ phone: survivor.phone!, amount: 10_000, reason: "own", reference: ref("s-c"), expiresInDays: 10 })
  yield* wallets.deposit({ phone: merged.phone!, amount: 100_000, reference: ref("m-d"), source: "manual" })
  const soon = yield* wallets.issueVirtualCredit({ phone: merged.phone!, amount: 5_000, reason: "soon", reference: ref("m-c"), expiresInDays: 1 })
  const near = yield* wallets.issueVirtualCredit({
    phone: merged.phone!, amount: 20_000, reason: "ticket", reference: ref("m-c"), expiresInDays: 2, ticketId: "T-1"
  })
  const far = yield* wallets.issueVirtualCredit({ phone: merged.phone!, amount: 30_000, reason: "far", reference: ref("m-c"), expiresInDays: 20 })
  // spends `soon` whole and 3 000 of `near`
  yield* wallets.withdraw({ phone: merged.phone!, amount: 8_000, reference: ref("m-w") })
  yield* TestClock.adjust(1_000)
  // due by the merge, with its remainder, never expired by the job
  const due = yield* wallets.issueVirtualCredit({ phone: merged.phone!, amount: 7_000, reason: "due", reference: ref("m-c"), expiresInDays: 1 })
  yield* TestClock.adjust(DAY + 60_000)
  return { survivor, merged, own: own.credit, near: near.credit, far: far.credit, due: due.credit, soon: soon.credit }
})

export const mergeWalletsContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly concurrency?: boolean } = {}
) =>
  layer(servicesOver(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("a merge moves the real balance (merge_out/merge_in) and each unexpired credit with its expiry, reason, ticket and issue instant; due credits are expired first; money is conserved and the §3 invariants hold on both wallets; the survivor spends in the kept order", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const sql = yield* SqlClient.SqlClient
        const p = yield* twoProfiles
        const at = yield* Clock.currentTimeMillis
        const ids = [p.survivor.id, p.merged.id]
        const before = yield* moneyOf(ids, at)
        expect(before).toBe(50_000 + 10_000 + 100_000 + 17_000 + 30_000)
        const mark = yield* Effect.flatMap(Outbox, (o) => o.end)
        const result = yield* customers.merge({ survivorId: p.survivor.id, mergedIds: [p.merged.id], dryRun: false })
        expect(result.moved[0]!.parts.wallets).toEqual({
          balance: 100_000,
          credits: [
            { creditId: p.near.id, remaining: 17_000, expiresAt: p.near.expiresAt.toISOString() },
            { creditId: p.far.id, remaining: 30_000, expiresAt: p.far.expiresAt.toISOString() }
          ],
          expired: [{ creditId: p.due.id, remaining: 7_000 }]
        })
        expect(yield* moneyOf(ids, at)).toBe(before)
        expect(yield* auditWithMerges).toEqual([])
        // the merged wallet is empty, its credits closed; the survivor holds everything
        const left = yield* sql<{ balance: unknown }>`SELECT balance FROM c360_wallets WHERE customer_id = ${p.merged.id}`
        expect(Number(left[0]!.balance)).toBe(0)
        const closed = yield* sql<{ id: string; status: string; merged_amount: unknown; expired_amount: unknown }>`
          SELECT id, status, merged_amount, expired_amount FROM c360_virtual_credits WHERE customer_id = ${p.merged.id} ORDER BY id`
        expect(closed.map((c) => [c.id, c.status, Number(c.merged_amount), Number(c.expired_amount)])).toEqual([
          [p.soon.id, "consumed", 0, 0],
          [p.near.id, "merged", 17_000, 0],
          [p.far.id, "merged", 30_000, 0],
          [p.due.id, "expired", 0, 7_000]
        ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)))
        const view = yield* wallets.get(p.survivor.phone!)
        expect(view).toMatchObject({ customerId: p.survivor.id, balance: 150_000, virtualBalance: 57_000, available: 207_000 })
        expect(view.credits.map((c) => [c.remaining, c.expiresAt.getTime(), c.issuedAt.getTime(), c.reason, c.ticketId])).toEqual([
          [17_000, p.near.expiresAt.getTime(), p.near.issuedAt.getTime(), "ticket", "T-1"],
          [10_000, p.own.expiresAt.getTime(), p.own.issuedAt.getTime(), "own", null],
          [30_000, p.far.expiresAt.getTime(), p.far.issuedAt.getTime(), "far", null]
        ])
        expect(yield* kindsOf(p.merged.id)).toEqual([
          "deposit 100000", "credit_issued 5000", "credit_issued 20000", "credit_issued 30000",
          "credit_spent -5000", "credit_spent -3000", "credit_issued 7000",
          "credit_expired -7000", "credit_merged_out -17000", "credit_merged_out -30000", "merge_out -100000"
        ])
        expect((yield* kindsOf(p.survivor.id)).slice(2)).toEqual(["merge_in 100000", "credit_merged_in 17000", "credit_merged_in 30000"])
        // the due credit's expiry is the expiry job's: its event, once
        const events = (yield* Effect.flatMap(Outbox, (o) => o.read(mark, 1000))).filter((e) => e.channel === "wallets")
        expect(events.map((e) => [e.type, e.subject, e.data])).toEqual([
          ["wallet.credit_expired", p.merged.id, { creditId: p.due.id, amount: 7_000, expiresAt: p.due.expiresAt.toISOString() }]
        ])
        expect((yield* wallets.expireCredits()).expired).toBe(0)
        // journal: every entry and credit written, every credit closed
        const journal = yield* sql<{ table_name: string; action: string; n: unknown }>`SELECT table_name, action, count(*) AS n
          FROM c360_merge_rows WHERE merge_id = ${result.mergeId} AND part = 'wallets' GROUP BY table_name, action ORDER BY table_name, action`
        expect(journal.map((j) => [j.table_name, j.action, Number(j.n)])).toEqual([
          ["c360_ledger_entries", "created", 7],
          ["c360_virtual_credits", "closed", 3],
          ["c360_virtual_credits", "created", 2]
        ])
        // spend order on the survivor: earliest expiry first, the moved credit included
        const w = yield* wallets.withdraw({ phone: p.survivor.phone!, amount: 20_000, reference: ref("s-w") })
        expect(w.fromCredits.map((c) => c.amount)).toEqual([17_000, 3_000])
        expect(w.fromCredits[1]!.creditId).toBe(p.own.id)
        expect(yield* auditWithMerges).toEqual([])
      }))

    it.effect("the dry run (the default) writes nothing and its wallets part equals the merge's; a repeated merge changes nothing", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const p = yield* twoProfiles
        const before = yield* snapshot
        const preview = yield* customers.merge({ survivorId: p.survivor.id, mergedIds: [p.merged.id] })
        expect(preview.dryRun).toBe(true)
        expect(differences(before, yield* snapshot)).toEqual([])
        const real = yield* customers.merge({ survivorId: p.survivor.id, mergedIds: [p.merged.id], dryRun: false })
        expect(real.moved[0]!.parts.wallets).toEqual(preview.moved[0]!.parts.wallets)
        expect((preview.moved[0]!.parts.wallets as { balance: number }).balance).toBe(100_000)
        const settled = yield* snapshot
        const repeat = yield* customers.merge({ survivorId: p.survivor.id, mergedIds: [p.merged.id], dryRun: false })
        expect(repeat.repeated).toBe(true)
        expect(differences(settled, yield* snapshot)).toEqual([])
      }))

    it.effect("nothing to move: the part is listed with zeros; several profiles merged at once all land on the survivor, each planned on what the previous left", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        yield* TestClock.setTime(Date.UTC(2033, 3, 1))
        const word = freshWord()
        const survivor = yield* customers.create({ phone: freshPhone(), name: `S ${word}` })
        const empty = yield* customers.create({ phone: freshPhone(), name: `E ${word}` })
        const rich = yield* customers.create({ phone: freshPhone(), name: `R ${word}` })
        const other = yield* customers.create({ phone: freshPhone(), name: `O ${word}` })
        yield* wallets.deposit({ phone: rich.phone!, amount: 40_000, reference: ref("r"), source: "manual" })
        yield* wallets.deposit({ phone: other.phone!, amount: 2_000, reference: ref("o"), source: "manual" })
        yield* wallets.issueVirtualCredit({ phone: other.phone!, amount: 3_000, reason: "gift", reference: ref("o-c") })
        const result = yield* customers.merge({ survivorId: survivor.id, mergedIds: [empty.id, rich.id, other.id], dryRun: false })
        expect(result.moved.map((m) => (m.parts.wallets as { balance: number }).balance)).toEqual([0, 40_000, 2_000])
        expect(result.moved[0]!.parts.wallets).toEqual({ balance: 0, credits: [], expired: [] })
        expect(yield* wallets.get(survivor.phone!)).toMatchObject({ balance: 42_000, virtualBalance: 3_000 })
        expect(yield* auditWithMerges).toEqual([])
      }))

    it.effect("after the merge, the merged profile's phone and id reach the survivor's wallet: balance, deposit, withdraw — also right after a write by that phone, and inside a caller's transaction", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const store = yield* WalletStore
        const tx = yield* Transactions
        const p = yield* twoProfiles
        // a write by the merged phone just before: whatever a fast path remembers of it is outdated by the merge
        yield* wallets.deposit({ phone: p.merged.phone!, amount: 1_000, reference: ref("m-d2"), source: "manual" })
        yield* customers.merge({ survivorId: p.survivor.id, mergedIds: [p.merged.id], dryRun: false })
        // in a caller's transaction, by the merged phone: the survivor's wallet
        const deposit = yield* tx.withTransaction(
          wallets.deposit({ phone: p.merged.phone!, amount: 500, reference: ref("in-tx"), source: "manual" })
        )
        expect(deposit.wallet).toMatchObject({ customerId: p.survivor.id, balance: 151_500 })
        expect(yield* wallets.get(p.merged.phone!)).toEqual(yield* wallets.get(p.survivor.phone!))
        const d = yield* wallets.deposit({ phone: p.merged.phone!, amount: 2_000, reference: ref("after"), source: "bank_transfer" })
        expect(d.wallet).toMatchObject({ customerId: p.survivor.id, balance: 153_500 })
        const w = yield* wallets.withdraw({ phone: p.merged.phone!, amount: 60_000, reference: ref("after-w") })
        expect(w.fromCredits.map((c) => c.amount)).toEqual([17_000, 10_000, 30_000])
        expect(w.fromReal).toBe(3_000)
        expect((yield* store.load({ customerId: p.merged.id })).customerId).toBe(p.survivor.id)
        expect((yield* store.load({ phone: p.merged.phone! })).balance).toBe(150_500)
        expect((yield* wallets.transactions(p.merged.phone!, { limit: 1 })).items[0]!.kind).toBe("withdrawal")
        const sql = yield* SqlClient.SqlClient
        const left = yield* sql<{ balance: unknown; n: unknown }>`SELECT balance,
          (SELECT count(*) FROM c360_ledger_entries WHERE customer_id = ${p.merged.id} AND kind = 'deposit') AS n
          FROM c360_wallets WHERE customer_id = ${p.merged.id}`
        expect([Number(left[0]!.balance), Number(left[0]!.n)]).toEqual([0, 2])
        expect(yield* auditWithMerges).toEqual([])
      }))

    if (options.concurrency) {
      it.effect("deposits to the merged profile racing the merge: every deposit is counted exactly once, on one wallet, and money is conserved", () =>
        Effect.gen(function*() {
          const customers = yield* Customers
          const wallets = yield* Wallets
          const sql = yield* SqlClient.SqlClient
          const word = freshWord()
          const survivor = yield* customers.create({ phone: freshPhone(), name: `S ${word}` })
          const merged = yield* customers.create({ phone: freshPhone(), name: `M ${word}` })
          yield* wallets.deposit({ phone: merged.phone!, amount: 10_000, reference: ref("seed"), source: "manual" })
          yield* wallets.issueVirtualCredit({ phone: merged.phone!, amount: 5_000, reason: "gift", reference: ref("seed-c") })
          const n = 24
          const deposits = Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) =>
            wallets.deposit({ phone: merged.phone!, amount: 1_000 + i, reference: `${word}-race-${i}`, source: "manual" }), { concurrency: 4 })
          // the merge starts while the deposits are on their way
          const merge = Effect.zipRight(Effect.repeatN(Effect.yieldNow(), 30), customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false }))
          const [, result] = yield* Effect.all([deposits, merge], { concurrency: "unbounded" })
          const sum = Array.from({ length: n }, (_, i) => 1_000 + i).reduce((a, b) => a + b, 0)
          const moved = (result.moved[0]!.parts.wallets as { balance: number }).balance
          expect(moved).toBeGreaterThanOrEqual(10_000)
          const rows = yield* sql<{ customer_id: string; n: unknown; total: unknown }>`SELECT customer_id, count(*) AS n, sum(amount) AS total
            FROM c360_ledger_entries WHERE reference LIKE ${`${word}-race-%`} GROUP BY customer_id`
          expect(rows.reduce((a, r) => a + Number(r.n), 0)).toBe(n)
          expect(rows.reduce((a, r) => a + Number(r.total), 0)).toBe(sum)
          const balances = yield* sql<{ customer_id: string; balance: unknown }>`SELECT customer_id, balance FROM c360_wallets
            WHERE ${sql.in("customer_id", [survivor.id, merged.id])}`
          const byId = new Map(balances.map((b) => [b.customer_id, Number(b.balance)]))
          expect(byId.get(merged.id)).toBe(0)
          expect(byId.get(survivor.id)).toBe(10_000 + sum)
          expect(yield* moneyOf([survivor.id, merged.id], yield* Clock.currentTimeMillis)).toBe(15_000 + sum)
          expect(yield* auditWithMerges).toEqual([])
        }))
    }
  })
