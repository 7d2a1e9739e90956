/**
 * RFM recomputation benchmark: `rfm.recompute()` (the daily `rfm` job) over 1,000,000 customers
 * and 5,000,000 purchases (`--customers 1000000`; by default 200,000 customers and 1,000,000
 * purchases, so that a run of both engines stays within about ten minutes), on PostgreSQL and
 * SQLite, against hand-written set-based SQL doing the same work, in the same run. Targets: library
 * time ≤ 1.5× the baseline's (the first run and the re-run each); peak RSS of the Node process
 * running the library < 256 MB.
 *
 * - Data set (support/purchase-data.ts): customers, their wallets, purchases over the last ~180 days
 *   (`business_day` the calendar day of `at` in Asia/Ho_Chi_Minh), a few returns, the customers'
 *   figures agreeing with them; every customer's tier `new` and no `c360_rfm` row yet (never
 *   scored), one customer in 1,000 blacklisted. Loaded set-based (`generate_series` on PostgreSQL,
 *   a recursive CTE on SQLite) into the schema the library's migrations made, once per engine; every
 *   run starts from an identical copy of it (PostgreSQL: `CREATE DATABASE … TEMPLATE`; SQLite: a
 *   file copy), so that both sides do exactly the same work.
 * - Library: the facade's `c360.rfm.recompute()` (default batch size, 5,000 customers), its clock
 *   fixed at the data set's "now". Baseline: three statements over the whole table in one
 *   transaction, written by hand from DOMAIN §6 with the driver (pg / better-sqlite3): the
 *   per-customer aggregate of the purchases scored with `CASE` and upserted into `c360_rfm`; a
 *   `customer.tier_changed` outbox row for each customer whose tier differs; the tiers set (with
 *   `updated_at` and `purchase_version`, as the library does).
 * - Each round, on two fresh copies (the library first in odd rounds, the baseline first in even
 *   ones): the first run, where about half the customers change tier (one event each), then a re-run
 *   on the same copy, where nothing changes (no event). A CHECKPOINT (PostgreSQL) or a WAL
 *   checkpoint (SQLite) before each timed run. Medians of the rounds; ratios per round.
 * - Peak RSS: each library side runs in a Node process of its own (support/library-process.ts:
 *   plain `node` importing `dist/`, one facade instance, driven over IPC; the time is taken inside
 *   it, around the call): its peak RSS is the kernel's high-water mark of that process (`VmHWM`)
 *   — exact, and not inflated by this process's own work (the SQLite load's page cache, the
 *   TypeScript loader).
 * - Checks: after both runs, the library's copy and the baseline's hold the same scores, segments
 *   and tiers (digests over every row), the same events (from → to counts; each event's scores and
 *   tier agree with the customer's row), every customer scored, no tier left different from its
 *   row, no event from a re-run; every R, F and M score, tier and segment occurs.
 * - Diagnostics: the library's first run at other batch sizes (`--sizes`, default 1000,20000), each
 *   on a fresh copy, against the baseline's median.
 *
 * Options (after `npm run bench -- rfm`): `--customers N` (default 200,000; rounded to a multiple
 * of 20; 5 purchases each on average), `--rounds R` (default 3), `--engines pg,sqlite`, `--sizes
 * 1000,20000` (`none`: skip). `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432); the bench
 * creates its own `c360_bench_rfm_*` databases and drops them at the end, also on failure or Ctrl-C;
 * without a server it runs SQLite only. `C360_BENCH_QUICK=1`: 20,000 customers, 1 round (for
 * checking the bench itself; its figures mean nothing).
 *
 * Exit code 0 on a MISS (this is a measurement); non-zero on an error or a correctness mismatch.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import Sqlite from "better-sqlite3"
import pg from "pg"
import { benchDatabases, withDatabase } from "./support/databases.js"
import { newId } from "./support/ids.js"
import { main } from "./support/library.js"
import { loadPg, loadSqlite, purchaseCount, vnBusinessDay } from "./support/purchase-data.js"
import { librarySource } from "./support/revision.js"
import { startLibraryProcess } from "./support/library-process.js"
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
const CUSTOMERS = Math.max(20, Math.round(Number(argValue("customers") ?? (QUICK ? 20_000 : 200_000)) / 20) * 20)
const ROUNDS = Math.max(1, Number(argValue("rounds") ?? (QUICK ? 1 : 3)))
const ENGINES = new Set((argValue("engines") ?? "pg,sqlite").split(",").map((e) => e.trim()))
const SIZES = (argValue("sizes") ?? "1000,20000") === "none"
  ? []
  : (argValue("sizes") ?? "1000,20000").split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0)
const DEFAULT_BATCH = 5_000
const TARGET = 1.5
const RSS_TARGET = 256 * 1024 * 1024

/** The data set's now, and so the clock of every run: the same work in every round. */
const NOW = Date.now()
const DAY = 86_400_000
const TODAY = vnBusinessDay(NOW)

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
  console.error(`rfm: MISMATCH ${message}`)
}

