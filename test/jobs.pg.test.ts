/**
 * Jobs on PostgreSQL: the job contract; two real runner processes (`examples/jobs/runner.ts
 * --once expire-credits`) started at once on one database holding 2,000 due credits over 200 wallets;
 * and the runner's failures on a database that fails under it — a migration whose COMMIT is refused
 * (a defect in @effect/sql, which printed a driver's stack instead of the run's line) and a lease
 * claim whose backend is killed — each one documented line, exit 1, then a next run that runs.
 *
 * "At once" is made certain, not left to process start-up timing: the test holds a row lock on the
 * job's (expired) lease row while both runners start, waits until PostgreSQL shows both of their
 * claims blocked on that lock, and then lets them go together. Both claims are then in flight at the
 * same instant; the lease's primary key must let exactly one through.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import pg from "pg"
import { PgDatabase } from "../src/pg.js"
import { Customers } from "../src/customers/Customers.js"
import { Wallets } from "../src/wallets/Wallets.js"
import { jobContract } from "./contract/jobs.js"
import { freshPhone, servicesOver } from "./contract/customers.js"
import { auditLedger } from "./support/audit.js"
import { atTime } from "./support/clock.js"
import { runLines, runRunner } from "./support/runner.js"
import { freshDatabase, pgEnabled, pgStorage } from "./support/pg.js"

const WALLETS = 200
const CREDITS_PER_WALLET = 10
const DAY = 86_400_000

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  jobContract("jobs on PostgreSQL", pgStorage())

  /** A plain connection of the test's own to `url`, closed with the scope. */
  const connectTo = (url: string) =>
    Effect.acquireRelease(
      Effect.promise(async () => {
        const client = new pg.Client({ connectionString: url })
        client.on("error", () => undefined)
        await client.connect()
        return client
      }),
      (client) => Effect.promise(() => client.end().catch(() => undefined))
    )
  const noStack = (text: string) => expect(text, "no stack trace, no driver error").not.toMatch(/^\s+at |SqlError|\[cause\]/m)

  it.live("runner --once: a migration whose COMMIT fails is the run's failure — its one line (storage-unexpected), no stack, exit 1; once the database accepts it, the next run migrates and runs", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const admin = yield* connectTo(url)
      // The migrator's table as the library creates it, with a check that refuses every commit that wrote to it.
      yield* Effect.promise(() =>
        admin.query(`CREATE TABLE c360_migrations (migration_id integer primary key,
            created_at timestamp with time zone not null default now(), name text not null);
          CREATE FUNCTION c360_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
          CREATE CONSTRAINT TRIGGER c360_test_refuse AFTER INSERT ON c360_migrations
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION c360_test_refuse();`)
      )
      const env = { DATABASE_URL: url }
      const refused = yield* Effect.promise(() => runRunner(["--once", "expire-credits"], env))
      expect(refused.code, refused.stdout + refused.stderr).toBe(1)
      expect(runLines(refused.stdout).map((l) => l.line)).toEqual([
        expect.stringMatching(
          / ERROR job=expire-credits status=failed reason=storage-unexpected duration_ms=\d+ message="Storage failed during migrating the database: the database reported an unexpected error"$/
        )
      ])
      noStack(refused.stdout)
      expect(refused.stderr).toBe("jobs: cannot start: Storage failed during migrating the database: the database reported an unexpected error\n")

      yield* Effect.promise(() => admin.query("DROP TRIGGER c360_test_refuse ON c360_migrations"))
      const next = yield* Effect.promise(() => runRunner(["--once", "expire-credits"], env))
      expect(next.code, next.stdout + next.stderr).toBe(0)
      expect(runLines(next.stdout).map((l) => l.fields.status)).toEqual(["ok"])
    }).pipe(Effect.scoped), 60_000)

  it.live("runner --once: a lease claim whose backend is killed is a failed run — its one line (storage-unavailable), no stack, exit 1 — and leaves no lease: the next run runs", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const env = { DATABASE_URL: url }
      const first = yield* Effect.promise(() => runRunner(["--once", "expire-credits"], env)) // migrates
      expect(first.code, first.stdout + first.stderr).toBe(0)
      const gate = yield* connectTo(url)
      const watch = yield* connectTo(url)
      // An expired lease row for the job, locked by the test: the runner's claim waits on it.
      yield* Effect.promise(async () => {
        await gate.query(`INSERT INTO c360_job_leases (name, holder, acquired_at, expires_at) VALUES ('expire-credits', 'gate', 0, 0)`)
        await gate.query("BEGIN")
        await gate.query(`SELECT * FROM c360_job_leases WHERE name = 'expire-credits' FOR UPDATE`)
      })
      const running = runRunner(["--once", "expire-credits"], env)
      let killed = false
      for (let i = 0; i < 300 && !killed; i++) {
        yield* Effect.sleep("100 millis")
        const { rows } = yield* Effect.promise(() =>
          watch.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%c360_job_leases%'`)
        )
        killed = rows.length === 1 && rows[0].ok === true
      }
      expect(killed, "the runner's claim waited on the lease row and was killed").toBe(true)
      const failed = yield* Effect.promise(() => running)
      yield* Effect.promise(() => gate.query("ROLLBACK"))
      expect(failed.code, failed.stdout + failed.stderr).toBe(1)
      expect(runLines(failed.stdout).map((l) => l.line)).toEqual([
        expect.stringMatching(
          / ERROR job=expire-credits status=failed reason=storage-unavailable duration_ms=\d+ message="Storage failed during claiming a job lease: the database is unavailable"$/
        )
      ])
      noStack(failed.stdout)
      expect(failed.stderr).toBe("jobs: expire-credits failed (storage-unavailable): Storage failed during claiming a job lease: the database is unavailable\n")
      const { rows } = yield* Effect.promise(() => watch.query("SELECT holder FROM c360_job_leases"))
      expect(rows, "only the test's expired row").toEqual([{ holder: "gate" }])

      const next = yield* Effect.promise(() => runRunner(["--once", "expire-credits"], env))
      expect(next.code, next.stdout + next.stderr).toBe(0)
      expect(runLines(next.stdout).map((l) => l.fields.status)).toEqual(["ok"])
    }).pipe(Effect.scoped), 60_000)

  it.live(
    `Jobs: two runners at once expire each due credit once (${WALLETS * CREDITS_PER_WALLET} due credits over ${WALLETS} wallets): one runs, the other skips`,
    () =>
      Effect.gen(function*() {
        const url = yield* freshDatabase
        const t0 = Date.now() - 3 * DAY
        const services = servicesOver(PgDatabase.layer({ url, maxConnections: 8 }))

        // 200 wallets with 10 credits each, issued three days ago for one day: all due now.
        const seeded = yield* Effect.gen(function*() {
          const customers = yield* Customers
          const wallets = yield* Wallets
          const phones = Array.from({ length: WALLETS }, () => freshPhone())
          yield* Effect.forEach(phones, (phone) => customers.create({ phone, name: "Due" }).pipe(atTime(t0)), { concurrency: 8 })
          const credits = yield* Effect.forEach(
            phones.flatMap((phone) => Array.from({ length: CREDITS_PER_WALLET }, (_, i) => ({ phone, i }))),
            ({ i, phone }) =>
              wallets.issueVirtualCredit({
                phone,
                amount: 1_000 * (1 + (i % 7)),
                reason: "BOOM",
                reference: `due-${phone}-${i}`,
                expiresInDays: 1
              }).pipe(atTime(t0 + i * 1_000)),
            { concurrency: 8 }
          )
          return credits.map((c) => ({ id: c.credit.id as string, amount: c.credit.amount }))
        }).pipe(Effect.provide(services))
        const total = seeded.reduce((sum, c) => sum + c.amount, 0)

        // The gate: an expired lease row for the job, locked by this test until both runners wait on it.
        const connect = Effect.acquireRelease(
          Effect.promise(async () => {
            const client = new pg.Client({ connectionString: url })
            await client.connect()
            return client
          }),
          (client) => Effect.promise(() => client.end())
        )
        const gate = yield* connect
        // pg_stat_activity is a snapshot per transaction: it is watched from outside the gate's.
        const watch = yield* connect
        yield* Effect.promise(async () => {
          await gate.query(`INSERT INTO c360_job_leases (name, holder, acquired_at, expires_at) VALUES ('expire-credits', 'gate', 0, 0)`)
          await gate.query("BEGIN")
          await gate.query(`SELECT * FROM c360_job_leases WHERE name = 'expire-credits' FOR UPDATE`)
        })
        const env = { DATABASE_URL: url, C360_LOG_LEVEL: "info" }
        const runners = [runRunner(["--once", "expire-credits"], env), runRunner(["--once", "expire-credits"], env)]
        let waiting = 0
        for (let i = 0; i < 300 && waiting < 2; i++) {
          yield* Effect.sleep("100 millis")
          const { rows } = yield* Effect.promise(() =>
            watch.query(`SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%c360_job_leases%'`)
          )
          waiting = rows[0].n
        }
        expect(waiting, "both runners' claims blocked on the lease row at the same time").toBe(2)
        yield* Effect.promise(() => gate.query("COMMIT"))
        const finished = yield* Effect.promise(() => Promise.all(runners))

        for (const f of finished) expect(f.code, f.stdout + f.stderr).toBe(0)
        const lines = finished.map((f) => runLines(f.stdout))
        for (const l of lines) expect(l, "exactly one line per run").toHaveLength(1)
        const reports = lines.map((l) => l[0]!.fields).sort((a, b) => a.status!.localeCompare(b.status!))
        expect(reports.map((r) => r.status)).toEqual(["ok", "skipped"])
        expect(reports[0]).toMatchObject({ job: "expire-credits", expired: String(seeded.length), amount: String(total) })
        expect(reports[1]).toMatchObject({ job: "expire-credits", reason: "held-by-another-runner" })
        expect(lines.flat().map((l) => l.line).join("\n")).toMatch(/job=expire-credits status=ok expired=\d+ amount=\d+ duration_ms=\d+/)

        // Each due credit expired exactly once: one credit_expired entry and one event each, all expired.
        yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const entries = yield* sql<{ credit_id: string; amount: unknown }>`SELECT credit_id, amount FROM c360_ledger_entries
            WHERE kind = 'credit_expired'`
          expect(entries).toHaveLength(seeded.length)
          expect(new Set(entries.map((e) => e.credit_id))).toEqual(new Set(seeded.map((c) => c.id)))
          expect(entries.reduce((sum, e) => sum + Number(e.amount), 0)).toBe(-total)
          const events = yield* sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_outbox WHERE type = 'wallet.credit_expired'`
          expect(Number(events[0]!.n)).toBe(seeded.length)
          const active = yield* sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_virtual_credits WHERE status <> 'expired'`
          expect(Number(active[0]!.n)).toBe(0)
          // released by the runner that ran it
          expect(yield* sql`SELECT holder FROM c360_job_leases WHERE name = 'expire-credits'`).toEqual([])
          expect((yield* auditLedger).violations).toEqual([])
        }).pipe(Effect.provide(PgDatabase.layerClient({ url, maxConnections: 2 }).pipe(Layer.orDie)))
      }).pipe(Effect.scoped),
    120_000
  )
})
