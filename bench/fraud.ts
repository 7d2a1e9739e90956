/**
 * Fraud run benchmark: `fraud.run()` (the daily `fraud` job, DOMAIN §8) over 1,000,000 customers and
 * about 5,000,000 rows of history — wallet ledger entries, purchases and returns over the last 8 days
 * — on PostgreSQL and SQLite, against hand-written set-based SQL doing the same work, in the same
 * run. Targets: library time ≤ 2× the baseline's; peak RSS of the Node process running the library
 * < 256 MB.
 *
 * - Data set (support/fraud-data.ts): 1,000,000 customers and their wallets; 3.1 ledger entries per
 *   customer on average (deposit → withdrawal pairs), 1.8 purchases and a few returns, at instants of
 *   the 8 days before the data set's now; one customer in 1,000 trips each rule by design (bursts of
 *   6–8 deposits above 5,000,000 đồng within the hour, 3–4 deposit→withdraw cycles within 24 hours,
 *   returns of more than half of 2–4 purchases; some with a second episode), one in 1,000 just
 *   misses each (at the rule's boundary), and a few ordinary customers trip high-return-rate by
 *   chance. Loaded set-based (`generate_series` / recursive CTEs) into the schema the library's
 *   migrations made, once per engine.
 * - Library: the facade's `c360.fraud.run({ at })` (default batch size, 5,000 customers; `--batch`),
 *   `at` and its clock fixed at the data set's now: a first run, so it evaluates the windows anchored
 *   in the last 7 days + the longest reach (14 days; all of the history) — per batch a count of the
 *   customers with activity and one statement per rule, then the decisions recorded with their flags,
 *   events, activities and tier changes. It runs in a Node process of its own
 *   (support/library-process.ts: plain `node` importing `dist/`, one facade instance, driven over
 *   IPC, the time taken inside it around the call); its peak RSS is that process's high-water mark
 *   during the call (VmHWM) — exact, and not inflated by this process's own work.
 * - Baseline (support/fraud-baseline.ts): the same run by hand, over the whole tables in one
 *   transaction with the driver (pg / better-sqlite3): the rule versions and the run row; one INSERT
 *   of the decisions whose SELECT evaluates the three rules with window functions (RANGE frames over
 *   milliseconds; episodes by `lag`) and builds each evidence in SQL, `ON CONFLICT DO NOTHING`;
 *   then, set-based over this run's decisions: the tier each blacklist replaces, the flags, the
 *   `customer.flagged` and `customer.tier_changed` events, the activities, the tiers; and the run
 *   row finished with its counts (the customers with activity in the range counted over the whole
 *   tables). Each statement's time is printed.
 * - Each round, on the same database (one per engine): before each timed run every row the previous
 *   run wrote is deleted (decisions, flags, runs, rule versions, outbox, activities) and the
 *   customers' tiers, `updated_at` and `purchase_version` restored from a snapshot of the load; then
 *   VACUUM ANALYZE of those tables and a CHECKPOINT (SQLite: a WAL checkpoint). The library first in
 *   odd rounds, the baseline first in even ones. Medians of the rounds; ratios per round.
 * - Checks, every run of both sides: the decisions (customer, rule, version, severity, action,
 *   window, evidence), the flags (and the decision each belongs to), the events, the activities, the
 *   customers changed and the run row's counts are the same on both sides; each side's events and
 *   activities name its own decisions consistently; and the decisions are those the data set was
 *   built to give (every designed tripper decided, the right number of episodes, no near miss).
 * - Diagnostic: one `fraud.backtest` over the run's range after the rounds (the evaluators alone,
 *   no write), against the library run's median.
 *
 * Options (after `npm run bench -- fraud`): `--customers N` (default 1,000,000; at least 1,000,
 * rounded to a multiple of 1,000), `--rounds R` (default 3), `--engines pg,sqlite` (default `pg`: the
 * full run on both engines takes over half an hour; `sqlite` alone, or both, on request), `--batch N`
 * (the library's batch size; default its own, 5,000), `--wait-quiet` (before each timed run, wait up
 * to 15 minutes while another benchmark or test run shares the machine; without it such runs are
 * only reported, with `!!!`). `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432); the bench
 * creates its own `c360_bench_fraud_*` database and drops it at the end, also on failure or Ctrl-C;
 * without a server it runs SQLite only. `C360_BENCH_QUICK=1`: 20,000 customers, 1 round (checks the
 * bench itself; figures mean nothing). A full run on PostgreSQL takes about 15–20 minutes on the
 * 2-core machine, the load (~2 minutes) included.
 *
 * Exit code 0 on a MISS (this is a measurement); non-zero on an error or a correctness mismatch.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import Sqlite from "better-sqlite3"
import pg from "pg"
import { benchDatabases, withDatabase } from "./support/databases.js"
import { baselineSql, type Engine, fraudRange, HR, SD, WA } from "./support/fraud-baseline.js"
import { CLASS, type Loaded, loadPg, loadSqlite } from "./support/fraud-data.js"
import { newId } from "./support/ids.js"
import { main } from "./support/library.js"
import { startLibraryProcess } from "./support/library-process.js"
import { librarySource } from "./support/revision.js"
import { fmt, median } from "./support/stats.js"

const { createCustomer360 } = main

// --- options ------------------------------------------------------------------------------------

const QUICK = process.env.C360_BENCH_QUICK === "1"
const PG_URL = process.env.C360_PG_URL || "postgres://postgres@127.0.0.1:5432"

const argValue = (name: string): string | undefined => {
  const args = process.argv.slice(3)
  const i = args.indexOf(`--${name}`)
  if (i >= 0) return args[i + 1]
  const eq = args.find((a) => a.startsWith(`--${name}=`))
  return eq?.slice(name.length + 3)
}
const CUSTOMERS = Math.max(1000, Math.round(Number(argValue("customers") ?? (QUICK ? 20_000 : 1_000_000)) / 1000) * 1000)
const ROUNDS = Math.max(1, Number(argValue("rounds") ?? (QUICK ? 1 : 3)))
const ENGINES = new Set((argValue("engines") ?? "pg").split(",").map((e) => e.trim()))
const BATCH = argValue("batch") === undefined ? undefined : Number(argValue("batch"))
const WAIT_QUIET = process.argv.slice(3).includes("--wait-quiet")
const TARGET = 2
const RSS_TARGET = 256 * 1024 * 1024

/** The data set's now, the run's `at` and the library's clock: the same work in every round. */
const NOW = Date.now()
const AT = NOW