const s = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`)
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`
const x = (r: number): string => `${r.toFixed(2)}×`
const list = (xs: ReadonlyArray<number>, f: (n: number) => string): string => xs.map(f).join(", ")
const elapsed = (start: number): string => `${((performance.now() - start) / 1000).toFixed(1)} s`
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} CPUs`

// --- the baseline's SQL (by hand, from DOMAIN §6) -------------------------------------------------

type Engine = "PostgreSQL" | "SQLite"

/**
 * The whole recomputation as three statements: scores upserted, events, tiers. R: days since the
 * last purchase ≤ 7 → 5, ≤ 14 → 4, ≤ 30 → 3, ≤ 60 → 2, else (or none) 1. F: purchases in the 90
 * days up to today ≥ 11 → 5, ≥ 6 → 4, ≥ 3 → 3, ≥ 2 → 2, else 1. M: purchases less returns
 * > 10,000,000 → 5, ≥ 5,000,000 → 4, ≥ 2,000,000 → 3, ≥ 500,000 → 2, else 1. Tier: blacklist stays;
 * no purchase or younger than 30 days → new; R + F + M ≥ 14 (score ≥ 4.5) platinum, ≥ 11 (3.5)
 * gold, ≥ 8 (2.5) silver, else new. Segments: the ordered table of docs/purchases.md.
 */
const baselineSql = (engine: Engine): ReadonlyArray<string> => {
  const pgsql = engine === "PostgreSQL"
  const eventTime = newId("evt", NOW).slice(4, 14)
  const eventId = pgsql ? `'evt_${eventTime}' || upper(substr(md5(random()::text || c.id), 1, 16))` : `'evt_${eventTime}' || hex(randomblob(8))`
  const json = pgsql ? "json_build_object" : "json_object"
  const payload = `${json}('from', c.tier, 'to', x.tier, 'r', x.r, 'f', x.f, 'm', x.m, 'reason', 'rfm')${pgsql ? "::text" : ""}`
  const young = NOW - 30 * DAY
  return [
    `INSERT INTO c360_rfm (customer_id, last_day, frequency, monetary, r, f, m, segment, tier, as_of_day, scored_at)
    SELECT id, last_day, frequency, monetary, r, f, m,
      CASE WHEN r = 5 AND f = 5 AND m = 5 THEN 'Champions'
        WHEN r >= 3 AND f >= 3 AND m >= 2 THEN 'Potential Loyalist'
        WHEN r BETWEEN 2 AND 4 AND f BETWEEN 2 AND 4 AND m BETWEEN 2 AND 4 THEN 'Loyal'
        WHEN r BETWEEN 3 AND 4 AND f <= 3 AND m >= 3 THEN 'Promising'
        WHEN r >= 4 THEN 'New'
        WHEN r <= 2 AND f BETWEEN 3 AND 4 AND m >= 4 THEN 'Can''t Lose Them'
        WHEN r <= 2 AND f >= 2 AND m >= 4 THEN 'At Risk'
        WHEN r <= 3 AND f >= 3 AND m >= 3 THEN 'Need Attention'
        WHEN r BETWEEN 2 AND 3 THEN 'About To Sleep'
        ELSE 'Lost' END,
      CASE WHEN old_tier = 'blacklist' THEN 'blacklist' WHEN last_day IS NULL OR created_at > ${young} THEN 'new'
        WHEN r + f + m >= 14 THEN 'platinum' WHEN r + f + m >= 11 THEN 'gold' WHEN r + f + m >= 8 THEN 'silver' ELSE 'new' END,
      ${TODAY}, ${NOW}
    FROM (
      SELECT c.id, c.tier AS old_tier, c.created_at, a.last_day, coalesce(a.frequency, 0) AS frequency,
        coalesce(a.monetary, 0) AS monetary,
        CASE WHEN a.last_day IS NULL THEN 1 WHEN ${TODAY} - a.last_day <= 7 THEN 5 WHEN ${TODAY} - a.last_day <= 14 THEN 4
          WHEN ${TODAY} - a.last_day <= 30 THEN 3 WHEN ${TODAY} - a.last_day <= 60 THEN 2 ELSE 1 END AS r,
        CASE WHEN a.frequency >= 11 THEN 5 WHEN a.frequency >= 6 THEN 4 WHEN a.frequency >= 3 THEN 3 WHEN a.frequency >= 2 THEN 2
          ELSE 1 END AS f,
        CASE WHEN a.monetary > 10000000 THEN 5 WHEN a.monetary >= 5000000 THEN 4 WHEN a.monetary >= 2000000 THEN 3
          WHEN a.monetary >= 500000 THEN 2 ELSE 1 END AS m
      FROM c360_customers c LEFT JOIN (
        SELECT customer_id, max(business_day) AS last_day,
          sum(CASE WHEN business_day >= ${TODAY - 89} THEN 1 ELSE 0 END) AS frequency, sum(amount - returned) AS monetary
        FROM c360_purchases GROUP BY customer_id
      ) a ON a.customer_id = c.id
    ) s
    WHERE true
    ON CONFLICT (customer_id) DO UPDATE SET last_day = excluded.last_day, frequency = excluded.frequency,
      monetary = excluded.monetary, r = excluded.r, f = excluded.f, m = excluded.m, segment = excluded.segment,
      tier = excluded.tier, as_of_day = excluded.as_of_day, scored_at = excluded.scored_at`,
    `INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
    SELECT ${eventId}, 'customers', 'customer.tier_changed', c.id, ${payload}, ${NOW}
    FROM c360_customers c JOIN c360_rfm x ON x.customer_id = c.id
    WHERE c.tier <> x.tier
    ORDER BY c.id`,
    `UPDATE c360_customers SET tier = x.tier, updated_at = ${NOW}, purchase_version = purchase_version + 1
    FROM c360_rfm x
    WHERE x.customer_id = c360_customers.id AND c360_customers.tier <> x.tier`
  ]
}

// --- checks ---------------------------------------------------------------------------------------

const TIER_CODE = `CASE tier WHEN 'new' THEN 1 WHEN 'silver' THEN 2 WHEN 'gold' THEN 3 WHEN 'platinum' THEN 4 ELSE 5 END`

/** Queries whose answers must be equal on the library's copy and the baseline's (after both runs). */
const checkQueries = (engine: Engine): Record<string, string> => {
  const field = (name: string) => (engine === "PostgreSQL" ? `(o.payload::json->>'${name}')` : `json_extract(o.payload, '$.${name}')`)
  const num = (name: string) => (engine === "PostgreSQL" ? `${field(name)}::int` : field(name))
  return {
    rows: `SELECT count(*) AS n, sum(r) AS r, sum(f) AS f, sum(m) AS m, sum(frequency) AS frequency, sum(monetary) AS monetary,
        sum(coalesce(last_day, -1)) AS last_day, min(as_of_day) AS day_min, max(as_of_day) AS day_max,
        sum(CAST(substr(customer_id, 5) AS BIGINT) * ((r * 25 + f * 5 + m) * 1000 + ${TIER_CODE} * 100 + length(segment))) AS code
      FROM c360_rfm`,
    customers: `SELECT
        (SELECT count(*) FROM c360_customers c JOIN c360_rfm x ON x.customer_id = c.id WHERE c.tier <> x.tier) AS mismatched,
        (SELECT count(*) FROM c360_customers c WHERE NOT EXISTS (SELECT 1 FROM c360_rfm x WHERE x.customer_id = c.id)) AS unscored,
        (SELECT sum(purchase_version) FROM c360_customers) AS versions,
        (SELECT count(*) FROM c360_customers WHERE updated_at = ${NOW}) AS updated,
        (SELECT sum(CAST(substr(id, 5) AS BIGINT) * ${TIER_CODE}) FROM c360_customers) AS tiers`,
    events: `SELECT count(*) AS n, count(DISTINCT o.subject) AS subjects,
        sum(CASE WHEN ${num("r")} <> x.r OR ${num("f")} <> x.f OR ${num("m")} <> x.m OR ${field("to")} <> x.tier
          OR ${field("to")} = ${field("from")} OR ${field("reason")} <> 'rfm' OR o.occurred_at <> ${NOW} THEN 1 ELSE 0 END) AS bad
      FROM c360_outbox o JOIN c360_rfm x ON x.customer_id = o.subject WHERE o.type = 'customer.tier_changed'`,
    transitions: `SELECT ${field("from")} AS a, ${field("to")} AS b, count(*) AS n FROM c360_outbox o
      WHERE o.type = 'customer.tier_changed' GROUP BY 1, 2 ORDER BY 1, 2`,
    codes: `SELECT r, f, m, segment, tier, count(*) AS n FROM c360_rfm GROUP BY r, f, m, segment, tier ORDER BY r, f, m, segment, tier`
  }
}

type State = Record<string, string>

const normalize = (rows: ReadonlyArray<Record<string, unknown>>): string =>
  JSON.stringify(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)]))))

/** Every R, F, M score, every tier and every segment occurs (in the codes query's rows). */
const coverage = (codes: string): string[] => {
  const rows = JSON.parse(codes) as Array<Record<string, string>>
  const missing: string[] = []
  for (const d of ["r", "f", "m"]) {
    for (let v = 1; v <= 5; v++) if (!rows.some((r) => Number(r[d]) === v)) missing.push(`${d.toUpperCase()}=${v}`)
  }
  for (const t of ["new", "silver", "gold", "platinum", "blacklist"]) if (!rows.some((r) => r.tier === t)) missing.push(`tier ${t}`)
  const segments = ["Champions", "Potential Loyalist", "Loyal", "Promising", "New", "Can't Lose Them", "At Risk", "Need Attention",
    "About To Sleep", "Lost"]
  for (const g of segments) if (!rows.some((r) => r.segment === g)) missing.push(`segment ${g}`)
  return missing
}

/** Compares the two copies' states; returns whether they agree. */
const compareStates = (engine: Engine, round: string, lib: State, base: State, firstChanges: number, reported: ReadonlyArray<number>) => {
  let same = true
  for (const key of Object.keys(lib)) {
    if (lib[key] !== base[key]) {
      same = false
      check(false, `${engine} ${round}: ${key} differ:\n    library:  ${lib[key]!.slice(0, 600)}\n    baseline: ${base[key]!.slice(0, 600)}`)
    }
  }
  const rows = JSON.parse(lib.rows!)[0] as Record<string, string>
  const customers = JSON.parse(lib.customers!)[0] as Record<string, string>
  const events = JSON.parse(lib.events!)[0] as Record<string, string>
  check(Number(rows.n) === CUSTOMERS, `${engine} ${round}: ${rows.n} RFM rows for ${CUSTOMERS} customers`)
  check(Number(customers.unscored) === 0 && Number(customers.mismatched) === 0,
    `${engine} ${round}: ${customers.unscored} customers unscored, ${customers.mismatched} with a tier other than their row's`)
  check(Number(events.n) === firstChanges && Number(events.subjects) === firstChanges && Number(events.bad) === 0,
    `${engine} ${round}: ${events.n} tier events (${events.subjects} customers, ${events.bad} disagreeing with the rows), ` +
      `expected ${firstChanges}`)
  check(Number(customers.updated) === firstChanges, `${engine} ${round}: ${customers.updated} customers updated, expected ${firstChanges}`)
  check(reported[0] === firstChanges && reported[1] === 0,
    `${engine} ${round}: the library reported ${reported[0]} and ${reported[1]} changes, the baseline ${firstChanges} and 0`)
  const missing = coverage(lib.codes!)
  check(missing.length === 0, `${engine} ${round}: the data set lacks ${missing.join(", ")}`)
  return same
}

