/**
 * DOMAIN §6, §7, §7a on PostgreSQL under concurrency, through separate pool connections: concurrent
 * purchases of one customer all count (totals, points and `purchase_version` exact), one reference
 * sent at once by many callers is one purchase, concurrent returns of one purchase never return more
 * than it (a fast-check property over random amounts), and a recompute concurrent with purchases
 * leaves the tiers a fresh recompute finds, with one `customer.tier_changed` per real change.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Runtime from "effect/Runtime"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import { Customers } from "../src/customers/Customers.js"
import { levelFor, pointsFor } from "../src/purchases/Purchase.js"
import { Purchases } from "../src/purchases/Purchases.js"
import { Rfm } from "../src/purchases/RfmService.js"
import { freshPhone } from "./contract/customers.js"
import { eventsSince, freshRef, type HistoryPurchase, outboxEnd, pureScore, purchaseServices, storedScores } from "./contract/purchases.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

const CONNECTIONS = 24
const MINUTE = 60_000
const DAY = 86_400_000

const tagOf = (e: unknown) => (typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e))
const scalar = (query: Effect.Effect<ReadonlyArray<Record<string, unknown>>, unknown>) =>
  Effect.map(query, (rows) => Number(Object.values(rows[0] ?? {})[0] ?? 0)).pipe(Effect.orDie)

describe.skipIf(!pgEnabled)("PostgreSQL purchase concurrency", () => {
  layer(purchaseServices(pgStorage({ maxConnections: CONNECTIONS })), { timeout: "120 seconds" })((it) => {
    it.effect("16 concurrent purchases of one customer: all recorded, totals, points and level exact, purchase_version 16, the RFM row counts 16", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        const sql = yield* SqlClient.SqlClient
        const T = Date.UTC(2050, 0, 10, 3)
        yield* TestClock.setTime(T - 60 * DAY)
        for (let round = 0; round < 2; round++) {
          const phone = freshPhone()
          const customer = yield* customers.create({ phone, name: "Concurrent" })
          yield* TestClock.setTime(T)
          const amounts = Array.from({ length: 16 }, (_, i) => 123_457 * (i + 1) + round)
          const mark = yield* outboxEnd
          const results = yield* Effect.all(
            amounts.map((amount, i) =>
              Effect.either(purchases.record(i % 2 === 0 ? { phone, amount, reference: freshRef("c") } : { customerId: customer.id, amount, reference: freshRef("c") }))
            ),
            { concurrency: "unbounded" }
          )
          expect(results.filter(Either.isLeft).map((r) => tagOf(r.left))).toEqual([])
          const total = amounts.reduce((s, a) => s + a, 0)
          const points = amounts.reduce((s, a) => s + pointsFor(a), 0)
          const stored = yield* customers.get(customer.id)
          expect(stored).toMatchObject({ totalOrders: 16, totalSpent: total, points, membershipLevel: levelFor(total) })
          expect(stored.lastPurchaseAt?.getTime()).toBe(T)
          expect(yield* scalar(sql`SELECT purchase_version FROM c360_customers WHERE id = ${customer.id}`)).toBe(16)
          expect(yield* scalar(sql`SELECT count(*) FROM c360_purchases WHERE customer_id = ${customer.id}`)).toBe(16)
          // the at-once RFM row and tier are those of all 16 purchases
          const want = pureScore(customer.createdAt.getTime(), amounts.map((amount) => ({ at: T, amount, returned: 0 })), T)
          const score = (yield* storedScores([customer.id])).get(customer.id)!
          expect({ frequency: score.frequency, monetary: score.monetary, r: score.r, f: score.f, m: score.m, tier: score.tier, customerTier: score.customerTier })
            .toEqual({ frequency: 16, monetary: total, r: want.r, f: want.f, m: want.m, tier: want.tier, customerTier: want.tier })
          // the events: 16 purchases, each level and tier change once, chained
          const events = (yield* eventsSince(mark)).filter((e) => e.subject === customer.id)
          expect(events.filter((e) => e.type === "customer.purchase_recorded")).toHaveLength(16)
          for (const type of ["customer.level_changed", "customer.tier_changed"]) {
            const chain = events.filter((e) => e.type === type).map((e) => e.data as { from: string; to: string })
            for (let i = 1; i < chain.length; i++) expect(chain[i]!.from, type).toBe(chain[i - 1]!.to)
            for (const c of chain) expect(c.from, type).not.toBe(c.to)
            expect(chain.at(-1)?.to ?? null, type).toBe(type === "customer.level_changed" ? stored.membershipLevel : want.tier)
          }
          yield* TestClock.setTime(T - 60 * DAY)
        }
      }))

    it.effect("10 concurrent records of one reference (a new phone): one purchase, one customer, one first result, the others repeated with it", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(Date.UTC(2050, 1, 1, 3))
        for (let round = 0; round < 3; round++) {
          const phone = freshPhone()
          const reference = freshRef("same")
          const mark = yield* outboxEnd
          const results = yield* Effect.all(
            Array.from({ length: 10 }, () => Effect.either(purchases.record({ phone, amount: 770_000, reference }))),
            { concurrency: "unbounded" }
          )
          expect(results.filter(Either.isLeft).map((r) => tagOf(r.left))).toEqual([])
          const ok = results.map((r) => Either.getOrThrow(r))
          expect(ok.filter((r) => !r.repeated)).toHaveLength(1)
          expect(new Set(ok.map((r) => r.purchase.id)).size).toBe(1)
          expect(yield* scalar(sql`SELECT count(*) FROM c360_purchases WHERE reference = ${reference}`)).toBe(1)
          expect(yield* scalar(sql`SELECT count(*) FROM c360_customers WHERE phone = ${phone}`)).toBe(1)
          const customer = yield* Effect.flatMap(Customers, (c) => c.getByPhone(phone))
          expect(customer).toMatchObject({ totalOrders: 1, totalSpent: 770_000, points: 77 })
          const events = yield* eventsSince(mark)
          expect(events.filter((e) => e.type === "customer.purchase_recorded")).toHaveLength(1)
          expect(events.filter((e) => e.type === "customer.created")).toHaveLength(1)
          // and a conflicting payload among them fails, the others still agree
          const mixed = yield* Effect.all(
            Array.from({ length: 6 }, (_, i) => Effect.either(purchases.record({ phone, amount: i % 2 === 0 ? 770_000 : 770_001, reference }))),
            { concurrency: "unbounded" }
          )
          mixed.forEach((r, i) => {
            if (i % 2 === 0) expect(Either.getOrThrow(r)).toMatchObject({ repeated: true, purchase: { id: ok[0]!.purchase.id } })
            else expect(Either.isLeft(r) && tagOf(r.left)).toBe("IdempotencyConflict")
          })
        }
      }))

    it.effect("concurrent returns of one purchase summing above its amount: what is returned never exceeds it, the rest fail ReturnExceedsPurchase", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        yield* TestClock.setTime(Date.UTC(2050, 2, 1, 3))
        const phone = freshPhone()
        const { purchase } = yield* purchases.record({ phone, amount: 1_000_000, reference: freshRef("p") })
        const results = yield* Effect.all(
          Array.from({ length: 8 }, () => Effect.either(purchases.recordReturn({ purchaseReference: purchase.reference, amount: 200_000, reference: freshRef("r") }))),
          { concurrency: "unbounded" }
        )
        const failed = results.filter(Either.isLeft).map((r) => tagOf(r.left))
        expect(failed).toEqual(Array(3).fill("ReturnExceedsPurchase"))
        const details = yield* purchases.get(purchase.reference)
        expect(details.purchase).toMatchObject({ returned: 1_000_000, pointsReturned: 100 })
        expect(details.returns.map((r) => r.amount)).toEqual(Array(5).fill(200_000))
        expect(details.returns.reduce((s, r) => s + r.points, 0)).toBe(100)
        expect(yield* customers.getByPhone(phone)).toMatchObject({ totalSpent: 0, points: 0, totalOrders: 1 })
      }))

    it.effect("property: random concurrent returns (parts, all that is left, more than is left) of one purchase never return more than it; stored returns, points and totals agree", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Purchases | Customers>()
        const run = Runtime.runPromise(runtime)
        yield* TestClock.setTime(Date.UTC(2050, 3, 1, 3))
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.integer({ min: 1, max: 2_000_000 }),
              fc.array(fc.option(fc.integer({ min: 1, max: 900_000 }), { nil: undefined, freq: 5 }), { minLength: 2, maxLength: 8 }),
              async (amount, returns) => {
                const phone = freshPhone()
                const { purchase } = await run(Effect.flatMap(Purchases, (p) => p.record({ phone, amount, reference: freshRef("p") })))
                const results = await run(Effect.all(
                  returns.map((a) =>
                    Effect.either(Effect.flatMap(Purchases, (p) =>
                      p.recordReturn({ purchaseReference: purchase.reference, reference: freshRef("r"), ...(a === undefined ? {} : { amount: a }) })))
                  ),
                  { concurrency: "unbounded" }
                ))
                expect(results.filter(Either.isLeft).map((r) => tagOf(r.left)).filter((t) => t !== "ReturnExceedsPurchase")).toEqual([])
                const done = results.filter(Either.isRight).map((r) => r.right.return)
                const returned = done.reduce((s, r) => s + r.amount, 0)
                expect(returned).toBeLessThanOrEqual(amount)
                // a default-amount return that succeeded took all that was left: nothing more after it
                const details = await run(Effect.flatMap(Purchases, (p) => p.get(purchase.reference)))
                expect(details.purchase.returned).toBe(returned)
                expect(details.returns.map((r) => r.id).sort()).toEqual(done.map((r) => r.id).sort())
                expect(details.purchase.pointsReturned).toBe(pointsFor(returned))
                expect(done.reduce((s, r) => s + r.points, 0)).toBe(pointsFor(returned))
                for (const r of done) expect(r.points).toBeGreaterThanOrEqual(0)
                // each refusal is true of its moment: more than was left then (a default amount: nothing was left)
                results.forEach((r, i) => {
                  if (Either.isLeft(r) && r.left._tag === "ReturnExceedsPurchase") {
                    const asked = returns[i]
                    if (asked === undefined) expect(r.left.returnable).toBe(0)
                    else expect(asked).toBeGreaterThan(r.left.returnable)
                  }
                })
                const customer = await run(Effect.flatMap(Customers, (c) => c.getByPhone(phone)))
                expect(customer).toMatchObject({ totalSpent: amount - returned, points: pointsFor(amount) - pointsFor(returned) })
                expect(customer.points).toBeGreaterThanOrEqual(0)
              }
            ),
            { numRuns: 15 }
          )
        )
      }))

    it.effect("a recompute (in small batches) concurrent with purchases: the final tiers are what a fresh recompute gives, and one tier_changed per real change", () =>
      Effect.gen(function*() {
        const purchases = yield* Purchases
        const customers = yield* Customers
        const rfm = yield* Rfm
        const T = Date.UTC(2050, 6, 1, 3)
        const ids: Array<string> = []
        const phones: Array<string> = []
        const histories: Array<Array<HistoryPurchase>> = []
        const created: Array<number> = []
        // 12 customers, 40 to 80 days old, each with purchases 35 days ago: gold or silver at once, lower by now
        for (let i = 0; i < 12; i++) {
          const c = T - (40 + 4 * i) * DAY
          yield* TestClock.setTime(c)
          const phone = freshPhone()
          ids.push((yield* customers.create({ phone, name: `Race ${i}` })).id)
          phones.push(phone)
          created.push(c)
          histories.push([])
          yield* TestClock.setTime(T - 35 * DAY)
          for (let k = 0; k < 1 + (i % 4); k++) {
            const amount = 1_500_000 * (1 + (i % 3))
            yield* purchases.record({ phone, amount, reference: freshRef("p") })
            histories[i]!.push({ at: T - 35 * DAY, amount, returned: 0 })
          }
        }
        yield* TestClock.setTime(T)
        const mark = yield* outboxEnd
        for (let round = 0; round < 3; round++) {
          const writes = Array.from({ length: 24 }, (_, j) => {
            const i = (j * 5 + round) % 12
            const amount = 400_000 + 100_000 * ((j + round) % 7)
            histories[i]!.push({ at: T + round * MINUTE, amount, returned: 0 })
            return Effect.asVoid(purchases.record({ phone: phones[i]!, amount, reference: freshRef("race") }))
          })
          // two recomputes at once: at most one holds the `rfm` lease, the other may find it held
          const [first, second, ...done] = yield* Effect.all(
            [rfm.recompute({ batchSize: 2 }), rfm.recompute({ batchSize: 3 }), ...writes].map((e) => Effect.either(e as Effect.Effect<unknown, { readonly _tag: string }>)),
            { concurrency: "unbounded" }
          )
          expect(done.filter(Either.isLeft).map((r) => tagOf(r.left))).toEqual([])
          const recomputes = [first!, second!]
          expect(recomputes.filter(Either.isRight).length).toBeGreaterThanOrEqual(1)
          for (const r of recomputes) if (Either.isLeft(r)) expect(tagOf(r.left)).toBe("RecomputeRunning")
          yield* TestClock.adjust(MINUTE)
        }
        const now = T + 3 * MINUTE
        // what the concurrent work left is what a fresh recompute finds: no change
        const before = yield* storedScores(ids)
        const m2 = yield* outboxEnd
        const fresh = yield* rfm.recompute()
        expect(fresh.changed).toBe(0)
        expect((yield* eventsSince(m2)).filter((e) => e.type === "customer.tier_changed")).toEqual([])
        const after = yield* storedScores(ids)
        for (let i = 0; i < ids.length; i++) {
          expect(after.get(ids[i]!)).toEqual(before.get(ids[i]!))
          const want = pureScore(created[i]!, histories[i]!, now)
          expect({ tier: after.get(ids[i]!)!.customerTier, r: after.get(ids[i]!)!.r, f: after.get(ids[i]!)!.f, m: after.get(ids[i]!)!.m }, `customer ${i}`)
            .toEqual({ tier: want.tier, r: want.r, f: want.f, m: want.m })
        }
        // one event per real change: for each customer the tier_changed events chain from its tier at the mark to its tier now
        const events = (yield* eventsSince(mark)).filter((e) => e.type === "customer.tier_changed")
        for (let i = 0; i < ids.length; i++) {
          const chain = events.filter((e) => e.subject === ids[i]).map((e) => e.data as { from: string; to: string })
          for (let k = 1; k < chain.length; k++) expect(chain[k]!.from, `customer ${i}: ${JSON.stringify(chain)}`).toBe(chain[k - 1]!.to)
          for (const c of chain) expect(c.from, `customer ${i}`).not.toBe(c.to)
          if (chain.length > 0) expect(chain.at(-1)!.to).toBe(after.get(ids[i]!)!.customerTier)
        }
      }))
  })
})