const { anchorFrom: ANCHOR_FROM } = fraudRange(AT)
const ACTOR = "system"

// --- reporting ----------------------------------------------------------------------------------

interface SummaryRow {
  readonly label: string
  readonly value: string
  readonly target?: string
  readonly pass?: boolean
}
const summary: Array<SummaryRow> = []
const problems: Array<string> = []
const check = (ok: boolean, message: string): void => {
  if (ok) return
  problems.push(message)
  console.error(`fraud: MISMATCH ${message}`)
}

const s = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`)
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`
const x = (r: number): string => `${r.toFixed(2)}×`
const list = (xs: ReadonlyArray<number>, f: (n: number) => string): string => xs.map(f).join(", ")
const elapsed = (start: number): string => `${((performance.now() - start) / 1000).toFixed(1)} s`
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} CPUs`

/**
 * Other benchmarks and test runs on the machine (its 2 cores are shared): processes whose command
 * line names `bench/` or vitest, other than this process and its ancestors (Linux /proc; none
 * elsewhere). Printed before every timed run, so that a disturbed figure is known as such.
 */
const otherRuns = (): Array<string> => {
  try {
    const ancestors = new Set<number>()
    for (let pid = process.pid; pid > 1;) {
      ancestors.add(pid)
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    }
    const found: Array<string> = []
    for (const entry of readdirSync("/proc")) {
      const pid = Number(entry)
      if (!Number.isInteger(pid) || ancestors.has(pid)) continue
      let cmd = ""
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()
      } catch {
        continue
      }
      if (/bench\/|vitest/.test(cmd) && !cmd.startsWith("npm ") && !cmd.startsWith("sh -c")) found.push(`${pid} ${cmd.slice(0, 100)}`)
    }
    return found
  } catch {
    return []
  }
}
let disturbed = 0
/**
 * Warns (and counts) when another benchmark or test run shares the machine as a timed run starts;
 * with `--wait-quiet`, first waits (up to 15 minutes) for them to end.
 */
const noteOthers = async (what: string): Promise<void> => {
  let others = otherRuns()
  if (WAIT_QUIET && others.length > 0) {
    const until = performance.now() + 15 * 60_000
    console.log(`fraud: waiting for other runs to end before ${what}: ${others.join(" | ")}`)
    while (others.length > 0 && performance.now() < until) {
      await new Promise((done) => setTimeout(done, 5_000))
      others = otherRuns()
    }
  }
  if (others.length === 0) return
  disturbed++
  console.error(`fraud: !!! ${what} starts while other runs share the machine: ${others.join(" | ")}`)
}

// --- checks ---------------------------------------------------------------------------------------

type Row = Record<string, unknown>
/** What a run left, as the queries of `stateQueries` answer it. */
type Raw = Record<keyof ReturnType<typeof stateQueries>, ReadonlyArray<Row>>

const stateQueries = () => ({
  decisions: `SELECT id, customer_id, rule_id, rule_version, severity, action, window_from, window_to, evidence, decided_at, tier_before, run_id
    FROM c360_fraud_decisions ORDER BY customer_id, rule_id, window_from`,
  flags: `SELECT customer_id, flag, decision_id, raised_at, cleared_at, version FROM c360_fraud_flags ORDER BY customer_id, flag`,
  events: `SELECT channel, type, subject, payload, occurred_at FROM c360_outbox ORDER BY type, subject, payload`,
  activities: `SELECT customer_id, actor, kind, subject_type, subject_id, summary, data, at FROM c360_activities ORDER BY customer_id, subject_id`,
  customers: `SELECT id, tier, updated_at, purchase_version FROM c360_customers WHERE updated_at = ${AT} ORDER BY id`,
  tiers: `SELECT tier, count(*) AS n FROM c360_customers GROUP BY tier ORDER BY tier`,
  runs: `SELECT at, anchor_from, finished_at, evaluated, decisions, flags, blacklisted FROM c360_fraud_runs`,
  rules: `SELECT id, version, kind, definition, severity, action FROM c360_fraud_rules ORDER BY id, version`
})

/** JSON with object keys sorted: two texts of one value compare equal. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, value: unknown) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value)
const digest = (lines: ReadonlyArray<string>): string => createHash("sha256").update([...lines].sort().join("\n")).digest("hex").slice(0, 16)
const num = (v: unknown): number => Number(v)
const str = (v: unknown): string => (v === null || v === undefined ? "" : String(v))

interface State {
  /** comparable between the sides: name → digest (and counts) */
  readonly compare: Record<string, string>
  readonly decisions: number
  readonly byRule: Record<string, number>
  readonly flags: number
  readonly flagged: number
  readonly tierChanged: number
  readonly activities: number
  readonly blacklisted: number
  readonly run: { evaluated: number; decisions: number; flags: number; blacklisted: number }
  /** decisions by rule and customer number (`cus_` + digits) */
  readonly perCustomer: ReadonlyMap<string, ReadonlyMap<number, number>>
}

/** The comparable state of a side after a run, and its own consistency checks (`label` names it in messages). */
const summarize = (label: string, raw: Raw): State => {
  const decisions = raw.decisions
  const key = (d: Row) => `${str(d.customer_id)}|${str(d.rule_id)}|${num(d.rule_version)}|${num(d.window_from)}|${num(d.window_to)}`
  const byId = new Map(decisions.map((d) => [str(d.id), d]))
  const byRule: Record<string, number> = {}
  const perCustomer = new Map<string, Map<number, number>>()
  for (const d of decisions) {
    const r = str(d.rule_id)
    byRule[r] = (byRule[r] ?? 0) + 1
    const n = Number(str(d.customer_id).slice(4))
    const m = perCustomer.get(r) ?? new Map<number, number>()
    m.set(n, (m.get(n) ?? 0) + 1)
    perCustomer.set(r, m)
  }
  check(decisions.every((d) => num(d.decided_at) === AT), `${label}: a decision not decided at the run's at`)
  check(new Set(decisions.map(key)).size === decisions.length, `${label}: two decisions with one key`)

  // one tier change per customer, on one of its blacklist decisions
  const tierBefore = decisions.filter((d) => d.tier_before !== null && d.tier_before !== undefined)
  check(new Set(tierBefore.map((d) => str(d.customer_id))).size === tierBefore.length, `${label}: a customer's tier replaced twice`)
  check(tierBefore.every((d) => str(d.action) === "blacklist"), `${label}: a tier replaced by a decision that does not blacklist`)

  // flags: each on a decision of its customer, named by its action
  const flagLines: Array<string> = []
  for (const f of raw.flags) {
    const d = byId.get(str(f.decision_id))
    check(d !== undefined && str(d.customer_id) === str(f.customer_id) && str(d.action) === str(f.flag),
      `${label}: flag ${str(f.flag)} of ${str(f.customer_id)} not on a decision of its customer and action`)
    flagLines.push(canonical([str(f.customer_id), str(f.flag), d === undefined ? null : key(d), num(f.raised_at), f.cleared_at, num(f.version)]))
  }

  // events: customer.flagged names its decision; customer.tier_changed
  const eventLines: Array<string> = []
  let flagged = 0
  let tierChanged = 0
  for (const e of raw.events) {
    const payload = JSON.parse(str(e.payload)) as Record<string, unknown>
    if (str(e.type) === "customer.flagged") {
      flagged++
      const d = byId.get(str(payload.decisionId))
      check(d !== undefined && str(d.customer_id) === str(e.subject) && str(d.rule_id) === str(payload.ruleId) &&
        num(d.rule_version) === num(payload.ruleVersion) && str(d.action) === str(payload.action) &&
        str(d.severity) === str(payload.severity),
        `${label}: a customer.flagged event not of its decision (${str(e.payload)})`)
      const { decisionId: _, ...rest } = payload
      eventLines.push(canonical([str(e.channel), str(e.type), str(e.subject), d === undefined ? null : key(d), rest, num(e.occurred_at)]))
    } else {
      if (str(e.type) === "customer.tier_changed") tierChanged++
      eventLines.push(canonical([str(e.channel), str(e.type), str(e.subject), payload, num(e.occurred_at)]))
    }
  }
  check(flagged === decisions.length, `${label}: ${flagged} customer.flagged events for ${decisions.length} decisions`)
  check(tierChanged === tierBefore.length, `${label}: ${tierChanged} customer.tier_changed events for ${tierBefore.length} tiers replaced`)

  // activities: one per decision, of it; blacklisted iff it replaced the tier. Which of a customer's
  // two blacklist decisions replaced the tier is the smaller random id's: compared without the window.
  const activityLines: Array<string> = []
  for (const a of raw.activities) {
    const d = byId.get(str(a.subject_id))
    const data = JSON.parse(str(a.data)) as Record<string, unknown>
    const window = data.window as { from?: string; to?: string } | undefined
    const replaced = d !== undefined && d.tier_before !== null && d.tier_before !== undefined
    check(d !== undefined && str(d.customer_id) === str(a.customer_id) && str(data.decisionId) === str(d.id) &&
      window?.from === new Date(num(d.window_from)).toISOString() && window?.to === new Date(num(d.window_to)).toISOString() &&
      str(a.kind) === (replaced ? "fraud.blacklisted" : "fraud.flagged"),
      `${label}: an activity not of its decision (${str(a.data)})`)
    const { decisionId: _, window: __, ...rest } = data
    activityLines.push(canonical([str(a.customer_id), str(a.actor), str(a.kind), str(a.subject_type), str(d?.rule_id), str(a.summary), rest,
      num(a.at)]))
  }
  check(raw.activities.length === decisions.length, `${label}: ${raw.activities.length} activities for ${decisions.length} decisions`)

  const run = raw.runs[0] ?? {}
  check(raw.runs.length === 1 && num(run.finished_at) > 0 && num(run.at) === AT && num(run.anchor_from) === ANCHOR_FROM,
    `${label}: the run row ${canonical(raw.runs)}`)
  const runCounts = { evaluated: num(run.evaluated), decisions: num(run.decisions), flags: num(run.flags), blacklisted: num(run.blacklisted) }
  check(runCounts.decisions === decisions.length && runCounts.flags === raw.flags.length && runCounts.blacklisted === tierBefore.length,
    `${label}: the run row counts ${canonical(runCounts)}, the tables ${decisions.length} decisions, ${raw.flags.length} flags`)
  check(raw.customers.length === tierBefore.length && raw.customers.every((c) => str(c.tier) === "blacklist"),
    `${label}: ${raw.customers.length} customers changed for ${tierBefore.length} tiers replaced`)

  const compare: Record<string, string> = {
    decisions: `${decisions.length} ${digest(decisions.map((d) => canonical([key(d), str(d.severity), str(d.action), JSON.parse(str(d.evidence)), num(d.decided_at)])))}`,
    "replaced tiers": `${tierBefore.length} ${digest(tierBefore.map((d) => canonical([str(d.customer_id), str(d.rule_id), str(d.tier_before)])))}`,
    flags: `${raw.flags.length} ${digest(flagLines)}`,
    events: `${raw.events.length} ${digest(eventLines)}`,
    activities: `${raw.activities.length} ${digest(activityLines)}`,
    customers: `${raw.customers.length} ${digest(raw.customers.map((c) => canonical([str(c.id), str(c.tier), num(c.updated_at), num(c.purchase_version)])))}`,
    tiers: canonical(raw.tiers.map((t) => [str(t.tier), num(t.n)])),
    run: canonical(runCounts),
    rules: canonical(raw.rules.map((r) => [str(r.id), num(r.version), str(r.kind), str(r.definition), str(r.severity), str(r.action)]))
  }
  return {
    compare,
    decisions: decisions.length,
    byRule,
    flags: raw.flags.length,
    flagged,
    tierChanged,
    activities: raw.activities.length,
    blacklisted: tierBefore.length,
    run: runCounts,
    perCustomer
  }
}