// --- one side of a round --------------------------------------------------------------------------

interface Runs {
  /** the first run (tiers change) and the re-run (nothing changes), ms */
  readonly first: number
  readonly again: number
  /** changes: the events written by each run */
  readonly changes: readonly [number, number]
  readonly rss?: { readonly base: number; readonly peak: number }
}

interface EngineSide {
  readonly engine: Engine
  /** a fresh copy of the loaded data set; its handle */
  readonly copy: (name: string) => Promise<string>
  readonly drop: (handle: string) => Promise<void>
  /** what a timed run starts from: a checkpoint */
  readonly settle: (handle: string) => Promise<void>
  readonly library: (handle: string, batchSize: number | undefined, runs: 1 | 2) => Promise<Runs>
  readonly baseline: (handle: string) => Promise<Runs>
  readonly state: (handle: string) => Promise<State>
}

/**
 * The library's runs on one copy: the facade over `database`, its clock at NOW, in a process of its
 * own (support/library-process.ts) — its peak RSS is that of a process running the library alone.
 */
const libraryRuns = async (
  side: Pick<EngineSide, "settle">,
  handle: string,
  database: unknown,
  batchSize: number | undefined,
  runs: 1 | 2
): Promise<Runs> => {
  const child = await startLibraryProcess(database, NOW)
  let closed = false
  try {
    const times: number[] = []
    const changes: number[] = []
    for (let k = 0; k < runs; k++) {
      await side.settle(handle)
      const r = await child.call<{ customers: number; changed: number; batches: number }>("rfm.recompute",
        batchSize === undefined ? [] : [{ batchSize }])
      times.push(r.ms)
      changes.push(r.result.changed)
      check(r.result.customers === CUSTOMERS, `library reported ${r.result.customers} customers, expected ${CUSTOMERS}`)
      // full batches, then the one that finds fewer than a batch left (maybe none)
      const expected = Math.floor(CUSTOMERS / (batchSize ?? DEFAULT_BATCH)) + 1
      check(r.result.batches === expected, `library reported ${r.result.batches} batches of ${batchSize ?? DEFAULT_BATCH}, expected ${expected}`)
    }
    const peak = await child.close()
    closed = true
    return { first: times[0]!, again: times[1] ?? NaN, changes: [changes[0]!, changes[1] ?? 0], rss: { base: child.readyRss, peak } }
  } finally {
    if (!closed) await child.close().catch(() => undefined)
  }
}

