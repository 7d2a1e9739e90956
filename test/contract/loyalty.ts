/**
 * The loyalty sync contract (DOMAIN §11, docs/loyalty.md), run against SQLite, SQLite with deferred
 * writes, PostgreSQL and D1 (loyalty.*.test.ts), through the CNV adapter against the fake CNV
 * server (test/support/cnv.ts): pages and the checkpoint (a second sync reads only what changed
 * since; changed records `updated`, re-read ones `unchanged`), phones normalised (an invalid one
 * kept raw with a NULL canonical) and business days, failed records counted with their reasons
 * without stopping the page, a source failure mid-run and mid-page then a re-run that completes
 * without duplicates and with exact counts, a run left `running` by a crashed runner, a second
 * runner refused while one runs, and the runs log's figures.
 *
 * The suite's database and fake server are shared by its tests, which run in order; each test
 * clears the fake's data and uses customers of its own id range, updated after every earlier
 * test's, so the checkpoint only moves forward.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as Config from "../../src/kernel/Config.js"
import * as Cnv from "../../src/loyalty/Cnv.js"
import { Loyalty, type SyncReport } from "../../src/loyalty/Loyalty.js"
import * as Registry from "../../src/modules.js"
import * as EventBus from "../../src/platform/EventBus.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { cnvCustomer, type FakeCnv, startFakeCnv } from "../support/cnv.js"

/** The fake CNV server of the suite. */
export class FakeServer extends Context.Tag("test/FakeCnv")<FakeServer, FakeCnv>() {}

/** The fake server, for the life of the layer. */
export const fakeCnvLayer = Layer.scoped(
  FakeServer,
  Effect.acquireRelease(Effect.promise(() => startFakeCnv()), (fake) => Effect.promise(fake.close))
)

/** The CNV adapter on the fake server, with short backoffs. */
export const cnvOnFake = (options: Cnv.CnvOptions = {}) =>
  Layer.unwrapEffect(Effect.map(FakeServer, (fake) =>
    Cnv.layer({ baseUrl: fake.url, token: fake.token, backoffMs: 5, maxBackoffMs: 20, timeoutMs: 5_000, ...options }).pipe(Layer.orDie)))

/** The library's services over `storage`, with the CNV adapter on the fake server (also provided). */
export const loyaltyServicesOver = <E>(storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>, options: Cnv.CnvOptions = {}) =>
  Registry.services.pipe(
    Layer.provideMerge(Layer.mergeAll(Config.layerDefault, EventBus.layer, cnvOnFake(options))),
    Layer.provideMerge(storage),
    Layer.provideMerge(fakeCnvLayer)
  )

const SECOND = 1_000
/** Every test's customers are updated after the previous test's. */
let clock = Date.UTC(2026, 0, 5, 3)
const later = (seconds = 1) => (clock += seconds * SECOND)

