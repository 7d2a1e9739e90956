/**
 * The job contract, run against SQLite (jobs.sqlite.test.ts), SQLite with deferred writes
 * (jobs.sqlite-deferred.test.ts), PostgreSQL (jobs.pg.test.ts) and D1 (jobs.d1.test.ts): the lease
 * port (one claim wins, an expired lease is taken over, renew and release belong to the holder),
 * `Jobs.runExclusive` (skips when held, always releases, renews while a job runs, stops a job whose
 * lease was taken over), the named jobs' reports, and storage blips around the lease (a release
 * that fails is tried again, a claim whose answer was lost is given up, both are `failed` reports,
 * never a lease left behind for its TTL) — injected over the engine's real lease port.
 *
 * Leases live in real time (the database's clock), so these tests sleep for real, briefly; the
 * business clock of the expiry job is fixed per call (`atTime`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { StoragePorts } from "../../src/storage/Storage.js"
import type { StoredEvent } from "../../src/kernel/Events.js"
import { EventDeliveryFailed, EventSink } from "../../src/platform/EventSink.js"
import { JobLeases, type JobLeasesShape } from "../../src/platform/JobLeases.js"
import { StorageError } from "../../src/kernel/Errors.js"
import { Customers } from "../../src/customers/Customers.js"
import * as Jobs from "../../src/jobs/Jobs.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { auditLedger } from "../support/audit.js"
import { atTime } from "../support/clock.js"
import { freshPhone, freshWord, servicesOver } from "./customers.js"

const TTL = 300
const DAY = 86_400_000

const sleepReal = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

/** A sink that records what it is given, or refuses every batch while `failing`. */
const makeSink = () => {
  const state = { received: [] as Array<StoredEvent>, failing: false }
  const sink = Layer.succeed(
    EventSink,
    EventSink.of({
      deliver: (events) =>
        Effect.suspend(() =>
          state.failing
            ? Effect.fail(new EventDeliveryFailed({ reason: "rejected", destination: "https://hooks.example", status: 503 }))
            : Effect.sync(() => {
              state.received.push(...events)
            })
        )
    })
  )
  return { state, sink }
}

const okCounts = (report: Jobs.JobReport) => (report.status === "ok" ? report.counts : undefined)

/**
 * The engine's lease port with storage blips on demand: `claimAnswersLost` claims that are made but
 * answered `unavailable` (the connection died after the statement), `releaseFailures` releases that
 * fail `unavailable` without reaching the database. `releases` counts release attempts.
 */
const flaky = (leases: JobLeasesShape) => {
  const faults = { claimAnswersLost: 0, releaseFailures: 0, releases: 0 }
  const blip = (operation: string) => new StorageError({ reason: "unavailable", operation })
  const shape = JobLeases.of({
    claim: (name, holder, ttlMs) =>
      Effect.flatMap(leases.claim(name, holder, ttlMs), (won) =>
        Effect.suspend(() => {
          if (faults.claimAnswersLost === 0) return Effect.succeed(won)
          faults.claimAnswersLost--
          return Effect.fail(blip("claiming a job lease"))
        })),
    renew: leases.renew,
    release: (name, holder) =>
      Effect.suspend(() => {
        faults.releases++
        if (faults.releaseFailures === 0) return leases.release(name, holder)
        faults.releaseFailures--
        return Effect.fail(blip("releasing a job lease"))
      })
  })
  return { faults, shape }
}