// --- PostgreSQL -------------------------------------------------------------------------------------

const pgDatabases = benchDatabases(PG_URL, "c360_bench_rfm", "rfm")

const pgSide = async (): Promise<EngineSide> => {
  const t0 = performance.now()
  const source = await pgDatabases.create("_source")
  const url = (db: string) => withDatabase(PG_URL, db)
  await (await createCustomer360({ database: { postgres: { url: url(source) } } })).close()
  const loaded = await pgDatabases.admin((c) => loadPg(c, { customers: CUSTOMERS, now: NOW, blacklist: true }, (l) => console.log(`rfm: PostgreSQL load: ${l}`)), source)
  const size = await pgDatabases.admin(async (c) => Number((await c.query(`SELECT pg_database_size($1) AS s`, [source])).rows[0].s))
  console.log(`rfm: PostgreSQL data set: ${fmt(loaded.customers)} customers, ${fmt(loaded.purchases)} purchases, ${fmt(loaded.returns)} returns, ` +
    `${mb(size)} (${elapsed(t0)})`)
  summary.push({ label: "PostgreSQL data set", value: `${fmt(loaded.customers)} customers, ${fmt(loaded.purchases)} purchases, ` +
    `${fmt(loaded.returns)} returns, ${mb(size)}, loaded in ${elapsed(t0)}` })
  check(loaded.customers === CUSTOMERS && loaded.purchases === purchaseCount(CUSTOMERS), `PostgreSQL: loaded ${JSON.stringify(loaded)}`)
  const queries = checkQueries("PostgreSQL")
  const side: EngineSide = {
    engine: "PostgreSQL",
    copy: (name) => pgDatabases.create(`_${name}`, source),
    drop: (db) => pgDatabases.drop(db),
    settle: async () => {
      await pgDatabases.admin((c) => c.query("CHECKPOINT"))
    },
    library: (db, batchSize, runs) => libraryRuns(side, db, { postgres: { url: url(db) } }, batchSize, runs),
    baseline: async (db) => {
      const client = new pg.Client({ connectionString: url(db), application_name: "c360-bench-rfm-baseline" })
      await client.connect()
      try {
        await client.query("SELECT 1") // connected, as the library's pool is
        const statements = baselineSql("PostgreSQL")
        const times: number[] = []
        const changes: number[] = []
        for (let k = 0; k < 2; k++) {
          await side.settle(db)
          const t = performance.now()
          await client.query("BEGIN")
          const results = []
          for (const sql of statements) results.push(await client.query(sql))
          await client.query("COMMIT")
          times.push(performance.now() - t)
          changes.push(results[1]!.rowCount ?? 0)
        }
        return { first: times[0]!, again: times[1]!, changes: [changes[0]!, changes[1]!] }
      } finally {
        await client.end()
      }
    },
    state: (db) =>
      pgDatabases.admin(async (c) => {
        const out: State = {}
        for (const [k, q] of Object.entries(queries)) out[k] = normalize((await c.query(q)).rows)
        return out
      }, db)
  }
  return side
}

