/**
 * Tickets benchmark: ticket creation on PostgreSQL, 16 concurrent callers, the library against a
 * hand-written baseline on the same schema, in one run.
 *
 * Method:
 * - Data: one database `c360_bench_tickets_<id>_seed`, migrated by the library (the built package's
 *   `createCustomer360`), then 1,000 customers (phones 0900000001…0900001000, each with a payment
 *   code) and their wallets bulk-loaded with set-based SQL; VACUUM ANALYZE; then one copy per side
 *   (`CREATE DATABASE … TEMPLATE`): `_library`, `_baseline` and `_mirror`, so that each side has its
 *   own counter row and none's rows make another's tables bigger. Same tables, indexes, triggers.
 * - Library: the facade (`c360.tickets.create({ phone, type })`, the `Tickets` service) of the built
 *   package on `_library` with a pool of 16 connections: each creation is one transaction — the
 *   customer by phone, the creation's activity, then the year's counter row stepped
 *   (`INSERT … ON CONFLICT (year) DO UPDATE SET last_number = last_number + 1`, which holds the row
 *   lock until commit), the ticket, its history row, its `ticket.created` outbox event, and the
 *   code written into the activity.
 * - Baseline: a raw `pg` Pool of 16 on `_baseline`, each creation one transaction of six statements,
 *   one `await` each: `BEGIN`; the same counter statement `RETURNING last_number`; the ticket row
 *   (code `TV-YYYY-NNNNN` made in JS, the customer found by phone in the same statement); its
 *   history row; its outbox row (the event JSON of the ticket); `COMMIT`. No activity row (the
 *   library writes one more row and, inside the counter lock, one more statement).
 * - Mirror (a diagnostic, not in the headline): the same raw Pool writing what the library writes
 *   with the library's statement list, savepoints aside — the customer by phone and the activity
 *   before the counter step, the activity's code filled in after the outbox row, inside the lock —
 *   nine statements. library/mirror is what the library's machinery costs; mirror/baseline what its
 *   statement list costs.
 * - Load: 16 callers, each creating tickets one after another for `SECONDS` (a random existing
 *   customer's phone, the five types in turn), all of them in the current business year, so every
 *   creation of both sides takes its turn on one counter row. After a warm-up of each side (not
 *   counted), 3 rounds: library, baseline, mirror in rounds 1 and 3, the reverse in round 2.
 *   Tickets/s = creations finished / time from start until the last one finished. The headline
 *   ratio is the median of the per-round ratios library/baseline (each compares two runs made in
 *   the same minute); the medians of each side are printed too. Target: ≥ 0.80×.
 * - Checks, afterwards, on every side's database: the codes are distinct and consecutive — numbers 1…N
 *   with no gap and no duplicate, N = the creations that succeeded, each code `TV-<year>-<number
 *   padded to 5>`, the counter row at N, the codes returned to the callers exactly the stored ones —
 *   and every ticket has its history row and its one `ticket.created` event. Any failed creation
 *   is an error.
 * - Diagnostics: Node CPU per creation (this process; every side runs in it); machine CPU per
 *   creation (all processes, /proc/stat) and the share of it left idle; what each side's connections
 *   were doing during the rounds (`pg_stat_activity` sampled every 200 ms: waiting on a lock,
 *   active, waiting for the client inside a transaction, idle; support/pg-activity.ts); and, after
 *   the rounds, a traced run of each side (16 callers for 3 s, then one caller for 50 creations;
 *   every query node-postgres sends is timestamped): SQL round trips per creation, how long each
 *   creation held the counter row's lock (from the counter statement's answer to the `COMMIT`'s)
 *   over how many statements, split into the statements' turnaround (sent → answer handled, which
 *   includes waiting for the event loop) and Node's time between them, and one caller's latency.
 *
 * The machine's load average is printed with every round: the box has 2 cores shared by
 * PostgreSQL, this process and whatever else runs, so absolute figures move a lot; the ratios
 * compare runs made a few seconds apart.
 *
 * `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432); the databases are created and dropped
 * by the run, also on failure or Ctrl-C. `C360_BENCH_QUICK=1`: 2 s runs, 1 round (checks the bench
 * itself; figures mean little).
 *
 * Exit code non-zero (throws) on an error or a failed check; the target only prints PASS / MISS.
 *
 * Run with `npm run bench -- tickets`.
 */