/** Customers `1…CUSTOMERS` of class `c` (`i mod 1000`), with their group `i div 1000`. */
const classMembers = (c: number): Array<{ i: number; group: number }> => {
  const out: Array<{ i: number; group: number }> = []
  for (let i = c; i <= CUSTOMERS; i += 1000) out.push({ i, group: Math.floor(i / 1000) })
  return out
}

/** The decisions are those the data set was built to give. */
const checkDesign = (label: string, st: State): void => {
  const expect = (ruleId: string, klass: number, count: (group: number) => number, nearMiss: number, anyOther: boolean) => {
    const got = st.perCustomer.get(ruleId) ?? new Map<number, number>()
    let wrong = 0
    for (const { i, group } of classMembers(klass)) if ((got.get(i) ?? 0) !== count(group)) wrong++
    const near = classMembers(nearMiss).filter(({ i }) => got.has(i)).length
    const others = [...got.keys()].filter((i) => i % 1000 !== klass).length
    check(wrong === 0, `${label}: ${wrong} of the ${classMembers(klass).length} designed ${ruleId} trippers without their decisions`)
    check(near === 0, `${label}: ${near} ${ruleId} near misses decided`)
    check(anyOther || others === 0, `${label}: ${others} ${ruleId} decisions of customers not built to trip it`)
  }
  expect(WA.id, CLASS.walletAbuse, (g) => (g % 2 === 0 ? 2 : 1), CLASS.walletAbuseNearMiss, false)
  expect(SD.id, CLASS.selfDealing, () => 1, CLASS.selfDealingNearMiss, false)
  expect(HR.id, CLASS.highReturn, (g) => (g % 5 === 0 ? 2 : 1), CLASS.highReturnNearMiss, true)
}

