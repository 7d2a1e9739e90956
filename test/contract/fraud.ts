/**
 * The fraud contract (DOMAIN §8), run against SQLite, SQLite with deferred writes, PostgreSQL and D1
 * (fraud.*.test.ts): each rule fires exactly at its threshold and not one below, over sliding windows
 * that cross clock hours; the evidence lists exactly the rows behind it; a decision blacklists or
 * flags once, with its events and activity; a second run — at the same instant or a later one —
 * writes nothing; a backtest writes nothing and finds what a run records, for any batch size; a new
 * episode after a cleared flag raises it again; a blacklisted customer's purchase is refused until
 * staff clear the blacklist; a rule version recorded with another definition is refused; and a
 * property in which random wallet activity is replayed by the backtest and by a reference written
 * here, independently of the SQL.
 *
 * Each test runs in its own years (`TestClock.setTime`) with its own customers; a run evaluates every
 * customer of the database, so each test checks its own customers' decisions — and the idempotence
 * tests check the whole database.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import { Customers } from "../../src/customers/Customers.js"
import { FraudDecision, type FraudRule } from "../../src/fraud/Fraud.js"
import * as FraudService from "../../src/fraud/FraudService.js"
import { Fraud } from "../../src/fraud/FraudService.js"
import { Customer360Config } from "../../src/kernel/Config.js"
import type { StoredEvent } from "../../src/kernel/Events.js"
import { Outbox } from "../../src/platform/Outbox.js"
import { Purchases } from "../../src/purchases/Purchases.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { auditLedger, WRITTEN_TABLES } from "../support/audit.js"
import { freshPhone, servicesOver } from "./customers.js"

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const BIG = 5_000_001

/** 10:30 in Hanoi on 10 January of `year`. */
const at1030 = (year: number) => Date.UTC(year, 0, 10, 3, 30)

let references = 0
const ref = (what: string) => `fraud-${what}-${Date.now().toString(36)}-${(references += 1)}`

const newCustomer = (at: number) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(at)
    const phone = freshPhone()
    const customer = yield* Effect.flatMap(Customers, (c) => c.create({ phone, name: "Khách Fraud" }))
    return { phone, id: customer.id }
  })

const deposit = (phone: string, amount: number, at: number) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(at)
    const r = yield* Effect.flatMap(Wallets, (w) => w.deposit({ phone, amount, reference: ref("d"), source: "manual" }))
    return r.transactionId
  })

const withdraw = (phone: string, amount: number, at: number) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(at)
    const r = yield* Effect.flatMap(Wallets, (w) => w.withdraw({ phone, amount, reference: ref("w") }))
    return r.transactionId
  })

const purchase = (phone: string, amount: number, at: number) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(at)
    const reference = ref("p")
    const r = yield* Effect.flatMap(Purchases, (p) => p.record({ phone, amount, reference }))
    return { id: r.purchase.id, reference }
  })

const returnOf = (purchaseReference: string, at: number, amount?: number) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(at)
    const r = yield* Effect.flatMap(Purchases, (p) =>
      p.recordReturn({ purchaseReference, reference: ref("r"), ...(amount === undefined ? {} : { amount }) }))
    return r.return.id
  })

const runAt = (at: number, options: FraudService.RunOptions = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(at)
    return yield* Effect.flatMap(Fraud, (f) => f.run(options))
  })

const decisionsOf = (phone: string) => Effect.map(Effect.flatMap(Fraud, (f) => f.decisions(phone)), (r) => r.decisions)

const TABLES = [
  ...WRITTEN_TABLES,
  "c360_purchases",
  "c360_purchase_items",
  "c360_purchase_returns",
  "c360_rfm"
] as const

/** Every row of every table a run or a purchase writes, in a stable order. */
const dump = (except: ReadonlyArray<string> = []) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.gen(function*() {
      const out: Record<string, string> = {}
      for (const table of TABLES) {
        if (except.includes(table)) continue
        const rows = yield* sql.unsafe<Record<string, unknown>>(`SELECT * FROM ${table}`)
        out[table] = JSON.stringify(rows.map((r) => JSON.stringify(r, (_, v) => (typeof v === "bigint" ? String(v) : v))).sort())
      }
      return out
    }).pipe(Effect.orDie))

const outboxEnd = Effect.flatMap(Outbox, (o) => o.end)
const eventsOf = (mark: string, customerId: string) =>
  Effect.map(Effect.flatMap(Outbox, (o) => o.read(mark, 10_000)), (events) => events.filter((e) => e.subject === customerId))

const activitiesOf = (customerId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ kind: string; actor: string; summary: string; subject_id: string }>`SELECT kind, actor, summary, subject_id
      FROM c360_activities WHERE customer_id = ${customerId} AND kind LIKE 'fraud.%' ORDER BY at, id`.pipe(Effect.orDie))

