/**
 * The purchases contract (DOMAIN §6, §7, §7a), run against SQLite, SQLite with deferred writes,
 * PostgreSQL and D1 (purchases.*.test.ts):
 *
 * - purchases by phone or customer id, idempotent by reference, refused for a bad amount, an `at`
 *   too far ahead or a blacklisted customer (nothing written); the customer's totals, points,
 *   membership level, tier and last purchase kept in the same unit of work, with their events;
 * - returns: all that is left by default, never more than the purchase in all, points taken back on
 *   the purchase's cumulated returns, idempotent by their own reference;
 * - fast-check properties over random return sequences (points never negative, never more returned
 *   than bought);
 * - a differential test: random histories (customers created at random instants, purchases and
 *   returns within ~120 days, many of them minutes from midnight in Asia/Ho_Chi_Minh) scored by the
 *   set-based SQL (`Rfm.recompute`, and the at-once update of each purchase or return) must equal
 *   the pure `scoreCustomer` of Rfm.ts computed here from the history;
 * - re-runs (no event, nothing changed), tier changes by time, young customers, batches;
 * - quantile mode on a fresh database (the population is known): the pure `quantileScore`;
 * - a model-based test of random records, repeats, returns, over-returns and blacklisted attempts;
 * - the 360 view's `rfm`, `membership` and `purchases` parts.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import { Customers } from "../../src/customers/Customers.js"
import { businessDay } from "../../src/kernel/BusinessDay.js"
import * as Config from "../../src/kernel/Config.js"
import type { StoredEvent } from "../../src/kernel/Events.js"
import * as Registry from "../../src/modules.js"
import * as EventBus from "../../src/platform/EventBus.js"
import { Outbox } from "../../src/platform/Outbox.js"
import { UnitOfWork } from "../../src/platform/UnitOfWork.js"
import { levelFor, type Purchase, pointsFor } from "../../src/purchases/Purchase.js"
import { Purchases } from "../../src/purchases/Purchases.js"
import { quantileScore, type RfmResult, type Score, scoreCustomer, segmentOf } from "../../src/purchases/Rfm.js"
import { Rfm } from "../../src/purchases/RfmService.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { WRITTEN_TABLES } from "../support/audit.js"
import { freshPhone } from "./customers.js"

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const TZ = Config.defaultTimeZone
const FIXED = Config.defaultRfmConfig
const QUANTILE: Config.RfmConfig = { ...FIXED, mode: "quantile" }

/** Every service over the storage, with the RFM configuration given (the default: fixed thresholds). */
export const purchaseServices = <E>(storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>, rfm: Config.RfmConfig = FIXED) =>
  Registry.services.pipe(
    Layer.provideMerge(Layer.mergeAll(
      Config.layer({
        timeZone: TZ,
        phone: {},
        transfers: { sepayApiKey: undefined, bankBin: undefined, bankAccount: undefined, shopPhones: new Set(), shopAccounts: new Set() },
        rfm,
        fraud: { rules: undefined }
      }),
      EventBus.layer
    )),
    Layer.provideMerge(storage)
  )

let refs = 0
/** A purchase or return reference no other test uses (a database may be reused). */
export const freshRef = (what: string) => `${what}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}-${refs++}`

const num = (v: unknown): number => Number(v)
/** The failure of `effect`; a success fails the test with a short message (never the whole result). */
export const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<E, never, R> =>
  Effect.flatMap(Effect.either(effect), (e) =>
    Either.isLeft(e) ? Effect.succeed(e.left) : Effect.die(new Error("expected a failure, but it succeeded")))
const tagOf = (e: unknown) => (typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e))

/** Every row of every table a write may touch (WRITTEN_TABLES, purchases' included), in one value. */
export const snapshot = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork
  // one read (one round trip on D1)
  const tables = yield* uow.read(WRITTEN_TABLES.map((table) => sql`SELECT * FROM ${sql(table)}`))
  const all: Record<string, ReadonlyArray<string>> = {}
  WRITTEN_TABLES.forEach((table, i) => {
    all[table] = tables[i]!.map((r) => JSON.stringify(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)]))).sort()
  })
  return all
}).pipe(Effect.orDie)

/** What differs between two snapshots (or lists of rows): at most 10 rows gone and 10 new per table (a short diff, never the whole database). */
export const differences = (before: Readonly<Record<string, ReadonlyArray<string>>>, after: Readonly<Record<string, ReadonlyArray<string>>>) => {
  const out: Array<string> = []
  for (const table of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = new Set(before[table] ?? [])
    const b = new Set(after[table] ?? [])
    for (const row of [...a].filter((r) => !b.has(r)).slice(0, 10)) out.push(`${table} gone: ${row}`)
    for (const row of [...b].filter((r) => !a.has(r)).slice(0, 10)) out.push(`${table} new: ${row}`)
  }
  return out
}
/** Runs `effect` and expects that it wrote nothing at all. */
export const writesNothing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = yield* snapshot
    const a = yield* effect
    expect(differences(before, yield* snapshot)).toEqual([])
    return a
  })

export const outboxEnd = Effect.flatMap(Outbox, (o) => o.end)
/**
 * Every event committed after `mark`, in order, read straight from the outbox table: the writes they
 * follow have all committed, so there is no relay horizon to wait for (on PostgreSQL `Outbox.read`
 * waits for every older transaction of the server, other databases' included — a long one elsewhere
 * makes it answer nothing).
 */
export const eventsSince = (mark: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<Record<string, unknown>>`SELECT seq, id, channel, type, subject, payload, occurred_at FROM c360_outbox
      WHERE seq > ${Number(mark)} ORDER BY seq`.pipe(
      Effect.map((rows) =>
        rows.map((row) =>
          ({
            id: String(row.id),
            type: String(row.type),
            channel: String(row.channel),
            subject: String(row.subject),
            occurredAt: new Date(num(row.occurred_at)),
            data: JSON.parse(String(row.payload)),
            position: String(num(row.seq))
          }) as StoredEvent
        )
      ),
      Effect.orDie
    ))
const ofType = (events: ReadonlyArray<StoredEvent>, type: string) => events.filter((e) => e.type === type)
const dataOf = (e: StoredEvent) => e.data as Record<string, any>

/** A customer's stored RFM row and tier. */
export interface StoredScore {
  readonly lastDay: number | null
  readonly frequency: number
  readonly monetary: number
  readonly r: number
  readonly f: number
  readonly m: number
  readonly segment: string
  readonly tier: string
  readonly customerTier: string
}
const toScore = (r: Record<string, unknown>): StoredScore => ({
  lastDay: r.last_day === null || r.last_day === undefined ? null : num(r.last_day),
  frequency: num(r.frequency),
  monetary: num(r.monetary),
  r: num(r.r),
  f: num(r.f),
  m: num(r.m),
  segment: String(r.segment),
  tier: String(r.tier),
  customerTier: String(r.customer_tier)
})
/** The stored scores of the customers (`undefined`: no RFM row), by id. */
export const storedScores = (ids: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.gen(function*() {
      const out = new Map<string, StoredScore>()
      for (let i = 0; i < ids.length; i += 50) {
        const rows = yield* sql<Record<string, unknown>>`SELECT r.*, c.tier AS customer_tier FROM c360_rfm r
          JOIN c360_customers c ON c.id = r.customer_id WHERE ${sql.in("r.customer_id", ids.slice(i, i + 50))}`
        for (const row of rows) out.set(String(row.customer_id), toScore(row))
      }
      return out
    }).pipe(Effect.orDie))
/** Every customer's stored RFM row (or none) and tier, as one comparable value. */
const allScores = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<Record<string, unknown>>`SELECT c.id, c.tier AS customer_tier, r.last_day, r.frequency, r.monetary, r.r, r.f, r.m,
      r.segment, r.tier FROM c360_customers c LEFT JOIN c360_rfm r ON r.customer_id = c.id ORDER BY c.id`.pipe(
    Effect.map((rows) => ({ scores: rows.map((r) => JSON.stringify({ id: String(r.id), ...(r.r === null ? { customerTier: String(r.customer_tier) } : toScore(r)) })) })),
    Effect.orDie
  ))
