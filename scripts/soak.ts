/**
 * `npm run soak`: the release's fault run (a release check; not part of `npm test` or CI).
 *
 * For each engine — SQLite (a file in a temporary directory) and PostgreSQL (a fresh database on
 * `C360_PG_URL`, dropped afterwards) — it starts the Express host (examples/express/server.ts,
 * bundled once per run by esbuild) as a child process on 127.0.0.1 and, within a time budget:
 * 1. follows `GET /api/events` for the whole run, reconnecting with `Last-Event-ID` after every cut;
 * 2. creates 40 customers, then runs concurrent clients (wallet writes, replays, reads, expiry runs)
 *    that send every failed or unanswered write again with the same reference and body;
 * 3. meanwhile SIGKILLs the host at random moments and restarts it on the same database, and on
 *    PostgreSQL terminates the host's backends (`pg_terminate_backend`, application_name
 *    `customer360`, in the soak's database only) from an admin connection;
 * 4. stops the faults, retries the writes still unanswered, kills and restarts the host once more,
 *    and checks the event streams against the outbox: the follower's events over all its
 *    connections, and one new stream resumed from an event in the middle, are each exactly the
 *    outbox's events after their start, once each, in order;
 * 5. stops the host with SIGTERM (it must exit 0) and audits the stored data against the answers
 *    (scripts/soak/audit.ts).
 * It prints a summary per engine and exits 1 if any check failed, any 5xx other than 503 was
 * answered, an error answer left the envelope or leaked internals, or the host crashed by itself;
 * 503 is the documented answer to unavailability and is allowed.
 *
 * Environment: `C360_SOAK_SECONDS` (total budget, default 120), `C360_SOAK_ENGINES` (default
 * `sqlite,pg`), `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432/postgres; loopback only),
 * `C360_SOAK_MAX_WRITES` (per engine, default 20000), `C360_SOAK_CLIENTS` (default 8),
 * `C360_SOAK_SEED` (the random seed; printed). Usage errors exit 2.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import type { StorageError } from "../src/kernel/Errors.js"
import { PgDatabase } from "../src/pg.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { auditStore, outboxIds, type StoreFindings } from "./soak/audit.js"
import { bundleHost, Host } from "./soak/host.js"
import { Tally } from "./soak/http.js"
import { Load } from "./soak/load.js"
import { assertLoopback, createTempDatabase, Terminator } from "./soak/pg.js"
import { makeRandom, type Random, sleep } from "./soak/random.js"
import { type Comparison, compareIds, Follower, resumeCheck, waitUntil } from "./soak/sse.js"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const CUSTOMERS = 40
const REQUEST_TIMEOUT_MS = 5_000
const LOAD_ATTEMPTS = 40
const CONVERGE_ATTEMPTS = 20

// --- configuration ---------------------------------------------------------------------------------

const usage = (message: string): never => {
  console.error(`soak: ${message}`)
  process.exit(2)
}
const positive = (name: string, fallback: number, max: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0 || n > max) return usage(`${name} must be an integer from 1 to ${max}, not ${JSON.stringify(raw)}`)
  return n
}
type Engine = "sqlite" | "pg"
const budgetSeconds = positive("C360_SOAK_SECONDS", 120, 3_600)
const maxWrites = positive("C360_SOAK_MAX_WRITES", 20_000, 1_000_000)
const clients = positive("C360_SOAK_CLIENTS", 8, 64)
const seed = positive("C360_SOAK_SEED", 1 + Math.floor(Math.random() * 2_000_000_000), 2 ** 31)
const engines = (process.env.C360_SOAK_ENGINES || "sqlite,pg").split(",").map((e) => e.trim()).filter((e) => e !== "")
for (const e of engines) if (e !== "sqlite" && e !== "pg") usage(`C360_SOAK_ENGINES lists sqlite and pg, not ${JSON.stringify(e)}`)
if (engines.length === 0) usage("C360_SOAK_ENGINES names no engine")
const pgServer = process.env.C360_PG_URL || "postgres://postgres@127.0.0.1:5432/postgres"
if (engines.includes("pg")) {
  try {
    assertLoopback(pgServer)
  } catch (e) {
    usage(e instanceof Error ? e.message : String(e))
  }
}
const runId = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`
const random = makeRandom(seed)

// --- cleanup: on every way out ---------------------------------------------------------------------

const cleanups: Array<() => Promise<void> | void> = []
/** Runs the registered cleanups, newest first, each once; failures are printed, not thrown. */
const cleanup = async (): Promise<void> => {
  while (cleanups.length > 0) {
    const f = cleanups.pop()!
    try {
      await f()
    } catch (e) {
      console.error(`soak: cleanup failed: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`soak: ${signal}: stopping the host and removing the soak's databases`)
    void cleanup().finally(() => process.exit(130))
  })
}
// Every phase has its own deadline within the budget; this catches what would hang anyway.
setTimeout(() => {
  console.error(`soak: FAILED — still running ${budgetSeconds + 60} s after the start (budget ${budgetSeconds} s)`)
  void cleanup().finally(() => process.exit(1))
}, (budgetSeconds + 60) * 1_000).unref()

// --- one engine ------------------------------------------------------------------------------------

interface EngineReport {
  readonly engine: Engine
  seconds: number
  readonly tally: Tally
  load: Load | undefined
  host: Host | undefined
  terminator: Terminator | undefined
  finalKill: boolean
  audit: StoreFindings | undefined
  follower: (Comparison & { readonly connections: number }) | undefined
  resume: (Comparison & { readonly from: number }) | undefined
  shutdown: string | undefined
  readonly problems: Array<string>
  readonly notes: Array<string>
  hostErrors: Array<string>
  /** How long each phase took, in order. */
  readonly phases: Array<string>
}

const label = (e: Engine) => (e === "pg" ? "PostgreSQL" : "SQLite")

const runEngine = async (engine: Engine, budgetMs: number, random: Random, entry: string): Promise<EngineReport> => {
  const started = Date.now()
  const end = started + budgetMs
  // what follows the load (retries, a restart, the event checks, shutdown, audit) takes a few seconds
  const loadUntil = end - Math.min(20_000, Math.max(7_000, budgetMs * 0.25))
  const tally = new Tally()
  const report: EngineReport = {
    engine, seconds: 0, tally, load: undefined, host: undefined, terminator: undefined, finalKill: false, audit: undefined,
    follower: undefined, resume: undefined, shutdown: undefined, problems: [], notes: [], hostErrors: [], phases: []
  }
  let phaseStart = started
  const phase = (name: string) => {
    const now = Date.now()
    report.phases.push(`${name} ${((now - phaseStart) / 1_000).toFixed(1)} s`)
    phaseStart = now
  }
  const problems = report.problems
  const local: Array<() => Promise<void> | void> = []
  const later = (f: () => Promise<void> | void) => {
    local.push(f)
    cleanups.push(f)
  }
  let runtime: ManagedRuntime.ManagedRuntime<SqlClient.SqlClient, StorageError> | undefined
  try {
    const dir = mkdtempSync(join(tmpdir(), "c360-soak-"))
    later(() => rmSync(dir, { recursive: true, force: true }))
    let database: { DATABASE_URL: string } | { C360_SQLITE_FILE: string }
    let storage: Layer.Layer<SqlClient.SqlClient, StorageError>
    let databaseName = ""
    if (engine === "pg") {
      const db = await createTempDatabase(pgServer, `${runId}`)
      later(db.drop)
      databaseName = db.name
      database = { DATABASE_URL: db.url }
      storage = PgDatabase.layerClient({ url: db.url, maxConnections: 2 })
    } else {
      const filename = join(dir, "soak.sqlite")
      database = { C360_SQLITE_FILE: filename }
      storage = SqliteDatabase.layerClient({ filename })
    }
    const tokens = { manager: randomBytes(12).toString("hex"), staff: randomBytes(12).toString("hex"), viewer: randomBytes(12).toString("hex") }
    const host = new Host({
      root,
      entry,
      database,
      tokens: `${tokens.manager}:manager,${tokens.staff}:staff,${tokens.viewer}:viewer`,
      logFile: join(dir, "host.log")
    })
    report.host = host
    later(() => host.dispose())
    await host.start(60_000)
    phase("start")

    const follower = new Follower(() => host.url, tokens.viewer, tally)
    later(() => follower.stop())
    if (!(await follower.start(10_000))) problems.push("sse: the event stream could not be opened within 10 s")

    const load = new Load({ target: host, tokens, random, tally, prefix: `soak-${runId}-${engine}`, requestTimeoutMs: REQUEST_TIMEOUT_MS, violations: problems })
    report.load = load
    await load.seed(CUSTOMERS, end)
    phase("customers")
    if (!(await waitUntil(() => follower.lastId !== null, 10_000))) {
      problems.push("sse: no event reached the stream within 10 s of creating the customers")
    }

    // --- load under faults ---
    let fault: string | undefined
    const killer = (async () => {
      for (;;) {
        const at = Date.now() + random.int(2_500, 7_000)
        if (at >= loadUntil) break
        while (Date.now() < at) {
          await sleep(Math.min(250, at - Date.now()))
          if (!host.up) await host.start(30_000) // it crashed by itself (counted as a crash)
        }
        await host.kill()
        await sleep(random.int(0, 400))
        await host.start(30_000)
      }
    })().catch((e) => {
      fault = `the host could not be restarted: ${e instanceof Error ? e.message : String(e)}`
    })
    const terminator = engine === "pg" ? new Terminator(pgServer, databaseName, random, () => host.up) : undefined
    report.terminator = terminator
    terminator?.start()
    const expiry = load.expiryLoop(loadUntil)
    await load.run({ clients, until: loadUntil, maxWrites, maxAttempts: LOAD_ATTEMPTS })
    await killer
    await terminator?.stop()
    await expiry
    if (fault !== undefined) throw new Error(fault)
    if (terminator?.error !== undefined) problems.push(`the terminator stopped early: ${terminator.error}`)
    if (!host.up) await host.start(30_000)
    phase("load under faults")

    // --- the stable end: converge, restart once more, check the event streams ---
    await load.converge({ clients, until: Math.max(Date.now() + 3_000, Math.min(end - 4_000, Date.now() + 20_000)), attempts: CONVERGE_ATTEMPTS })
    await host.kill()
    await host.start(30_000)
    report.finalKill = true
    phase("retries and restart")
    runtime = ManagedRuntime.make(storage)
    const ids = await runtime.runPromise(outboxIds)
    const last = ids[ids.length - 1]
    await waitUntil(() => follower.lastId === last, Math.max(1_000, Math.min(15_000, end - Date.now() - 3_000)))
    await sleep(300)
    await follower.stop()
    const followed = compareIds(follower.received, ids)
    report.follower = { ...followed, connections: follower.streams.length }
    if (!followed.ok) problems.push(`sse: the follower's events over ${follower.streams.length} connections: ${followed.detail}`)
    follower.streams.forEach((s, i) => {
      if (new Set(s.ids).size !== s.ids.length) problems.push(`sse: connection ${i + 1} delivered an event twice`)
      if (s.notFound) problems.push(`sse: connection ${i + 1} (Last-Event-ID ${s.sentLastEventId}) was told its id is not in the outbox`)
    })
    if (ids.length >= 2) {
      const from = Math.floor(ids.length / 3)
      const resumed = await resumeCheck(host.url!, tokens.viewer, tally, ids, from, Math.max(1_000, Math.min(10_000, end - Date.now() - 2_000)))
      report.resume = { ...resumed, from }
      if (!resumed.ok) problems.push(`sse: resuming after event #${from + 1} of ${ids.length}: ${resumed.detail}`)
    } else {
      problems.push(`sse: the outbox holds ${ids.length} events; nothing to resume`)
    }

    phase("event checks")

    // --- stop, audit ---
    report.shutdown = await host.stop(15_000)
    if (report.shutdown !== "exit 0") problems.push(`shutdown on SIGTERM: ${report.shutdown}`)
    const findings = await runtime.runPromise(auditStore(load.records, `soak-${runId}-${engine}`))
    report.audit = findings
    problems.push(...findings.violations)
    report.notes.push(...findings.notes)
    phase("shutdown and audit")
  } catch (e) {
    problems.push(`aborted: ${e instanceof Error ? e.message : String(e)}`)
  } finally {
    if (runtime !== undefined) await runtime.dispose().catch(() => undefined)
    const host = report.host
    if (host !== undefined) {
      problems.push(...host.crashes.map((c) => `the host crashed: ${c}`))
      if (tally.serverErrors.length > 0 || host.crashes.length > 0) {
        report.hostErrors = host.logLines(/level=(ERROR|FATAL)|uncaught|unhandled/i, 12)
      }
    }
    problems.push(...tally.serverErrors.slice(0, 20).map((e) => `answered ${e}`))
    if (tally.serverErrors.length > 20) problems.push(`… and ${tally.serverErrors.length - 20} more 5xx answers`)
    problems.push(...tally.malformed.slice(0, 20))
    // this engine's cleanups now, newest first (they stay registered for a signal; each runs once)
    for (const f of local.reverse()) {
      const i = cleanups.indexOf(f)
      if (i >= 0) cleanups.splice(i, 1)
      try {
        await f()
      } catch (e) {
        report.notes.push(`cleanup failed: ${e instanceof Error ? e.message : String(e)}`)
      }
    }
    report.seconds = (Date.now() - started) / 1_000
  }
  return report
}

// --- the summary -----------------------------------------------------------------------------------

const statusList = (tally: Tally, from: number, to: number): string =>
  [...tally.byStatus].filter(([s]) => s >= from && s <= to).sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(", ")

const print = (r: EngineReport): void => {
  const t = r.tally
  const out = (name: string, text: string) => console.log(`  ${name.padEnd(10)} ${text}`)
  console.log(`\n== ${label(r.engine)} (${r.seconds.toFixed(1)} s)`)
  out(
    "requests",
    `${t.requests}: 2xx ${t.count(200, 299)}, 4xx ${t.count(400, 499)} (${statusList(t, 400, 499) || "none"}), ` +
      `503 ${t.count(503, 503)}, other 5xx ${t.count(500, 502) + t.count(504, 599)}; ` +
      `unanswered ${t.timeouts + t.resets + t.refused} (timed out ${t.timeouts}, cut off ${t.resets}, refused ${t.refused}); ` +
      `latency p50 ${t.latency(0.5)} ms, p99 ${t.latency(0.99)} ms`
  )
  const l = r.load
  if (l !== undefined) {
    const ok = l.records.filter((w) => w.final !== undefined && w.final.status < 300).length
    const refused = l.records.filter((w) => w.final !== undefined && w.final.status >= 400).length
    out(
      "writes",
      `${l.records.length}: succeeded ${ok}, refused ${refused} (4xx), unresolved ${l.unresolved.length}; retries ${l.retries}; ` +
        `replays ${l.replays}; reads ${l.reads}; expiry runs ${l.expiryRuns} (${l.expired} credits expired)`
    )
  }
  if (r.host !== undefined) {
    const kills = `host SIGKILLed ${r.host.kills} times${r.finalKill ? " (the last before the event checks)" : ""}, ` +
      `down ${(r.host.downMs / 1_000).toFixed(1)} s in all, started ${r.host.starts} times, crashed ${r.host.crashes.length}`
    const terminations = r.terminator === undefined ? "" : `; PostgreSQL backends terminated ${r.terminator.terminated} (in ${r.terminator.rounds} rounds, ${r.terminator.storms} storms)`
    out("faults", kills + terminations)
  }
  const a = r.audit
  out(
    "audit",
    a === undefined
      ? "not run"
      : `${a.violations.length === 0 ? "ok" : `${a.violations.length} violations`}: ${a.wallets} wallets, ${a.credits} credits, ` +
        `${a.entries} ledger entries, ${a.operations} operations, ${a.events} events`
  )
  const f = r.follower
  const s = r.resume
  out(
    "sse",
    (f === undefined ? "follower not checked" : `${f.ok ? "ok" : "FAILED"}: follower over ${f.connections} connections, ${f.detail}`) +
      (s === undefined ? "" : `; resumed after a restart from event #${s.from + 1}: ${s.ok ? "ok, " : "FAILED, "}${s.detail}`)
  )
  out("shutdown", r.shutdown === undefined ? "not reached" : `SIGTERM: ${r.shutdown}`)
  out("phases", r.phases.join(", "))
  for (const n of r.notes.slice(0, 10)) out("note", n)
  if (r.problems.length > 0) {
    out("result", `FAILED, ${r.problems.length} problems:`)
    for (const p of r.problems.slice(0, 25)) console.log(`    - ${p}`)
    if (r.problems.length > 25) console.log(`    … and ${r.problems.length - 25} more`)
    if (r.hostErrors.length > 0) {
      console.log("    the host's log:")
      for (const line of r.hostErrors) console.log(`      ${line}`)
    }
  } else {
    out("result", "PASSED")
  }
}

// --- main ------------------------------------------------------------------------------------------

console.log(
  `soak: ${engines.map((e) => label(e as Engine)).join(" and ")}, budget ${budgetSeconds} s, seed ${seed}, ` +
    `${clients} clients, at most ${maxWrites} writes per engine`
)
const started = Date.now()
const bundle = await bundleHost(root, runId)
cleanups.push(bundle.remove)
const reports: Array<EngineReport> = []
for (const [i, engine] of engines.entries()) {
  // what is left of the budget, shared by the engines still to run
  const remaining = budgetSeconds * 1_000 - (Date.now() - started)
  const share = Math.floor(remaining / (engines.length - i))
  reports.push(await runEngine(engine as Engine, Math.max(share, 15_000), random, bundle.entry))
}
await cleanup()
for (const r of reports) print(r)
const failed = reports.filter((r) => r.problems.length > 0)
console.log(
  `\nsoak: ${failed.length === 0 ? "PASSED" : `FAILED (${failed.map((r) => label(r.engine)).join(", ")})`} in ` +
    `${((Date.now() - started) / 1_000).toFixed(1)} s`
)
process.exit(failed.length === 0 ? 0 : 1)