const tierOf = (phone: string) => Effect.map(Effect.flatMap(Customers, (c) => c.getByPhone(phone)), (c) => c.tier)

/** A Fraud service over the same storage with other configured rules. */
const fraudWith = (rules: ReadonlyArray<unknown>) =>
  Effect.flatMap(Customer360Config, (config) =>
    FraudService.make.pipe(Effect.provideService(Customer360Config, { ...config, fraud: { rules } })))

const walletRule = (minCount: number, version = 1): FraudRule => ({
  id: "wallet-abuse",
  version,
  kind: "wallet-abuse",
  parameters: { minAmount: 5_000_000, windowMinutes: 60, minCount },
  severity: "medium",
  action: "suspicious"
})

// ---------------------------------------------------------------------------------------------
// A reference of the two wallet rules, written from DOMAIN §8 without the SQL: every anchor's window
// by brute force, episodes by a walk.

interface Tx {
  readonly id: string
  readonly at: number
  readonly amount: number
  readonly deposit: boolean
}

/** The first firing window of each episode: anchors whose window fires and that overlap no earlier firing window. */
const episodes = (anchors: ReadonlyArray<number>, fires: (t: number) => boolean, length: number) => {
  const firing = [...new Set(anchors)].sort((a, b) => a - b).filter(fires)
  return firing.filter((t, i) => i === 0 || t - firing[i - 1]! >= length)
}

const referenceWalletAbuse = (txs: ReadonlyArray<Tx>, p: { minAmount: number; windowMinutes: number; minCount: number }) => {
  const len = p.windowMinutes * MINUTE
  const large = txs.filter((t) => t.amount > p.minAmount)
  const inWindow = (s: number) => large.filter((t) => t.at >= s && t.at < s + len)
  return episodes(large.map((t) => t.at), (s) => inWindow(s).length >= p.minCount, len).map((s) => ({
    from: s,
    ids: inWindow(s).sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1)).map((t) => t.id)
  }))
}

const referenceSelfDealing = (
  txs: ReadonlyArray<Tx>,
  p: { windowMinutes: number; minRatio: number; minCycles: number; cycleWindowHours: number }
) => {
  const gap = p.windowMinutes * MINUTE
  const len = p.cycleWindowHours * HOUR
  const cycles = new Map<string, { d: Tx; w: Tx }>()
  const sorted = [...txs].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
  for (const w of sorted.filter((t) => !t.deposit)) {
    const before = txs.filter((t) => t.deposit && t.at < w.at)
    if (before.length === 0) continue
    const latest = Math.max(...before.map((t) => t.at))
    const d = before.filter((t) => t.at === latest).sort((a, b) => (a.id < b.id ? -1 : 1))[0]!
    if (w.at - d.at <= gap && 100 * w.amount >= p.minRatio * d.amount && !cycles.has(d.id)) cycles.set(d.id, { d, w })
  }
  const list = [...cycles.values()]
  const inWindow = (s: number) => list.filter((c) => c.d.at >= s && c.d.at < s + len)
  return episodes(list.map((c) => c.d.at), (s) => inWindow(s).length >= p.minCycles, len).map((s) => ({
    from: s,
    ids: inWindow(s).sort((a, b) => a.d.at - b.d.at || (a.d.id < b.d.id ? -1 : 1)).flatMap((c) => [c.d.id, c.w.id])
  }))
}

interface Event {
  readonly id: string
  readonly at: number
  readonly purchase: boolean
}

const referenceReturnRate = (events: ReadonlyArray<Event>, p: { windowDays: number; minPurchases: number; rateAbovePercent: number }) => {
  const len = p.windowDays * DAY
  const inWindow = (t: number) => events.filter((e) => e.at > t - len && e.at <= t)
  const byTime = (a: Event, b: Event) => a.at - b.at || (a.id < b.id ? -1 : 1)
  return episodes(events.map((e) => e.at), (t) => {
    const w = inWindow(t)
    const purchases = w.filter((e) => e.purchase).length
    return purchases >= p.minPurchases && 100 * (w.length - purchases) > p.rateAbovePercent * purchases
  }, len).map((t) => ({
    to: t,
    purchaseIds: inWindow(t).filter((e) => e.purchase).sort(byTime).map((e) => e.id),
    returnIds: inWindow(t).filter((e) => !e.purchase).sort(byTime).map((e) => e.id)
  }))
}

/**
 * The contract over a storage. `propertyRuns`: runs of the property (D1 under Miniflare answers a
 * statement in milliseconds and takes fewer).
 */