// --- one engine -------------------------------------------------------------------------------------

interface LibraryRun {
  readonly ms: number
  readonly report: { evaluated: number; decisions: number; flags: number; blacklisted: number; batches: number }
  readonly rss: { readonly ready: number; readonly before: number; readonly peak: number }
}
interface BaselineRun {
  readonly ms: number
  /** ms of each statement */
  readonly statements: ReadonlyArray<number>
}

interface EngineSide {
  readonly engine: Engine
  readonly database: unknown
  /** Deletes what the last run wrote, restores the customers, vacuums and checkpoints. */
  readonly reset: () => Promise<void>
  readonly baseline: (runId: string) => Promise<BaselineRun>
  readonly raw: () => Promise<Raw>
  readonly close: () => Promise<void>
}

const FRAUD_TABLES = ["c360_fraud_flags", "c360_fraud_decisions", "c360_fraud_runs", "c360_fraud_rules", "c360_outbox", "c360_activities"]

const libraryRun = async (side: EngineSide, call: "run" | "backtest"): Promise<LibraryRun & { hits?: number }> => {
  const child = await startLibraryProcess(side.database, NOW)
  let closed = false
  try {
    const options = call === "run"
      ? { at: new Date(AT).toISOString(), ...(BATCH === undefined ? {} : { batchSize: BATCH }) }
      : { from: new Date(ANCHOR_FROM + 1).toISOString(), to: new Date(AT).toISOString(), limit: 100_000, ...(BATCH === undefined ? {} : { batchSize: BATCH }) }
    const r = await child.call<Record<string, unknown>>(`fraud.${call}`, [options])
    await child.close()
    closed = true
    const report = {
      evaluated: num(r.result.evaluated),
      decisions: num(r.result.decisions),
      flags: num(r.result.flags),
      blacklisted: num(r.result.blacklisted),
      batches: num(r.result.batches)
    }
    return {
      ms: r.ms,
      report,
      rss: { ready: child.readyRss, before: r.rssBefore, peak: r.callPeak },
      ...(call === "backtest" ? { hits: (r.result.hits as Array<unknown>).length } : {})
    }
  } finally {
    if (!closed) await child.close().catch(() => undefined)
  }
}