// --- SQLite -------------------------------------------------------------------------------------------

const sqlitePragmas = (db: Sqlite.Database): void => {
  db.pragma("journal_mode = WAL")
  db.pragma("busy_timeout = 5000")
  db.pragma("foreign_keys = ON")
  db.pragma("synchronous = NORMAL")
}

const removeDatabase = (file: string) => {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true })
}

const sqliteSide = async (dir: string): Promise<EngineSide> => {
  const t0 = performance.now()
  const source = join(dir, "rfm-source.sqlite")
  await (await createCustomer360({ database: { sqlite: { filename: source } } })).close()
  const db = new Sqlite(source)
  sqlitePragmas(db)
  const loaded = loadSqlite(db, { customers: CUSTOMERS, now: NOW, blacklist: true }, (l) => console.log(`rfm: SQLite load: ${l}`))
  db.close()
  const size = statSync(source).size
  console.log(`rfm: SQLite data set: ${fmt(loaded.customers)} customers, ${fmt(loaded.purchases)} purchases, ${fmt(loaded.returns)} returns, ` +
    `${mb(size)} file (${elapsed(t0)})`)
  summary.push({ label: "SQLite data set", value: `${fmt(loaded.customers)} customers, ${fmt(loaded.purchases)} purchases, ` +
    `${fmt(loaded.returns)} returns, ${mb(size)} file, loaded in ${elapsed(t0)}` })
  check(loaded.customers === CUSTOMERS && loaded.purchases === purchaseCount(CUSTOMERS), `SQLite: loaded ${JSON.stringify(loaded)}`)
  const queries = checkQueries("SQLite")
  const side: EngineSide = {
    engine: "SQLite",
    copy: async (name) => {
      const file = join(dir, `rfm-${name}.sqlite`)
      copyFileSync(source, file)
      if (existsSync(`${source}-wal`)) copyFileSync(`${source}-wal`, `${file}-wal`)
      return file
    },
    drop: async (file) => removeDatabase(file),
    settle: async (file) => {
      const d = new Sqlite(file)
      try {
        d.pragma("wal_checkpoint(TRUNCATE)")
      } finally {
        d.close()
      }
    },
    library: (file, batchSize, runs) => libraryRuns(side, file, { sqlite: { filename: file } }, batchSize, runs),
    baseline: async (file) => {
      const base = new Sqlite(file)
      try {
        sqlitePragmas(base)
        const statements = baselineSql("SQLite").map((sql) => base.prepare(sql))
        const times: number[] = []
        const changes: number[] = []
        for (let k = 0; k < 2; k++) {
          base.pragma("wal_checkpoint(TRUNCATE)")
          const t = performance.now()
          const results = base.transaction(() => statements.map((st) => st.run())).immediate()
          times.push(performance.now() - t)
          changes.push(results[1]!.changes)
        }
        return { first: times[0]!, again: times[1]!, changes: [changes[0]!, changes[1]!] }
      } finally {
        base.close()
      }
    },
    state: async (file) => {
      const d = new Sqlite(file, { readonly: true })
      try {
        const out: State = {}
        for (const [k, q] of Object.entries(queries)) out[k] = normalize(d.prepare(q).all() as Array<Record<string, unknown>>)
        return out
      } finally {
        d.close()
      }
    }
  }
  return side
}