export const fraudContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly propertyRuns?: number } = {}
) =>
  layer(servicesOver(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("wallet-abuse: six transactions above 5,000,000 from 10:30 to 11:29 fire (the hour crossed); five, six with the sixth at exactly +60 min, or six of exactly 5,000,000 do not; the evidence lists exactly the six", () =>
      Effect.gen(function*() {
        const T = at1030(2040)
        const fires = yield* newCustomer(T - DAY)
        const five = yield* newCustomer(T - DAY)
        const sixtyMinutes = yield* newCustomer(T - DAY)
        const exactAmount = yield* newCustomer(T - DAY)
        const ids: Array<string> = []
        // a small deposit and one large transaction long before: not in the window
        yield* deposit(fires.phone, 100_000, T - 3 * HOUR)
        yield* deposit(fires.phone, BIG, T - 2 * HOUR)
        const offsets = [0, 10, 25, 40, 55, 59].map((m) => m * MINUTE)
        for (const [i, offset] of offsets.entries()) {
          // withdrawals count as much as deposits: the third and fifth are withdrawals
          ids.push(i === 2 || i === 4 ? yield* withdraw(fires.phone, BIG, T + offset) : yield* deposit(fires.phone, 3 * BIG, T + offset))
        }
        for (const offset of offsets.slice(0, 5)) yield* deposit(five.phone, BIG, T + offset)
        for (const offset of [0, 10, 25, 40, 55, 60].map((m) => m * MINUTE)) yield* deposit(sixtyMinutes.phone, BIG, T + offset)
        for (const offset of offsets) yield* deposit(exactAmount.phone, 5_000_000, T + offset)
        const mark = yield* outboxEnd
        const report = yield* runAt(T + 2 * HOUR)
        expect(report.decisions).toBeGreaterThanOrEqual(1)

        const [decision, ...more] = yield* decisionsOf(fires.phone)
        expect(more).toEqual([])
        expect(decision).toBeInstanceOf(FraudDecision)
        expect(decision).toMatchObject({ ruleId: "wallet-abuse", ruleVersion: 1, severity: "medium", action: "suspicious", runId: report.runId })
        expect(decision!.windowFrom.getTime()).toBe(T)
        expect(decision!.windowTo.getTime()).toBe(T + HOUR)
        expect(decision!.evidence).toEqual({
          window: { from: new Date(T).toISOString(), to: new Date(T + HOUR).toISOString() },
          count: 6,
          minAmount: 5_000_000,
          total: 4 * 3 * BIG + 2 * BIG,
          transactionIds: ids
        })
        for (const other of [five, sixtyMinutes, exactAmount]) expect(yield* decisionsOf(other.phone)).toEqual([])

        const record = yield* Effect.flatMap(Fraud, (f) => f.decisions(fires.phone))
        expect(record.flags.map((f) => [f.flag, f.decisionId, f.clearedAt])).toEqual([["suspicious", decision!.id, null]])
        expect(record.tier).toBe("new")
        const events = yield* eventsOf(mark, fires.id)
        expect(events.map((e) => e.type)).toEqual(["customer.flagged"])
        expect(events[0]).toMatchObject({
          channel: "customers",
          id: expect.stringMatching(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/),
          data: { decisionId: decision!.id, ruleId: "wallet-abuse", ruleVersion: 1, action: "suspicious", severity: "medium" }
        })
        expect(yield* activitiesOf(fires.id)).toEqual([
          { kind: "fraud.flagged", actor: "system", summary: "fraud rule wallet-abuse v1 fired: flagged suspicious", subject_id: decision!.id }
        ])
        // the 360 view shows the flag and the decision
        const view = yield* Effect.flatMap(Customers, (c) => c.view360(fires.phone))
        expect((view as unknown as { fraud: { flags: ReadonlyArray<{ flag: string }>; decisions: ReadonlyArray<{ id: string }> } }).fraud)
          .toMatchObject({ flags: [{ flag: "suspicious" }], decisions: [{ id: decision!.id }] })
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("self-dealing: three deposits each withdrawn (≥ 90 %, within 60 min) within 24 h across midnight fire; the pairs are the evidence; 89.99 %, 60 min + 1 ms, a third cycle at exactly +24 h, and one deposit withdrawn twice do not", () =>
      Effect.gen(function*() {
        // 21:50 in Hanoi: the cycles cross midnight
        const T = Date.UTC(2042, 0, 10, 14, 50)
        const c = {
          fires: yield* newCustomer(T - DAY),
          lowRatio: yield* newCustomer(T - DAY),
          late: yield* newCustomer(T - DAY),
          day: yield* newCustomer(T - DAY),
          twice: yield* newCustomer(T - DAY)
        }
        const D = 10_000_000
        const cycle = (phone: string, start: number, withdrawal: number, after: number) =>
          Effect.gen(function*() {
            const d = yield* deposit(phone, D, start)
            const w = yield* withdraw(phone, withdrawal, start + after)
            return [d, w]
          })
        const starts = [0, 3 * HOUR, 23 * HOUR + 59 * MINUTE]
        const ids: Array<string> = []
        // the last withdrawal is exactly 60 min after its deposit, at exactly 90 %
        for (const [i, s] of starts.entries()) ids.push(...yield* cycle(c.fires.phone, T + s, i === 2 ? 9_000_000 : 9_500_000, i === 2 ? HOUR : 30 * MINUTE))
        for (const [i, s] of starts.entries()) yield* cycle(c.lowRatio.phone, T + s, i === 1 ? 8_999_999 : 9_500_000, 10 * MINUTE)
        for (const [i, s] of starts.entries()) yield* cycle(c.late.phone, T + s, 9_500_000, i === 0 ? HOUR + 1 : 10 * MINUTE)
        for (const s of [0, 3 * HOUR, 24 * HOUR]) yield* cycle(c.day.phone, T + s, 9_500_000, 10 * MINUTE)
        // one deposit, three withdrawals of it: one cycle
        yield* deposit(c.twice.phone, 3 * D, T)
        for (const m of [5, 10, 15]) yield* withdraw(c.twice.phone, 9_000_000, T + m * MINUTE)
        const report = yield* runAt(T + 3 * DAY)
        expect(report.decisions).toBeGreaterThanOrEqual(1)

        const decisions = yield* decisionsOf(c.fires.phone)
        expect(decisions.map((d) => [d.ruleId, d.action])).toEqual([["self-dealing", "self-dealing"]])
        expect(decisions[0]!.windowFrom.getTime()).toBe(T)
        expect(decisions[0]!.windowTo.getTime()).toBe(T + DAY)
        expect(decisions[0]!.evidence).toMatchObject({ cycles: 3, transactionIds: ids })
        expect((decisions[0]!.evidence as { pairs: ReadonlyArray<unknown> }).pairs).toEqual([
          { depositId: ids[0], deposit: D, withdrawalId: ids[1], withdrawal: 9_500_000 },
          { depositId: ids[2], deposit: D, withdrawalId: ids[3], withdrawal: 9_500_000 },
          { depositId: ids[4], deposit: D, withdrawalId: ids[5], withdrawal: 9_000_000 }
        ])
        for (const other of [c.lowRatio, c.late, c.day, c.twice]) expect(yield* decisionsOf(other.phone)).toEqual([])
        expect((yield* Effect.flatMap(Fraud, (f) => f.decisions(c.fires.phone))).flags.map((f) => f.flag)).toEqual(["self-dealing"])
      }))

    it.effect("high-return-rate: 2 returns of 2 purchases within 7 days blacklist (tier, flag, one tier_changed, the evidence); 1 of 2 (50 %), 1 of 1 (too few), and returns split by a window of 7 days do not; 2 of 3 does; a blacklisted customer's purchase is refused", () =>
      Effect.gen(function*() {
        const T = at1030(2044)
        const c = {
          fires: yield* newCustomer(T - 60 * DAY),
          half: yield* newCustomer(T - 60 * DAY),
          one: yield* newCustomer(T - 60 * DAY),
          split: yield* newCustomer(T - 60 * DAY),
          twoOfThree: yield* newCustomer(T - 60 * DAY)
        }
        const p1 = yield* purchase(c.fires.phone, 300_000, T)
        const p2 = yield* purchase(c.fires.phone, 200_000, T + 2 * DAY)
        const r1 = yield* returnOf(p1.reference, T + 3 * DAY, 100_000)
        // the second return comes 6 days 23 h 59 min after the first purchase: still inside
        const r2 = yield* returnOf(p2.reference, T + 7 * DAY - MINUTE)

        const h1 = yield* purchase(c.half.phone, 300_000, T)
        yield* purchase(c.half.phone, 300_000, T + HOUR)
        yield* returnOf(h1.reference, T + 2 * HOUR)

        const o1 = yield* purchase(c.one.phone, 300_000, T)
        yield* returnOf(o1.reference, T + HOUR)

        // purchases at T and T + 1 h, returns at T + 7 d and T + 7 d + 1 h: a window holds at most one of each pair
        const s1 = yield* purchase(c.split.phone, 300_000, T)
        const s2 = yield* purchase(c.split.phone, 300_000, T + HOUR)
        yield* returnOf(s1.reference, T + 7 * DAY, 1_000)
        yield* returnOf(s2.reference, T + 7 * DAY + HOUR, 1_000)

        const t1 = yield* purchase(c.twoOfThree.phone, 300_000, T)
        const t2 = yield* purchase(c.twoOfThree.phone, 300_000, T + HOUR)
        yield* purchase(c.twoOfThree.phone, 300_000, T + 2 * HOUR)
        yield* returnOf(t1.reference, T + 3 * HOUR)
        yield* returnOf(t2.reference, T + 4 * HOUR)

        const tiersBefore = yield* tierOf(c.fires.phone)
        const mark = yield* outboxEnd
        const report = yield* runAt(T + 8 * DAY)
        expect(report.blacklisted).toBeGreaterThanOrEqual(2)

        const [decision, ...more] = yield* decisionsOf(c.fires.phone)
        expect(more).toEqual([])
        expect(decision).toMatchObject({ ruleId: "high-return-rate", ruleVersion: 1, severity: "high", action: "blacklist", tierBefore: tiersBefore })
        // the window ends at the return that made it fire and reaches 7 days back
        expect(decision!.windowTo.getTime()).toBe(T + 7 * DAY - MINUTE)
        expect(decision!.windowFrom.getTime()).toBe(T - MINUTE)
        expect(decision!.evidence).toEqual({
          window: { from: new Date(T - MINUTE).toISOString(), to: new Date(T + 7 * DAY - MINUTE).toISOString() },
          purchases: 2,
          returns: 2,
          rate: "100%",
          purchaseIds: [p1.id, p2.id],
          returnIds: [r1, r2]
        })
        expect(yield* tierOf(c.fires.phone)).toBe("blacklist")
        const events = yield* eventsOf(mark, c.fires.id)
        expect(events.map((e) => e.type)).toEqual(["customer.flagged", "customer.tier_changed"])
        expect(events[1]!.data).toEqual({ from: tiersBefore, to: "blacklist", r: null, f: null, m: null, reason: "fraud: high-return-rate v1" })
        expect(yield* activitiesOf(c.fires.id)).toEqual([{
          kind: "fraud.blacklisted",
          actor: "system",
          summary: `blacklisted by fraud rule high-return-rate v1 (the tier was ${tiersBefore})`,
          subject_id: decision!.id
        }])
        expect((yield* Effect.flatMap(Fraud, (f) => f.decisions(c.fires.phone))).flags.map((f) => f.flag)).toEqual(["blacklist"])

        for (const other of [c.half, c.one, c.split]) {
          expect(yield* decisionsOf(other.phone)).toEqual([])
          expect(yield* tierOf(other.phone)).not.toBe("blacklist")
        }
        const twoOfThree = yield* decisionsOf(c.twoOfThree.phone)
        expect(twoOfThree.map((d) => (d.evidence as { rate: string }).rate)).toEqual(["66.6%"])
        expect(yield* tierOf(c.twoOfThree.phone)).toBe("blacklist")

        // refused, and nothing written
        yield* TestClock.setTime(T + 9 * DAY)
        const refused = yield* Effect.flip(Effect.flatMap(Purchases, (p) => p.record({ phone: c.fires.phone, amount: 100_000, reference: ref("p") })))
        expect(refused).toMatchObject({ _tag: "CustomerBlacklisted" })
      }))

    it.effect("a second run — at the same instant, then a day later — writes nothing but its run row; re-running over the whole history changes no decision, flag, event, activity or tier", () =>
      Effect.gen(function*() {
        const T = at1030(2046)
        const c = yield* newCustomer(T - DAY)
        for (const m of [0, 5, 10, 15, 20, 25]) yield* deposit(c.phone, BIG, T + m * MINUTE)
        const first = yield* runAt(T + HOUR)
        expect(first.decisions).toBeGreaterThanOrEqual(1)
        const before = yield* dump(["c360_fraud_runs"])
        const again = yield* runAt(T + HOUR)
        expect(again).toMatchObject({ decisions: 0, flags: 0, blacklisted: 0 })
        expect(again.from).toEqual(first.from)
        const later = yield* runAt(T + DAY + HOUR)
        expect(later).toMatchObject({ decisions: 0, flags: 0, blacklisted: 0 })
        expect(later.from.getTime()).toBe(T + HOUR - 7 * DAY)
        // with batches of one customer: the same
        const batched = yield* runAt(T + DAY + HOUR, { batchSize: 1 })
        expect(batched.decisions).toBe(0)
        expect(batched.batches).toBeGreaterThan(1)
        expect(yield* dump(["c360_fraud_runs"])).toEqual(before)
      }))

    it.effect("backtest replays rule versions without writing: the configured rules find what the runs recorded, for any batch size; a whole rule with other parameters finds more; unknown versions and bad ranges are refused", () =>
      Effect.gen(function*() {
        const T = at1030(2048)
        const six = yield* newCustomer(T - DAY)
        const five = yield* newCustomer(T - DAY)
        for (const m of [0, 5, 10, 15, 20, 25]) yield* deposit(six.phone, BIG, T + m * MINUTE)
        for (const m of [0, 5, 10, 15, 20]) yield* deposit(five.phone, BIG, T + m * MINUTE)
        yield* runAt(T + HOUR)
        const fraud = yield* Fraud
        const before = yield* dump()
        const outbox = yield* outboxEnd
        const range = { from: new Date(T - HOUR), to: new Date(T + HOUR) }
        const result = yield* fraud.backtest(range)
        expect(result.rules).toEqual([{ id: "high-return-rate", version: 1 }, { id: "wallet-abuse", version: 1 }, { id: "self-dealing", version: 1 }])
        expect(result.truncated).toBe(false)
        expect(result.evaluated).toBeGreaterThanOrEqual(2)
        const mine = (hits: typeof result.hits) => hits.filter((h) => h.customerId === six.id || h.customerId === five.id)
        const recorded = yield* decisionsOf(six.phone)
        expect(mine(result.hits)).toEqual([{
          customerId: six.id,
          phone: six.phone,
          ruleId: "wallet-abuse",
          ruleVersion: 1,
          severity: "medium",
          action: "suspicious",
          window: { from: new Date(T), to: new Date(T + HOUR) },
          evidence: recorded[0]!.evidence
        }])
        // one customer per batch: the same hits
        expect((yield* fraud.backtest({ ...range, batchSize: 1 })).hits).toEqual(result.hits)
        // by reference; and a stricter variant as a whole rule
        const byRef = yield* fraud.backtest({ ...range, rules: [{ id: "wallet-abuse", version: 1 }] })
        expect(mine(byRef.hits).map((h) => h.customerId)).toEqual([six.id])
        const five5 = yield* fraud.backtest({ ...range, rules: [walletRule(5, 2)] })
        expect(mine(five5.hits).map((h) => [h.customerId, h.ruleVersion, (h.evidence as { count: number }).count]).sort()).toEqual(
          [[six.id, 2, 6], [five.id, 2, 5]].sort()
        )
        expect((yield* fraud.backtest({ ...range, rules: [walletRule(5, 2)], limit: 1 })).truncated).toBe(mine(five5.hits).length > 1 || five5.hits.length > 1)
        // nothing was written, not even a run
        expect(yield* dump()).toEqual(before)
        expect(yield* outboxEnd).toBe(outbox)
        // refusals
        const unknown = yield* Effect.flip(fraud.backtest({ ...range, rules: [{ id: "wallet-abuse", version: 9 }] }))
        expect(unknown).toMatchObject({ _tag: "ValidationError", issues: [{ path: "rules.0" }] })
        const bad = yield* Effect.flip(fraud.backtest({ ...range, rules: [{ ...walletRule(5), parameters: { minCount: 0 } }] }))
        expect(bad._tag).toBe("ValidationError")
        expect((yield* Effect.flip(fraud.backtest({ from: range.to, to: range.from })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(fraud.backtest({ from: "yesterday", to: range.to } as never)))._tag).toBe("ValidationError")
      }))

    it.effect("clearing a flag records who, when and why (event, activity); a second clearing is FraudFlagNotFound; a re-run does not raise it again, a new episode does; clearing the blacklist restores the tier by RFM and purchases again", () =>
      Effect.gen(function*() {
        const T = at1030(2050)
        const fraud = yield* Fraud
        const c = yield* newCustomer(T - 60 * DAY)
        for (const m of [0, 5, 10, 15, 20, 25]) yield* deposit(c.phone, BIG, T + m * MINUTE)
        const p1 = yield* purchase(c.phone, 100_000, T)
        const p2 = yield* purchase(c.phone, 100_000, T + HOUR)
        yield* returnOf(p1.reference, T + 2 * HOUR)
        yield* returnOf(p2.reference, T + 3 * HOUR)
        yield* runAt(T + 4 * HOUR)
        expect((yield* fraud.decisions(c.phone)).flags.map((f) => f.flag).sort()).toEqual(["blacklist", "suspicious"])

        yield* TestClock.setTime(T + 5 * HOUR)
        const mark = yield* outboxEnd
        const cleared = yield* fraud.clearFlag({ phone: c.phone, flag: "suspicious", reason: "  a customer's own top-ups, checked  ", actor: "staff-7" })
        expect(cleared.flag).toMatchObject({ flag: "suspicious", clearedBy: "staff-7", clearReason: "a customer's own top-ups, checked" })
        expect(cleared.flag.clearedAt?.getTime()).toBe(T + 5 * HOUR)
        expect(cleared.tier).toBe("blacklist")
        const events = yield* eventsOf(mark, c.id)
        expect(events.map((e: StoredEvent) => [e.type, e.data])).toEqual([
          ["customer.flag_cleared", { flag: "suspicious", actor: "staff-7", reason: "a customer's own top-ups, checked" }]
        ])
        expect((yield* activitiesOf(c.id)).at(-1)).toMatchObject({ kind: "fraud.flag_cleared", actor: "staff-7" })
        expect(yield* Effect.flip(fraud.clearFlag({ phone: c.phone, flag: "suspicious", reason: "again" }))).toMatchObject({
          _tag: "FraudFlagNotFound",
          flag: "suspicious"
        })
        expect((yield* Effect.flip(fraud.clearFlag({ phone: c.phone, flag: "suspicious", reason: "  " })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(fraud.clearFlag({ phone: freshPhone(), flag: "suspicious", reason: "x" })))._tag).toBe("CustomerNotFound")

        // the same history again: nothing
        yield* runAt(T + 6 * HOUR)
        expect((yield* fraud.decisions(c.phone)).flags.map((f) => f.flag)).toEqual(["blacklist"])
        // a new burst, more than an hour after the first episode's window: a new decision and flag
        for (const m of [0, 1, 2, 3, 4, 5]) yield* deposit(c.phone, BIG, T + 7 * HOUR + m * MINUTE)
        yield* runAt(T + 8 * HOUR)
        const after = yield* fraud.decisions(c.phone)
        expect(after.flags.map((f) => f.flag).sort()).toEqual(["blacklist", "suspicious"])
        expect(after.decisions.filter((d) => d.ruleId === "wallet-abuse").map((d) => d.windowFrom.getTime())).toEqual([T + 7 * HOUR, T])

        // the blacklist: tier back (new, then scored by RFM), events, purchases accepted again
        yield* TestClock.setTime(T + 9 * HOUR)
        const mark2 = yield* outboxEnd
        const unblocked = yield* fraud.clearFlag({ phone: c.phone, flag: "blacklist", reason: "returns were damaged goods" })
        expect(unblocked.tier).not.toBe("blacklist")
        expect(yield* tierOf(c.phone)).toBe(unblocked.tier)
        const types = (yield* eventsOf(mark2, c.id)).map((e) => [e.type, e.type === "customer.tier_changed" ? (e.data as { from: string }).from : null])
        expect(types.slice(0, 2)).toEqual([["customer.flag_cleared", null], ["customer.tier_changed", "blacklist"]])
        yield* purchase(c.phone, 100_000, T + 10 * HOUR)
        // and a re-run over the same returns does not blacklist again
        yield* runAt(T + 11 * HOUR)
        expect(yield* tierOf(c.phone)).not.toBe("blacklist")
      }))

    it.effect("configured rules: a changed definition under a recorded version is refused before anything is written; a new version runs, and its decisions name it", () =>
      Effect.gen(function*() {
        const T = at1030(2052)
        const c = yield* newCustomer(T - DAY)
        // five: v1 (six) does not fire; the burst starts after the range of the next run begins (a new
        // version applies from the next run on; earlier history is the backtest's)
        for (const m of [30, 35, 40, 45, 50]) yield* deposit(c.phone, BIG, T + m * MINUTE)
        yield* runAt(T + HOUR)
        expect(yield* decisionsOf(c.phone)).toEqual([])
        const changed = yield* fraudWith([walletRule(5, 1)])
        yield* TestClock.setTime(T + 2 * HOUR)
        const before = yield* dump()
        const refused = yield* Effect.flip(changed.run())
        expect(refused).toMatchObject({ _tag: "ValidationError", issues: [{ path: "fraud.rules.0" }] })
        expect(yield* dump()).toEqual(before)
        const bumped = yield* fraudWith([walletRule(5, 2)])
        yield* bumped.run()
        expect((yield* decisionsOf(c.phone)).map((d) => [d.ruleId, d.ruleVersion])).toEqual([["wallet-abuse", 2]])
        // the recorded v2 can be replayed by reference with the defaults configured
        const replay = yield* Effect.flatMap(Fraud, (f) =>
          f.backtest({ from: new Date(T), to: new Date(T + 2 * HOUR), rules: [{ id: "wallet-abuse", version: 2 }] }))
        expect(replay.hits.filter((h) => h.customerId === c.id).map((h) => h.ruleVersion)).toEqual([2])
        const invalid = yield* fraudWith([{ ...walletRule(5), kind: "velocity" }])
        expect((yield* Effect.flip(invalid.run()))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(invalid.backtest({ from: new Date(T), to: new Date(T + HOUR) })))._tag).toBe("ValidationError")
      }))

    it.effect("run refuses an instant after the clock's now and bad options, writing nothing", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(at1030(2053))
        const fraud = yield* Fraud
        const before = yield* dump()
        expect((yield* Effect.flip(fraud.run({ at: new Date(at1030(2053) + 1) })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(fraud.run({ batchSize: 0 })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(fraud.run({ extra: 1 } as never)))._tag).toBe("ValidationError")
        expect(yield* dump()).toEqual(before)
      }))

    it.effect("property: for random wallet activity, the backtest's wallet-abuse and self-dealing hits are exactly a reference's, window by window and id by id", () =>
      Effect.gen(function*() {
        let year = 2060
        const wallets = yield* Wallets
        const fraud = yield* Fraud
        const run = Runtime.runPromise(yield* Effect.runtime<Customers | Wallets | Fraud>())
        const step = fc.record({
          gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 * MINUTE }), fc.constantFrom(HOUR, HOUR - 1, HOUR + 1, 3 * HOUR)),
          deposit: fc.boolean(),
          amount: fc.oneof(fc.constantFrom(5_000_000, 5_000_001, 9_000_000, 10_000_000), fc.integer({ min: 1, max: 12_000_000 }))
        })
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
              const T = at1030(year++)
              await run(Effect.gen(function*() {
                const c = yield* newCustomer(T - DAY)
                let at = T
                const txs: Array<Tx> = []
                for (const s of steps) {
                  at += s.gap
                  yield* TestClock.setTime(at)
                  if (s.deposit) {
                    const r = yield* wallets.deposit({ phone: c.phone, amount: s.amount, reference: ref("pd"), source: "manual" })
                    txs.push({ id: r.transactionId, at, amount: s.amount, deposit: true })
                  } else {
                    const r = yield* Effect.either(wallets.withdraw({ phone: c.phone, amount: s.amount, reference: ref("pw") }))
                    if (r._tag === "Right") txs.push({ id: r.right.transactionId, at, amount: s.amount, deposit: false })
                  }
                }
                const found = yield* fraud.backtest({
                  from: new Date(T),
                  to: new Date(at),
                  rules: [walletRule(3), { id: "self-dealing", version: 1, kind: "self-dealing", parameters: { windowMinutes: 60, minRatio: 90, minCycles: 2, cycleWindowHours: 24 }, severity: "low", action: "self-dealing" }]
                })
                const mine = found.hits.filter((h) => h.customerId === c.id)
                const expected = [
                  ...referenceWalletAbuse(txs, { minAmount: 5_000_000, windowMinutes: 60, minCount: 3 }).map((e) => ({ rule: "wallet-abuse", ...e })),
                  ...referenceSelfDealing(txs, { windowMinutes: 60, minRatio: 90, minCycles: 2, cycleWindowHours: 24 }).map((e) => ({ rule: "self-dealing", ...e }))
                ].sort((a, b) => (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : a.from - b.from))
                expect(mine.map((h) => ({ rule: h.ruleId, from: h.window.from.getTime(), ids: (h.evidence as { transactionIds: ReadonlyArray<string> }).transactionIds })))
                  .toEqual(expected)
              }))
            }),
            { numRuns: options.propertyRuns ?? 25 }
          )
        )
      }), 120_000)
    it.effect("property: for random purchases and returns, the backtest's high-return-rate hits are exactly a reference's, window by window and id by id", () =>
      Effect.gen(function*() {
        let year = 2100
        const purchases = yield* Purchases
        const fraud = yield* Fraud
        const run = Runtime.runPromise(yield* Effect.runtime<Customers | Purchases | Fraud>())
        const rule = { id: "returns-daily", version: 1, kind: "high-return-rate", parameters: { windowDays: 1, minPurchases: 2, rateAbovePercent: 50 }, severity: "high", action: "blacklist" } as const
        const step = fc.record({
          gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 30 * HOUR }), fc.constantFrom(DAY, DAY - 1, DAY + 1)),
          purchase: fc.boolean(),
          pick: fc.nat()
        })
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 16 }), async (steps) => {
              const T = at1030(year++)
              await run(Effect.gen(function*() {
                const c = yield* newCustomer(T - DAY)
                let at = T
                const events: Array<Event> = []
                const open: Array<{ reference: string; left: number }> = []
                for (const s of steps) {
                  at += s.gap
                  yield* TestClock.setTime(at)
                  if (s.purchase || open.length === 0) {
                    const reference = ref("pp")
                    const r = yield* purchases.record({ phone: c.phone, amount: 30_000, reference })
                    events.push({ id: r.purchase.id, at, purchase: true })
                    open.push({ reference, left: 3 })
                  } else {
                    const target = open[s.pick % open.length]!
                    const r = yield* purchases.recordReturn({ purchaseReference: target.reference, amount: 10_000, reference: ref("pr") })
                    events.push({ id: r.return.id, at, purchase: false })
                    target.left -= 1
                    if (target.left === 0) open.splice(open.indexOf(target), 1)
                  }
                }
                const found = yield* fraud.backtest({ from: new Date(T), to: new Date(at), rules: [rule] })
                const mine = found.hits.filter((h) => h.customerId === c.id).map((h) => {
                  const e = h.evidence as { purchaseIds: ReadonlyArray<string>; returnIds: ReadonlyArray<string> }
                  return { to: h.window.to.getTime(), purchaseIds: e.purchaseIds, returnIds: e.returnIds }
                })
                expect(mine).toEqual(referenceReturnRate(events, rule.parameters))
              }))
            }),
            { numRuns: options.propertyRuns ?? 25 }
          )
        )
      }), 120_000)
  })