const pgDatabases = benchDatabases(PG_URL, "c360_bench_fraud", "fraud")

const pgSide = async (): Promise<EngineSide> => {
  const t0 = performance.now()
  const database = await pgDatabases.create("")
  const url = withDatabase(PG_URL, database)
  await (await createCustomer360({ database: { postgres: { url } } })).close()
  const loaded = await pgDatabases.admin((c) => loadPg(c, { customers: CUSTOMERS, now: NOW }, (l) => console.log(`fraud: PostgreSQL load: ${l}`)), database)
  const size = await pgDatabases.admin(async (c) => Number((await c.query(`SELECT pg_database_size($1) AS s`, [database])).rows[0].s))
  describeLoad("PostgreSQL", loaded, `${mb(size)}`, t0)
  const client = new pg.Client({ connectionString: url, application_name: "c360-bench-fraud" })
  client.on("error", () => undefined) // the database dropped under it (Ctrl-C): the run is over anyway
  await client.connect()
  const queries = stateQueries()
  return {
    engine: "PostgreSQL",
    database: { postgres: { url } },
    reset: async () => {
      await client.query("SET session_replication_role = replica") // the purchase-version guard lets a version go back
      await client.query("BEGIN")
      for (const t of FRAUD_TABLES) await client.query(`DELETE FROM ${t}`)
      await client.query(`UPDATE c360_customers c SET tier = s.tier, updated_at = s.updated_at, purchase_version = s.purchase_version
        FROM bench_customer_state s WHERE s.id = c.id AND c.updated_at = ${AT}`)
      await client.query("COMMIT")
      await client.query("RESET session_replication_role")
      await client.query(`VACUUM ANALYZE ${[...FRAUD_TABLES, "c360_customers"].join(", ")}`)
      await client.query("CHECKPOINT")
    },
    baseline: async (runId) => {
      const statements = baselineSql("PostgreSQL", runId, AT, ACTOR)
      const times: Array<number> = []
      const t = performance.now()
      await client.query("BEGIN")
      for (const sql of statements) {
        const ts = performance.now()
        await client.query(sql)
        times.push(performance.now() - ts)
      }
      await client.query("COMMIT")
      return { ms: performance.now() - t, statements: times }
    },
    raw: async () => {
      const out = {} as Record<string, ReadonlyArray<Row>>
      for (const [k, q] of Object.entries(queries)) out[k] = (await client.query(q)).rows as Array<Row>
      return out as Raw
    },
    close: () => client.end()
  }
}