// --- rounds -------------------------------------------------------------------------------------------

interface Round {
  readonly lib: Runs
  readonly base: Runs
}

const runEngine = async (side: EngineSide): Promise<void> => {
  const t0 = performance.now()
  const engine = side.engine
  const rounds: Array<Round> = []
  for (let n = 0; n < ROUNDS; n++) {
    const libraryFirst = n % 2 === 0
    const libCopy = await side.copy(`lib${n}`)
    const baseCopy = await side.copy(`base${n}`)
    let lib: Runs
    let base: Runs
    if (libraryFirst) {
      lib = await side.library(libCopy, undefined, 2)
      base = await side.baseline(baseCopy)
    } else {
      base = await side.baseline(baseCopy)
      lib = await side.library(libCopy, undefined, 2)
    }
    const [libState, baseState] = [await side.state(libCopy), await side.state(baseCopy)]
    const same = compareStates(engine, `round ${n + 1}`, libState, baseState, base.changes[0], lib.changes)
    check(base.changes[1] === 0, `${engine} round ${n + 1}: the baseline's re-run wrote ${base.changes[1]} events`)
    await side.drop(libCopy)
    await side.drop(baseCopy)
    rounds.push({ lib, base })
    console.log(`rfm: ${engine} round ${n + 1} (${libraryFirst ? "library first" : "baseline first"}): ` +
      `first run (${fmt(lib.changes[0])} tier changes) library ${s(lib.first)}, baseline ${s(base.first)}, ${x(lib.first / base.first)}; ` +
      `re-run (no change) library ${s(lib.again)}, baseline ${s(base.again)}, ${x(lib.again / base.again)}; ` +
      `library process peak RSS ${mb(lib.rss!.peak)} (+${mb(lib.rss!.peak - lib.rss!.base)}); states ${same ? "identical" : "DIFFER"}; ${load()}`)
  }
  const firstRatios = rounds.map((r) => r.lib.first / r.base.first)
  const againRatios = rounds.map((r) => r.lib.again / r.base.again)
  const medLibFirst = median(rounds.map((r) => r.lib.first))
  const medBaseFirst = median(rounds.map((r) => r.base.first))
  const medLibAgain = median(rounds.map((r) => r.lib.again))
  const medBaseAgain = median(rounds.map((r) => r.base.again))
  const peak = Math.max(...rounds.map((r) => r.lib.rss!.peak))
  const rise = Math.max(...rounds.map((r) => r.lib.rss!.peak - r.lib.rss!.base))
  const changes = rounds[0]!.base.changes[0]
  console.log(`rfm: ${engine}, ${fmt(CUSTOMERS)} customers, medians of ${ROUNDS} round(s):`)
  console.log(`  first run (${fmt(changes)} tier changes): library recompute() ${s(medLibFirst)} (${list(rounds.map((r) => r.lib.first), s)}), ` +
    `baseline ${s(medBaseFirst)} (${list(rounds.map((r) => r.base.first), s)}); ratio ${x(median(firstRatios))} (per round ${list(firstRatios, x)})`)
  console.log(`  re-run (no change):  library ${s(medLibAgain)} (${list(rounds.map((r) => r.lib.again), s)}), ` +
    `baseline ${s(medBaseAgain)} (${list(rounds.map((r) => r.base.again), s)}); ratio ${x(median(againRatios))} (per round ${list(againRatios, x)})`)
  console.log(`  library process peak RSS ${mb(peak)} (at most +${mb(rise)} over its RSS once the library was loaded)`)
  summary.push({ label: `${engine} first run, library (batch ${fmt(DEFAULT_BATCH)})`, value: `${s(medLibFirst)} (${fmt(changes)} tier changes)` })
  summary.push({ label: `${engine} first run, baseline (3 statements)`, value: s(medBaseFirst) })
  summary.push({
    label: `${engine} first run, library/baseline`,
    value: `${x(median(firstRatios))} (rounds ${list(firstRatios, x)})`,
    target: `≤ ${x(TARGET)}`,
    pass: median(firstRatios) <= TARGET
  })
  summary.push({ label: `${engine} re-run, library / baseline`, value: `${s(medLibAgain)} / ${s(medBaseAgain)} (no change, no event)` })
  summary.push({
    label: `${engine} re-run, library/baseline`,
    value: `${x(median(againRatios))} (rounds ${list(againRatios, x)})`,
    target: `≤ ${x(TARGET)}`,
    pass: median(againRatios) <= TARGET
  })
  summary.push({
    label: `${engine} library process peak RSS`,
    value: `${mb(peak)} (+${mb(rise)} over the library loaded, idle)`,
    target: "< 256 MB",
    pass: peak < RSS_TARGET
  })

  // diagnostics: other batch sizes, first run only, each on a fresh copy
  for (const size of SIZES) {
    const copy = await side.copy(`size${size}`)
    try {
      const r = await side.library(copy, size, 1)
      check(r.changes[0] === changes, `${engine} batch ${size}: ${r.changes[0]} changes, expected ${changes}`)
      console.log(`rfm: ${engine} batch size ${fmt(size)}: first run ${s(r.first)}, ${x(r.first / medBaseFirst)} of the baseline's median; ` +
        `peak RSS ${mb(r.rss!.peak)}`)
      summary.push({
        label: `${engine} first run, batch ${fmt(size)} (diagnostic)`,
        value: `${s(r.first)}, ${x(r.first / medBaseFirst)} of the baseline, peak RSS ${mb(r.rss!.peak)}`
      })
    } finally {
      await side.drop(copy)
    }
  }
  console.log(`rfm: ${engine} done in ${elapsed(t0)}, ${load()}`)
}