import { fmt, median } from "./support/stats.js"
import { readFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import pg from "pg"
import { benchDatabases, withDatabase } from "./support/databases.js"
import { newId } from "./support/ids.js"
import { main } from "./support/library.js"
import { type Activity, describeActivity, sampleActivity } from "./support/pg-activity.js"
import { librarySource } from "./support/revision.js"

// the built package, as users run it (see support/library.ts)
const { createCustomer360 } = main

const QUICK = process.env.C360_BENCH_QUICK === "1"
const PG_URL = process.env.C360_PG_URL || "postgres://postgres@127.0.0.1:5432"
const CUSTOMERS = 1_000
const CALLERS = 16
const SECONDS = QUICK ? 2 : 10
const WARMUP_SECONDS = QUICK ? 1 : 3
const ROUNDS = QUICK ? 1 : 3
const PROBE_CREATIONS = 50
const TARGET = 0.8
const TIME_ZONE = "Asia/Ho_Chi_Minh"
const TYPES = ["BOOM", "DOI", "THIEU", "HOAN", "KHAC"] as const
const DAY = 86_400_000

/** `mirror`: a diagnostic, the baseline writing the library's rows with the library's statement list. */
type Side = "library" | "baseline" | "mirror"
const SIDES: ReadonlyArray<Side> = ["library", "baseline", "mirror"]

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
  if (!ok) {
    problems.push(message)
    console.error(`tickets: MISMATCH ${message}`)
  }
}