const removeDatabase = (file: string) => {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true })
}

const sqliteSide = async (dir: string): Promise<EngineSide> => {
  const t0 = performance.now()
  const file = join(dir, "fraud.sqlite")
  await (await createCustomer360({ database: { sqlite: { filename: file } } })).close()
  const db = new Sqlite(file)
  db.pragma("journal_mode = WAL")
  db.pragma("busy_timeout = 5000")
  db.pragma("synchronous = NORMAL")
  const loaded = loadSqlite(db, { customers: CUSTOMERS, now: NOW }, (l) => console.log(`fraud: SQLite load: ${l}`))
  db.pragma("foreign_keys = ON")
  describeLoad("SQLite", loaded, `${mb(statSync(file).size)} file`, t0)
  const queries = Object.fromEntries(Object.entries(stateQueries()).map(([k, q]) => [k, db.prepare(q)]))
  const guard = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name = 'c360_customers_purchase_version_guard'`)
    .get() as { name: string; sql: string }
  return {
    engine: "SQLite",
    database: { sqlite: { filename: file } },
    reset: async () => {
      db.transaction(() => {
        for (const t of FRAUD_TABLES) db.exec(`DELETE FROM ${t}`)
        db.exec(`DROP TRIGGER ${guard.name}`) // lets a version go back
        db.exec(`UPDATE c360_customers SET tier = s.tier, updated_at = s.updated_at, purchase_version = s.purchase_version
          FROM bench_customer_state s WHERE s.id = c360_customers.id AND c360_customers.updated_at = ${AT}`)
        db.exec(guard.sql)
      }).immediate()
      db.pragma("wal_checkpoint(TRUNCATE)")
    },
    baseline: async (runId) => {
      const statements = baselineSql("SQLite", runId, AT, ACTOR).map((sql) => db.prepare(sql))
      const times: Array<number> = []
      const t = performance.now()
      db.transaction(() => {
        for (const st of statements) {
          const ts = performance.now()
          st.run()
          times.push(performance.now() - ts)
        }
      }).immediate()
      return { ms: performance.now() - t, statements: times }
    },
    raw: async () => Object.fromEntries(Object.entries(queries).map(([k, st]) => [k, st.all() as Array<Row>])) as unknown as Raw,
    close: async () => {
      db.close()
      removeDatabase(file)
    }
  }
}

const describeLoad = (engine: Engine, loaded: Loaded, size: string, t0: number): void => {
  const rows = loaded.ledgerEntries + loaded.purchases + loaded.returns
  console.log(`fraud: ${engine} data set: ${fmt(loaded.customers)} customers, ${fmt(loaded.ledgerEntries)} ledger entries, ` +
    `${fmt(loaded.purchases)} purchases, ${fmt(loaded.returns)} returns (${fmt(rows)} rows of history), ${size} (${elapsed(t0)})`)
  summary.push({
    label: `${engine} data set`,
    value: `${fmt(loaded.customers)} customers; ${fmt(loaded.ledgerEntries)} ledger entries + ${fmt(loaded.purchases)} purchases + ` +
      `${fmt(loaded.returns)} returns = ${fmt(rows)} rows over 8 days; ${size}, loaded in ${elapsed(t0)}`
  })
  check(loaded.customers === CUSTOMERS, `${engine}: loaded ${loaded.customers} customers, expected ${CUSTOMERS}`)
}

interface Round {
  readonly lib: LibraryRun
  readonly base: BaselineRun
  readonly libState: State
  readonly baseState: State
}

const runEngine = async (side: EngineSide): Promise<void> => {
  const t0 = performance.now()
  const engine = side.engine
  const rounds: Array<Round> = []
  for (let n = 0; n < ROUNDS; n++) {
    const libraryFirst = n % 2 === 0
    let lib: LibraryRun | undefined
    let base: BaselineRun | undefined
    let libState: State | undefined
    let baseState: State | undefined
    for (const who of libraryFirst ? ["library", "baseline"] as const : ["baseline", "library"] as const) {
      await side.reset()
      await noteOthers(`${engine} round ${n + 1} ${who}`)
      if (who === "library") {
        lib = await libraryRun(side, "run")
        libState = summarize(`${engine} round ${n + 1} library`, await side.raw())
      } else {
        base = await side.baseline(newId("frr", AT))
        baseState = summarize(`${engine} round ${n + 1} baseline`, await side.raw())
      }
    }
    const label = `${engine} round ${n + 1}`
    let same = true
    for (const k of Object.keys(libState!.compare)) {
      if (libState!.compare[k] !== baseState!.compare[k]) {
        same = false
        check(false, `${label}: ${k} differ: library ${libState!.compare[k]!.slice(0, 400)}, baseline ${baseState!.compare[k]!.slice(0, 400)}`)
      }
    }
    const r = lib!.report
    check(r.decisions === libState!.decisions && r.flags === libState!.flags && r.blacklisted === libState!.blacklisted &&
      r.evaluated === libState!.run.evaluated,
      `${label}: the library reported ${canonical(r)}, its tables ${canonical(libState!.run)}`)
    const expectedBatches = Math.floor(CUSTOMERS / (BATCH ?? 5000)) + 1
    check(r.batches === expectedBatches, `${label}: the library reported ${r.batches} batches, expected ${expectedBatches}`)
    checkDesign(`${label} library`, libState!)
    checkDesign(`${label} baseline`, baseState!)
    rounds.push({ lib: lib!, base: base!, libState: libState!, baseState: baseState! })
    const b = baseState!
    console.log(`fraud: ${label} (${libraryFirst ? "library first" : "baseline first"}): library ${s(lib!.ms)} ` +
      `(${fmt(r.decisions)} decisions, ${fmt(r.flags)} flags, ${fmt(r.blacklisted)} blacklisted, ${fmt(r.evaluated)} customers evaluated, ` +
      `${r.batches} batches), baseline ${s(base!.ms)} (${fmt(b.decisions)} decisions, ${fmt(b.flags)} flags, ${fmt(b.blacklisted)} blacklisted, ` +
      `${fmt(b.run.evaluated)} evaluated); ${x(lib!.ms / base!.ms)}; library process peak RSS ${mb(lib!.rss.peak)} ` +
      `(ready ${mb(lib!.rss.ready)}); results ${same ? "identical" : "DIFFER"}; ${load()}`)
    console.log(`  baseline statements: ${list(base!.statements, s)} (rules, run row, decisions [the evaluation], tiers before, flags, ` +
      `flagged events, tier events, activities, customers, run counts)`)
  }
  const ratios = rounds.map((r) => r.lib.ms / r.base.ms)
  const medLib = median(rounds.map((r) => r.lib.ms))
  const medBase = median(rounds.map((r) => r.base.ms))
  const peak = Math.max(...rounds.map((r) => r.lib.rss.peak))
  const st = rounds[0]!.libState
  const byRule = Object.entries(st.byRule).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")
  const decisionsAgree = rounds.every((r) => r.lib.report.decisions === r.baseState.decisions)
  console.log(`fraud: ${engine}, ${fmt(CUSTOMERS)} customers, medians of ${ROUNDS} round(s):`)
  console.log(`  library fraud.run() ${s(medLib)} (${list(rounds.map((r) => r.lib.ms), s)}), baseline ${s(medBase)} ` +
    `(${list(rounds.map((r) => r.base.ms), s)}); ratio ${x(median(ratios))} (per round ${list(ratios, x)})`)
  console.log(`  decisions: library ${list(rounds.map((r) => r.lib.report.decisions), fmt)}, baseline ${list(rounds.map((r) => r.baseState.decisions), fmt)} ` +
    `(${byRule}); flags ${fmt(st.flags)}, blacklisted ${fmt(st.blacklisted)}, customers evaluated ${fmt(st.run.evaluated)}`)
  console.log(`  library process peak RSS ${mb(peak)} (per round ${list(rounds.map((r) => r.lib.rss.peak), mb)}; ` +
    `${mb(rounds[0]!.lib.rss.ready)} once the library was loaded)`)
  summary.push({ label: `${engine} library fraud.run() (batch ${fmt(BATCH ?? 5000)})`, value: `${s(medLib)} (rounds ${list(rounds.map((r) => r.lib.ms), s)})` })
  summary.push({ label: `${engine} baseline (10 statements, 1 transaction)`, value: `${s(medBase)} (rounds ${list(rounds.map((r) => r.base.ms), s)})` })
  summary.push({
    label: `${engine} decisions library / baseline`,
    value: `${list(rounds.map((r) => r.lib.report.decisions), fmt)} / ${list(rounds.map((r) => r.baseState.decisions), fmt)} ` +
      `(${byRule}; ${fmt(st.flags)} flags, ${fmt(st.blacklisted)} blacklisted; ${decisionsAgree ? "equal" : "NOT EQUAL"})`
  })
  summary.push({
    label: `${engine} library/baseline`,
    value: `${x(median(ratios))} (rounds ${list(ratios, x)})`,
    target: `≤ ${x(TARGET)}`,
    pass: median(ratios) <= TARGET
  })
  summary.push({
    label: `${engine} library process peak RSS`,
    value: `${mb(peak)} (${mb(rounds[0]!.lib.rss.ready)} loaded and idle)`,
    target: "< 256 MB",
    pass: peak < RSS_TARGET
  })

  // diagnostic: the evaluators alone (a backtest over the run's range writes nothing)
  await side.reset()
  await noteOthers(`${engine} backtest`)
  const bt = await libraryRun(side, "backtest")
  check(bt.hits === st.decisions, `${engine}: the backtest found ${bt.hits} hits, the run ${st.decisions} decisions`)
  console.log(`fraud: ${engine} backtest over the run's range (evaluation only): ${s(bt.ms)} (${fmt(bt.hits ?? 0)} hits), ` +
    `${x(bt.ms / medLib)} of the run's median, ${x(bt.ms / medBase)} of the baseline's; peak RSS ${mb(bt.rss.peak)}`)
  summary.push({
    label: `${engine} backtest, evaluation only (diagnostic)`,
    value: `${s(bt.ms)} (${fmt(bt.hits ?? 0)} hits): ${x(bt.ms / medLib)} of the run, ${x(bt.ms / medBase)} of the baseline; peak RSS ${mb(bt.rss.peak)}`
  })
  console.log(`fraud: ${engine} done in ${elapsed(t0)}, ${load()}`)
}

