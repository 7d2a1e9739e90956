/**
 * `examples/jobs/runner.ts` as a process, on SQLite files: `--once` exit codes (0 ok, 1 the run
 * failed, 2 bad usage; 1 when it cannot start), exactly one log line per run in the documented
 * format — with `--once`, a database that cannot be opened is the run's failure on that line — the
 * webhook sink (one JSON POST per batch, redelivered after a refusal), and a graceful stop on
 * SIGTERM. (jobs.pg.test.ts runs it on PostgreSQL: a migration whose COMMIT fails, a claim killed
 * mid-statement.)
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { SqliteDatabase } from "../src/sqlite.js"
import { Customers } from "../src/customers/Customers.js"
import { jobNames, schedules } from "../src/jobs/Jobs.js"
import { Wallets } from "../src/wallets/Wallets.js"
import { freshPhone, servicesOver } from "./contract/customers.js"
import { atTime } from "./support/clock.js"
import { runLines, runRunner, spawnRunner } from "./support/runner.js"

const DAY = 86_400_000
const dir = mkdtempSync(join(tmpdir(), "c360-jobs-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const newFile = () => join(dir, `runner-${files++}.db`)

/** A customer with credits of `amounts`, issued two days ago for one day (all due now), in `filename`. */
const seed = (filename: string, amounts: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const t0 = Date.now() - 2 * DAY
    const phone = freshPhone()
    const customer = yield* Effect.flatMap(Customers, (c) => c.create({ phone, name: "Runner" })).pipe(atTime(t0))
    const wallets = yield* Wallets
    for (const [i, amount] of amounts.entries()) {
      yield* wallets.issueVirtualCredit({ phone, amount, reason: "BOOM", reference: `runner-${phone}-${i}`, expiresInDays: 1 })
        .pipe(atTime(t0))
    }
    return customer.id
  }).pipe(Effect.provide(servicesOver(SqliteDatabase.layer({ filename }))))

