/**
 * A stuck wallet must never hold the others (issue: one row-locked wallet stopped every wallet write
 * of the host). A connection of the test holds one wallet's row lock, as an external session would
 * (`BEGIN; SELECT … FOR UPDATE`), for longer than any write may wait; writes queued on that wallet
 * must fail typed (`StorageError`, answered 503 by the HTTP API) after a bounded wait, while writes
 * on other wallets keep answering; once the lock is gone, the wallet works again. Runs on the live
 * clock: the retry backoff and the lock timeout really wait.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import pg from "pg"
import { Customers } from "../src/customers/Customers.js"
import { Wallets } from "../src/wallets/Wallets.js"
import { freshPhone, servicesOver } from "./contract/customers.js"
import { auditLedger } from "./support/audit.js"
import { pgEnabled, pgStorage, pgUrl } from "./support/pg.js"

/** How long the test's connection holds the wallet: longer than any write may wait for it. */
const HOLD_MS = 20_000

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = Date.now()
    const exit = yield* Effect.exit(effect)
    return { exit, ms: Date.now() - start }
  })

describe.skipIf(!pgEnabled)("PostgreSQL: a wallet locked by another session", () => {
  layer(servicesOver(pgStorage({ maxConnections: 8 })), { timeout: "90 seconds", excludeTestServices: true })("wallet locks", (it) => {
    it.scoped("writes on other wallets keep answering while one wallet is locked; the writes queued on it fail StorageError within a bound, and succeed once it is free", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const sql = yield* SqlClient.SqlClient
        const stuckPhone = freshPhone()
        const stuck = yield* customers.create({ phone: stuckPhone, name: "Locked" })
        const others = yield* Effect.forEach(Array.from({ length: 8 }, () => freshPhone()), (phone) =>
          Effect.as(customers.create({ phone, name: "Free" }), phone))

        const [database] = yield* Effect.orDie(sql<{ name: string }>`SELECT current_database() AS name`)
        const url = new URL(pgUrl!)
        url.pathname = `/${database!.name}`
        const holder = yield* Effect.acquireRelease(
          Effect.promise(async () => {
            const client = new pg.Client({ connectionString: url.toString(), application_name: "c360-test-holder" })
            client.on("error", () => undefined)
            await client.connect()
            return client
          }),
          (client) => Effect.promise(() => client.end().catch(() => undefined))
        )
        yield* Effect.promise(() => holder.query("BEGIN"))
        yield* Effect.promise(() => holder.query("SELECT 1 FROM c360_wallets WHERE customer_id = $1 FOR UPDATE", [stuck.id]))
        const lockedAt = Date.now()

        // two writes queued on the locked wallet
        const queued = yield* Effect.forEach(["a", "b"], (k) =>
          Effect.fork(elapsed(wallets.deposit({ phone: stuckPhone, amount: 1_000, reference: `stuck-${stuck.id}-${k}`, source: "manual" }))))
        yield* Effect.sleep("300 millis")

        // meanwhile, three rounds of writes on the other wallets answer, each promptly
        for (let round = 0; round < 3; round++) {
          const results = yield* Effect.forEach(others, (phone) =>
            elapsed(wallets.deposit({ phone, amount: 500, reference: `free-${phone}-${round}`, source: "manual" })), {
            concurrency: "unbounded"
          })
          for (const r of results) {
            expect(Exit.isSuccess(r.exit), Exit.isFailure(r.exit) ? Cause.pretty(r.exit.cause) : "").toBe(true)
            // the normal latency is milliseconds; at most one lock timeout (500 ms) may be paid once
            expect(r.ms).toBeLessThan(2_500)
          }
        }

        // the queued writes fail typed, after a bounded wait, while the lock is still held
        for (const fiber of queued) {
          const { exit, ms } = yield* Fiber.join(fiber)
          expect(Exit.isFailure(exit)).toBe(true)
          const failure = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
          expect(failure).toMatchObject({ _tag: "StorageError" })
          expect((failure as { reason: string }).reason).toMatch(/^(contention|unavailable)$/)
          expect(ms).toBeLessThan(HOLD_MS - 5_000)
        }
        expect(Date.now() - lockedAt).toBeLessThan(HOLD_MS)
        expect((yield* wallets.get(stuckPhone)).balance).toBe(0)

        // the lock goes: the same references now apply, once
        yield* Effect.promise(() => holder.query("ROLLBACK"))
        for (const k of ["a", "b"]) {
          yield* wallets.deposit({ phone: stuckPhone, amount: 1_000, reference: `stuck-${stuck.id}-${k}`, source: "manual" })
        }
        expect((yield* wallets.get(stuckPhone)).balance).toBe(2_000)
        for (const phone of others) expect((yield* wallets.get(phone)).balance).toBe(1_500)
        expect((yield* auditLedger).violations).toEqual([])
      }))
  })
})