const ops = (n: number): string => `${fmt(n)}/s`
const x = (r: number): string => `${r.toFixed(2)}×`
const msf = (n: number): string => `${n < 10 ? n.toFixed(2) : Math.round(n)} ms`
const elapsed = (start: number): string => `${((performance.now() - start) / 1000).toFixed(1)} s`
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} CPUs`
const phoneOf = (i: number): string => `09${String(i + 1).padStart(8, "0")}`
const randomPhone = (): string => phoneOf(Math.floor(Math.random() * CUSTOMERS))

/** Busy and total CPU time of the whole machine so far, in µs (Linux /proc/stat; null elsewhere). */
const machineCpu = (): { busy: number; total: number } | null => {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields
    const tick = 1e6 / 100 // USER_HZ
    const busy = (user + nice + system + irq + softirq + steal) * tick
    return { busy, total: busy + (idle + iowait) * tick }
  } catch {
    return null
  }
}

/** The business year of an instant, as the library computes it. */
const businessYear = (at: number): number =>
  Number(new Intl.DateTimeFormat("en-US", { timeZone: TIME_ZONE, year: "numeric" }).formatToParts(new Date(at))
    .find((p) => p.type === "year")!.value)

const codeOf = (year: number, n: number): string => `TV-${year}-${String(n).padStart(5, "0")}`

// --- databases ------------------------------------------------------------------------------------

const pgDatabases = benchDatabases(PG_URL, "c360_bench_tickets", "tickets")
const { admin } = pgDatabases
const createDatabase = pgDatabases.create
const dropDatabases = pgDatabases.dropAll

/** Payment code k: `N2` + k in base 32 over the library's alphabet, 8 characters (unique per k). */
const paymentCodeSql = (k: string): string => {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
  const digits = Array.from({ length: 8 }, (_, d) => `substr('${alphabet}', ((${k} / ${32 ** (7 - d)}) % 32)::int + 1, 1)`)
  return `'N2' || ${digits.join(" || ")}`
}

/** The seed: the library's schema, then the customers and their wallets, set-based. */
const seed = async (): Promise<string> => {
  const t0 = performance.now()
  const database = await createDatabase("_seed")
  await (await createCustomer360({ database: { postgres: { url: withDatabase(PG_URL, database) } } })).close()
  const now = Date.now()
  await admin(async (c) => {
    const cus = "'cus_' || lpad(i::text, 26, '0')"
    await c.query("BEGIN")
    await c.query(`INSERT INTO c360_customers (id, phone, name, source, created_at, updated_at, payment_code)
      SELECT ${cus}, '09' || lpad(i::text, 8, '0'), 'Bench ' || i, 'import', $1::bigint, $1::bigint, ${paymentCodeSql("i")}
      FROM generate_series(1, ${CUSTOMERS}) i`, [now - 30 * DAY])
    await c.query(`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
      SELECT ${cus}, 0, 0, $1::bigint, $1::bigint FROM generate_series(1, ${CUSTOMERS}) i`, [now - 30 * DAY])
    await c.query("COMMIT")
    await c.query("VACUUM ANALYZE")
  }, database)
  console.log(`tickets: seeded ${fmt(CUSTOMERS)} customers with wallets in ${database} (${elapsed(t0)})`)
  return database
}

// --- the two sides --------------------------------------------------------------------------------

interface Creator {
  readonly side: Side
  /** Creates one ticket for the phone; resolves to its code. */
  readonly create: (phone: string, type: (typeof TYPES)[number]) => Promise<string>
  readonly close: () => Promise<void>
}

const libraryCreator = async (database: string): Promise<Creator> => {
  const c360 = await createCustomer360({ database: { postgres: { url: withDatabase(PG_URL, database), maxConnections: CALLERS } } })
  return {
    side: "library",
    create: async (phone, type) => (await c360.tickets.create({ phone, type })).ticket.code,
    close: () => c360.close()
  }
}

/**
 * The hand-written creation: one transaction, six statements, one `await` each, on the library's
 * tables (the rows the library writes for a ticket, its history and its event; no activity).
 * `mirror` (diagnostic): the library's statement list by hand, savepoints aside — the customer read
 * by phone and the creation's activity (code still a placeholder) before the counter step, and the
 * activity's code filled in after the outbox row, inside the counter lock, as the library does.
 */
const baselineCreator = (database: string, mirror: boolean): Creator => {
  const pool = new pg.Pool({ connectionString: withDatabase(PG_URL, database), max: CALLERS, application_name: "c360-bench-baseline" })
  pool.on("error", () => {})
  const create = async (phone: string, type: (typeof TYPES)[number]): Promise<string> => {
    const now = Date.now()
    const year = businessYear(now)
    const id = newId("tkt", now)
    const iso = new Date(now).toISOString()
    const client = await pool.connect()
    let open = false
    try {
      await client.query("BEGIN")
      open = true
      if (mirror) {
        const customer = (await client.query(`SELECT * FROM c360_customers WHERE phone = $1`, [phone])).rows[0] as { id: string } | undefined
        if (customer === undefined) throw new Error(`no customer with phone ${phone}`)
        await client.query(`INSERT INTO c360_activities (id, customer_id, actor, kind, subject_type, subject_id, summary, data, at)
          VALUES ($1, $2, 'system', 'ticket.created', 'ticket', $3, $4, $5, $6)`,
          [newId("act", now), customer.id, id, `opened a ${type} ticket`, JSON.stringify({ code: PLACEHOLDER }), now])
      }
      const counter = await client.query(`INSERT INTO c360_ticket_counters (year, last_number) VALUES ($1, 1)
        ON CONFLICT (year) DO UPDATE SET last_number = c360_ticket_counters.last_number + 1 RETURNING last_number`, [year])
      const number = Number(counter.rows[0].last_number)
      const code = codeOf(year, number)
      const inserted = await client.query(`INSERT INTO c360_tickets (id, code, year, number, type, status, priority, customer_id,
          phone, order_reference, amount, carrier, carrier_deadline, assignee, created_at, updated_at, completed_at, escalated_at, version)
        SELECT $1, $2, $3, $4, $5, 'new', 'normal', c.id, c.phone, NULL, NULL, NULL, NULL, NULL, $6, $6, NULL, NULL, 0
        FROM c360_customers c WHERE c.phone = $7
        RETURNING customer_id`, [id, code, year, number, type, now, phone])
      const customerId: string | undefined = inserted.rows[0]?.customer_id
      if (customerId === undefined) throw new Error(`no customer with phone ${phone}`)
      await client.query(`INSERT INTO c360_ticket_actions (id, ticket_id, customer_id, kind, actor, note, data, at)
        VALUES ($1, $2, $3, 'created', 'system', NULL, $4, $5)`,
        [newId("tka", now), id, customerId, JSON.stringify({ code, type, priority: "normal" }), now])
      const ticket = {
        id, code, type, status: "new", priority: "normal", customerId, phone, orderReference: null, amount: null, carrier: null,
        carrierDeadline: null, assignee: null, createdAt: iso, updatedAt: iso, completedAt: null
      }
      await client.query(`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
        VALUES ($1, 'tickets', 'ticket.created', $2, $3, $4)`, [newId("evt", now), customerId, JSON.stringify({ ticket }), now])
      if (mirror) {
        await client.query(`UPDATE c360_activities SET data = replace(data, $1, (SELECT '"' || code || '"' FROM c360_tickets WHERE id = $2))
          WHERE customer_id = $3 AND subject_type = 'ticket' AND subject_id = $2`, [JSON.stringify(PLACEHOLDER), id, customerId])
      }
      await client.query("COMMIT")
      open = false
      return code
    } catch (e) {
      if (open) await client.query("ROLLBACK").catch(() => undefined)
      throw e
    } finally {
      client.release()
    }
  }
  return { side: mirror ? "mirror" : "baseline", create, close: () => pool.end() }
}
const PLACEHOLDER = "@@TICKET_CODE@@"

// --- load -------------------------------------------------------------------------------------------

interface Run {
  readonly side: Side
  readonly label: string
  readonly rate: number
  readonly done: number
  readonly failures: number
  readonly failureKinds: ReadonlyMap<string, number>
  /** this process's CPU per creation (µs) and its share of one core */
  readonly cpuPerOp: number
  readonly cpuShare: number
  /** the machine's CPU (all processes) per creation (µs), and the share of it left idle */
  readonly machinePerOp: number
  readonly machineIdle: number
  readonly p50: number
  readonly p99: number
  /** what the side's connections were doing (sampled during the measured runs) */
  readonly activity?: Activity | undefined
}

/** Every code each side's callers got back, to compare with the stored ones afterwards. */
const returned: Record<Side, Array<string>> = { library: [], baseline: [], mirror: [] }

const failureKind = (e: unknown): string => {
  const tag = (e as { _tag?: string })._tag
  const reason = (e as { reason?: string }).reason
  return tag !== undefined ? `${tag}${reason === undefined ? "" : `/${reason}`}` : e instanceof Error ? e.message.slice(0, 80) : String(e)
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

const runLoad = async (creator: Creator, label: string, seconds: number, database?: string): Promise<Run> => {
  const sampler = database === undefined ? undefined : await sampleActivity(PG_URL, database)
  let done = 0
  let failures = 0
  const failureKinds = new Map<string, number>()
  const latencies: Array<number> = []
  const cpu = process.cpuUsage()
  const machine = machineCpu()
  const start = performance.now()
  const deadline = start + seconds * 1000
  await Promise.all(Array.from({ length: CALLERS }, async (_, caller) => {
    for (let k = caller; performance.now() < deadline; k += CALLERS) {
      const t = performance.now()
      try {
        returned[creator.side].push(await creator.create(randomPhone(), TYPES[k % TYPES.length]!))
        latencies.push(performance.now() - t)
        done++
      } catch (e) {
        failures++
        const kind = failureKind(e)
        failureKinds.set(kind, (failureKinds.get(kind) ?? 0) + 1)
      }
    }
  }))
  const wall = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  const after = machineCpu()
  const activity = await sampler?.stop()
  latencies.sort((a, b) => a - b)
  const run: Run = {
    side: creator.side,
    label,
    rate: done / wall,
    done,
    failures,
    failureKinds,
    cpuPerOp: (used.user + used.system) / Math.max(1, done),
    cpuShare: (used.user + used.system) / 1e6 / wall,
    machinePerOp: machine === null || after === null ? NaN : (after.busy - machine.busy) / Math.max(1, done),
    machineIdle: machine === null || after === null ? NaN : 1 - (after.busy - machine.busy) / Math.max(1, after.total - machine.total),
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    activity
  }
  check(failures === 0, `${creator.side} ${label}: ${failures} creations failed (${[...failureKinds].map(([k, n]) => `${n}× ${k}`).join(", ")})`)
  return run
}

const runLine = (title: string, r: Run): string =>
  `  ${title.padEnd(18)} ${ops(r.rate).padStart(9)}  ${fmt(r.done).padStart(6)} tickets  p50 ${msf(r.p50).padStart(8)}  ` +
  `p99 ${msf(r.p99).padStart(8)}  failed ${r.failures}  Node CPU ${fmt(r.cpuPerOp)} µs/ticket (${(100 * r.cpuShare).toFixed(0)} % of a core)  ` +
  `machine CPU ${fmt(r.machinePerOp)} µs/ticket, ${(100 * r.machineIdle).toFixed(0)} % idle`

// --- diagnostics: round trips and the counter lock ------------------------------------------------------

/**
 * Traces the queries node-postgres sends (the library's pool and the baseline's alike: both use this
 * process's `pg`), only in the diagnostic runs after the rounds, never while measuring. On each
 * connection, the counter lock is taken when the counter statement returns and released when the
 * transaction's `COMMIT` (or `ROLLBACK`) returns; in between, each statement's time is split into
 * the time it was at the database (sent → answered) and the time Node took before sending it
 * (previous answer → sent: the caller's code, and waiting for the event loop).
 */
let tracing = false
let queries = 0
interface Hold {
  lockedAt: number
  lastDone: number
  statements: number
  atDatabase: number
  inNode: number
}
const holding = new WeakMap<object, Hold>()
const holds: Array<{ ms: number; statements: number; atDatabase: number; inNode: number }> = []
/** Inside the lock, by statement (its first words): how many, and their time at the database. */
const lockedStatements = new Map<string, { n: number; ms: number }>()
const statementName = (text: string): string => text.replace(/\s+/g, " ").trim().split(" ").slice(0, 3).join(" ")

const traced = (client: object, text: string, sent: number, done: number): void => {
  if (text.includes("INSERT INTO c360_ticket_counters")) {
    holding.set(client, { lockedAt: done, lastDone: done, statements: 0, atDatabase: 0, inNode: 0 })
    return
  }
  const h = holding.get(client)
  if (h === undefined) return
  h.statements++
  h.atDatabase += done - sent
  const name = statementName(text)
  const st = lockedStatements.get(name) ?? { n: 0, ms: 0 }
  st.n++
  st.ms += done - sent
  lockedStatements.set(name, st)
  h.inNode += sent - h.lastDone
  h.lastDone = done
  const verb = text.trim().toUpperCase()
  if (verb === "COMMIT" || verb === "ROLLBACK") {
    holds.push({ ms: done - h.lockedAt, statements: h.statements, atDatabase: h.atDatabase, inNode: h.inNode })
    holding.delete(client)
  }
}

const originalQuery = pg.Client.prototype.query as unknown as (...args: Array<unknown>) => unknown
;(pg.Client.prototype as unknown as { query: (...args: Array<unknown>) => unknown }).query = function(
  this: object,
  ...args: Array<unknown>
) {
  if (!tracing) return originalQuery.apply(this, args)
  queries++
  const first = args[0]
  const text = typeof first === "string" ? first : String((first as { text?: unknown } | null)?.text ?? "")
  const sent = performance.now()
  const client: object = this as object
  const last = args[args.length - 1]
  if (typeof last === "function") {
    args[args.length - 1] = function(this: unknown, ...result: Array<unknown>) {
      traced(client, text, sent, performance.now())
      return (last as (...a: Array<unknown>) => unknown).apply(this, result)
    }
    return originalQuery.apply(this, args)
  }
  const result = originalQuery.apply(this, args)
  if (result !== null && typeof (result as Promise<unknown>).then === "function") {
    const done = () => traced(client, text, sent, performance.now())
    ;(result as Promise<unknown>).then(done, done)
  }
  return result
}

interface Diagnosis {
  readonly rate: number
  readonly perCreation: number
  /** the counter lock, per creation: held (ms), statements after the counter one, and the split */
  readonly holdMs: number
  readonly holdStatements: number
  readonly atDatabaseMs: number
  readonly inNodeMs: number
  /** share of the run's time some creation held the lock */
  readonly lockBusy: number
  /** one caller */
  readonly serialMs: number
  /** inside the lock, per statement: mean time at the database */
  readonly statements: string
}

const diagnose = async (creator: Creator): Promise<Diagnosis> => {
  queries = 0
  holds.length = 0
  lockedStatements.clear()
  tracing = true
  let concurrent: Run
  let serialMs: number
  let statementsOf = ""
  const seconds = QUICK ? 1 : 3
  try {
    concurrent = await runLoad(creator, "diagnostic", seconds)
    tracing = false
    const statements = [...lockedStatements].map(([name, st]) => `${name} ${msf(st.ms / st.n)}`).join(", ")
    tracing = true
    statementsOf = statements
    const t0 = performance.now()
    for (let k = 0; k < PROBE_CREATIONS; k++) returned[creator.side].push(await creator.create(randomPhone(), TYPES[k % TYPES.length]!))
    serialMs = (performance.now() - t0) / PROBE_CREATIONS
  } finally {
    tracing = false
  }
  const n = concurrent.done + PROBE_CREATIONS
  const mean = (f: (h: (typeof holds)[number]) => number) => holds.slice(0, concurrent.done).reduce((a, h) => a + f(h), 0) /
    Math.max(1, Math.min(holds.length, concurrent.done))
  return {
    rate: concurrent.rate,
    perCreation: queries / n,
    holdMs: mean((h) => h.ms),
    holdStatements: mean((h) => h.statements),
    atDatabaseMs: mean((h) => h.atDatabase),
    inNodeMs: mean((h) => h.inNode),
    lockBusy: (mean((h) => h.ms) * concurrent.rate) / 1000,
    serialMs,
    statements: statementsOf
  }
}

// --- checks -------------------------------------------------------------------------------------------

const verify = async (side: Side, database: string, year: number): Promise<void> => {
  const r = await admin(async (c) => {
    const stats = (await c.query(`SELECT count(*) AS n, count(DISTINCT number) AS distinct_numbers, count(DISTINCT code) AS distinct_codes,
        coalesce(min(number), 0) AS min, coalesce(max(number), 0) AS max,
        count(*) FILTER (WHERE code <> 'TV-' || year || '-' || CASE WHEN number < 100000 THEN lpad(number::text, 5, '0')
          ELSE number::text END) AS bad_codes,
        count(*) FILTER (WHERE year <> $1) AS other_years
      FROM c360_tickets`, [year])).rows[0] as Record<string, string>
    const counter = (await c.query(`SELECT last_number FROM c360_ticket_counters WHERE year = $1`, [year])).rows[0] as
      | { last_number: string }
      | undefined
    const gaps = (await c.query(`SELECT count(*) AS n FROM (SELECT number, lag(number) OVER (ORDER BY number) AS previous
        FROM c360_tickets WHERE year = $1) s WHERE previous IS NOT NULL AND number <> previous + 1`, [year])).rows[0] as { n: string }
    const rows = (await c.query(`SELECT
        (SELECT count(*) FROM c360_tickets t WHERE NOT EXISTS (SELECT 1 FROM c360_ticket_actions a
          WHERE a.ticket_id = t.id AND a.kind = 'created')) AS without_history,
        (SELECT count(*) FROM c360_outbox WHERE type = 'ticket.created') AS events,
        (SELECT count(*) FROM c360_tickets t LEFT JOIN (SELECT payload::json->'ticket'->>'id' AS id,
            payload::json->'ticket'->>'code' AS code, count(*) AS n
          FROM c360_outbox WHERE type = 'ticket.created' GROUP BY 1, 2) e ON e.id = t.id AND e.code = t.code
          WHERE e.n IS DISTINCT FROM 1) AS without_one_event`)).rows[0] as Record<string, string>
    const codes = (await c.query(`SELECT code FROM c360_tickets`)).rows.map((row: { code: string }) => row.code)
    return { stats, counter, gaps: Number(gaps.n), rows, codes }
  }, database)
  const n = Number(r.stats.n)
  const mine = returned[side]
  const stored = new Set(r.codes)
  const distinctReturned = new Set(mine)
  const notStored = mine.filter((code) => !stored.has(code)).length
  const checks: Array<[boolean, string]> = [
    [n === mine.length, `${n} tickets stored, ${mine.length} creations answered`],
    [Number(r.stats.distinct_numbers) === n && Number(r.stats.distinct_codes) === n, `duplicate numbers or codes`],
    [n === 0 || (Number(r.stats.min) === 1 && Number(r.stats.max) === n), `numbers ${r.stats.min}…${r.stats.max} for ${n} tickets`],
    [r.gaps === 0, `${r.gaps} gaps in the numbers`],
    [Number(r.stats.bad_codes) === 0, `${r.stats.bad_codes} codes not TV-YYYY-NNNNN of their number`],
    [Number(r.stats.other_years) === 0, `${r.stats.other_years} tickets of another year`],
    [Number(r.counter?.last_number ?? 0) === n, `counter at ${r.counter?.last_number} for ${n} tickets`],
    [distinctReturned.size === mine.length, `${mine.length - distinctReturned.size} codes returned twice`],
    [notStored === 0, `${notStored} returned codes not stored`],
    [Number(r.rows.without_history) === 0, `${r.rows.without_history} tickets without their history row`],
    [Number(r.rows.without_one_event) === 0 && Number(r.rows.events) === n,
      `${r.rows.without_one_event} tickets without exactly one ticket.created event (${r.rows.events} events)`]
  ]
  for (const [ok, message] of checks) check(ok, `${side}: ${message}`)
  const ok = checks.every(([good]) => good)
  console.log(`tickets: ${side} codes (${database}): ${fmt(n)} tickets, TV-${year}-00001…${codeOf(year, n)}, ` +
    `${ok ? "distinct and consecutive (no gap, no duplicate), counter at N, each with its history row and its event, " +
      "returned codes = stored codes" : "CHECKS FAILED (see above)"}`)
  summary.push({
    label: `${side}: codes distinct and consecutive`,
    value: ok ? `yes (${fmt(n)} tickets, TV-${year}-00001…${codeOf(year, n)}, no gap, no duplicate)` : "NO"
  })
}

// --- main -------------------------------------------------------------------------------------------

const printSummary = (loadAtStart: string): void => {
  console.log("")
  console.log("=".repeat(100))
  console.log(`tickets benchmark summary (${new Date().toISOString()}, node ${process.version}, ` +
    `${QUICK ? "QUICK MODE, figures meaningless" : `full run: ${ROUNDS} rounds of ${SECONDS} s per side`}, ${CALLERS} callers, pool ${CALLERS} each)`)
  console.log(`  library: the built package (dist/), built from ${builtFrom}`)
  console.log(`  machine: ${loadAtStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share it)`)
  const width = Math.max(...summary.map((r) => r.label.length))
  const valueWidth = Math.max(...summary.map((r) => r.value.length))
  for (const r of summary) {
    const target = r.target === undefined ? "" : `  target ${r.target.padEnd(8)} ${r.pass ? "PASS" : "MISS"}`
    console.log(`  ${r.label.padEnd(width)}  ${r.value.padEnd(valueWidth)}${target}`)
  }
  console.log(problems.length === 0
    ? "  correctness: all checks passed"
    : `  correctness: ${problems.length} MISMATCH(ES):\n    ${problems.join("\n    ")}`)
  console.log("=".repeat(100))
}

/** The sources of the build being measured (`npm run bench` builds just before the run starts). */
let builtFrom = "unknown revision"

export async function run(): Promise<void> {
  const t0 = performance.now()
  builtFrom = librarySource()
  const loadAtStart = load()
  console.log(`tickets: ${loadAtStart}${QUICK ? "; QUICK MODE" : ""}`)
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    console.error(`tickets: ${signal}, dropping the databases`)
    void dropDatabases().finally(() => process.exit(130))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  let failure: unknown
  const creators: Array<Creator> = []
  try {
    const unreachable = await pgDatabases.reachable()
    if (unreachable !== null) throw new Error(`PostgreSQL is unreachable at ${PG_URL} (${unreachable}); set C360_PG_URL`)
    const source = await seed()
    const databases: Record<Side, string> = {
      library: await createDatabase("_library", source),
      baseline: await createDatabase("_baseline", source),
      mirror: await createDatabase("_mirror", source)
    }
    const year = businessYear(Date.now())
    const sides: Record<Side, Creator> = {
      library: await libraryCreator(databases.library),
      baseline: baselineCreator(databases.baseline, false),
      mirror: baselineCreator(databases.mirror, true)
    }
    creators.push(sides.library, sides.baseline, sides.mirror)
    console.log(`tickets: ticket creation, ${CALLERS} callers, year ${year} (one counter row per side), ${ROUNDS} round(s) of ${SECONDS} s; ${load()}`)
    for (const side of SIDES) console.log(runLine(`warm-up ${side}`, await runLoad(sides[side], "warm-up", WARMUP_SECONDS)))

    const bySide: Record<Side, Array<Run>> = { library: [], baseline: [], mirror: [] }
    const ratios: Array<number> = []
    const mirrorRatios: Array<number> = []
    for (let round = 0; round < ROUNDS; round++) {
      const order: ReadonlyArray<Side> = round % 2 === 0 ? ["library", "baseline", "mirror"] : ["mirror", "baseline", "library"]
      for (const side of order) {
        const r = await runLoad(sides[side], `round ${round + 1}`, SECONDS, databases[side])
        bySide[side].push(r)
        console.log(runLine(`round ${round + 1} ${side}`, r))
      }
      ratios.push(bySide.library[round]!.rate / bySide.baseline[round]!.rate)
      mirrorRatios.push(bySide.mirror[round]!.rate / bySide.baseline[round]!.rate)
      console.log(`  round ${round + 1} library/baseline ${x(ratios[round]!)}  (mirror/baseline ${x(mirrorRatios[round]!)}; ${load()})`)
    }
    const med = (side: Side, f: (r: Run) => number) => median(bySide[side].map(f))
    const ratio = median(ratios)
    console.log(`tickets: medians of ${ROUNDS} round(s):`)
    for (const side of SIDES) {
      console.log(`  ${side.padEnd(8)} ${ops(med(side, (r) => r.rate)).padStart(9)}  (per round ${bySide[side].map((r) => fmt(r.rate)).join(", ")})  ` +
        `p50 ${msf(med(side, (r) => r.p50))}  p99 ${msf(med(side, (r) => r.p99))}  ` +
        `Node CPU ${fmt(med(side, (r) => r.cpuPerOp))} µs/ticket  machine CPU ${fmt(med(side, (r) => r.machinePerOp))} µs/ticket`)
    }
    for (const side of SIDES) {
      const mean = (f: (a: Activity) => number) => bySide[side].reduce((a, r) => a + f(r.activity!), 0) / bySide[side].length
      console.log(`  ${side.padEnd(8)} connections (of ${CALLERS}): ${describeActivity({
        samples: bySide[side].reduce((a, r) => a + r.activity!.samples, 0),
        lock: mean((a) => a.lock),
        active: mean((a) => a.active),
        client: mean((a) => a.client),
        idle: mean((a) => a.idle)
      })}`)
    }
    console.log(`  tickets/s library/baseline: median of per-round ratios ${x(ratio)} (per round ${ratios.map(x).join(", ")}); ` +
      `target ≥ ${x(TARGET)}: ${ratio >= TARGET ? "PASS" : "MISS"}`)
    console.log(`  diagnostic: mirror (the library's statements by hand)/baseline ${x(median(mirrorRatios))} ` +
      `(per round ${mirrorRatios.map(x).join(", ")}); library/mirror ${x(median(bySide.library.map((r, i) => r.rate / bySide.mirror[i]!.rate)))}`)

    // traced: round trips, the counter lock (after the rounds: nothing measured above is touched)
    const diagnoses = {} as Record<Side, Diagnosis>
    for (const side of SIDES) {
      const d = (diagnoses[side] = await diagnose(sides[side]))
      console.log(`tickets: traced ${side}: ${CALLERS} callers ${ops(d.rate)}, ${d.perCreation.toFixed(1)} SQL round trips per creation; ` +
        `the counter lock held ${msf(d.holdMs)} per creation (× the rate: ${(100 * d.lockBusy).toFixed(0)} % of the time) over ` +
        `${d.holdStatements.toFixed(1)} statements after the counter step, ${msf(d.atDatabaseMs)} of it in their turnaround and ` +
        `${msf(d.inNodeMs)} in Node between them (each, sent → answer handled: ${d.statements}); one caller: ${msf(d.serialMs)} per creation`)
    }

    for (const creator of creators.splice(0)) await creator.close()
    for (const side of SIDES) await verify(side, databases[side], year)

    for (const side of SIDES) {
      summary.push({
        label: `${side === "mirror" ? "mirror (diagnostic)" : side}: tickets/s (${CALLERS} callers, median)`,
        value: `${ops(med(side, (r) => r.rate))} (per round ${bySide[side].map((r) => fmt(r.rate)).join(", ")}), ` +
          `p50 ${msf(med(side, (r) => r.p50))}, p99 ${msf(med(side, (r) => r.p99))}, ` +
          `${bySide[side].reduce((a, r) => a + r.failures, 0)} failed`
      })
    }
    summary.push({
      label: "library/baseline tickets/s",
      value: `${x(ratio)} (per round ${ratios.map(x).join(", ")})`,
      target: `≥ ${x(TARGET)}`,
      pass: ratio >= TARGET
    })
    summary.push({
      label: "mirror/baseline, library/mirror tickets/s",
      value: `${x(median(mirrorRatios))} (per round ${mirrorRatios.map(x).join(", ")}), ` +
        `${x(median(bySide.library.map((r, i) => r.rate / bySide.mirror[i]!.rate)))} (the library's statement list by hand; diagnostic)`
    })
    summary.push({
      label: "Node CPU per ticket: library / baseline",
      value: `${fmt(med("library", (r) => r.cpuPerOp))} µs / ${fmt(med("baseline", (r) => r.cpuPerOp))} µs ` +
        `(mirror ${fmt(med("mirror", (r) => r.cpuPerOp))} µs; diagnostic)`
    })
    summary.push({
      label: "machine CPU per ticket: library / baseline",
      value: `${fmt(med("library", (r) => r.machinePerOp))} µs / ${fmt(med("baseline", (r) => r.machinePerOp))} µs ` +
        `(mirror ${fmt(med("mirror", (r) => r.machinePerOp))} µs; all processes; machine idle ` +
        `${SIDES.map((side) => `${(100 * med(side, (r) => r.machineIdle)).toFixed(0)} %`).join(" / ")}; diagnostic)`
    })
    summary.push({
      label: "SQL round trips per ticket: library / baseline",
      value: `${diagnoses.library.perCreation.toFixed(1)} / ${diagnoses.baseline.perCreation.toFixed(1)} ` +
        `(mirror ${diagnoses.mirror.perCreation.toFixed(1)}; one caller: ${msf(diagnoses.library.serialMs)} / ` +
        `${msf(diagnoses.baseline.serialMs)} / ${msf(diagnoses.mirror.serialMs)} per ticket; diagnostic)`
    })
    summary.push({
      label: "counter lock held per ticket: library / baseline",
      value: `${msf(diagnoses.library.holdMs)} over ${diagnoses.library.holdStatements.toFixed(0)} statements / ` +
        `${msf(diagnoses.baseline.holdMs)} over ${diagnoses.baseline.holdStatements.toFixed(0)} ` +
        `(in Node between statements ${msf(diagnoses.library.inNodeMs)} / ${msf(diagnoses.baseline.inNodeMs)}; ` +
        `mirror ${msf(diagnoses.mirror.holdMs)} over ${diagnoses.mirror.holdStatements.toFixed(0)}; traced, diagnostic)`
    })
  } catch (e) {
    failure = e
    console.error("tickets: FAILED", e)
  } finally {
    for (const creator of creators) await creator.close().catch((e) => console.error(`tickets: closing the ${creator.side} side failed`, e))
    await dropDatabases()
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  printSummary(loadAtStart)
  console.log(`tickets: total ${elapsed(t0)}`)
  if (failure !== undefined || problems.length > 0) {
    process.exitCode = 1
    throw new Error(`tickets benchmark: ${failure !== undefined ? `failed (${failure instanceof Error ? failure.message : String(failure)}); ` : ""}` +
      `${problems.length} problem(s)`)
  }
}

export default run