const setTier = (customerId: string, tier: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE c360_customers SET tier = ${tier} WHERE id = ${customerId}`.pipe(Effect.orDie))
const countWhere = (table: string, column: string, value: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: unknown }>`SELECT count(*) AS n FROM ${sql(table)} WHERE ${sql(column)} = ${value}`.pipe(
      Effect.map((rows) => num(rows[0]?.n)),
      Effect.orDie
    ))
const purchaseVersion = (customerId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ v: unknown }>`SELECT purchase_version AS v FROM c360_customers WHERE id = ${customerId}`.pipe(
      Effect.map((rows) => num(rows[0]?.v)),
      Effect.orDie
    ))

/**
 * A test-only failure: writing an outbox row whose payload mentions `boom-fail` aborts — a failure
 * inside the writing unit of work, after everything before it (the purchase or return, its lines,
 * the customer's figures, its RFM row). Idempotent.
 */
const installFailure = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.onDialectOrElse({
    pg: () =>
      Effect.gen(function*() {
        yield* sql.unsafe(`CREATE OR REPLACE FUNCTION test_purchase_outbox_fail() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF NEW.payload LIKE '%boom-fail%' THEN RAISE EXCEPTION 'test failure'; END IF;
            RETURN NEW;
          END $$`)
        yield* sql.unsafe(`DROP TRIGGER IF EXISTS test_purchase_outbox_fail ON c360_outbox`)
        yield* sql.unsafe(`CREATE TRIGGER test_purchase_outbox_fail BEFORE INSERT ON c360_outbox
          FOR EACH ROW EXECUTE FUNCTION test_purchase_outbox_fail()`)
      }),
    orElse: () =>
      Effect.asVoid(sql.unsafe(`CREATE TRIGGER IF NOT EXISTS test_purchase_outbox_fail BEFORE INSERT ON c360_outbox
        WHEN NEW.payload LIKE '%boom-fail%'
        BEGIN SELECT RAISE(ABORT, 'test failure'); END`))
  }).pipe(Effect.orDie))

// --- the reference: a customer's history, scored by the pure rules --------------------------------

/** A purchase of the reference history: when it happened, its amount, what its returns took. */
export interface HistoryPurchase {
  readonly at: number
  readonly amount: number
  returned: number
}

/** The pure RFM of a history at `now` (fixed mode, or quantile mode with the scores given). */
export const pureScore = (
  createdAt: number,
  purchases: ReadonlyArray<HistoryPurchase>,
  now: number,
  c: Config.RfmConfig = FIXED,
  options: { readonly blacklisted?: boolean; readonly scores?: { r: Score; f: Score; m: Score } } = {}
): RfmResult & { readonly lastDay: number | null } => {
  const today = businessDay(now, TZ)
  const days = purchases.map((p) => businessDay(p.at, TZ))
  const lastDay = days.length === 0 ? null : Math.max(...days)
  const result = scoreCustomer(
    {
      lastPurchaseDay: lastDay,
      frequency: days.filter((d) => d >= today - (c.frequencyWindowDays - 1)).length,
      monetary: purchases.reduce((s, p) => s + p.amount - p.returned, 0),
      createdAt,
      blacklisted: options.blacklisted ?? false
    },
    { today, now },
    c,
    options.scores
  )
  return { ...result, lastDay }
}

const expectScore = (stored: StoredScore | undefined, want: RfmResult & { readonly lastDay: number | null }, label: string) => {
  expect(stored, label).toBeDefined()
  const { customerTier, f, frequency, lastDay, m, monetary, r, segment, tier } = stored!
  expect({ r, f, m, segment, tier, customerTier, lastDay, frequency, monetary }, label).toEqual({
    r: want.r,
    f: want.f,
    m: want.m,
    segment: want.segment,
    tier: want.tier,
    customerTier: want.tier,
    lastDay: want.lastDay,
    frequency: want.frequency,
    monetary: want.monetary
  })
}

// --- generators of the differential test ----------------------------------------------------------

/**
 * An instant of a run: a fraction of the customer's life; minutes from a Hanoi midnight `daysAgo`
 * days back; or minutes from the midnight that starts a boundary day of the rules (R: 7/8, 14/15,
 * 30/31, 60/61 days ago; F: 89/90 days ago, the window's first day and the one before).
 */
type When = { readonly kind: "uniform"; readonly fraction: number } | {
  readonly kind: "midnight"
  readonly daysAgo: number
  readonly minutes: number
}
const BOUNDARY_DAYS = [0, 1, 6, 7, 8, 13, 14, 15, 29, 30, 31, 59, 60, 61, 88, 89, 90, 91] as const
const whenArb: fc.Arbitrary<When> = fc.oneof(
  fc.record({ kind: fc.constant("uniform" as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant("midnight" as const), daysAgo: fc.integer({ min: 0, max: 120 }), minutes: fc.integer({ min: -12, max: 12 }) }),
  fc.record({ kind: fc.constant("midnight" as const), daysAgo: fc.constantFrom(...BOUNDARY_DAYS), minutes: fc.integer({ min: -3, max: 3 }) })
)
const amountArb = fc.oneof(
  { arbitrary: fc.constantFrom(9_999, 10_000, 499_999, 500_000, 1_999_999, 2_000_000, 4_999_999, 5_000_000, 10_000_000, 10_000_001), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 3_000_000 }), weight: 3 }
)
/** Minutes after 17:00 UTC (Hanoi midnight) `daysAgo` days before the UTC date of `now`. */
const nearMidnight = (now: number, daysAgo: number, minutes: number) => {
  const d = new Date(now)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - daysAgo, 17) + minutes * MINUTE
}
const instantOf = (w: When, from: number, to: number) => {
  const t = w.kind === "uniform" ? from + Math.floor(w.fraction * (to - from)) : nearMidnight(to, w.daysAgo, w.minutes)
  return Math.min(to, Math.max(from, t))
}

const historyArb = (maxPurchases: number, maxReturns: number) =>
  fc.record({
    /** "now": 10:00 UTC, or minutes from Hanoi midnight, on one of 40 days. */
    day: fc.integer({ min: 0, max: 40 }),
    nowMinutes: fc.oneof(fc.constant(-7 * 60), fc.integer({ min: -10, max: 10 })),
    /** Each customer's age at "now", in ms: anything up to 150 days, or a millisecond from the 30-day line. */
    customers: fc.array(
      fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 150 * 24 * 60 }).map((minutes) => minutes * MINUTE), weight: 3 },
        { arbitrary: fc.constantFrom(30 * DAY - 1, 30 * DAY, 30 * DAY + 1, 30 * DAY + MINUTE), weight: 1 }
      ),
      { minLength: 1, maxLength: 3 }
    ),
    purchases: fc.array(
      fc.record({
        customer: fc.nat({ max: 10 }),
        when: whenArb,
        amount: amountArb,
        // a purchase recorded late: `at` days back, some of them out of the 90-day window
        backdateMinutes: fc.option(fc.oneof(fc.integer({ min: 1, max: 20 * 24 * 60 }), fc.integer({ min: 88 * 24 * 60, max: 92 * 24 * 60 })), {
          nil: undefined,
          freq: 4
        })
      }),
      { maxLength: maxPurchases }
    ),
    returns: fc.array(
      fc.record({
        purchase: fc.nat({ max: 20 }),
        delayMinutes: fc.integer({ min: 0, max: 30 * 24 * 60 }),
        fraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined })
      }),
      { maxLength: maxReturns }
    )
  })

// --- the contract --------------------------------------------------------------------------------

/**
 * The contract over a storage. `runs`: fast-check runs of the differential test (25; D1 under
 * Miniflare answers a statement in milliseconds and takes fewer), `propertyRuns` of the return
 * property (as `runs`), `modelRuns` and `modelCommands` of the model-based test (15, 14),
 * `quantileRuns` of the quantile test (10).
 */
export const purchaseContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: {
    readonly runs?: number
    readonly propertyRuns?: number
    readonly modelRuns?: number
    readonly modelCommands?: number
    readonly quantileRuns?: number
    /** The differential test's histories: at most this many purchases (14) and returns (6). */
    readonly historyPurchases?: number
    readonly historyReturns?: number
    /** Whether the differential test also refreshes the customer after each write (true). */
    readonly refreshEachWrite?: boolean
  } = {}
) => {
  const runs = options.runs ?? 25
  layer(purchaseServices(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("record by phone creates the customer (customer_hub, one customer.created) and keeps its totals, points, level, tier and last purchase; by customerId for an existing one; the events are on the outbox", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        const T = Date.UTC(2040, 0, 10, 3)
        yield* TestClock.setTime(T)
        const phone = freshPhone()
        const mark = yield* outboxEnd
        const reference = freshRef("p")
        const items = [{ productId: "SKU-1", name: "Áo dài", quantity: 2, unitPrice: 600_000 }, { productId: "SKU-2", name: "Nón", quantity: 1, unitPrice: 55_000 }]
        const first = yield* purchases.record({ phone: `+84 ${phone.slice(1)}`, amount: 1_255_000, reference, shopId: "shop-1", items })
        expect(first.repeated).toBe(false)
        expect(first.purchase).toMatchObject({ reference, amount: 1_255_000, returned: 0, points: 125, pointsReturned: 0, shopId: "shop-1" })
        expect(first.purchase.items.map((i) => [i.productId, i.name, i.quantity, i.unitPrice])).toEqual(items.map((i) => [i.productId, i.name, i.quantity, i.unitPrice]))
        expect(first.purchase.at.getTime()).toBe(T)
        const created = yield* customers.getByPhone(phone)
        expect(created).toMatchObject({ source: "customer_hub", totalOrders: 1, totalSpent: 1_255_000, points: 125, membershipLevel: "bronze", tier: "new" })
        expect(created.lastPurchaseAt?.getTime()).toBe(T)
        expect(first.customer).toEqual(created)
        expect(first.purchase.customerId).toBe(created.id)
        expect(first.levelChanged).toBeNull()
        expect(first.tierChanged).toBeNull()
        expect(yield* purchaseVersion(created.id)).toBe(1)
        // read back
        const details = yield* purchases.get(reference)
        expect(details.purchase).toEqual(first.purchase)
        expect(details.returns).toEqual([])
        // by customerId
        yield* TestClock.adjust(HOUR)
        const second = yield* purchases.record({ customerId: created.id, amount: 745_000, reference: freshRef("p") })
        expect(second.customer).toMatchObject({ id: created.id, totalOrders: 2, totalSpent: 2_000_000, points: 199, membershipLevel: "silver" })
        expect(second.customer.lastPurchaseAt?.getTime()).toBe(T + HOUR)
        expect(second.levelChanged).toEqual({ from: "bronze", to: "silver" })
        expect(yield* purchases.membership(phone)).toEqual({
          level: "silver",
          discount: 10,
          totalSpent: 2_000_000,
          points: 199,
          nextLevel: "gold",
          toNextLevel: 3_000_000
        })
        const events = yield* eventsSince(mark)
        expect(ofType(events, "customer.created").map((e) => e.subject)).toEqual([created.id])
        const recorded = ofType(events, "customer.purchase_recorded")
        expect(recorded.map((e) => [e.channel, e.subject, dataOf(e).purchase.reference, dataOf(e).totalSpent, dataOf(e).points])).toEqual([
          ["customers", created.id, reference, 1_255_000, 125],
          ["customers", created.id, second.purchase.reference, 2_000_000, 199]
        ])
        expect(dataOf(recorded[0]!).purchase).toMatchObject({ amount: 1_255_000, at: new Date(T).toISOString(), items: [{ productId: "SKU-1" }, { productId: "SKU-2" }] })
        expect(ofType(events, "customer.level_changed").map((e) => [e.subject, dataOf(e).from, dataOf(e).to, dataOf(e).totalSpent])).toEqual([
          [created.id, "bronze", "silver", 2_000_000]
        ])
        // a customer younger than 30 days stays `new`: no tier change
        expect(ofType(events, "customer.tier_changed")).toEqual([])
        // list, newest first
        const page = yield* purchases.list(phone)
        expect(page.items.map((p) => p.reference)).toEqual([second.purchase.reference, reference])
        expect(page.total).toBe(2)
        // who: exactly one of phone and customerId, and an existing customer
        expect((yield* failureOf(purchases.record({ amount: 1, reference: freshRef("p") })))._tag).toBe("ValidationError")
        expect((yield* failureOf(purchases.record({ phone, customerId: created.id, amount: 1, reference: freshRef("p") })))._tag).toBe("ValidationError")
        const before = yield* snapshot
        expect((yield* failureOf(purchases.record({ customerId: "cus_00000000000000000000000000", amount: 1, reference: freshRef("p") })))._tag).toBe("CustomerNotFound")
        expect((yield* failureOf(purchases.record({ phone: "0111 234 567", amount: 1, reference: freshRef("p") })))._tag).toBe("InvalidPhone")
        expect(differences(before, yield* snapshot)).toEqual([])
      }))

    it.effect("idempotent by reference: the same payload answers the first result (repeated) and writes nothing; another payload fails IdempotencyConflict and writes nothing", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        yield* TestClock.setTime(Date.UTC(2040, 0, 11, 3))
        const phone = freshPhone()
        const reference = freshRef("p")
        const input = { phone, amount: 250_000, reference, items: [{ productId: "A", name: "A", quantity: 1, unitPrice: 250_000 }] }
        const first = yield* purchases.record(input)
        yield* TestClock.adjust(MINUTE)
        const before = yield* snapshot
        const mark = yield* outboxEnd
        // the same payload, the phone in another format, later: the first result
        for (const again of [input, { ...input, phone: `84${phone.slice(1)}` }, { ...input, customerId: first.customer.id, phone: undefined }]) {
          const repeat = yield* purchases.record(again)
          expect(repeat.repeated).toBe(true)
          expect(repeat.purchase).toEqual(first.purchase)
          expect(repeat.customer).toMatchObject({ id: first.customer.id, totalOrders: 1, totalSpent: 250_000, points: 25 })
          expect(repeat.levelChanged).toBeNull()
          expect(repeat.tierChanged).toBeNull()
        }
        for (
          const other of [
            { ...input, amount: 250_001 },
            { ...input, items: [] },
            { ...input, shopId: "shop-9" },
            { ...input, at: new Date(Date.UTC(2040, 0, 11, 3)) },
            { ...input, phone: freshPhone() }
          ]
        ) {
          const conflict = yield* failureOf(purchases.record(other))
          expect(conflict, JSON.stringify(other)).toMatchObject({ _tag: "IdempotencyConflict", reference })
        }
        expect(differences(before, yield* snapshot)).toEqual([])
        expect(yield* eventsSince(mark)).toEqual([])
        expect(yield* countWhere("c360_purchases", "reference", reference)).toBe(1)
        // an explicit `at` is part of the payload: the same instant again is a repeat
        const at = new Date(Date.UTC(2040, 0, 10, 20))
        const dated = { phone, amount: 10_000, reference: freshRef("p"), at }
        const d1 = yield* purchases.record(dated)
        const d2 = yield* purchases.record({ ...dated, at: at.toISOString() })
        expect(d2).toMatchObject({ repeated: true, purchase: d1.purchase })
      }))

    it.effect("the amount must be a positive safe integer (InvalidAmount); nothing is written, not even the new phone's customer", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        yield* TestClock.setTime(Date.UTC(2040, 0, 12, 3))
        const existing = freshPhone()
        yield* purchases.record({ phone: existing, amount: 1, reference: freshRef("p") })
        const before = yield* snapshot
        const cases: ReadonlyArray<readonly [unknown, string]> = [
          [0, "not_positive"],
          [-10_000, "not_positive"],
          [1.5, "not_integer"],
          [Number.MAX_SAFE_INTEGER + 1, "too_large"],
          [Number.POSITIVE_INFINITY, "not_integer"],
          [Number.NaN, "not_a_number"],
          ["100000", "not_a_number"],
          [null, "not_a_number"],
          [undefined, "not_a_number"]
        ]
        for (const [amount, reason] of cases) {
          for (const phone of [existing, freshPhone()]) {
            const e = yield* failureOf(purchases.record({ phone, amount, reference: freshRef("p") }))
            expect(e._tag, String(amount)).toBe("InvalidAmount")
            if (amount !== Number.POSITIVE_INFINITY) expect(e, String(amount)).toMatchObject({ reason })
          }
        }
        expect(differences(before, yield* snapshot)).toEqual([])
        // the largest safe amount is an amount
        const big = yield* purchases.record({ phone: freshPhone(), amount: Number.MAX_SAFE_INTEGER, reference: freshRef("p") })
        expect(big.customer).toMatchObject({ totalSpent: Number.MAX_SAFE_INTEGER, points: Math.floor(Number.MAX_SAFE_INTEGER / 10_000), membershipLevel: "platinum" })
      }))

    it.effect("`at` defaults to the clock; up to 5 minutes ahead is taken, more is refused (nothing written); a past `at` counts but never moves the last purchase back", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const T = Date.UTC(2040, 0, 13, 3)
        yield* TestClock.setTime(T)
        const phone = freshPhone()
        const a = yield* purchases.record({ phone, amount: 20_000, reference: freshRef("p") })
        expect(a.purchase.at.getTime()).toBe(T)
        expect(a.purchase.createdAt.getTime()).toBe(T)
        const ahead = yield* purchases.record({ phone, amount: 20_000, reference: freshRef("p"), at: new Date(T + 5 * MINUTE) })
        expect(ahead.purchase.at.getTime()).toBe(T + 5 * MINUTE)
        expect(ahead.customer.lastPurchaseAt?.getTime()).toBe(T + 5 * MINUTE)
        const before = yield* snapshot
        const refused = yield* failureOf(purchases.record({ phone, amount: 20_000, reference: freshRef("p"), at: new Date(T + 5 * MINUTE + 1) }))
        expect(refused).toMatchObject({ _tag: "ValidationError" })
        const refusedNew = yield* failureOf(purchases.record({ phone: freshPhone(), amount: 20_000, reference: freshRef("p"), at: new Date(T + DAY).toISOString() }))
        expect(refusedNew).toMatchObject({ _tag: "ValidationError" })
        expect((yield* failureOf(purchases.record({ phone, amount: 20_000, reference: freshRef("p"), at: "yesterday" })))._tag).toBe("ValidationError")
        expect(differences(before, yield* snapshot)).toEqual([])
        const past = yield* purchases.record({ phone, amount: 20_000, reference: freshRef("p"), at: new Date(T - 3 * DAY) })
        expect(past.purchase.at.getTime()).toBe(T - 3 * DAY)
        expect(past.purchase.createdAt.getTime()).toBe(T)
        expect(past.customer).toMatchObject({ totalOrders: 3, totalSpent: 60_000, points: 6 })
        expect(past.customer.lastPurchaseAt?.getTime()).toBe(T + 5 * MINUTE)
      }))

    it.effect("a blacklisted customer's purchase fails CustomerBlacklisted (by phone or id) and writes nothing, no event; a repeat of an earlier purchase still answers its first result", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        yield* TestClock.setTime(Date.UTC(2040, 0, 14, 3))
        const phone = freshPhone()
        const first = yield* purchases.record({ phone, amount: 300_000, reference: freshRef("p") })
        yield* setTier(first.customer.id, "blacklist")
        const before = yield* snapshot
        const mark = yield* outboxEnd
        const byPhone = yield* failureOf(purchases.record({ phone, amount: 100_000, reference: freshRef("p") }))
        expect(byPhone).toMatchObject({ _tag: "CustomerBlacklisted", customerId: first.customer.id })
        const byId = yield* failureOf(purchases.record({ customerId: first.customer.id, amount: 100_000, reference: freshRef("p") }))
        expect(byId).toMatchObject({ _tag: "CustomerBlacklisted", customerId: first.customer.id })
        // a repeat of a purchase recorded before the blacklisting is still the first result (a client's retry)
        const firstInput = { phone, amount: 300_000, reference: first.purchase.reference }
        expect(yield* purchases.record(firstInput)).toMatchObject({ repeated: true, purchase: first.purchase })
        expect(yield* failureOf(purchases.record({ ...firstInput, amount: 300_001 }))).toMatchObject({ _tag: "IdempotencyConflict" })
        expect(differences(before, yield* snapshot)).toEqual([])
        expect(yield* eventsSince(mark)).toEqual([])
        // a return of an earlier purchase is still taken; the tier stays blacklist
        const ret = yield* purchases.recordReturn({ purchaseReference: first.purchase.reference, reference: freshRef("r"), amount: 100_000 })
        expect(ret.customer).toMatchObject({ tier: "blacklist", totalSpent: 200_000, points: 20 })
        expect(ret.tierChanged).toBeNull()
      }))

    it.effect("concurrent returns of one purchase (fibers racing on one storage) never return more than it; the others fail ReturnExceedsPurchase", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        yield* TestClock.setTime(Date.UTC(2040, 0, 14, 5))
        const phone = freshPhone()
        const { purchase } = yield* purchases.record({ phone, amount: 1_000_000, reference: freshRef("p") })
        const results = yield* Effect.all(
          [...Array.from({ length: 3 }, () => ({ amount: 400_000 })), {}].map((extra) =>
            Effect.either(purchases.recordReturn({ purchaseReference: purchase.reference, reference: freshRef("r"), ...extra }))
          ),
          { concurrency: "unbounded" }
        )
        const done = results.filter(Either.isRight).map((r) => r.right.return)
        expect(results.filter(Either.isLeft).map((r) => tagOf(r.left)).filter((t) => t !== "ReturnExceedsPurchase")).toEqual([])
        const returned = done.reduce((s, r) => s + r.amount, 0)
        expect(returned).toBeLessThanOrEqual(1_000_000)
        const details = yield* purchases.get(purchase.reference)
        expect(details.purchase.returned).toBe(returned)
        expect(details.returns).toHaveLength(done.length)
        expect(details.purchase.pointsReturned).toBe(pointsFor(returned))
        expect(yield* customers.getByPhone(phone)).toMatchObject({ totalSpent: 1_000_000 - returned, points: 100 - pointsFor(returned) })
      }))

    it.effect("level and discount follow the net total; customer.level_changed exactly when the level changes, customer.tier_changed exactly once per real tier change", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        const T = Date.UTC(2040, 2, 1, 3)
        // a customer 40 days old: the tier follows the score at once
        yield* TestClock.setTime(T - 40 * DAY)
        const phone = freshPhone()
        const customer = yield* customers.create({ phone, name: "Levels" })
        yield* TestClock.setTime(T)
        const mark = yield* outboxEnd
        const steps: ReadonlyArray<readonly [number, string, number]> = [
          // amount, level after, discount
          [1_999_999, "bronze", 5],
          [1, "silver", 10],
          [2_999_999, "silver", 10],
          [1, "gold", 15],
          [4_999_999, "gold", 15],
          [1, "platinum", 20],
          [7_000_000, "platinum", 20]
        ]
        let level = "bronze"
        let tier = "new"
        let spent = 0
        const expectedTierChanges: Array<[string, string]> = []
        const expectedLevelChanges: Array<[string, string]> = []
        const bought: Array<HistoryPurchase> = []
        for (const [amount, after, discount] of steps) {
          yield* TestClock.adjust(MINUTE)
          const m = yield* outboxEnd
          const r = yield* purchases.record({ phone, amount, reference: freshRef("p") })
          spent += amount
          const events = yield* eventsSince(m)
          expect(r.customer.membershipLevel).toBe(after)
          expect((yield* purchases.membership(phone)).discount).toBe(discount)
          expect(r.levelChanged).toEqual(after === level ? null : { from: level, to: after })
          expect(ofType(events, "customer.level_changed")).toHaveLength(after === level ? 0 : 1)
          if (after !== level) expectedLevelChanges.push([level, after])
          level = after
          bought.push({ at: r.purchase.at.getTime(), amount, returned: 0 })
          const wantTier = pureScore(customer.createdAt.getTime(), bought, r.purchase.at.getTime()).tier
          expect(r.customer.tier).toBe(wantTier)
          expect(r.tierChanged).toEqual(wantTier === tier ? null : { from: tier, to: wantTier })
          expect(ofType(events, "customer.tier_changed")).toHaveLength(wantTier === tier ? 0 : 1)
          if (wantTier !== tier) expectedTierChanges.push([tier, wantTier])
          tier = wantTier
        }
        expect(spent).toBe(17_000_000)
        // 7 purchases today, 17,000,000: R 5, F 4, M 5 → 14 → platinum, reached on the way
        expect(tier).toBe("platinum")
        const all = yield* eventsSince(mark)
        expect(ofType(all, "customer.tier_changed").map((e) => [dataOf(e).from, dataOf(e).to])).toEqual(expectedTierChanges)
        expect(ofType(all, "customer.level_changed").map((e) => [dataOf(e).from, dataOf(e).to])).toEqual(expectedLevelChanges)
        expect(expectedLevelChanges).toEqual([["bronze", "silver"], ["silver", "gold"], ["gold", "platinum"]])
        // each tier change is a real change and the chain ends at the stored tier
        for (const [from, to] of expectedTierChanges) expect(from).not.toBe(to)
        expect((yield* customers.get(customer.id)).tier).toBe("platinum")
        // a return that keeps the level (10,000,000 is platinum): no level_changed
        const list = (yield* purchases.list(phone, { limit: 100 })).items
        const m = yield* outboxEnd
        const back = yield* purchases.recordReturn({ purchaseReference: list[0]!.reference, reference: freshRef("r") })
        expect(back.customer).toMatchObject({ totalSpent: 10_000_000, membershipLevel: "platinum" })
        expect(back.levelChanged).toBeNull()
        // one that drops it: one level_changed
        const back2 = yield* purchases.recordReturn({ purchaseReference: list.at(-1)!.reference, reference: freshRef("r") })
        expect(back2.customer).toMatchObject({ totalSpent: 8_000_001, membershipLevel: "gold" })
        expect(back2.levelChanged).toEqual({ from: "platinum", to: "gold" })
        expect(ofType(yield* eventsSince(m), "customer.level_changed").map((e) => [dataOf(e).from, dataOf(e).to, dataOf(e).totalSpent])).toEqual([
          ["platinum", "gold", 8_000_001]
        ])
        expect(yield* purchases.membership(phone)).toMatchObject({ level: "gold", discount: 15, nextLevel: "platinum", toNextLevel: 1_999_999 })
      }))

    it.effect("one unit of work: a purchase or return whose last write (its event) fails leaves nothing — no purchase, return, line, RFM row, new customer or figure — and the next one goes through", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        yield* installFailure
        yield* TestClock.setTime(Date.UTC(2040, 0, 14, 7))
        const phone = freshPhone()
        const ok = yield* purchases.record({ phone, amount: 500_000, reference: freshRef("p") })
        const before = yield* snapshot
        const items = [{ productId: "X", name: "X", quantity: 1, unitPrice: 1 }]
        for (const who of [{ phone }, { phone: freshPhone() }, { customerId: ok.customer.id }]) {
          const failed = yield* failureOf(purchases.record({ ...who, amount: 3_000_000, reference: freshRef("boom-fail"), items }))
          expect(failed._tag).toBe("StorageError")
        }
        const failedReturn = yield* failureOf(purchases.recordReturn({ purchaseReference: ok.purchase.reference, reference: freshRef("boom-fail") }))
        expect(failedReturn._tag).toBe("StorageError")
        expect(differences(before, yield* snapshot)).toEqual([])
        expect(yield* customers.getByPhone(phone)).toEqual(ok.customer)
        const next = yield* purchases.record({ phone, amount: 3_000_000, reference: freshRef("p"), items })
        expect(next.customer).toMatchObject({ totalOrders: 2, totalSpent: 3_500_000, points: 350, membershipLevel: "silver" })
        expect(yield* purchaseVersion(ok.customer.id)).toBe(2)
      }))

    it.effect("returns: all that is left by default; never more than the purchase in all (ReturnExceedsPurchase, nothing written); points taken back on the cumulated returns; idempotent by reference; PurchaseNotFound", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const T = Date.UTC(2040, 0, 15, 3)
        yield* TestClock.setTime(T)
        const phone = freshPhone()
        const p = (yield* purchases.record({ phone, amount: 95_000, reference: freshRef("p") })).purchase
        yield* TestClock.adjust(MINUTE)
        const other = yield* purchases.record({ phone, amount: 40_000, reference: freshRef("p") })
        expect(other.customer.points).toBe(9 + 4)
        const mark = yield* outboxEnd
        // 5,000 → returned 5,000: floor(0.5) − 0 = 0 points back
        const r1 = yield* purchases.recordReturn({ purchaseReference: p.reference, amount: 5_000, reference: freshRef("r") })
        expect(r1.return).toMatchObject({ amount: 5_000, points: 0, purchaseId: p.id, purchaseReference: p.reference, customerId: p.customerId })
        expect(r1.purchase).toMatchObject({ returned: 5_000, pointsReturned: 0 })
        expect(r1.customer).toMatchObject({ totalSpent: 130_000, points: 13, totalOrders: 2 })
        // 6,000 more → 11,000: 1 point back
        // 10 minutes on, dated 5 minutes after the purchase: stored at its `at`, created now
        yield* TestClock.adjust(10 * MINUTE)
        const r2 = yield* purchases.recordReturn({ purchaseReference: p.reference, amount: 6_000, reference: freshRef("r"), at: new Date(T + 5 * MINUTE) })
        expect(r2.return.at.getTime()).toBe(T + 5 * MINUTE)
        const [r2row] = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<{ at: unknown; created_at: unknown }>`SELECT at, created_at FROM c360_purchase_returns WHERE id = ${r2.return.id}`.pipe(Effect.orDie))
        expect([num(r2row!.at), num(r2row!.created_at)]).toEqual([T + 5 * MINUTE, T + 11 * MINUTE])
        expect(r2.return.points).toBe(1)
        expect(r2.purchase).toMatchObject({ returned: 11_000, pointsReturned: 1 })
        expect(r2.customer).toMatchObject({ totalSpent: 124_000, points: 12 })
        // more than is left: refused, nothing written
        const before = yield* snapshot
        const over = yield* failureOf(purchases.recordReturn({ purchaseReference: p.reference, amount: 84_001, reference: freshRef("r") }))
        expect(over).toMatchObject({ _tag: "ReturnExceedsPurchase", purchaseReference: p.reference, amount: 84_001, returnable: 84_000 })
        for (const amount of [0, -1, 1.5, "5"]) {
          expect((yield* failureOf(purchases.recordReturn({ purchaseReference: p.reference, amount, reference: freshRef("r") })))._tag).toBe("InvalidAmount")
        }
        const missing = yield* failureOf(purchases.recordReturn({ purchaseReference: freshRef("nope"), reference: freshRef("r") }))
        expect(missing).toMatchObject({ _tag: "PurchaseNotFound" })
        expect((yield* failureOf(purchases.get(freshRef("nope"))))._tag).toBe("PurchaseNotFound")
        const early = yield* failureOf(purchases.recordReturn({ purchaseReference: p.reference, amount: 1, reference: freshRef("r"), at: new Date(T - 1) }))
        expect(early._tag).toBe("ValidationError")
        const ahead = yield* failureOf(purchases.recordReturn({ purchaseReference: p.reference, amount: 1, reference: freshRef("r"), at: new Date(T + 11 * MINUTE + 5 * MINUTE + 1) }))
        expect(ahead._tag).toBe("ValidationError")
        expect(differences(before, yield* snapshot)).toEqual([])
        // the default: all that is left (84,000): the purchase keeps 0 points
        yield* TestClock.adjust(HOUR)
        const lastRef = freshRef("r")
        const r3 = yield* purchases.recordReturn({ purchaseReference: p.reference, reference: lastRef })
        expect(r3.return).toMatchObject({ amount: 84_000, points: 8 })
        expect(r3.return.at.getTime()).toBe(T + 11 * MINUTE + HOUR)
        expect(r3.purchase).toMatchObject({ returned: 95_000, pointsReturned: 9 })
        expect(r3.purchase.points - r3.purchase.pointsReturned).toBe(0)
        expect(r3.customer).toMatchObject({ totalSpent: 40_000, points: 4, totalOrders: 2 })
        // the last purchase is not moved back by a return
        expect(r3.customer.lastPurchaseAt?.getTime()).toBe(T + MINUTE)
        // idempotent: the same return again answers the first; another payload conflicts
        const snap = yield* snapshot
        const again = yield* purchases.recordReturn({ purchaseReference: p.reference, reference: lastRef })
        expect(again).toMatchObject({ repeated: true, return: r3.return })
        expect(again.purchase).toMatchObject({ returned: 95_000 })
        expect(yield* failureOf(purchases.recordReturn({ purchaseReference: p.reference, reference: lastRef, amount: 1 }))).toMatchObject({ _tag: "IdempotencyConflict" })
        expect(yield* failureOf(purchases.recordReturn({ purchaseReference: other.purchase.reference, reference: lastRef }))).toMatchObject({ _tag: "IdempotencyConflict" })
        // nothing left: even the default amount is refused
        const full = yield* failureOf(purchases.recordReturn({ purchaseReference: p.reference, reference: freshRef("r") }))
        expect(full).toMatchObject({ _tag: "ReturnExceedsPurchase", returnable: 0 })
        expect(differences(snap, yield* snapshot)).toEqual([])
        // the returns, read back; the events
        const details = yield* purchases.get(p.reference)
        expect(details.returns.map((r) => [r.amount, r.points])).toEqual([[5_000, 0], [6_000, 1], [84_000, 8]])
        const events = ofType(yield* eventsSince(mark), "customer.return_recorded")
        expect(events.map((e) => [e.subject, dataOf(e).amount, dataOf(e).pointsTakenBack, dataOf(e).totalSpent, dataOf(e).points])).toEqual([
          [p.customerId, 5_000, 0, 130_000, 13],
          [p.customerId, 6_000, 1, 124_000, 12],
          [p.customerId, 84_000, 8, 40_000, 4]
        ])
        const history = yield* purchases.points(phone)
        expect(history.balance).toBe(4)
        expect(history.history.map((h) => [h.kind, h.points])).toEqual([["taken_back", 8], ["taken_back", 1], ["earned", 4], ["earned", 9]])
      }))

    it.effect("a second recompute writes no event and changes nothing; each tier change of a recompute is one customer.tier_changed, as many as the report says", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        const rfm = yield* Rfm
        const T = Date.UTC(2042, 0, 1, 3)
        const ids: Array<string> = []
        const plans: ReadonlyArray<readonly [number, ReadonlyArray<number>]> = [
          // age in days at T, amounts bought at T
          [60, Array(11).fill(1_000_000)],
          [60, [6_000_000, 10_000]],
          [45, [2_500_000, 100_000, 100_000]],
          [10, Array(11).fill(1_000_000)],
          [90, []],
          [40, [600_000]]
        ]
        for (const [age, amounts] of plans) {
          yield* TestClock.setTime(T - age * DAY)
          const phone = freshPhone()
          ids.push((yield* customers.create({ phone, name: "Rerun" })).id)
          yield* TestClock.setTime(T)
          for (const amount of amounts) yield* purchases.record({ phone, amount, reference: freshRef("p") })
        }
        yield* TestClock.setTime(T + 20 * DAY)
        const mark = yield* outboxEnd
        const first = yield* rfm.recompute()
        const events = yield* eventsSince(mark)
        const changes = ofType(events, "customer.tier_changed")
        expect(events.length).toBe(changes.length)
        expect(first.changed).toBe(changes.length)
        expect(first.customers).toBe(yield* countAll)
        expect(new Set(changes.map((e) => e.subject)).size).toBe(changes.length)
        for (const e of changes) {
          expect(dataOf(e).reason).toBe("rfm")
          expect(dataOf(e).from).not.toBe(dataOf(e).to)
          expect(e.channel).toBe("customers")
          expect(e.occurredAt.getTime()).toBe(T + 20 * DAY)
          expect((yield* customers.get(e.subject)).tier).toBe(dataOf(e).to)
        }
        // R dropped for our customers: 20 days → 3; the 60-day-old heavy buyer platinum → gold
        const heavy = changes.find((e) => e.subject === ids[0])
        expect(heavy && [dataOf(heavy).from, dataOf(heavy).to, dataOf(heavy).r, dataOf(heavy).f, dataOf(heavy).m]).toEqual(["platinum", "gold", 3, 5, 5])
        const scores = yield* storedScores(ids)
        for (const id of ids) expect(scores.get(id)).toBeDefined()
        const before = { scores: yield* allScores, all: yield* snapshot }
        const end = yield* outboxEnd
        const second = yield* rfm.recompute()
        expect(second.changed).toBe(0)
        expect(yield* outboxEnd).toBe(end)
        expect(yield* eventsSince(end)).toEqual([])
        expect(differences(before.scores, yield* allScores)).toEqual([])
        expect(differences(before.all, yield* snapshot)).toEqual([])
      }))

    it.effect("time passing: 40 days on, R falls and the recompute moves the tier (one customer.tier_changed, reason rfm); 100 days on, F falls too; Rfm.get explains it", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        const rfm = yield* Rfm
        const T = Date.UTC(2042, 5, 1, 3)
        yield* TestClock.setTime(T - 60 * DAY)
        const phone = freshPhone()
        const customer = yield* customers.create({ phone, name: "Time" })
        yield* TestClock.setTime(T)
        const mark = yield* outboxEnd
        for (let i = 0; i < 11; i++) yield* purchases.record({ phone, amount: 1_000_000, reference: freshRef("p") })
        const atOnce = ofType(yield* eventsSince(mark), "customer.tier_changed").map((e) => [dataOf(e).from, dataOf(e).to, dataOf(e).reason])
        // the tier climbs as the purchases come, one event per real change
        expect(atOnce.at(-1)).toEqual([expect.any(String), "platinum", "purchase"])
        for (let i = 1; i < atOnce.length; i++) expect(atOnce[i]![0]).toBe(atOnce[i - 1]![1])
        expect(atOnce[0]![0]).toBe("new")
        const now = yield* rfm.get(phone)
        expect(now).toMatchObject({ recencyDays: 0, frequency: 11, monetary: 11_000_000, r: 5, f: 5, m: 5, tier: "platinum", segment: "Champions", mode: "fixed" })
        expect(now.explanation).toHaveLength(5)
        yield* TestClock.adjust(40 * DAY)
        // before the recompute the stored tier is the purchase's; the view is as of now
        expect((yield* customers.get(customer.id)).tier).toBe("platinum")
        const later = yield* rfm.get(phone)
        expect(later).toMatchObject({ recencyDays: 40, r: 2, f: 5, m: 5, tier: "gold" })
        expect(later.explanation[0]).toBe("R = 2: last purchase 40 days ago; 30 days or fewer are needed for 3")
        const m1 = yield* outboxEnd
        const report = yield* rfm.recompute()
        const changed = ofType(yield* eventsSince(m1), "customer.tier_changed").filter((e) => e.subject === customer.id)
        expect(changed.map((e) => [dataOf(e).from, dataOf(e).to, dataOf(e).r, dataOf(e).f, dataOf(e).m, dataOf(e).reason])).toEqual([
          ["platinum", "gold", 2, 5, 5, "rfm"]
        ])
        expect(report.changed).toBeGreaterThanOrEqual(1)
        expect((yield* storedScores([customer.id])).get(customer.id)).toMatchObject({ r: 2, f: 5, m: 5, tier: "gold", customerTier: "gold", lastDay: businessDay(T, TZ) })
        const m2 = yield* outboxEnd
        yield* rfm.recompute()
        expect(ofType(yield* eventsSince(m2), "customer.tier_changed").filter((e) => e.subject === customer.id)).toEqual([])
        // 100 days on: R 1, F 1 (out of the 90-day window), M 5 → 7 → new
        yield* TestClock.adjust(60 * DAY)
        yield* rfm.recompute()
        expect((yield* storedScores([customer.id])).get(customer.id)).toMatchObject({ r: 1, f: 1, m: 5, frequency: 0, tier: "new", customerTier: "new" })
        expect((yield* rfm.get(phone)).explanation[3]).toMatch(/^Tier new: score 2\.33 \(R \+ F \+ M = 7\) is below 2\.5/)
      }))

    it.effect("a customer younger than 30 days is `new` whatever its score, to the millisecond; at 30 days the recompute gives its tier, with one event", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        const rfm = yield* Rfm
        const T = Date.UTC(2043, 0, 5, 3)
        yield* TestClock.setTime(T)
        const phone = freshPhone()
        const customer = yield* customers.create({ phone, name: "Young" })
        const mark = yield* outboxEnd
        for (let i = 0; i < 11; i++) yield* purchases.record({ phone, amount: 1_000_000, reference: freshRef("p") })
        expect(ofType(yield* eventsSince(mark), "customer.tier_changed")).toEqual([])
        expect((yield* customers.get(customer.id)).tier).toBe("new")
        const young = yield* rfm.get(phone)
        expect(young).toMatchObject({ r: 5, f: 5, m: 5, tier: "new" })
        expect(young.explanation[3]).toBe("Tier new: the customer is younger than 30 days")
        yield* TestClock.setTime(T + 30 * DAY - 1)
        yield* rfm.recompute()
        expect((yield* customers.get(customer.id)).tier).toBe("new")
        yield* TestClock.setTime(T + 30 * DAY)
        const m = yield* outboxEnd
        yield* rfm.recompute()
        // 30 days since the purchases: R 3, F 5, M 5 → 13 → gold
        const events = ofType(yield* eventsSince(m), "customer.tier_changed").filter((e) => e.subject === customer.id)
        expect(events.map((e) => [dataOf(e).from, dataOf(e).to])).toEqual([["new", "gold"]])
        expect((yield* customers.get(customer.id)).tier).toBe("gold")
      }))

    it.effect("batches: a recompute in batches of 2 or 3 over ≥ 5 customers gives what one batch gives, and the pure scores", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        const rfm = yield* Rfm
        const sql = yield* SqlClient.SqlClient
        const T = Date.UTC(2043, 6, 1, 3)
        const histories: Array<{ id: string; created: number; bought: Array<HistoryPurchase> }> = []
        for (let i = 0; i < 7; i++) {
          const created = T - (20 + 15 * i) * DAY
          yield* TestClock.setTime(created)
          const phone = freshPhone()
          const id = (yield* customers.create({ phone, name: `Batch ${i}` })).id
          const bought: Array<HistoryPurchase> = []
          for (let k = 0; k <= i; k++) {
            const at = created + (k + 1) * 2 * DAY
            yield* TestClock.setTime(at)
            const amount = 150_000 * (i + 1) + k
            yield* purchases.record({ phone, amount, reference: freshRef("p") })
            bought.push({ at, amount, returned: 0 })
          }
          histories.push({ id, created, bought })
        }
        const NOW = T + 5 * DAY
        yield* TestClock.setTime(NOW)
        const total = yield* countAll
        const results: Array<{ scores: ReadonlyArray<string> }> = []
        for (const batchSize of [2, 3, undefined]) {
          yield* sql`DELETE FROM c360_rfm`.pipe(Effect.orDie)
          yield* sql`UPDATE c360_customers SET tier = 'new' WHERE tier <> 'blacklist'`.pipe(Effect.orDie)
          const mark = yield* outboxEnd
          const report = yield* rfm.recompute(batchSize === undefined ? {} : { batchSize })
          expect(report.customers).toBe(total)
          expect(report.batches).toBeGreaterThanOrEqual(batchSize === undefined ? 1 : Math.ceil(total / batchSize))
          expect(report.batches).toBeLessThanOrEqual(batchSize === undefined ? 1 : Math.ceil(total / batchSize) + 1)
          expect(ofType(yield* eventsSince(mark), "customer.tier_changed")).toHaveLength(report.changed)
          results.push(yield* allScores)
        }
        expect(differences(results[0]!, results[2]!)).toEqual([])
        expect(differences(results[1]!, results[2]!)).toEqual([])
        const scores = yield* storedScores(histories.map((h) => h.id))
        for (const h of histories) expectScore(scores.get(h.id), pureScore(h.created, h.bought, NOW), h.id)
        // every customer of the database has its row
        expect(results[2]!.scores.every((s) => JSON.parse(s).r !== undefined)).toBe(true)
        // maxBatches stops early
        const partial = yield* rfm.recompute({ batchSize: 2, maxBatches: 1 })
        expect(partial.batches).toBe(1)
        expect((yield* failureOf(rfm.recompute({ batchSize: 0 })))._tag).toBe("ValidationError")
      }))

    it.effect("the 360 view has the rfm, membership and purchases parts", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        yield* TestClock.setTime(Date.UTC(2044, 5, 1, 3))
        const phone = freshPhone()
        const empty = yield* customers.create({ phone, name: "View" })
        const none = yield* customers.view360(phone)
        expect(none.purchases).toEqual([])
        expect(none.membership).toEqual({ level: "bronze", discount: 5, totalSpent: 0, points: 0, nextLevel: "silver", toNextLevel: 2_000_000 })
        expect(none.rfm).toMatchObject({ customerId: empty.id, recencyDays: null, r: 1, f: 1, m: 1, tier: "new", scoredAt: null })
        for (let i = 0; i < 12; i++) {
          yield* TestClock.adjust(MINUTE)
          yield* purchases.record({ phone, amount: 200_000 + i, reference: `view-${empty.id}-${i}` })
        }
        const view = yield* customers.view360(phone)
        expect(view.customer).toMatchObject({ id: empty.id, totalOrders: 12 })
        expect(view.purchases.map((p) => p.reference)).toEqual(Array.from({ length: 10 }, (_, i) => `view-${empty.id}-${11 - i}`))
        expect(view.membership).toMatchObject({ level: "silver", discount: 10, totalSpent: 2_400_066, points: 12 * 20 })
        expect(view.rfm).toMatchObject({ recencyDays: 0, frequency: 12, monetary: 2_400_066, r: 5, f: 5, m: 3, segment: "Potential Loyalist" })
        expect(view.rfm!.explanation).toHaveLength(5)
        expect(view.rfm!.scoredAt).not.toBeNull()
      }))
    it.effect("property: random sequences of returns (all that is left, parts, more than is left) never return more than was bought, keep every purchase's and the customer's points ≥ 0 and consistent, and the total net", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Purchases | Customers | SqlClient.SqlClient>()
        const run = Runtime.runPromise(runtime)
        yield* TestClock.setTime(Date.UTC(2040, 0, 16, 3))
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.array(fc.integer({ min: 1, max: 400_000 }), { minLength: 1, maxLength: 3 }),
              fc.array(
                fc.record({
                  purchase: fc.nat({ max: 5 }),
                  amount: fc.oneof(
                    fc.constant(undefined),
                    fc.integer({ min: 1, max: 200_000 }),
                    fc.constantFrom(1, 9_999, 10_000, 10_001)
                  ),
                  over: fc.boolean()
                }),
                { maxLength: 8 }
              ),
              async (amounts, returns) => {
                const phone = freshPhone()
                const made: Array<Purchase> = []
                for (const amount of amounts) made.push((await run(Effect.flatMap(Purchases, (p) => p.record({ phone, amount, reference: freshRef("p") })))).purchase)
                const returned = made.map(() => 0)
                for (const step of returns) {
                  const i = step.purchase % made.length
                  const p = made[i]!
                  const left = p.amount - returned[i]!
                  const amount = step.over ? left + (step.amount ?? 1) : step.amount
                  const result = await run(Effect.either(Effect.flatMap(Purchases, (s) =>
                    s.recordReturn({ purchaseReference: p.reference, reference: freshRef("r"), ...(amount === undefined ? {} : { amount }) }))))
                  const wanted = amount ?? left
                  if (wanted > left || wanted === 0) {
                    expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "ReturnExceedsPurchase", returnable: left })
                  } else {
                    const ok = Either.getOrThrow(result)
                    expect(ok.return.amount).toBe(wanted)
                    expect(ok.return.points).toBe(pointsFor(returned[i]! + wanted) - pointsFor(returned[i]!))
                    returned[i]! += wanted
                  }
                  const stored = (await run(Effect.flatMap(Purchases, (s) => s.get(p.reference))))
                  expect(stored.purchase.returned).toBe(returned[i])
                  expect(stored.returns.reduce((s, r) => s + r.amount, 0)).toBe(returned[i])
                  expect(stored.purchase.returned).toBeLessThanOrEqual(p.amount)
                  expect(stored.purchase.points - stored.purchase.pointsReturned).toBe(pointsFor(p.amount) - pointsFor(returned[i]!))
                  expect(stored.purchase.points - stored.purchase.pointsReturned).toBeGreaterThanOrEqual(0)
                }
                const customer = await run(Effect.flatMap(Customers, (c) => c.getByPhone(phone)))
                const kept = made.reduce((s, p, i) => s + pointsFor(p.amount) - pointsFor(returned[i]!), 0)
                expect(customer.points).toBe(kept)
                expect(customer.points).toBeGreaterThanOrEqual(0)
                expect(customer.totalSpent).toBe(made.reduce((s, p, i) => s + p.amount - returned[i]!, 0))
                expect(customer.membershipLevel).toBe(levelFor(customer.totalSpent))
                for (let i = 0; i < made.length; i++) if (returned[i] === made[i]!.amount) expect(made[i]!.points - pointsFor(made[i]!.amount)).toBe(0)
              }
            ),
            { numRuns: options.propertyRuns ?? runs }
          )
        )
      }), { timeout: 120_000 })

    it.effect("differential: random histories (customers at random instants, purchases and returns within ~120 days, many minutes from Hanoi midnight) — the at-once update after each write, a one-customer refresh at that instant and Rfm.recompute() at the end all equal the pure scoreCustomer", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Purchases | Customers | Rfm | SqlClient.SqlClient | Outbox>()
        const run = Runtime.runPromise(runtime)
        const BASE = Date.UTC(2041, 3, 1)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(historyArb(options.historyPurchases ?? 14, options.historyReturns ?? 6), async (h) => {
              const now = nearMidnight(BASE, -h.day, h.nowMinutes)
              const setTime = (t: number) => run(TestClock.setTime(t))
              // the plan: every write at its instant, in order
              type Op =
                | { readonly t: number; readonly kind: "customer"; readonly c: number }
                | { readonly t: number; readonly kind: "purchase"; readonly c: number; readonly p: number; readonly at: number | undefined; readonly amount: number }
                | { readonly t: number; readonly kind: "return"; readonly p: number; readonly fraction: number | undefined }
              const created = h.customers.map((age) => now - age)
              const ops: Array<Op> = created.map((t, c) => ({ t, kind: "customer", c }))
              const plannedAt: Array<number> = []
              h.purchases.forEach((p, i) => {
                const c = p.customer % created.length
                const t = instantOf(p.when, created[c]! + MINUTE, now)
                const at = p.backdateMinutes === undefined ? undefined : Math.max(created[c]!, t - p.backdateMinutes * MINUTE)
                plannedAt.push(t)
                ops.push({ t, kind: "purchase", c, p: i, at, amount: p.amount })
              })
              if (h.purchases.length > 0) {
                for (const r of h.returns) {
                  const p = r.purchase % h.purchases.length
                  ops.push({ t: Math.min(now, plannedAt[p]! + r.delayMinutes * MINUTE), kind: "return", p, fraction: r.fraction })
                }
              }
              const order = { customer: 0, purchase: 1, return: 2 }
              ops.sort((a, b) => a.t - b.t || order[a.kind] - order[b.kind])
              // the history as it happens
              const ids: Array<string> = []
              const phones = created.map(() => freshPhone())
              const history: Array<Array<HistoryPurchase>> = created.map(() => [])
              const recorded: Array<{ readonly c: number; readonly reference: string; readonly hp: HistoryPurchase } | undefined> = []
              let lastWrite: { readonly c: number; readonly t: number } | undefined
              const check = async (c: number, t: number, label: string) => {
                lastWrite = { c, t }
                const want = pureScore(created[c]!, history[c]!, t)
                const atOnce = (await run(storedScores([ids[c]!]))).get(ids[c]!)
                expectScore(atOnce, want, `${label}: at once`)
                if (options.refreshEachWrite === false) return
                expect(await run(Effect.flatMap(Rfm, (s) => s.refresh(ids[c]!))), `${label}: refresh changes no tier`).toBe(0)
                expectScore((await run(storedScores([ids[c]!]))).get(ids[c]!), want, `${label}: refreshed`)
              }
              for (const op of ops) {
                await setTime(op.t)
                if (op.kind === "customer") {
                  ids[op.c] = (await run(Effect.flatMap(Customers, (s) => s.create({ phone: phones[op.c]!, name: "Diff" })))).id
                } else if (op.kind === "purchase") {
                  const reference = freshRef("d")
                  const result = await run(Effect.flatMap(Purchases, (s) =>
                    s.record({ customerId: ids[op.c]!, amount: op.amount, reference, ...(op.at === undefined ? {} : { at: new Date(op.at) }) })))
                  const hp: HistoryPurchase = { at: op.at ?? op.t, amount: op.amount, returned: 0 }
                  expect(result.purchase.at.getTime()).toBe(hp.at)
                  history[op.c]!.push(hp)
                  recorded[op.p] = { c: op.c, reference, hp }
                  await check(op.c, op.t, `purchase ${op.p} at ${new Date(op.t).toISOString()}`)
                } else {
                  const target = recorded[op.p]!
                  const left = target.hp.amount - target.hp.returned
                  const amount = op.fraction === undefined ? undefined : Math.max(1, Math.floor(op.fraction * target.hp.amount))
                  const result = await run(Effect.either(Effect.flatMap(Purchases, (s) =>
                    s.recordReturn({ purchaseReference: target.reference, reference: freshRef("dr"), ...(amount === undefined ? {} : { amount }) }))))
                  const wanted = amount ?? left
                  if (wanted === 0 || wanted > left) {
                    expect(Either.isLeft(result) && tagOf(result.left)).toBe("ReturnExceedsPurchase")
                  } else {
                    expect(Either.isRight(result), `return: ${Either.isLeft(result) ? tagOf(result.left) : ""}`).toBe(true)
                    target.hp.returned += wanted
                    await check(target.c, op.t, `return of ${op.p} at ${new Date(op.t).toISOString()}`)
                  }
                }
              }
              // a recomputation at the instant of the last write gives what its at-once update left
              if (lastWrite !== undefined) {
                await setTime(lastWrite.t)
                const id = ids[lastWrite.c]!
                const atOnce = (await run(storedScores([id]))).get(id)
                await run(Effect.flatMap(Rfm, (s) => s.recompute()))
                const recomputed = (await run(storedScores([id]))).get(id)
                expect(recomputed, "the recompute at the last write").toEqual(atOnce)
                expectScore(recomputed, pureScore(created[lastWrite.c]!, history[lastWrite.c]!, lastWrite.t), "the recompute at the last write")
              }
              // the recomputation at "now"
              await setTime(now)
              await run(Effect.flatMap(Rfm, (s) => s.recompute()))
              const scores = await run(storedScores(ids))
              for (let c = 0; c < created.length; c++) {
                expectScore(scores.get(ids[c]!), pureScore(created[c]!, history[c]!, now), `customer ${c} recomputed at ${new Date(now).toISOString()}`)
                const stored = await run(Effect.flatMap(Customers, (s) => s.get(ids[c]!)))
                expect(stored.totalSpent).toBe(history[c]!.reduce((s, p) => s + p.amount - p.returned, 0))
                expect(stored.totalOrders).toBe(history[c]!.length)
              }
            }),
            { numRuns: runs }
          )
        )
      }), { timeout: 120_000 })

    it.effect("model-based: random records (by phone or id), repeats, conflicting repeats, returns, over-returns and blacklisted attempts agree with a model of totals, points, level and each purchase's returned", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Purchases | Customers | SqlClient.SqlClient | UnitOfWork>()
        const run = Runtime.runPromise(runtime)
        yield* TestClock.setTime(Date.UTC(2044, 0, 1, 3))
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.commands(commands, { maxCommands: options.modelCommands ?? 14, size: "max" }), async (cmds) => {
              const phones = [freshPhone(), freshPhone()]
              const model: Model = { customers: phones.map(() => ({ id: undefined, orders: 0, spent: 0, points: 0 })), purchases: [] }
              await fc.asyncModelRun(() => ({ model, real: { run, phones } }), cmds)
              for (let c = 0; c < phones.length; c++) if (model.customers[c]!.id !== undefined) await agree(model, { run, phones }, c)
            }),
            { numRuns: options.modelRuns ?? 15 }
          )
        )
      }), { timeout: 120_000 })
  })

  // quantile mode on a database of its own: its population is exactly what the test created
  layer(purchaseServices(storage, QUANTILE), { timeout: "120 seconds" })(`${name}, quantile mode`, (it) => {
    it.effect("quantile mode: equal values get equal scores, and every score is the pure quantileScore(below, equal, population) over all customers; purchases leave the scores to the recompute", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Purchases | Customers | Rfm | SqlClient.SqlClient | Outbox>()
        const run = Runtime.runPromise(runtime)
        const NOW = Date.UTC(2045, 0, 20, 3)
        const population: Array<{ id: string; created: number; bought: Array<HistoryPurchase> }> = []
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.array(
                fc.record({
                  age: fc.constantFrom(10, 50, 200),
                  purchases: fc.array(fc.record({ daysAgo: fc.constantFrom(0, 3, 20, 100), amount: fc.constantFrom(100_000, 600_000, 3_000_000) }), { maxLength: 4 })
                }),
                { minLength: 1, maxLength: 5 }
              ),
              async (customers) => {
                for (const c of customers) {
                  const created = NOW - c.age * DAY
                  await run(TestClock.setTime(created))
                  const phone = freshPhone()
                  const id = (await run(Effect.flatMap(Customers, (s) => s.create({ phone, name: "Quantile" })))).id
                  const bought: Array<HistoryPurchase> = []
                  for (const p of c.purchases) {
                    const at = Math.max(created, NOW - p.daysAgo * DAY)
                    await run(TestClock.setTime(at))
                    const r = await run(Effect.flatMap(Purchases, (s) => s.record({ customerId: id, amount: p.amount, reference: freshRef("q") })))
                    // the tier is the recompute's in quantile mode: a customer not recomputed yet stays new
                    expect(r.customer.tier).toBe("new")
                    expect(r.tierChanged).toBeNull()
                    bought.push({ at, amount: p.amount, returned: 0 })
                  }
                  population.push({ id, created, bought })
                }
                await run(TestClock.setTime(NOW))
                const mark = await run(outboxEnd)
                const report = await run(Effect.flatMap(Rfm, (s) => s.recompute({ batchSize: 3 })))
                expect(report.customers).toBe(population.length)
                expect(ofType(await run(eventsSince(mark)), "customer.tier_changed")).toHaveLength(report.changed)
                const today = businessDay(NOW, TZ)
                const values = population.map((p) => {
                  const days = p.bought.map((b) => businessDay(b.at, TZ))
                  return {
                    lastDay: days.length === 0 ? -1 : Math.max(...days),
                    frequency: days.filter((d) => d >= today - 89).length,
                    monetary: p.bought.reduce((s, b) => s + b.amount - b.returned, 0)
                  }
                })
                const place = (key: "lastDay" | "frequency" | "monetary", v: number) =>
                  quantileScore(values.filter((x) => x[key] < v).length, values.filter((x) => x[key] === v).length, values.length)
                const stored = await run(storedScores(population.map((p) => p.id)))
                const byValue = new Map<string, string>()
                population.forEach((p, i) => {
                  const v = values[i]!
                  const scores = { r: v.lastDay === -1 ? 1 : place("lastDay", v.lastDay), f: place("frequency", v.frequency), m: place("monetary", v.monetary) } as {
                    r: Score
                    f: Score
                    m: Score
                  }
                  const want = pureScore(p.created, p.bought, NOW, QUANTILE, { scores })
                  const got = stored.get(p.id)
                  expectScore(got, want, `customer ${i} of ${population.length}: ${JSON.stringify(v)}`)
                  expect(want.segment).toBe(segmentOf(scores.r, scores.f, scores.m))
                  // equal values, equal scores
                  for (const [key, score] of [["m", got!.m], ["f", got!.f], ["r", got!.r]] as const) {
                    const k = `${key}:${key === "m" ? v.monetary : key === "f" ? v.frequency : v.lastDay}`
                    const seen = byValue.get(k)
                    if (seen !== undefined) expect(String(score), k).toBe(seen)
                    byValue.set(k, String(score))
                  }
                })
                // a second recompute changes nothing
                const end = await run(outboxEnd)
                expect((await run(Effect.flatMap(Rfm, (s) => s.recompute()))).changed).toBe(0)
                expect(await run(eventsSince(end))).toEqual([])
                // the view gives the stored scores, in quantile mode
                const one = population.at(-1)!
                const phone = (await run(Effect.flatMap(Customers, (s) => s.get(one.id)))).phone!
                const view = await run(Effect.flatMap(Rfm, (s) => s.get(phone)))
                const row = stored.get(one.id)!
                expect(view).toMatchObject({ mode: "quantile", r: row.r, f: row.f, m: row.m, tier: row.tier })
                expect(view.explanation[1]).toContain("quantile mode")
              }
            ),
            { numRuns: options.quantileRuns ?? 10 }
          )
        )
      }), { timeout: 120_000 })
  })
}

const countAll = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_customers`.pipe(Effect.map((rows) => num(rows[0]?.n)), Effect.orDie))

