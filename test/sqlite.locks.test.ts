/**
 * SQLite: another process holding the write lock must not freeze the host (issue: the synchronous
 * `BEGIN IMMEDIATE` with a 5 s busy timeout blocked the event loop, so `/health`, reads and SSE
 * stopped while writes waited). A second connection on the same file — as the job runner, a backup
 * or the `sqlite3` CLI would — holds `BEGIN IMMEDIATE`; the library's writes wait for it without
 * blocking the event loop, fail `StorageError` `contention` after `busyTimeoutMs`, and succeed once
 * the lock goes; reads answer throughout. Runs on the live clock.
 */
import { describe, expect, layer } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { Customers } from "../src/customers/Customers.js"
import { Transactions } from "../src/platform/Transactions.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { Wallets } from "../src/wallets/Wallets.js"
import { freshPhone, servicesOver } from "./contract/customers.js"

const dir = mkdtempSync(join(tmpdir(), "c360-locks-"))
const filename = join(dir, "shop.sqlite")
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const BUSY_TIMEOUT_MS = 1_500

/** The longest the event loop went without running a 5 ms timer while `effect` ran. */
const withLoopWatch = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    let last = performance.now()
    let worst = 0
    const timer = setInterval(() => {
      const now = performance.now()
      worst = Math.max(worst, now - last)
      last = now
    }, 5)
    const exit = yield* Effect.exit(effect).pipe(Effect.ensuring(Effect.sync(() => clearInterval(timer))))
    return { exit, worstGapMs: worst }
  })

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const exit = yield* Effect.exit(effect)
    return { exit, ms: performance.now() - start }
  })

const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

describe("SQLite: another connection holds the write lock", () => {
  layer(servicesOver(SqliteDatabase.layer({ filename, busyTimeoutMs: BUSY_TIMEOUT_MS })), {
    timeout: "60 seconds",
    excludeTestServices: true
  })("locks", (it) => {
    it.scoped("a write waits without blocking the event loop, reads answer meanwhile, and it fails StorageError contention after busyTimeoutMs", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const phone = freshPhone()
        yield* customers.create({ phone, name: "Waiting" })
        yield* wallets.deposit({ phone, amount: 1_000, reference: `seed-${phone}`, source: "manual" })
        const holder = yield* Effect.acquireRelease(Effect.sync(() => new Sqlite(filename)), (db) => Effect.sync(() => db.close()))
        holder.exec("BEGIN IMMEDIATE")
        const watched = yield* withLoopWatch(Effect.gen(function*() {
          const write = yield* Effect.fork(elapsed(wallets.deposit({ phone, amount: 500, reference: `held-${phone}`, source: "manual" })))
          // reads answer while the write waits
          for (let i = 0; i < 20; i++) {
            const read = yield* elapsed(wallets.get(phone))
            expect(Exit.isSuccess(read.exit)).toBe(true)
            expect(read.ms).toBeLessThan(200)
            yield* Effect.sleep("25 millis")
          }
          return yield* Fiber.join(write)
        }))
        holder.exec("ROLLBACK")
        expect(watched.worstGapMs).toBeLessThan(250)
        const { exit, ms } = Exit.isSuccess(watched.exit) ? watched.exit.value : { exit: Exit.void, ms: 0 }
        expect(failureOf(exit)).toMatchObject({ _tag: "StorageError", reason: "contention" })
        expect(ms).toBeGreaterThanOrEqual(BUSY_TIMEOUT_MS - 100)
        expect(ms).toBeLessThan(BUSY_TIMEOUT_MS + 2_000)
        // nothing was written under the reference: it applies now
        yield* wallets.deposit({ phone, amount: 500, reference: `held-${phone}`, source: "manual" })
        expect((yield* wallets.get(phone)).balance).toBe(1_500)
      }))

    it.scoped("writes — alone and in a caller's transaction — that wait for a lock released before busyTimeoutMs succeed, without blocking the event loop", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const tx = yield* Transactions
        const phone = freshPhone()
        yield* customers.create({ phone, name: "Later" })
        const holder = yield* Effect.acquireRelease(Effect.sync(() => new Sqlite(filename)), (db) => Effect.sync(() => db.close()))
        holder.exec("BEGIN IMMEDIATE")
        const release = setTimeout(() => holder.exec("ROLLBACK"), 600)
        const fresh = freshPhone()
        const watched = yield* withLoopWatch(Effect.all([
          wallets.deposit({ phone, amount: 700, reference: `later-${phone}`, source: "manual" }),
          tx.withTransaction(Effect.gen(function*() {
            yield* customers.getOrCreate({ phone: fresh, source: "ticket" })
            return yield* wallets.issueVirtualCredit({ phone: fresh, amount: 300, reason: "BOOM", reference: `later-${fresh}` })
          }))
        ], { concurrency: "unbounded" }))
        clearTimeout(release)
        expect(Exit.isSuccess(watched.exit), Exit.isFailure(watched.exit) ? Cause.pretty(watched.exit.cause) : "").toBe(true)
        expect(watched.worstGapMs).toBeLessThan(250)
        expect((yield* wallets.get(phone)).balance).toBe(700)
        expect((yield* wallets.get(fresh)).virtualBalance).toBe(300)
      }))
  })
})