const rowsOf = (from: number, to: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_loyalty_customers WHERE cnv_id >= ${from} AND cnv_id <= ${to} ORDER BY cnv_id`.pipe(
      Effect.orDie
    ))
const count = (table: string, where = "1 = 1") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: unknown }>`SELECT count(*) AS n FROM ${sql.literal(table)} WHERE ${sql.literal(where)}`.pipe(
      Effect.map((rows) => Number(rows[0]!.n)),
      Effect.orDie
    ))

const figures = (r: SyncReport) => ({
  status: r.status,
  pages: r.pages,
  created: r.created,
  updated: r.updated,
  unchanged: r.unchanged,
  failed: r.failed
})

/** Clears the fake and puts `n` customers `base + 1 … base + n`, one second apart; their last instant. */
const seed = (fake: FakeCnv, base: number, n: number, fields: (i: number) => Record<string, unknown> = () => ({})) => {
  fake.reset()
  for (let i = 1; i <= n; i++) fake.put(cnvCustomer(base + i, later(), fields(i)))
  return clock
}

export const loyaltyContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly customers?: number } = {}
) =>
  layer(loyaltyServicesOver(storage), { timeout: "120 seconds" })(name, (it) => {
    const n = options.customers ?? 7

    it.effect("the suite's first test: a first sync takes every customer page by page and sets the checkpoint to the last; a second sync reads from it and finds nothing new; changed customers are updated and new ones created; a full sync re-reads every one, unchanged", () =>
      Effect.gen(function*() {
        const fake = yield* FakeServer
        const loyalty = yield* Loyalty
        yield* TestClock.setTime(Date.UTC(2026, 1, 1, 3))
        const last = seed(fake, 1000, n)

        const first = yield* loyalty.sync({ pageSize: 3 })
        // pages re-read the checkpoint's record (updated_since is inclusive): 3, then 2 new per page
        const pages = 1 + Math.ceil((n - 3) / 2)
        expect(figures(first)).toEqual({ status: "completed", pages, created: n, updated: 0, unchanged: 0, failed: 0 })
        expect(first.checkpointFrom).toBeNull()
        expect(first.checkpoint).toEqual({ updatedAt: new Date(last), id: 1000 + n })
        expect(first.error).toBeNull()
        expect(first.failures).toEqual([])
        const requests = fake.pageRequests()
        expect(requests).toHaveLength(pages)
        expect(requests[0]!.query).toMatchObject({ page: "1", page_size: "3", updated_since: "1970-01-01T00:00:00.000Z" })
        // each page re-anchored on the checkpoint so far
        expect(requests[1]!.query.updated_since).toBe(new Date(last - (n - 3) * SECOND).toISOString())
        const rows = yield* rowsOf(1001, 1000 + n)
        expect(rows.map((r) => Number(r.cnv_id))).toEqual(Array.from({ length: n }, (_, i) => 1001 + i))
        expect(rows[0]).toMatchObject({ level_name: "Gold", first_name: "." })
        expect(Number(rows[0]!.points)).toBe(100)
        expect(Number(rows[0]!.used_points)).toBe(0)

        fake.requests.length = 0
        const again = yield* loyalty.sync({ pageSize: 3 })
        expect(figures(again)).toEqual({ status: "completed", pages: 1, created: 0, updated: 0, unchanged: 0, failed: 0 })
        expect(fake.pageRequests().map((r) => r.query.updated_since)).toEqual([new Date(last).toISOString()])
        expect(fake.requests.filter((r) => r.path.endsWith("membership.json"))).toHaveLength(0)
        expect(again.checkpointFrom).toEqual(first.checkpoint)

        fake.put(cnvCustomer(1002, later(), { points: 250.0, total_points: 250.0 }))
        fake.put(cnvCustomer(1001, later(), { email: "linh@example.vn" }))
        const added = later()
        fake.put(cnvCustomer(1000 + n + 1, added))
        fake.requests.length = 0
        const changed = yield* loyalty.sync({ pageSize: 3 })
        // 4 customers from the checkpoint on (its own re-read): two pages of 3
        expect(figures(changed)).toEqual({ status: "completed", pages: 2, created: 1, updated: 2, unchanged: 0, failed: 0 })
        expect(fake.pageRequests()[0]!.query.updated_since).toBe(new Date(last).toISOString())
        expect(changed.checkpoint).toEqual({ updatedAt: new Date(added), id: 1000 + n + 1 })
        const [one, two] = yield* rowsOf(1001, 1002)
        expect(one!.email).toBe("linh@example.vn")
        expect(Number(two!.points)).toBe(250)
        expect(yield* count("c360_loyalty_customers")).toBe(n + 1)

        const full = yield* loyalty.sync({ full: true })
        expect(figures(full)).toEqual({ status: "completed", pages: 1, created: 0, updated: 0, unchanged: n + 1, failed: 0 })
        expect(full.full).toBe(true)
        expect(full.checkpointFrom).toBeNull()
        expect(full.checkpoint).toEqual(changed.checkpoint)
      }))

    it.effect("phones are normalised (the raw value kept; NULL when it does not normalise), created_date is the Hanoi day of cnv_created_at, whole float points become integers, and the membership gives the level and used points (none: NULL)", () =>
      Effect.gen(function*() {
        const fake = yield* FakeServer
        const loyalty = yield* Loyalty
        yield* TestClock.setTime(Date.UTC(2026, 1, 2, 3))
        fake.reset()
        fake.put(cnvCustomer(2001, later(), { phone: "+84 912 345 678", created_at: "2026-06-30T17:30:00.000Z", points: 29649.0 }))
        fake.put(cnvCustomer(2002, later(), { phone: "12345", created_at: "2026-06-30T16:59:59.999Z" }))
        fake.put(cnvCustomer(2003, later(), { phone: null, created_at: null }))
        fake.put(cnvCustomer(2004, later(), { phone: "0168 246 8135" }))
        fake.memberships.set(2001, { level_name: "Diamond", total_points: 29649.0, points: 29649.0, used_points: 12.0 })
        fake.memberships.set(2003, null)
        const report = yield* loyalty.sync()
        expect(figures(report)).toMatchObject({ status: "completed", created: 4, failed: 0 })
        const [a, b, c, d] = yield* rowsOf(2001, 2004)
        expect(a).toMatchObject({ phone: "0912345678", phone_raw: "+84 912 345 678", created_date: "2026-07-01", level_name: "Diamond" })
        expect([Number(a!.points), Number(a!.total_points), Number(a!.used_points)]).toEqual([29649, 29649, 12])
        expect(Number(a!.cnv_created_at)).toBe(Date.UTC(2026, 5, 30, 17, 30))
        expect(b).toMatchObject({ phone: null, phone_raw: "12345", created_date: "2026-06-30" })
        expect(c).toMatchObject({ phone: null, phone_raw: null, created_date: null, level_name: null, used_points: null })
        expect(Number(c!.points)).toBe(100)
        expect(d).toMatchObject({ phone: "0382468135", phone_raw: "0168 246 8135" })
      }))

    it.effect("a record that does not decode (a fraction of a point, no id, no instant, a malformed membership) is counted failed with its reason and logged in the run's failures; the rest of its page is taken and the checkpoint passes it", () =>
      Effect.gen(function*() {
        const fake = yield* FakeServer
        const loyalty = yield* Loyalty
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(Date.UTC(2026, 1, 3, 3))
        fake.reset()
        fake.put(cnvCustomer(3001, later()))
        fake.put(cnvCustomer(3002, later(), { points: 12.5 }))
        const noId = cnvCustomer(0, later())
        delete noId.id
        fake.customers.set("no-id", noId)
        fake.put(cnvCustomer(3004, later(), { updated_at: "not a date" }))
        fake.put(cnvCustomer(3005, later()))
        fake.memberships.set(3005, { level_name: "Gold", used_points: "lots" })
        const lastGood = later()
        fake.put(cnvCustomer(3006, lastGood))
        const report = yield* loyalty.sync()
        expect(figures(report)).toEqual({ status: "completed", pages: 1, created: 2, updated: 0, unchanged: 0, failed: 4 })
        const reasons = Object.fromEntries(report.failures.map((f) => [String(f.cnvId), f.reason]))
        expect(Object.keys(reasons).sort()).toEqual(["3002", "3004", "3005", "null"])
        expect(reasons["3002"]).toMatch(/points.*12\.5 is not a whole number/)
        expect(reasons["3004"]).toMatch(/updated_at/)
        expect(reasons["3005"]).toMatch(/membership used_points/)
        expect(reasons["null"]).toMatch(/id/)
        expect((yield* rowsOf(3001, 3006)).map((r) => Number(r.cnv_id))).toEqual([3001, 3006])
        expect(report.checkpoint).toEqual({ updatedAt: new Date(lastGood), id: 3006 })
        const logged = yield* sql<{ cnv_id: unknown; reason: unknown }>`SELECT cnv_id, reason FROM c360_loyalty_sync_failures
          WHERE run_id = ${report.id} ORDER BY seq`.pipe(Effect.orDie)
        expect(logged).toHaveLength(4)
        expect(logged.map((r) => r.reason)).toEqual(report.failures.map((f) => f.reason))
      }))

    it.effect("a source failure mid-run (every retry of page 2 answered 500) ends the run failed with the error, keeping page 1 and its checkpoint; a re-run resumes after it and completes: no duplicate, exact counts", () =>
      Effect.gen(function*() {
        const fake = yield* FakeServer
        const loyalty = yield* Loyalty
        yield* TestClock.setTime(Date.UTC(2026, 1, 4, 3))
        seed(fake, 4000, 6)
        let pageRequests = 0
        fake.faults.push({
          match: (r) => r.path === "/loyalty/customers.json" && ++pageRequests >= 2,
          status: 500,
          times: Infinity
        })
        const failed = yield* loyalty.sync({ pageSize: 2 })
        expect(figures(failed)).toEqual({ status: "failed", pages: 1, created: 2, updated: 0, unchanged: 0, failed: 0 })
        expect(failed.error).toMatch(/500.*5 attempts/)
        expect(failed.checkpoint).toEqual({ updatedAt: new Date(Date.parse(String(fake.customers.get(4002)!.updated_at))), id: 4002 })
        expect((yield* rowsOf(4001, 4006)).map((r) => Number(r.cnv_id))).toEqual([4001, 4002])
        const [logged] = yield* loyalty.runs({ limit: 1 })
        expect(logged).toMatchObject({ id: failed.id, status: "failed", pages: 1, created: 2, error: failed.error })
        expect(logged!.finishedAt).not.toBeNull()

        fake.faults.length = 0
        const resumed = yield* loyalty.sync({ pageSize: 2 })
        expect(resumed.checkpointFrom).toEqual(failed.checkpoint)
        expect(figures(resumed)).toMatchObject({ status: "completed", created: 4, updated: 0, failed: 0 })
        expect((yield* rowsOf(4001, 4006)).map((r) => Number(r.cnv_id))).toEqual([4001, 4002, 4003, 4004, 4005, 4006])
      }))

    it.effect("a failure mid-page (a membership that cannot be read after the retries) commits nothing of that page; a re-run takes the page whole", () =>
      Effect.gen(function*() {
        const fake = yield* FakeServer
        const loyalty = yield* Loyalty
        yield* TestClock.setTime(Date.UTC(2026, 1, 5, 3))
        seed(fake, 5000, 5)
        fake.faults.push({ match: (r) => r.path === "/loyalty/customers/5004/membership.json", status: 503, times: Infinity })
        const failed = yield* loyalty.sync({ pageSize: 3 })
        // page 1: 5001–5003; page 2 (5003 re-read, 5004, 5005) stops at 5004's membership
        expect(figures(failed)).toEqual({ status: "failed", pages: 1, created: 3, updated: 0, unchanged: 0, failed: 0 })
        expect(failed.error).toMatch(/membership\.json.*503/)
        expect((yield* rowsOf(5001, 5005)).map((r) => Number(r.cnv_id))).toEqual([5001, 5002, 5003])
        fake.faults.length = 0
        const resumed = yield* loyalty.sync({ pageSize: 3 })
        expect(figures(resumed)).toEqual({ status: "completed", pages: 1, created: 2, updated: 0, unchanged: 0, failed: 0 })
        expect(yield* count("c360_loyalty_customers", "cnv_id BETWEEN 5001 AND 5005")).toBe(5)
      }))

    it.effect("a run left running by a runner that stopped (a crash) is marked failed by the next run, which resumes from the last committed checkpoint", () =>
      Effect.gen(function*() {
        const fake = yield* FakeServer
        const loyalty = yield* Loyalty
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(Date.UTC(2026, 1, 6, 3))
        const before = (yield* loyalty.runs({ limit: 1 }))[0]!
        yield* sql`INSERT INTO c360_loyalty_sync_runs (id, seq, status, full_sync, started_at, pages, created, updated, unchanged, failed)
          SELECT 'lsr_CRASHED', MAX(seq) + 1, 'running', 0, ${Date.UTC(2026, 1, 6, 2)}, 1, 2, 0, 0, 0
          FROM c360_loyalty_sync_runs`.pipe(Effect.orDie)
        seed(fake, 6000, 2)
        const report = yield* loyalty.sync()
        expect(report.checkpointFrom).toEqual(before.checkpoint)
        expect(figures(report)).toMatchObject({ status: "completed", created: 2 })
        const crashed = (yield* loyalty.runs({ limit: 5 })).find((r) => r.id === "lsr_CRASHED")!
        expect(crashed.status).toBe("failed")
        expect(crashed.error).toMatch(/interrupted/)
      }))

    it.effect("a second runner while a sync runs is refused SyncInProgress and does nothing; the first completes; the lease is free afterwards", () =>
      Effect.gen(function*() {
        const fake = yield* FakeServer
        const loyalty = yield* Loyalty
        yield* TestClock.setTime(Date.UTC(2026, 1, 7, 3))
        seed(fake, 7000, 3)
        fake.delayMs = 100
        const runsBefore = (yield* loyalty.runs({ limit: 1000 })).length
        const first = yield* Effect.fork(loyalty.sync({ pageSize: 1 }))
        // the lease is taken before the first request
        while (fake.requests.length === 0) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
        const second = yield* Effect.flip(loyalty.sync())
        expect(second._tag).toBe("SyncInProgress")
        const done = yield* Fiber.join(first)
        expect(figures(done)).toMatchObject({ status: "completed", created: 3 })
        expect((yield* loyalty.runs({ limit: 1000 })).length).toBe(runsBefore + 1)
        fake.delayMs = 0
        expect((yield* loyalty.sync()).status).toBe("completed")
      }))

    it.effect("the runs log: newest first, each run's figures, checkpoints and duration as its report said; a bad limit is a ValidationError", () =>
      Effect.gen(function*() {
        const fake = yield* FakeServer
        const loyalty = yield* Loyalty
        yield* TestClock.setTime(Date.UTC(2026, 1, 8, 3))
        seed(fake, 8000, 2)
        yield* TestClock.setTime(Date.UTC(2026, 1, 8, 4))
        const a = yield* loyalty.sync()
        fake.put(cnvCustomer(8001, later(), { email: "x@example.vn" }))
        yield* TestClock.setTime(Date.UTC(2026, 1, 8, 5))
        const b = yield* loyalty.sync()
        const [latest, previous] = yield* loyalty.runs({ limit: 2 })
        const { failures: _a, ...runA } = a
        const { failures: _b, ...runB } = b
        expect(latest).toEqual(runB)
        expect(previous).toEqual(runA)
        expect(latest).toMatchObject({ status: "completed", updated: 1, created: 0, startedAt: new Date(Date.UTC(2026, 1, 8, 5)) })
        expect(latest!.durationMs).toBeGreaterThanOrEqual(0)
        expect((yield* Effect.flip(loyalty.runs({ limit: 0 })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(loyalty.sync({ pageSize: 0 })))._tag).toBe("ValidationError")
      }))
  })