export const jobContract = <E>(name: string, storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>) => {
  const { state, sink } = makeSink()
  const relayName = `contract-${freshWord()}`
  const live = Jobs.layer({ holder: "contract", leaseTtlMs: TTL, relay: { name: relayName, from: "start", batchSize: 7 } }).pipe(
    Layer.provide(sink),
    Layer.provideMerge(servicesOver(storage))
  )

  /** A second job service, over the flaky lease port (`leaseTtlMs` long enough that a lease left behind shows). */
  const flakyJobs = (options: { readonly leaseTtlMs: number }) =>
    Effect.gen(function*() {
      const { faults, shape } = flaky(yield* JobLeases)
      const jobs = yield* Jobs.make({
        holder: "flaky",
        leaseTtlMs: options.leaseTtlMs,
        relay: { name: `flaky-${freshWord()}`, from: "start", batchSize: 7 }
      }).pipe(Effect.provideService(JobLeases, shape), Effect.provide(sink), Effect.orDie)
      return { faults, jobs }
    })

  layer(live, { timeout: "60 seconds" })(name, (it) => {
    it.effect("of 8 concurrent claims on a free lease exactly one wins", () =>
      Effect.gen(function*() {
        const leases = yield* JobLeases
        const job = `race-${freshWord()}`
        const won = yield* Effect.all(
          Array.from({ length: 8 }, (_, i) => leases.claim(job, `holder-${i}`, 10_000)),
          { concurrency: "unbounded" }
        )
        expect(won.filter(Boolean)).toHaveLength(1)
        // and while it is held, nobody else gets it
        expect(yield* leases.claim(job, "late", 10_000)).toBe(false)
      }))

    it.effect("a held lease cannot be claimed; release by another holder does nothing; once its holder releases it, it can", () =>
      Effect.gen(function*() {
        const leases = yield* JobLeases
        const job = `held-${freshWord()}`
        expect(yield* leases.claim(job, "a", 10_000)).toBe(true)
        expect(yield* leases.claim(job, "b", 10_000)).toBe(false)
        yield* leases.release(job, "b")
        expect(yield* leases.claim(job, "b", 10_000)).toBe(false)
        expect(yield* leases.renew(job, "b", 10_000)).toBe(false)
        yield* leases.release(job, "a")
        expect(yield* leases.claim(job, "b", 10_000)).toBe(true)
      }))

    it.effect("an expired lease is taken over, and its former holder can neither renew nor release it", () =>
      Effect.gen(function*() {
        const leases = yield* JobLeases
        const job = `expired-${freshWord()}`
        expect(yield* leases.claim(job, "crashed", 100)).toBe(true)
        expect(yield* leases.claim(job, "next", 10_000)).toBe(false)
        yield* sleepReal(250)
        expect(yield* leases.claim(job, "next", 10_000)).toBe(true)
        expect(yield* leases.renew(job, "crashed", 10_000)).toBe(false)
        yield* leases.release(job, "crashed")
        expect(yield* leases.claim(job, "third", 10_000)).toBe(false)
      }))

    it.effect("renewing extends a lease past its first TTL", () =>
      Effect.gen(function*() {
        const leases = yield* JobLeases
        const job = `renew-${freshWord()}`
        expect(yield* leases.claim(job, "a", 250)).toBe(true)
        yield* sleepReal(150)
        expect(yield* leases.renew(job, "a", 250)).toBe(true)
        yield* sleepReal(150) // 300 ms after the claim: the first TTL is over, the renewal is not
        expect(yield* leases.claim(job, "b", 10_000)).toBe(false)
        yield* sleepReal(200)
        expect(yield* leases.claim(job, "b", 10_000)).toBe(true)
      }))

    it.effect("runExclusive runs the job and releases the lease; while another holder has it, returns None without running", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const leases = yield* JobLeases
        const job = `exclusive-${freshWord()}`
        let runs = 0
        const work = Effect.sync(() => ++runs)
        expect(yield* leases.claim(job, "other-runner", 10_000)).toBe(true)
        expect(yield* jobs.runExclusive(job, work)).toEqual(Option.none())
        expect(runs).toBe(0)
        yield* leases.release(job, "other-runner")
        expect(yield* jobs.runExclusive(job, work)).toEqual(Option.some(1))
        expect(yield* leases.claim(job, "other-runner", 10_000)).toBe(true)
      }))

    it.effect("runExclusive releases the lease when the job fails", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const leases = yield* JobLeases
        const job = `failing-${freshWord()}`
        const exit = yield* Effect.exit(jobs.runExclusive(job, Effect.fail("boom" as const)))
        expect(exit).toEqual(Exit.fail("boom"))
        expect(yield* leases.claim(job, "next", 10_000)).toBe(true)
      }))

    it.effect(`runExclusive renews the lease while a job runs longer than its TTL (${TTL} ms)`, () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const leases = yield* JobLeases
        const job = `long-${freshWord()}`
        const fiber = yield* Effect.fork(jobs.runExclusive(job, Effect.as(sleepReal(3 * TTL), "done")))
        yield* sleepReal(2 * TTL)
        expect(yield* leases.claim(job, "intruder", 10_000)).toBe(false)
        expect(yield* Fiber.join(fiber)).toEqual(Option.some("done"))
        expect(yield* leases.claim(job, "intruder", 10_000)).toBe(true)
      }))

    it.effect("a job whose lease is taken over is interrupted and fails JobLeaseLost", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const sql = yield* SqlClient.SqlClient
        const job = `stolen-${freshWord()}`
        let interrupted = false
        const fiber = yield* Effect.fork(
          jobs.runExclusive(job, sleepReal(10_000).pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))))
        )
        yield* sleepReal(50)
        // another runner took the lease over (as after a stall past the TTL)
        yield* sql`UPDATE c360_job_leases SET holder = 'thief' WHERE name = ${job}`
        const exit = yield* Effect.exit(Fiber.join(fiber).pipe(Effect.timeout("5 seconds")))
        expect(exit).toEqual(Exit.fail(new Jobs.JobLeaseLost({ job })))
        expect(interrupted).toBe(true)
        // the thief's lease is untouched
        const rows = yield* sql<{ holder: string }>`SELECT holder FROM c360_job_leases WHERE name = ${job}`
        expect(rows.map((r) => r.holder)).toEqual(["thief"])
      }))

    it.effect("expire-credits reports what it expired, then nothing; skipped while another runner holds its lease", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const leases = yield* JobLeases
        const customers = yield* Customers
        const wallets = yield* Wallets
        const t0 = Date.UTC(2025, 0, 10, 8)
        const phone = freshPhone()
        yield* customers.create({ phone, name: "Jobs" }).pipe(atTime(t0))
        for (const [i, amount] of [10_000, 25_000].entries()) {
          yield* wallets.issueVirtualCredit({ phone, amount, reason: "BOOM", reference: `jobs-${phone}-${i}`, expiresInDays: 1 })
            .pipe(atTime(t0))
        }
        const now = t0 + 2 * DAY

        expect(yield* leases.claim("expire-credits", "other-runner", 10_000)).toBe(true)
        const skipped = yield* jobs.expireCredits.pipe(atTime(now))
        expect(skipped).toMatchObject({ job: "expire-credits", status: "skipped", reason: "held-by-another-runner" })
        expect(Jobs.formatReport(skipped)).toMatch(/^job=expire-credits status=skipped reason=held-by-another-runner duration_ms=\d+$/)
        expect((yield* wallets.get(phone).pipe(atTime(t0))).virtualBalance).toBe(35_000)
        yield* leases.release("expire-credits", "other-runner")

        const ran = yield* jobs.run("expire-credits").pipe(atTime(now))
        expect(ran).toMatchObject({ job: "expire-credits", status: "ok", counts: { expired: 2, amount: 35_000 } })
        expect(Jobs.formatReport(ran)).toMatch(/^job=expire-credits status=ok expired=2 amount=35000 duration_ms=\d+$/)
        expect(Jobs.isIdle(ran)).toBe(false)
        const again = yield* jobs.expireCredits.pipe(atTime(now))
        expect(okCounts(again)).toEqual({ expired: 0, amount: 0 })
        expect(Jobs.isIdle(again)).toBe(true)
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("a run that fails on a storage blip releases its lease though the blip fails its first two releases: the next run runs, not skipped", () =>
      Effect.gen(function*() {
        const leases = yield* JobLeases
        const customers = yield* Customers
        const { faults, jobs } = yield* flakyJobs({ leaseTtlMs: 10_000 })
        const job = `blip-${freshWord()}`
        faults.releaseFailures = 2
        const blip = new StorageError({ reason: "unavailable", operation: "expiring credits" })
        expect(yield* Effect.exit(jobs.runExclusive(job, Effect.fail(blip)))).toEqual(Exit.fail(blip))
        expect(yield* leases.claim(job, "next", 10_000), "the failed run's lease is free").toBe(true)
        expect(faults.releases).toBe(3)

        // the same through a named job's report: a relay run refused by the sink, its releases failing twice
        yield* customers.create({ phone: freshPhone(), name: "Blip" })
        state.failing = true
        faults.releaseFailures = 2
        const failed = yield* jobs.relay
        state.failing = false
        expect(failed).toMatchObject({ job: "relay", status: "failed", reason: "delivery-rejected" })
        const next = yield* jobs.relay
        expect(next).toMatchObject({ job: "relay", status: "ok" })
        expect(okCounts(next)!.delivered).toBeGreaterThan(0)
      }))

    it.effect("a claim that fails on a storage blip is a failed report, and one whose answer was lost leaves no lease behind", () =>
      Effect.gen(function*() {
        const leases = yield* JobLeases
        const { faults, jobs } = yield* flakyJobs({ leaseTtlMs: 10_000 })
        const job = `lost-${freshWord()}`
        let runs = 0
        faults.claimAnswersLost = 1
        const exit = yield* Effect.exit(jobs.runExclusive(job, Effect.sync(() => ++runs)))
        expect(exit).toEqual(Exit.fail(new StorageError({ reason: "unavailable", operation: "claiming a job lease" })))
        expect(runs).toBe(0)
        expect(yield* leases.claim(job, "next", 10_000)).toBe(true)

        faults.claimAnswersLost = 1
        const failed = yield* jobs.relay
        expect(failed).toMatchObject({ job: "relay", status: "failed", reason: "storage-unavailable" })
        expect(Jobs.formatReport(failed)).toMatch(
          /^job=relay status=failed reason=storage-unavailable duration_ms=\d+ message="Storage failed during claiming a job lease: the database is unavailable"$/
        )
        expect(yield* jobs.relay).toMatchObject({ job: "relay", status: "ok" })
      }))

    it.effect(`a release that keeps failing is tried a few times, never past the lease's end; then the lease runs out after its TTL (${TTL} ms)`, () =>
      Effect.gen(function*() {
        const leases = yield* JobLeases
        const { faults, jobs } = yield* flakyJobs({ leaseTtlMs: TTL })
        const job = `stuck-${freshWord()}`
        faults.releaseFailures = 1_000
        expect(yield* jobs.runExclusive(job, Effect.succeed("done")).pipe(Effect.timeout("5 seconds"))).toEqual(Option.some("done"))
        expect(faults.releases).toBeGreaterThan(1)
        expect(faults.releases).toBeLessThanOrEqual(6)
        yield* sleepReal(TTL + 100)
        expect(yield* leases.claim(job, "next", 10_000)).toBe(true)
      }))

    it.effect("relay delivers new events to the sink at least once: a refused batch fails the run and is delivered again by the next", () =>
      Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const customers = yield* Customers
        const wallets = yield* Wallets
        // drain whatever earlier tests wrote
        for (let i = 0; i < 100; i++) {
          const r = yield* jobs.relay
          if (okCounts(r)?.delivered === 0) break
        }
        const phone = freshPhone()
        const at = Date.UTC(2025, 0, 20, 8)
        const customer = yield* customers.create({ phone, name: "Relay" }).pipe(atTime(at))
        yield* wallets.deposit({ phone, amount: 50_000, reference: `relay-${phone}`, source: "manual" }).pipe(atTime(at))

        state.failing = true
        const failed = yield* jobs.relay
        expect(failed).toMatchObject({ job: "relay", status: "failed", reason: "delivery-rejected" })
        expect(Jobs.formatReport(failed)).toMatch(
          /^job=relay status=failed reason=delivery-rejected duration_ms=\d+ message="Delivering events to https:\/\/hooks\.example: the destination answered 503"$/
        )
        state.failing = false
        state.received.length = 0
        const ok = yield* jobs.run("relay")
        expect(ok).toMatchObject({ job: "relay", status: "ok", counts: { delivered: 2 } })
        expect(state.received.map((e) => [e.type, e.subject])).toEqual([
          ["customer.created", customer.id],
          ["wallet.deposit", customer.id]
        ])
        expect(okCounts(yield* jobs.relay)).toEqual({ delivered: 0 })
      }))
  })
}
