/**
 * DOMAIN §8 on PostgreSQL under concurrency, through separate pool connections: runs started at
 * once over the same history (the facade's `run()` is not under the job's lease) record each
 * decision once, raise each flag once, and emit one `customer.flagged` per decision and one
 * `customer.tier_changed` per blacklisted customer, whichever run inserted it.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { Customers } from "../src/customers/Customers.js"
import { Fraud } from "../src/fraud/FraudService.js"
import { Outbox } from "../src/platform/Outbox.js"
import { Purchases } from "../src/purchases/Purchases.js"
import { Wallets } from "../src/wallets/Wallets.js"
import { freshPhone, servicesOver } from "./contract/customers.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

const MINUTE = 60_000
const count = (query: Effect.Effect<ReadonlyArray<{ readonly n: unknown }>, unknown>) =>
  Effect.map(query, (rows) => Number(rows[0]?.n ?? 0)).pipe(Effect.orDie)

describe.skipIf(!pgEnabled)("PostgreSQL fraud concurrency", () => {
  layer(servicesOver(pgStorage({ maxConnections: 12 })), { timeout: "60 seconds" })((it) => {
    it.effect("6 runs at once over the same history: each decision, flag and event once; one tier change per blacklisted customer", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const customers = yield* Customers
        const wallets = yield* Wallets
        const purchases = yield* Purchases
        const fraud = yield* Fraud
        const T = Date.UTC(2070, 0, 10, 3, 30)
        yield* TestClock.setTime(T - 30 * 24 * 60 * MINUTE)
        const abusers = Array.from({ length: 8 }, freshPhone)
        const returners = Array.from({ length: 4 }, freshPhone)
        for (const phone of [...abusers, ...returners]) yield* customers.create({ phone, name: "Khách" })
        let n = 0
        for (const phone of abusers) {
          for (let i = 0; i < 6; i++) {
            yield* TestClock.setTime(T + (n++ % 7) * MINUTE + i * 5 * MINUTE)
            yield* wallets.deposit({ phone, amount: 6_000_000, reference: `cc-${phone}-${i}`, source: "manual" })
          }
        }
        for (const phone of returners) {
          for (let i = 0; i < 2; i++) {
            yield* TestClock.setTime(T + i * MINUTE)
            yield* purchases.record({ phone, amount: 100_000, reference: `cc-p-${phone}-${i}` })
            yield* TestClock.setTime(T + (10 + i) * MINUTE)
            yield* purchases.recordReturn({ purchaseReference: `cc-p-${phone}-${i}`, reference: `cc-r-${phone}-${i}` })
          }
        }
        yield* TestClock.setTime(T + 24 * 60 * MINUTE)
        const mark = yield* Effect.flatMap(Outbox, (o) => o.end)
        const reports = yield* Effect.all(Array.from({ length: 6 }, (_, i) => fraud.run({ batchSize: 1 + i })), { concurrency: "unbounded" })
        expect(reports.reduce((sum, r) => sum + r.decisions, 0)).toBe(abusers.length + returners.length)
        expect(reports.reduce((sum, r) => sum + r.blacklisted, 0)).toBe(returners.length)
        expect(yield* count(sql`SELECT count(*) AS n FROM c360_fraud_decisions`)).toBe(abusers.length + returners.length)
        expect(yield* count(sql`SELECT count(*) AS n FROM c360_fraud_flags WHERE cleared_at IS NULL`)).toBe(abusers.length + returners.length)
        const events = yield* Effect.flatMap(Outbox, (o) => o.read(mark, 10_000))
        expect(events.filter((e) => e.type === "customer.flagged")).toHaveLength(abusers.length + returners.length)
        expect(new Set(events.filter((e) => e.type === "customer.flagged").map((e) => (e.data as { decisionId: string }).decisionId)).size)
          .toBe(abusers.length + returners.length)
        const tiers = events.filter((e) => e.type === "customer.tier_changed")
        expect(tiers).toHaveLength(returners.length)
        expect(new Set(tiers.map((e) => e.subject)).size).toBe(returners.length)
        for (const phone of returners) expect((yield* customers.getByPhone(phone)).tier).toBe("blacklist")
        expect(yield* count(sql`SELECT count(*) AS n FROM c360_activities WHERE kind LIKE 'fraud.%'`)).toBe(abusers.length + returners.length)
      }))
  })
})