// --- the model of the model-based test ---------------------------------------------------------

interface ModelCustomer {
  id: string | undefined
  orders: number
  spent: number
  points: number
}
interface ModelPurchase {
  readonly c: number
  readonly reference: string
  readonly amount: number
  readonly byPhone: boolean
  returned: number
  returns: number
}
interface Model {
  readonly customers: Array<ModelCustomer>
  readonly purchases: Array<ModelPurchase>
}
interface Real {
  readonly run: <A, E>(effect: Effect.Effect<A, E, Purchases | Customers | SqlClient.SqlClient | UnitOfWork>) => Promise<A>
  readonly phones: ReadonlyArray<string>
}

/** The customer's figures and every purchase's returns as the model holds them; `touched` read through the service too. */
const agree = async (m: Model, r: Real, c: number, touched?: ModelPurchase) => {
  const mc = m.customers[c]!
  const customer = await r.run(Effect.flatMap(Customers, (s) => s.getByPhone(r.phones[c]!)))
  expect({ id: customer.id, orders: customer.totalOrders, spent: customer.totalSpent, points: customer.points, level: customer.membershipLevel })
    .toEqual({ id: mc.id, orders: mc.orders, spent: mc.spent, points: mc.points, level: levelFor(mc.spent) })
  const rows = await r.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<Record<string, unknown>>`SELECT p.reference, p.amount, p.returned, p.points, p.points_returned,
        (SELECT count(*) FROM c360_purchase_returns x WHERE x.purchase_id = p.id) AS returns,
        (SELECT coalesce(sum(x.amount), 0) FROM c360_purchase_returns x WHERE x.purchase_id = p.id) AS returned_sum
      FROM c360_purchases p WHERE p.customer_id = ${customer.id} ORDER BY p.reference`.pipe(Effect.orDie)))
  const want = m.purchases.filter((p) => p.c === c).sort((a, b) => (a.reference < b.reference ? -1 : 1))
  expect(rows.map((row) => ({
    reference: String(row.reference),
    returned: num(row.returned),
    returnedSum: num(row.returned_sum),
    returns: num(row.returns),
    kept: num(row.points) - num(row.points_returned)
  }))).toEqual(want.map((p) => ({
    reference: p.reference,
    returned: p.returned,
    returnedSum: p.returned,
    returns: p.returns,
    kept: pointsFor(p.amount) - pointsFor(p.returned)
  })))
  if (touched !== undefined) {
    const stored = await r.run(Effect.flatMap(Purchases, (s) => s.get(touched.reference)))
    expect({ returned: stored.purchase.returned, returns: stored.returns.length, amount: stored.purchase.amount })
      .toEqual({ returned: touched.returned, returns: touched.returns, amount: touched.amount })
  }
}
const attempt = <A>(r: Real, f: (p: Purchases["Type"]) => Effect.Effect<A, { readonly _tag: string }>) =>
  r.run(Effect.either(Effect.flatMap(Purchases, f)))
