/**
 * The loyalty sync over HTTP and as the `loyalty-sync` job (SQLite, in process, the CNV adapter on
 * the fake CNV server): `POST /api/jobs/loyalty-sync` is the manager's (viewer and staff 403, no
 * token 401) and answers the run's report as JSON; a sync while another holds the lease answers 409
 * JOB_RUNNING; `GET /api/loyalty/runs` lists the runs for any token; without a source the sync
 * answers 503. The job: named `loyalty-sync`, its counts in an `ok` report, `skipped` while another
 * runner holds its lease, `failed` when the source fails.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import * as Customer360 from "../src/Customer360.js"
import { Customer360Http } from "../src/http.js"
import * as Jobs from "../src/jobs/Jobs.js"
import * as Cnv from "../src/loyalty/Cnv.js"
import { JobLeases } from "../src/platform/JobLeases.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { cnvCustomer, type FakeCnv, startFakeCnv } from "./support/cnv.js"

const MANAGER = "loyalty-manager-token"
const STAFF = "loyalty-staff-token"
const VIEWER = "loyalty-viewer-token"

const T = Date.UTC(2026, 2, 1, 3)

const webHandler = async (runtime: ManagedRuntime.ManagedRuntime<any, any>) => {
  const context = (await runtime.runtime()).context
  const tokens = Customer360Http.parseTokens(`${MANAGER}:manager,${STAFF}:staff,${VIEWER}:viewer`)
  if (Either.isLeft(tokens)) throw tokens.left
  const api = Customer360Http.layer({ tokens: tokens.right }).pipe(Layer.provide(Layer.succeedContext(context)))
  return HttpApiBuilder.toWebHandler(Layer.mergeAll(api, HttpServer.layerContext))
}

describe("the loyalty sync over HTTP and as a job (SQLite, in process)", () => {
  let fake: FakeCnv
  let runtime: ManagedRuntime.ManagedRuntime<any, any>
  let web: { handler: (request: Request) => Promise<Response>; dispose: () => Promise<void> }

  beforeAll(async () => {
    fake = await startFakeCnv()
    const library = Customer360.layer(SqliteDatabase.layer({ filename: ":memory:" })).pipe(
      Layer.provide(Cnv.layer({ baseUrl: fake.url, token: fake.token, backoffMs: 5, maxBackoffMs: 10, maxAttempts: 2 }))
    )
    runtime = ManagedRuntime.make(Jobs.layer({ holder: "loyalty-test" }).pipe(Layer.provide(Jobs.logSink), Layer.provideMerge(library)))
    web = await webHandler(runtime)
  })
  afterAll(async () => {
    await web.dispose()
    await runtime.dispose()
    await fake.close()
  })
  beforeEach(() => fake.reset())

  const call = async (method: "GET" | "POST", path: string, token: string | null) => {
    const response = await web.handler(new Request(`http://c360.test${path}`, {
      method,
      headers: token === null ? {} : { authorization: `Bearer ${token}` }
    }))
    return { status: response.status, body: (await response.json()) as any }
  }

  it("POST /api/jobs/loyalty-sync: 401 without a token, 403 for viewer and staff (nothing fetched), the manager's answers the run's report as JSON; full=true re-reads every customer", async () => {
    for (let i = 1; i <= 3; i++) fake.put(cnvCustomer(100 + i, T + i * 1000, { phone: i === 3 ? "bad" : `+84 912 000 10${i}` }))
    expect(await call("POST", "/api/jobs/loyalty-sync", null)).toMatchObject({ status: 401, body: { error: { code: "UNAUTHORIZED" } } })
    for (const token of [VIEWER, STAFF]) {
      expect(await call("POST", "/api/jobs/loyalty-sync", token)).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } })
    }
    expect(fake.requests).toHaveLength(0)
    const reply = await call("POST", "/api/jobs/loyalty-sync", MANAGER)
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({
      status: "completed",
      full: false,
      pages: 1,
      created: 3,
      updated: 0,
      unchanged: 0,
      failed: 0,
      error: null,
      checkpointFrom: null,
      checkpoint: { updatedAt: new Date(T + 3000).toISOString(), id: 103 },
      failures: []
    })
    expect(reply.body.id).toMatch(/^lsr_/)
    expect(typeof reply.body.startedAt).toBe("string")
    expect(typeof reply.body.durationMs).toBe("number")
    const full = await call("POST", "/api/jobs/loyalty-sync?full=true", MANAGER)
    expect(full.body).toMatchObject({ status: "completed", full: true, unchanged: 3, created: 0 })
    expect((await call("POST", "/api/jobs/loyalty-sync?full=maybe", MANAGER)).body.error.code).toBe("VALIDATION_ERROR")
  })

  it("a sync while another runner holds the loyalty-sync lease answers 409 JOB_RUNNING and fetches nothing; GET /api/loyalty/runs lists the runs, newest first, for any token", async () => {
    const leases = await runtime.runPromise(JobLeases)
    expect(await runtime.runPromise(leases.claim("loyalty-sync", "another-runner", 30_000))).toBe(true)
    try {
      const held = await call("POST", "/api/jobs/loyalty-sync", MANAGER)
      expect(held).toMatchObject({ status: 409, body: { error: { code: "JOB_RUNNING", details: { job: "loyalty-sync" } } } })
      expect(fake.requests).toHaveLength(0)
      const jobs = await runtime.runPromise(Jobs.Jobs)
      const report = await runtime.runPromise(jobs.run("loyalty-sync"))
      expect(report).toMatchObject({ job: "loyalty-sync", status: "skipped", reason: "held-by-another-runner" })
    } finally {
      await runtime.runPromise(leases.release("loyalty-sync", "another-runner"))
    }
    const runs = await call("GET", "/api/loyalty/runs?limit=2", VIEWER)
    expect(runs.status).toBe(200)
    expect(runs.body.runs).toHaveLength(2)
    expect(runs.body.runs[0]).toMatchObject({ status: "completed", full: true })
    expect(runs.body.runs[1]).toMatchObject({ status: "completed", full: false, created: 3 })
    expect((await call("GET", "/api/loyalty/runs?limit=0", VIEWER)).body.error.code).toBe("VALIDATION_ERROR")
  })

  it("the loyalty-sync job: an ok report with the run's counts; a source that fails after its retries makes a failed report and a failed run in the log", async () => {
    expect(Jobs.jobNames).toContain("loyalty-sync")
    expect(Jobs.schedules).toContainEqual({ job: "loyalty-sync", cron: "15 * * * *" })
    fake.put(cnvCustomer(200, T + 60_000))
    fake.put(cnvCustomer(101, T + 61_000, { email: "changed@example.vn" }))
    const jobs = await runtime.runPromise(Jobs.Jobs)
    const ok = await runtime.runPromise(jobs.run("loyalty-sync"))
    expect(ok).toMatchObject({ status: "ok", counts: { pages: 1, created: 1, updated: 1, unchanged: 0, failed: 0 } })
    fake.faults.push({ match: "customers", status: 500, times: Infinity })
    const failed = await runtime.runPromise(jobs.run("loyalty-sync"))
    expect(failed).toMatchObject({ status: "failed" })
    expect(failed.status === "failed" && failed.message).toMatch(/500/)
    const runs = await call("GET", "/api/loyalty/runs?limit=1", VIEWER)
    expect(runs.body.runs[0]).toMatchObject({ status: "failed", error: expect.stringMatching(/answered 500/) })
  })

  it("without a loyalty source the sync answers 503 SERVICE_UNAVAILABLE (LoyaltyNotConfigured) and logs no run", async () => {
    const bare = ManagedRuntime.make(Customer360.layer(SqliteDatabase.layer({ filename: ":memory:" })))
    const bareWeb = await webHandler(bare)
    try {
      const response = await bareWeb.handler(new Request("http://c360.test/api/jobs/loyalty-sync", {
        method: "POST",
        headers: { authorization: `Bearer ${MANAGER}` }
      }))
      expect(response.status).toBe(503)
      expect(((await response.json()) as any).error.message).toMatch(/No loyalty source is configured/)
      const runs = await bareWeb.handler(new Request("http://c360.test/api/loyalty/runs", { headers: { authorization: `Bearer ${VIEWER}` } }))
      expect(((await runs.json()) as any).runs).toEqual([])
    } finally {
      await bareWeb.dispose()
      await bare.dispose()
    }
  })
})