/** A webhook that answers with `statuses` in turn (the last one from then on) and records each request. */
const webhook = async (statuses: ReadonlyArray<number>) => {
  const requests: Array<{ readonly contentType: string | undefined; readonly body: any }> = []
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = ""
      req.on("data", (d) => (body += d))
      req.on("end", () => resolve(body))
    })
  const server = createServer(async (req, res) => {
    const body = await read(req)
    requests.push({ contentType: req.headers["content-type"], body: JSON.parse(body) })
    res.statusCode = statuses[Math.min(requests.length - 1, statuses.length - 1)]!
    res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/c360/events`
  return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO job=expire-credits status=ok expired=(\d+) amount=(\d+) duration_ms=\d+$/

describe("job runner (examples/jobs/runner.ts)", () => {
  it.live("--once expire-credits expires the due credits, logs exactly one line and exits 0", () =>
    Effect.gen(function*() {
      const filename = newFile()
      yield* seed(filename, [10_000, 20_000, 30_000])
      const run = yield* Effect.promise(() => runRunner(["--once", "expire-credits"], { C360_SQLITE_FILE: filename }))
      expect(run.code, run.stderr).toBe(0)
      const lines = run.stdout.trimEnd().split("\n")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(LINE)
      expect(lines[0]!.match(LINE)!.slice(1)).toEqual(["3", "60000"])
      expect(run.stderr).toBe("")
      // nothing left: the next run expires nothing
      const again = yield* Effect.promise(() => runRunner(["--once=expire-credits"], { C360_SQLITE_FILE: filename }))
      expect(again.code).toBe(0)
      expect(again.stdout.trimEnd().match(LINE)?.slice(1)).toEqual(["0", "0"])
    }), 60_000)

  it.live("--once relay POSTs the events to C360_WEBHOOK_URL as JSON; a refused batch exits 1 and is delivered again by the next run", () =>
    Effect.gen(function*() {
      const filename = newFile()
      const customerId = yield* seed(filename, [15_000])
      const hook = yield* Effect.promise(() => webhook([500, 204]))
      yield* Effect.addFinalizer(() => Effect.promise(hook.close))
      const env = { C360_SQLITE_FILE: filename, C360_WEBHOOK_URL: hook.url, C360_RELAY_FROM: "start" }

      const refused = yield* Effect.promise(() => runRunner(["--once", "relay"], env))
      expect(refused.code).toBe(1)
      const [failed, ...more] = runLines(refused.stdout)
      expect(more).toEqual([])
      expect(failed!.line).toMatch(
        /ERROR job=relay status=failed reason=delivery-rejected duration_ms=\d+ message="Delivering events to http:\/\/127\.0\.0\.1:\d+: the destination answered 500"$/
      )
      expect(refused.stderr).toMatch(/^jobs: relay failed \(delivery-rejected\): Delivering events to http:\/\/127\.0\.0\.1:\d+: the destination answered 500\n$/)

      const delivered = yield* Effect.promise(() => runRunner(["--once", "relay"], env))
      expect(delivered.code, delivered.stderr).toBe(0)
      expect(runLines(delivered.stdout).map((l) => l.line)).toEqual([expect.stringMatching(/ INFO job=relay status=ok delivered=2 duration_ms=\d+$/)])
      expect(hook.requests).toHaveLength(2)
      const [first, second] = hook.requests
      expect(second!.contentType).toMatch(/^application\/json/)
      expect(second!.body.events.map((e: any) => [e.type, e.subject])).toEqual([
        ["customer.created", customerId],
        ["wallet.virtual_credit", customerId]
      ])
      expect(second!.body.events[0]).toMatchObject({ id: expect.stringMatching(/^evt_/), channel: "customers", position: expect.any(String) })
      // at least once: the refused batch is the one delivered again, event for event
      expect(second!.body).toEqual(first!.body)
    }).pipe(Effect.scoped), 60_000)

  it.live("bad usage exits 2 with the usage on stderr; with --once, a database that cannot be opened is the run's failure: its one line, a clear message, exit 1", () =>
    Effect.gen(function*() {
      const [unknown, extra, unreachable, unopenable, forever] = yield* Effect.promise(() =>
        Promise.all([
          runRunner(["--once", "send-newsletter"]),
          runRunner(["--once"]),
          runRunner(["--once", "expire-credits"], { DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" }),
          runRunner(["--once", "relay"], { C360_SQLITE_FILE: join(dir, "no-such-folder", "shop.db") }),
          runRunner([], { C360_SQLITE_FILE: join(dir, "no-such-folder", "shop.db") })
        ])
      )
      expect([unknown.code, unknown.stdout]).toEqual([2, ""])
      // every job of the registry, in its order, then the relay
      expect(jobNames.slice(0, 2)).toEqual(["expire-credits", "ticket-deadlines"])
      expect(jobNames[jobNames.length - 1]).toBe("relay")
      expect(unknown.stderr).toBe(`jobs: unknown job "send-newsletter"\nusage: tsx examples/jobs/runner.ts [--once ${jobNames.join("|")}]\n`)
      expect([extra.code, extra.stdout]).toEqual([2, ""])
      expect(extra.stderr).toMatch(/^jobs: unexpected arguments: --once\nusage: /)

      expect(unreachable.code).toBe(1)
      expect(unreachable.stdout).toMatch(
        /^\S+ ERROR job=expire-credits status=failed reason=storage-unavailable duration_ms=\d+ message="Storage failed during connecting to PostgreSQL: the database is unavailable"\n$/
      )
      expect(unreachable.stderr).toBe("jobs: cannot start: Storage failed during connecting to PostgreSQL: the database is unavailable\n")
      expect(unopenable.code).toBe(1)
      expect(unopenable.stdout).toMatch(
        /^\S+ ERROR job=relay status=failed reason=storage-unavailable duration_ms=\d+ message="Storage failed during connecting to [^"]*SQLite[^"]*: the database is unavailable"\n$/
      )
      expect(unopenable.stderr).toMatch(/^jobs: cannot start: Storage failed during connecting to .*SQLite.*: the database is unavailable\n$/)
      // without --once there is no run to report: the message only
      expect([forever.code, forever.stdout]).toEqual([1, ""])
      expect(forever.stderr).toBe(unopenable.stderr)
    }), 60_000)

  it.live("without --once it relays continuously and stops gracefully on SIGTERM: exit 0, its lease released", () =>
    Effect.gen(function*() {
      const filename = newFile()
      yield* seed(filename, [5_000])
      const runner = spawnRunner([], { C360_SQLITE_FILE: filename, C360_RELAY_FROM: "start", C360_RELAY_POLL_MS: "100" })
      // the log sink writes one line per event; the first relay run delivers the two seeded events
      for (let i = 0; i < 200 && !/job=relay status=ok delivered=2 /.test(runner.stdout()); i++) yield* Effect.sleep("50 millis")
      runner.child.kill("SIGTERM")
      const stopped = yield* Effect.promise(() => runner.finished)
      expect(stopped.code, stopped.stdout + stopped.stderr).toBe(0)
      const lines = stopped.stdout.trimEnd().split("\n")
      expect(schedules.slice(0, 2)).toEqual([{ job: "expire-credits", cron: "0 * * * *" }, { job: "ticket-deadlines", cron: "0 */6 * * *" }])
      const scheduled = schedules.map(({ cron, job }) => `${job}="${cron}"`).join(" ")
      expect(lines[0]).toContain(` INFO runner=started `)
      expect(lines[0]).toMatch(/ holder=\S+:\d+ database=sqlite sink=log /)
      expect(lines[0]).toContain(` sink=log ${scheduled} time_zone=Asia/Ho_Chi_Minh relay_poll_ms=100`)
      expect(lines[0]!.endsWith("relay_poll_ms=100")).toBe(true)
      expect(lines.filter((l) => / INFO event id=evt_\S+ type=\S+ channel=\S+ subject=\S+ position=\d+ occurred_at=\S+$/.test(l))).toHaveLength(2)
      expect(lines[lines.length - 1]).toMatch(/ INFO runner=stopped$/)
      // idle relay runs are logged at debug level only
      expect(runLines(stopped.stdout).map((l) => l.fields.delivered)).toEqual(["2"])
      const leases = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql`SELECT name FROM c360_job_leases`
      }).pipe(Effect.provide(SqliteDatabase.layer({ filename })), Effect.orDie)
      expect(leases).toEqual([])
    }), 60_000)
})