const tick = (r: Real) => r.run(TestClock.adjust(1_000))
const pickPurchase = (m: Readonly<Model>, i: number) => m.purchases[i % m.purchases.length]!
const unchanged = async (r: Real, body: () => Promise<void>) => {
  const before = await r.run(snapshot)
  await body()
  expect(differences(before, await r.run(snapshot))).toEqual([])
}

class RecordCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly c: number, readonly amount: number, readonly byPhone: boolean) {}
  check = () => true
  async run(m: Model, r: Real) {
    await tick(r)
    const mc = m.customers[this.c]!
    const useId = !this.byPhone && mc.id !== undefined
    const reference = freshRef("m")
    const result = Either.getOrThrow(
      await attempt(r, (s) => s.record(useId ? { customerId: mc.id!, amount: this.amount, reference } : { phone: r.phones[this.c]!, amount: this.amount, reference }))
    )
    const levelBefore = levelFor(mc.spent)
    mc.id = result.customer.id
    mc.orders += 1
    mc.spent += this.amount
    mc.points += pointsFor(this.amount)
    expect(result.repeated).toBe(false)
    expect(result.levelChanged).toEqual(levelBefore === levelFor(mc.spent) ? null : { from: levelBefore, to: levelFor(mc.spent) })
    const made: ModelPurchase = { c: this.c, reference, amount: this.amount, byPhone: !useId, returned: 0, returns: 0 }
    m.purchases.push(made)
    await agree(m, r, this.c, made)
  }
  toString = () => `record(#${this.c}, ${this.amount}${this.byPhone ? ", phone" : ""})`
}

class RepeatCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly p: number, readonly conflicting: boolean) {}
  check = (m: Readonly<Model>) => m.purchases.length > 0
  async run(m: Model, r: Real) {
    await tick(r)
    const p = pickPurchase(m, this.p)
    const who = p.byPhone ? { phone: r.phones[p.c]! } : { customerId: m.customers[p.c]!.id! }
    await unchanged(r, async () => {
      const result = await attempt(r, (s) => s.record({ ...who, amount: this.conflicting ? p.amount + 1 : p.amount, reference: p.reference }))
      if (this.conflicting) expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "IdempotencyConflict", reference: p.reference })
      else expect(Either.getOrThrow(result)).toMatchObject({ repeated: true, purchase: { reference: p.reference, amount: p.amount, returned: p.returned } })
    })
    await agree(m, r, p.c, p)
  }
  toString = () => `repeat(#${this.p}${this.conflicting ? ", conflicting" : ""})`
}

type ReturnChoice = { readonly kind: "rest" } | { readonly kind: "fraction"; readonly f: number } | { readonly kind: "over"; readonly by: number }
class ReturnCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly p: number, readonly choice: ReturnChoice) {}
  check = (m: Readonly<Model>) => m.purchases.length > 0
  async run(m: Model, r: Real) {
    await tick(r)
    const p = pickPurchase(m, this.p)
    const left = p.amount - p.returned
    const amount = this.choice.kind === "rest"
      ? undefined
      : this.choice.kind === "over"
      ? left + this.choice.by
      : Math.max(1, Math.floor(this.choice.f * p.amount))
    const wanted = amount ?? left
    const call = () => attempt(r, (s) => s.recordReturn({ purchaseReference: p.reference, reference: freshRef("mr"), ...(amount === undefined ? {} : { amount }) }))
    if (wanted === 0 || wanted > left) {
      await unchanged(r, async () => {
        const result = await call()
        expect(Either.isLeft(result) && result.left, `${this}`).toMatchObject({ _tag: "ReturnExceedsPurchase", returnable: left })
      })
    } else {
      const result = Either.getOrThrow(await call())
      const taken = pointsFor(p.returned + wanted) - pointsFor(p.returned)
      expect(result.return).toMatchObject({ amount: wanted, points: taken })
      p.returned += wanted
      p.returns += 1
      const mc = m.customers[p.c]!
      mc.spent -= wanted
      mc.points -= taken
      expect(mc.points).toBeGreaterThanOrEqual(0)
    }
    await agree(m, r, p.c, p)
  }
  toString = () => `return(#${this.p}, ${JSON.stringify(this.choice)})`
}

class BlacklistedCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly c: number, readonly amount: number) {}
  check = (m: Readonly<Model>) => m.customers.some((c) => c.id !== undefined)
  async run(m: Model, r: Real) {
    await tick(r)
    const c = m.customers[this.c]!.id !== undefined ? this.c : m.customers.findIndex((x) => x.id !== undefined)
    const id = m.customers[c]!.id!
    const tier = (await r.run(Effect.flatMap(Customers, (s) => s.get(id)))).tier
    await r.run(setTier(id, "blacklist"))
    await unchanged(r, async () => {
      const result = await attempt(r, (s) => s.record({ phone: r.phones[c]!, amount: this.amount, reference: freshRef("mb") }))
      expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "CustomerBlacklisted", customerId: id })
    })
    await r.run(setTier(id, tier))
    await agree(m, r, c)
  }
  toString = () => `blacklisted(#${this.c}, ${this.amount})`
}

const modelAmount = fc.oneof(fc.integer({ min: 1, max: 3_000_000 }), fc.constantFrom(9_999, 10_000, 2_000_000, 5_000_000))
const commands = [
  fc.tuple(fc.integer({ min: 0, max: 1 }), modelAmount, fc.boolean()).map(([c, a, byPhone]) => new RecordCmd(c, a, byPhone)),
  fc.tuple(fc.nat({ max: 20 }), fc.boolean()).map(([p, conflicting]) => new RepeatCmd(p, conflicting)),
  fc.tuple(
    fc.nat({ max: 20 }),
    fc.oneof(
      fc.constant<ReturnChoice>({ kind: "rest" }),
      fc.double({ min: 0, max: 1, noNaN: true }).map((f): ReturnChoice => ({ kind: "fraction", f })),
      fc.integer({ min: 1, max: 50_000 }).map((by): ReturnChoice => ({ kind: "over", by }))
    )
  ).map(([p, choice]) => new ReturnCmd(p, choice)),
  fc.tuple(fc.integer({ min: 0, max: 1 }), modelAmount).map(([c, a]) => new BlacklistedCmd(c, a))
]