// --- main -------------------------------------------------------------------------------------------

const printSummary = (loadAtStart: string, builtFrom: string): void => {
  console.log("")
  console.log("=".repeat(100))
  console.log(`fraud benchmark summary (${new Date().toISOString()}, node ${process.version}, ` +
    `${QUICK ? "QUICK MODE, figures meaningless" : `${fmt(CUSTOMERS)} customers, ${ROUNDS} round(s)`})`)
  console.log(`  library: the built package (dist/), built from ${builtFrom}`)
  console.log(`  machine: ${loadAtStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share it)`)
  const width = Math.max(...summary.map((r) => r.label.length))
  const valueWidth = Math.max(...summary.map((r) => r.value.length))
  for (const r of summary) {
    const target = r.target === undefined ? "" : `  target ${r.target.padEnd(8)} ${r.pass ? "PASS" : "MISS"}`
    console.log(`  ${r.label.padEnd(width)}  ${r.value.padEnd(valueWidth)}${target}`)
  }
  console.log(disturbed === 0
    ? "  disturbance: no other benchmark or test run was seen as a timed run started"
    : `  disturbance: ${disturbed} timed run(s) started while another benchmark or test run shared the machine (see the !!! lines)`)
  console.log(problems.length === 0 ? "  correctness: all checks passed" : `  correctness: ${problems.length} MISMATCH(ES):\n    ${problems.join("\n    ")}`)
  console.log("=".repeat(100))
}