// --- main -------------------------------------------------------------------------------------------

const printSummary = (loadAtStart: string, builtFrom: string): void => {
  console.log("")
  console.log("=".repeat(100))
  console.log(`rfm benchmark summary (${new Date().toISOString()}, node ${process.version}, ` +
    `${QUICK ? "QUICK MODE, figures meaningless" : `${fmt(CUSTOMERS)} customers, ${ROUNDS} round(s)`})`)
  console.log(`  library: the built package (dist/), built from ${builtFrom}`)
  console.log(`  machine: ${loadAtStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share it)`)
  const width = Math.max(...summary.map((r) => r.label.length))
  const valueWidth = Math.max(...summary.map((r) => r.value.length))
  for (const r of summary) {
    const target = r.target === undefined ? "" : `  target ${r.target.padEnd(8)} ${r.pass ? "PASS" : "MISS"}`
    console.log(`  ${r.label.padEnd(width)}  ${r.value.padEnd(valueWidth)}${target}`)
  }
  console.log(`  this (benchmark) process's own peak RSS, loads and baselines included: ${mb(process.resourceUsage().maxRSS * 1024)}`)
  console.log(problems.length === 0 ? "  correctness: all checks passed" : `  correctness: ${problems.length} MISMATCH(ES):\n    ${problems.join("\n    ")}`)
  console.log("=".repeat(100))
}