export async function run(): Promise<void> {
  const t0 = performance.now()
  const builtFrom = librarySource()
  const loadAtStart = load()
  console.log(`fraud: ${fmt(CUSTOMERS)} customers, ${ROUNDS} round(s), engines ${[...ENGINES].join(", ")}, at ${new Date(AT).toISOString()}, ` +
    `anchors after ${new Date(ANCHOR_FROM).toISOString()}; ${loadAtStart}${QUICK ? "; QUICK MODE" : ""}`)
  const dir = mkdtempSync(join(tmpdir(), "c360-bench-fraud-"))
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    console.error(`fraud: ${signal}, cleaning up`)
    void pgDatabases.dropAll().finally(() => {
      rmSync(dir, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const errors: Array<string> = []
  try {
    if (ENGINES.has("pg")) {
      const unreachable = await pgDatabases.reachable()
      if (unreachable !== null) {
        console.error(`fraud: !!! PostgreSQL is UNREACHABLE at ${PG_URL} (${unreachable}): SQLite only`)
        summary.push({ label: "PostgreSQL", value: `SKIPPED (unreachable: ${unreachable})` })
      } else {
        let side: EngineSide | undefined
        try {
          side = await pgSide()
          await runEngine(side)
        } catch (e) {
          errors.push(`PostgreSQL: ${e instanceof Error ? e.message : String(e)}`)
          console.error("fraud: PostgreSQL FAILED", e)
        } finally {
          await side?.close().catch(() => undefined)
          await pgDatabases.dropAll()
        }
      }
    }
    if (ENGINES.has("sqlite")) {
      let side: EngineSide | undefined
      try {
        side = await sqliteSide(dir)
        await runEngine(side)
      } catch (e) {
        errors.push(`SQLite: ${e instanceof Error ? e.message : String(e)}`)
        console.error("fraud: SQLite FAILED", e)
      } finally {
        await side?.close().catch(() => undefined)
      }
    }
  } finally {
    await pgDatabases.dropAll()
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true })
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  printSummary(loadAtStart, builtFrom)
  console.log(`fraud: total ${elapsed(t0)}`)
  if (errors.length > 0 || problems.length > 0) {
    process.exitCode = 1
    throw new Error(`fraud benchmark: ${errors.length} error(s), ${problems.length} correctness problem(s)`)
  }
}

export default run