export async function run(): Promise<void> {
  const t0 = performance.now()
  const builtFrom = librarySource()
  const loadAtStart = load()
  console.log(`rfm: ${fmt(CUSTOMERS)} customers, ${fmt(purchaseCount(CUSTOMERS))} purchases, ${ROUNDS} round(s), engines ${[...ENGINES].join(", ")}, ` +
    `extra batch sizes ${SIZES.length === 0 ? "none" : SIZES.join(", ")}; ${loadAtStart}${QUICK ? "; QUICK MODE" : ""}`)
  const dir = mkdtempSync(join(tmpdir(), "c360-bench-rfm-"))
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    console.error(`rfm: ${signal}, cleaning up`)
    void pgDatabases.dropAll().finally(() => {
      rmSync(dir, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const errors: string[] = []
  try {
    if (ENGINES.has("pg")) {
      const unreachable = await pgDatabases.reachable()
      if (unreachable !== null) {
        console.error(`rfm: !!! PostgreSQL is UNREACHABLE at ${PG_URL} (${unreachable}): SQLite only`)
        summary.push({ label: "PostgreSQL", value: `SKIPPED (unreachable: ${unreachable})` })
      } else {
        try {
          await runEngine(await pgSide())
        } catch (e) {
          errors.push(`PostgreSQL: ${e instanceof Error ? e.message : String(e)}`)
          console.error("rfm: PostgreSQL FAILED", e)
        } finally {
          await pgDatabases.dropAll()
        }
      }
    }
    if (ENGINES.has("sqlite")) {
      try {
        await runEngine(await sqliteSide(dir))
      } catch (e) {
        errors.push(`SQLite: ${e instanceof Error ? e.message : String(e)}`)
        console.error("rfm: SQLite FAILED", e)
      }
    }
  } finally {
    await pgDatabases.dropAll()
    rmSync(dir, { recursive: true, force: true })
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  printSummary(loadAtStart, builtFrom)
  console.log(`rfm: total ${elapsed(t0)}`)
  if (errors.length > 0 || problems.length > 0) {
    process.exitCode = 1
    throw new Error(`rfm benchmark: ${errors.length} error(s), ${problems.length} correctness problem(s)`)
  }
}

export default run
