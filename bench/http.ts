/**
 * HTTP benchmark: the library's Express host on PostgreSQL against a bare Express route that does the
 * same SQL by hand, under autocannon, in the same run.
 *
 * Method:
 * - Data: one database `c360_bench_http_<id>_seed`, migrated by the library (`createCustomer360`),
 *   then bulk-loaded with set-based SQL: 1,000 customers (phones 0900000001…0900001000) with a
 *   wallet of 1,000,000 đồng and its `deposit` ledger entry; every even one also holds a spendable
 *   50,000 credit, and every tenth one a credit past its expiry that the job has not expired yet
 *   (shown `expired`, not spendable), each with its `credit_issued` entry. VACUUM ANALYZE, then two
 *   copies (`CREATE DATABASE … TEMPLATE`): `_library` and `_bare`. Each side has its own database so
 *   that neither's writes make the other's tables bigger, nor make stale the wallet states the
 *   library's process remembers (a write planned on a remembered state costs one round trip; a
 *   remembered state made stale by another process's write costs a retry: not what is measured here).
 * - Servers: each in a child process (bench/support/http-server.ts, `node --import tsx`), so autocannon, in
 *   this process, does not share their event loop; both with a pool of 16 connections and a bearer
 *   token. `library`: `createApp` of examples/express/app.ts (the HTTP API through
 *   `NodeHttpServer.makeHandler`). `bare`: Express 5 + `pg` Pool, `express.json()`, a deposit as one
 *   transaction of seven statements (BEGIN; wallet and active credits by phone FOR UPDATE; operation
 *   row with the JSON result; wallet balance and version; ledger entry; outbox row; COMMIT), a read
 *   as one SELECT; the same JSON responses. Before any load, one deposit (and its replay, and a
 *   conflicting reuse of its reference), one read and one unknown phone are sent to both: the answers
 *   must be the same (ids aside), and so must the rows the deposit wrote (operation with fingerprint
 *   and result, ledger entry, outbox row, wallet balance and version).
 * - Load: for each workload — deposits (`POST /api/wallet/:phone/deposit`, `source: "manual"`, a
 *   random phone of the 1,000, a random amount, a reference unique per request made in
 *   autocannon's `setupRequest`), then wallet reads (`GET /api/wallet/:phone`, a random phone) —
 *   autocannon with 32 connections (no pipelining) for 20 s against each side in turn, the order
 *   swapped every round, 3 rounds, after a 3 s warm-up of each side (not counted). Per run:
 *   requests/s = autocannon's `requests.average`, the mean of its per-second samples (what its CLI
 *   prints as Req/Sec Avg); p50 and p99 latency (ms, 2xx responses); errors = autocannon's `errors`
 *   (connection errors, timeouts included) + `timeouts` + `non2xx`; and the server process's CPU
 *   time (from /proc, Linux only) as a share of one core and per request, a diagnostic. Printed per
 *   round, then the medians and the median of the per-round ratios library/bare (the headline
 *   ratio: each ratio compares two runs made in the same minute). Target: library ≥ 0.6× bare in
 *   throughput, printed MET / NOT MET (a measurement: it does not fail the run).
 * - Afterwards (servers stopped, so nothing is in flight): on each database, the ledger audit of
 *   test/support/audit.ts (every wallet's balance and every credit's remainder replayed from the
 *   ledger in order, `balance_after` chain, `credit_remaining_after`, every operation with its
 *   entry), and SQL checks: each operation has exactly one ledger entry and one outbox event that
 *   agree with it (reference, wallet, amount, balance after, result), no event without operation, no
 *   reference twice in the ledger, each wallet's version = its number of writes. And the deposits:
 *   every reference answered 2xx is recorded exactly once, and the only other recorded ones are
 *   requests cut off when a run ended (autocannon stops at the deadline without waiting for the ≤ 32
 *   responses in flight, which the server may still commit): at most 32 per run, each one that was
 *   sent.
 *
 * The machine's load average is printed with every workload: the box has 2 cores shared by
 * PostgreSQL, the server under test and autocannon (and whatever else runs), so absolute figures
 * move a lot; the ratios compare runs made minutes apart at most.
 *
 * `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432) is the server; the databases are
 * created and dropped by the run, also on failure or Ctrl-C, and the child servers are stopped.
 * `C360_BENCH_QUICK=1`: 3 s runs, 1 round, 1 s warm-ups (checks the bench itself; figures mean
 * little). `C360_BENCH_HTTP_WORKLOADS=deposit` (or `read`) runs one workload.
 * `C360_BENCH_HTTP_CPU_PROF=<dir>` runs the library's server under `node --cpu-prof` (profile
 * written into <dir> when it stops).
 *
 * Exit code non-zero (throws) when a request failed, the two sides answered or wrote differently, the
 * audit found a violation or the deposit rows do not match the responses; the throughput target only
 * prints MET / NOT MET.
 *
 * Run with `npm run bench -- http`.
 */
import { cpuSeconds, fmt, median } from "./support/stats.js"
import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { cpus, loadavg } from "node:os"
import { dirname, join, resolve } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { createCustomer360 } from "../src/index.js"
import { auditLedger } from "../test/support/audit.js"
import { benchDatabases, withDatabase } from "./support/databases.js"

const QUICK = process.env.C360_BENCH_QUICK === "1"
const PG_URL = process.env.C360_PG_URL || "postgres://postgres@127.0.0.1:5432"
const CPU_PROF = process.env.C360_BENCH_HTTP_CPU_PROF
const CUSTOMERS = 1_000
const CONNECTIONS = 32
const SECONDS = QUICK ? 3 : 20
const ROUNDS = QUICK ? 1 : 3
const WARMUP_SECONDS = QUICK ? 1 : 3
const POOL = 16
const TOKEN = "bench-manager-token-0001"
const TARGET = 0.6
const SEED_BALANCE = 1_000_000
const CREDIT = 50_000
const DAY = 86_400_000

type Side = "bare" | "library"
type Workload = "deposit" | "read"
const SIDES: ReadonlyArray<Side> = ["bare", "library"]
const WORKLOADS: ReadonlyArray<Workload> = (process.env.C360_BENCH_HTTP_WORKLOADS ?? "deposit,read")
  .split(",").map((w) => w.trim()).filter((w): w is Workload => w === "deposit" || w === "read")

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

// --- autocannon (no type declarations are installed) ------------------------------------------------

interface AcRequest {
  method?: string
  path?: string
  headers?: Record<string, string>
  body?: string
  setupRequest?: (request: AcRequest, context: Record<string, unknown>) => AcRequest
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void
}
interface AcResult {
  readonly requests: { readonly average: number; readonly total: number; readonly sent: number }
  readonly latency: { readonly p50: number; readonly p99: number }
  readonly duration: number
  readonly errors: number
  readonly timeouts: number
  readonly non2xx: number
  readonly "2xx": number
  readonly statusCodeStats: Record<string, { readonly count: number }>
}
const autocannon = createRequire(import.meta.url)("autocannon") as (options: {
  url: string
  connections: number
  duration: number
  requests: Array<AcRequest>
}) => Promise<AcResult>

// --- reporting ----------------------------------------------------------------------------------------

interface SummaryRow {
  readonly label: string
  readonly value: string
  readonly target?: string
  readonly met?: boolean
}
const summary: Array<SummaryRow> = []
const problems: Array<string> = []
const check = (ok: boolean, message: string): void => {
  if (!ok) {
    problems.push(message)
    console.error(`http: PROBLEM ${message}`)
  }
}

const rps = (n: number): string => `${fmt(n)} req/s`
const msf = (n: number): string => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`
const x = (r: number): string => `${r.toFixed(2)}×`
const elapsed = (start: number): string => `${((performance.now() - start) / 1000).toFixed(1)} s`
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} CPUs`
const phoneOf = (i: number): string => `09${String(i + 1).padStart(8, "0")}`
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

// --- databases ----------------------------------------------------------------------------------------

const pgDatabases = benchDatabases(PG_URL, "c360_bench_http", "http")
const { admin } = pgDatabases
const createDatabase = pgDatabases.create
const dropDatabases = pgDatabases.dropAll

/** The seed database: the library's schema, then 1,000 wallets loaded set-based (see the header). */
const seed = async (): Promise<string> => {
  const t0 = performance.now()
  const database = await createDatabase("_seed")
  await (await createCustomer360({ database: { postgres: { url: withDatabase(PG_URL, database) } } })).close()
  const now = Date.now()
  await admin(async (c) => {
    const cus = "'cus_' || lpad(i::text, 26, '0')"
    await c.query("BEGIN")
    await c.query(`INSERT INTO c360_customers (id, phone, name, source, created_at, updated_at)
      SELECT ${cus}, '09' || lpad(i::text, 8, '0'), 'Bench ' || i, 'import', $1::bigint, $1::bigint
      FROM generate_series(1, ${CUSTOMERS}) i`, [now - 30 * DAY])
    await c.query(`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
      SELECT ${cus}, ${SEED_BALANCE}, 0, $1::bigint, $1::bigint FROM generate_series(1, ${CUSTOMERS}) i`, [now - 30 * DAY])
    await c.query(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      SELECT 'le_seed_' || i, 'txn_seed_' || i, ${cus}, 'deposit', ${SEED_BALANCE}, ${SEED_BALANCE}, NULL, NULL, 'seed-' || i,
        'manual', NULL, $1::bigint FROM generate_series(1, ${CUSTOMERS}) i ORDER BY i`, [now - 30 * DAY])
    // a spendable credit on every even wallet; one past its expiry (not yet expired by the job) on every tenth
    await c.query(`INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id, transaction_id,
        issued_at, expires_at)
      SELECT 'vc_' || lpad(i::text, 26, '0'), ${cus}, ${CREDIT}, ${CREDIT}, 'active', 'welcome', NULL, 'txn_seedvc_' || i,
        $1::bigint - ${DAY}, $1::bigint + ${14 * DAY}
      FROM generate_series(2, ${CUSTOMERS}, 2) i`, [now])
    await c.query(`INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id, transaction_id,
        issued_at, expires_at)
      SELECT 'vc_' || lpad((1000000 + i)::text, 26, '0'), ${cus}, 5000, 5000, 'active', 'stale', 'TK-' || i, 'txn_seedvs_' || i,
        $1::bigint - ${20 * DAY}, $1::bigint - ${5 * DAY}
      FROM generate_series(10, ${CUSTOMERS}, 10) i`, [now])
    await c.query(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      SELECT 'le_' || vc.transaction_id, vc.transaction_id, vc.customer_id, 'credit_issued', vc.amount, w.balance, vc.id, vc.amount,
        'seed-' || vc.id, NULL, vc.reason, vc.issued_at
      FROM c360_virtual_credits vc JOIN c360_wallets w ON w.customer_id = vc.customer_id ORDER BY vc.issued_at, vc.id`)
    await c.query("COMMIT")
    await c.query("VACUUM ANALYZE")
  }, database)
  console.log(`http: seeded ${fmt(CUSTOMERS)} wallets (${fmt(CUSTOMERS / 2)} spendable credits, ${fmt(CUSTOMERS / 10)} past expiry) ` +
    `in ${database} (${elapsed(t0)})`)
  return database
}

// --- servers --------------------------------------------------------------------------------------------

interface Server {
  readonly side: Side
  readonly url: string
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
}
const running = new Set<Server>()

const startServer = (side: Side, database: string): Promise<Server> =>
  new Promise((resolveServer, reject) => {
    const profile = side === "library" && CPU_PROF !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${resolve(CPU_PROF)}`] : []
    const child = spawn(process.execPath, [...profile, "--import", "tsx", join(root, "bench", "support", "http-server.ts")], {
      cwd: root,
      env: {
        ...process.env,
        MODE: side,
        DATABASE_URL: withDatabase(PG_URL, database),
        PORT: "0",
        C360_BENCH_POOL: String(POOL),
        C360_BENCH_TOKEN: TOKEN
      },
      stdio: ["pipe", "pipe", "inherit"]
    })
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the ${side} server printed no URL within 60 s`))
    }, 60_000)
    child.once("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`the ${side} server exited (code ${code}) before listening`))
    })
    let listening = false
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = /^listening (http:\/\/\S+)$/.exec(line)
      if (!listening && m !== null) {
        listening = true
        clearTimeout(timer)
        const server: Server = { side, url: m[1]!, child, exited }
        running.add(server)
        resolveServer(server)
      } else {
        console.log(`  [${side} server] ${line}`)
      }
    })
  })

const stopServer = async (server: Server): Promise<void> => {
  if (!running.delete(server)) return
  server.child.kill("SIGTERM")
  const code = await Promise.race([server.exited, sleep(20_000).then(() => "timeout" as const)])
  if (code === "timeout") {
    console.error(`http: the ${server.side} server did not stop within 20 s: SIGKILL`)
    server.child.kill("SIGKILL")
    await server.exited
  } else {
    check(code === 0, `the ${server.side} server exited with code ${code}`)
  }
}
const stopServers = () => Promise.all([...running].map(stopServer))


// --- parity: the two sides answer and write the same ------------------------------------------------

const call = async (url: string, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: response.status, json: json as Record<string, any> }
}

const withoutTransactionId = (value: unknown): string => {
  const copy = typeof value === "string" ? JSON.parse(value) : structuredClone(value)
  delete copy.transactionId
  return JSON.stringify(copy)
}

const parity = async (servers: Record<Side, Server>, databases: Record<Side, string>): Promise<void> => {
  const phone = phoneOf(9) // wallet 10: a spendable credit and one past its expiry
  const deposit = { amount: 12_345, reference: "parity-1", source: "manual", note: "parity check" }
  const answers = {} as Record<Side, Record<string, { status: number; json: Record<string, any> }>>
  for (const side of SIDES) {
    const url = servers[side].url
    answers[side] = {
      deposit: await call(url, "POST", `/api/wallet/${phone}/deposit`, deposit),
      replay: await call(url, "POST", `/api/wallet/${phone}/deposit`, deposit),
      conflict: await call(url, "POST", `/api/wallet/${phone}/deposit`, { ...deposit, amount: 1 }),
      read: await call(url, "GET", `/api/wallet/${phone}`),
      unknown: await call(url, "GET", `/api/wallet/0911111111`)
    }
  }
  const lib = answers.library
  const bare = answers.bare
  const expected: Record<string, number> = { deposit: 200, replay: 200, conflict: 409, read: 200, unknown: 404 }
  for (const [name, status] of Object.entries(expected)) {
    for (const side of SIDES) {
      check(answers[side][name]!.status === status,
        `parity: ${side} answered ${name} with ${answers[side][name]!.status}, expected ${status}: ${JSON.stringify(answers[side][name]!.json)}`)
    }
  }
  for (const side of SIDES) {
    check(answers[side].replay!.json.transactionId === answers[side].deposit!.json.transactionId,
      `parity: ${side}'s replay returned another transaction id`)
  }
  check(withoutTransactionId(lib.deposit!.json) === withoutTransactionId(bare.deposit!.json),
    `parity: deposit answers differ:\n  library ${JSON.stringify(lib.deposit!.json)}\n  bare    ${JSON.stringify(bare.deposit!.json)}`)
  check(JSON.stringify(lib.read!.json) === JSON.stringify(bare.read!.json),
    `parity: read answers differ:\n  library ${JSON.stringify(lib.read!.json)}\n  bare    ${JSON.stringify(bare.read!.json)}`)
  for (const name of ["conflict", "unknown"]) {
    check(lib[name]!.json?.error?.code === bare[name]!.json?.error?.code,
      `parity: ${name} error codes differ: library ${lib[name]!.json?.error?.code}, bare ${bare[name]!.json?.error?.code}`)
  }

  const rows = {} as Record<Side, string>
  for (const side of SIDES) {
    const found = await admin((c) => c.query(`SELECT o.customer_id, o.kind, o.fingerprint, o.result, o.transaction_id,
        l.id AS entry_id, l.kind AS entry_kind, l.amount, l.balance_after, l.credit_id, l.credit_remaining_after, l.reference,
        l.source, l.note, e.id AS event_id, e.channel, e.type, e.subject, e.payload, w.balance, w.version
      FROM c360_wallet_operations o
      JOIN c360_ledger_entries l ON l.transaction_id = o.transaction_id
      JOIN c360_outbox e ON e.payload::json->>'transactionId' = o.transaction_id
      JOIN c360_wallets w ON w.customer_id = o.customer_id
      WHERE o.reference = $1`, [deposit.reference]), databases[side])
    check(found.rows.length === 1, `parity: ${side} wrote ${found.rows.length} joined operation/entry/event rows, expected 1`)
    const r = found.rows[0] as Record<string, string> | undefined
    if (r === undefined) continue
    const txn = r.transaction_id!
    check(txn === answers[side].deposit!.json.transactionId, `parity: ${side} recorded another transaction id than it answered`)
    check(r.result === JSON.stringify(answers[side].deposit!.json), `parity: ${side}'s recorded result is not its answer`)
    check(r.entry_id === `le_${txn.slice(4)}_0`, `parity: ${side}'s ledger entry id ${r.entry_id} is not derived from ${txn}`)
    check(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/.test(r.event_id!), `parity: ${side}'s event id ${r.event_id} has not the library's format`)
    check(/^txn_[0-9A-HJKMNP-TV-Z]{26}$/.test(txn), `parity: ${side}'s transaction id ${txn} has not the library's format`)
    const { result, payload, transaction_id: _t, entry_id: _e, event_id: _v, ...rest } = r
    rows[side] = JSON.stringify({ ...rest, result: withoutTransactionId(result), payload: withoutTransactionId(payload) })
  }
  check(rows.library === rows.bare, `parity: the deposit wrote different rows (ids aside):\n  library ${rows.library}\n  bare    ${rows.bare}`)
  const ok = problems.every((p) => !p.startsWith("parity"))
  console.log(`http: parity (deposit, replay, conflicting reuse, read, unknown phone; rows written): ${ok ? "same answers and rows on both sides" : "DIFFERENT (see above)"}`)
  summary.push({ label: "answers and rows: library = bare", value: ok ? "yes" : "NO" })
}

// --- load -------------------------------------------------------------------------------------------

interface Run {
  readonly side: Side
  readonly workload: Workload
  readonly label: string
  readonly counted: boolean
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
  readonly ok: number
  readonly detail: string
  /** deposits: references built (sent or about to be), and those answered 2xx */
  readonly built: number
  readonly answered: ReadonlySet<number>
  readonly cpuShare: number | undefined
  readonly cpuPerRequest: number | undefined
}
const runs: Array<Run> = []
const referencePrefix = (side: Side, label: string) => `${side === "library" ? "lib" : "bare"}-${label}-`

const runLoad = async (server: Server, workload: Workload, label: string, seconds: number, counted: boolean): Promise<Run> => {
  const prefix = referencePrefix(server.side, label)
  let built = 0
  const answered = new Set<number>()
  const random = () => phoneOf(Math.floor(Math.random() * CUSTOMERS))
  const request: AcRequest = workload === "deposit"
    ? {
      method: "POST",
      path: "/",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      setupRequest: (req, context) => {
        const k = built++
        context.k = k
        req.path = `/api/wallet/${random()}/deposit`
        req.body = JSON.stringify({ amount: 1_000 * (1 + Math.floor(Math.random() * 100)), reference: `${prefix}${k}`, source: "manual" })
        return req
      },
      onResponse: (status, _body, context) => {
        if (status >= 200 && status < 300) answered.add(context.k as number)
      }
    }
    : {
      method: "GET",
      path: "/",
      headers: { authorization: `Bearer ${TOKEN}` },
      setupRequest: (req) => {
        req.path = `/api/wallet/${random()}`
        return req
      }
    }
  const cpu0 = cpuSeconds(server.child.pid)
  const t0 = performance.now()
  const r = await autocannon({ url: server.url, connections: CONNECTIONS, duration: seconds, requests: [request] })
  const wall = (performance.now() - t0) / 1000
  const cpu1 = cpuSeconds(server.child.pid)
  const cpu = cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0
  const codes = Object.entries(r.statusCodeStats).filter(([code]) => !code.startsWith("2")).map(([code, s]) => `${s.count}×${code}`)
  const run: Run = {
    side: server.side,
    workload,
    label,
    counted,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
    ok: r["2xx"],
    detail: `${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx${codes.length > 0 ? ` (${codes.join(", ")})` : ""}`,
    built,
    answered,
    cpuShare: cpu === undefined ? undefined : cpu / wall,
    cpuPerRequest: cpu === undefined ? undefined : (cpu * 1e6) / Math.max(1, r.requests.total)
  }
  runs.push(run)
  check(run.errors === 0, `${server.side} ${workload} ${label}: ${run.detail}`)
  return run
}

const runLine = (title: string, r: Run): string =>
  `  ${title.padEnd(18)} ${rps(r.rps).padStart(13)}  p50 ${msf(r.p50).padStart(7)}  p99 ${msf(r.p99).padStart(7)}  ` +
  `errors ${r.errors}${r.errors > 0 ? ` (${r.detail})` : ""}  ${fmt(r.ok)} × 2xx` +
  (r.cpuShare === undefined ? "" : `  server CPU ${(100 * r.cpuShare).toFixed(0)} % of a core, ${fmt(r.cpuPerRequest!)} µs/request`)

const workloadTitle: Record<Workload, string> = {
  deposit: "deposits, POST /api/wallet/:phone/deposit (unique reference, random wallet)",
  read: "wallet reads, GET /api/wallet/:phone (random wallet)"
}

const benchWorkload = async (servers: Record<Side, Server>, workload: Workload): Promise<void> => {
  const t0 = performance.now()
  const tag = workload === "deposit" ? "d" : "r"
  console.log(`http[${workload}] ${workloadTitle[workload]}; ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} round(s); ${load()}`)
  for (const side of SIDES) {
    const r = await runLoad(servers[side], workload, `${tag}w`, WARMUP_SECONDS, false)
    console.log(runLine(`warm-up ${side}`, r))
  }
  const bySide: Record<Side, Array<Run>> = { bare: [], library: [] }
  const ratios: Array<number> = []
  for (let round = 0; round < ROUNDS; round++) {
    const order: ReadonlyArray<Side> = round % 2 === 0 ? ["bare", "library"] : ["library", "bare"]
    for (const side of order) {
      const r = await runLoad(servers[side], workload, `${tag}${round + 1}`, SECONDS, true)
      bySide[side].push(r)
      console.log(runLine(`round ${round + 1} ${side}`, r))
    }
    ratios.push(bySide.library[round]!.rps / bySide.bare[round]!.rps)
    console.log(`  round ${round + 1} library/bare  ${x(ratios[round]!)}  (${load()})`)
  }
  const med = (side: Side, f: (r: Run) => number) => median(bySide[side].map(f))
  const ratio = median(ratios)
  console.log(`http[${workload}] medians of ${ROUNDS} round(s):`)
  for (const side of SIDES) {
    const cpu = bySide[side].every((r) => r.cpuShare !== undefined)
      ? `  server CPU ${(100 * med(side, (r) => r.cpuShare!)).toFixed(0)} % of a core, ${fmt(med(side, (r) => r.cpuPerRequest!))} µs/request`
      : ""
    console.log(`  ${side.padEnd(8)} ${rps(med(side, (r) => r.rps)).padStart(13)}  p50 ${msf(med(side, (r) => r.p50)).padStart(7)}  ` +
      `p99 ${msf(med(side, (r) => r.p99)).padStart(7)}  errors ${bySide[side].reduce((a, r) => a + r.errors, 0)}${cpu}`)
  }
  console.log(`  throughput library/bare: median of per-round ratios ${x(ratio)} (per round ${ratios.map(x).join(", ")}); ` +
    `target ≥ ${x(TARGET)}: ${ratio >= TARGET ? "MET" : "NOT MET"}`)
  console.log(`http[${workload}] done in ${elapsed(t0)}, ${load()}`)
  for (const side of SIDES) {
    summary.push({
      label: `${workload}: ${side}`,
      value: `${rps(med(side, (r) => r.rps))}, p50 ${msf(med(side, (r) => r.p50))}, p99 ${msf(med(side, (r) => r.p99))}, ` +
        `${bySide[side].reduce((a, r) => a + r.errors, 0)} errors`
    })
  }
  summary.push({ label: `${workload}: library/bare throughput`, value: x(ratio), target: `≥ ${x(TARGET)}`, met: ratio >= TARGET })
}

// --- afterwards: rows against responses, and the audit -----------------------------------------------------

const verifyDeposits = async (side: Side, database: string): Promise<void> => {
  const mine = runs.filter((r) => r.side === side && r.workload === "deposit")
  const prefix = side === "library" ? "lib-" : "bare-"
  const { rows } = await admin((c) => c.query(`SELECT reference FROM c360_wallet_operations WHERE kind = 'deposit' AND reference LIKE $1`,
    [`${prefix}%`]), database)
  const recorded = new Map<string, Set<number>>()
  let unknown = 0
  for (const { reference } of rows as Array<{ reference: string }>) {
    const m = /^[a-z]+-([a-z0-9]+)-(\d+)$/.exec(reference)
    const run = m === null ? undefined : mine.find((r) => r.label === m[1])
    if (m === null || run === undefined) {
      unknown++
      continue
    }
    const set = recorded.get(run.label) ?? new Set<number>()
    set.add(Number(m[2]))
    recorded.set(run.label, set)
  }
  let answered = 0
  let missing = 0
  let cutOff = 0
  let neverBuilt = 0
  let tooMany = 0
  for (const run of mine) {
    const got = recorded.get(run.label) ?? new Set<number>()
    answered += run.answered.size
    for (const k of run.answered) if (!got.has(k)) missing++
    let extra = 0
    for (const k of got) {
      if (run.answered.has(k)) continue
      extra++
      if (k >= run.built) neverBuilt++
    }
    cutOff += extra
    if (extra > CONNECTIONS) tooMany++
  }
  const total = rows.length
  console.log(`http: ${side} deposits: ${fmt(answered)} answered 2xx, ${fmt(total)} recorded = ${fmt(answered - missing)} answered ` +
    `+ ${fmt(cutOff)} cut off at the end of a run (sent, response not awaited by autocannon); ` +
    `${missing} answered but not recorded, ${neverBuilt} recorded but never sent, ${unknown} unknown references`)
  check(missing === 0, `${side}: ${missing} deposits answered 2xx are not recorded`)
  check(neverBuilt === 0 && unknown === 0, `${side}: ${neverBuilt + unknown} recorded deposits were never sent`)
  check(tooMany === 0, `${side}: more than ${CONNECTIONS} unanswered deposits recorded in a run`)
  check(total === answered - missing + cutOff, `${side}: recorded ${total} ≠ answered ${answered} + cut off ${cutOff}`)
  summary.push({
    label: `${side}: deposit rows vs 2xx responses`,
    value: `${fmt(total)} recorded = ${fmt(answered)} × 2xx + ${cutOff} cut off at run ends, ${missing} missing`
  })
}

const audit = async (side: Side, database: string): Promise<void> => {
  const report = await Effect.runPromise(auditLedger.pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(withDatabase(PG_URL, database)), maxConnections: 2 }))
  ))
  const sqlChecks = await admin(async (c) => (await c.query(`SELECT
    (SELECT count(*) FROM c360_wallet_operations) AS operations,
    (SELECT count(*) FROM c360_outbox) AS events,
    (SELECT count(*) FROM c360_wallet_operations o
      LEFT JOIN (SELECT transaction_id, count(*) AS n FROM c360_ledger_entries GROUP BY 1) l USING (transaction_id)
      WHERE l.n IS DISTINCT FROM 1) AS "operations without exactly one ledger entry",
    (SELECT count(*) FROM c360_wallet_operations o
      LEFT JOIN (SELECT payload::json->>'transactionId' AS transaction_id, count(*) AS n FROM c360_outbox GROUP BY 1) e USING (transaction_id)
      WHERE e.n IS DISTINCT FROM 1) AS "operations without exactly one outbox event",
    (SELECT count(*) FROM c360_outbox e LEFT JOIN c360_wallet_operations o ON o.transaction_id = e.payload::json->>'transactionId'
      WHERE o.transaction_id IS NULL) AS "outbox events without operation",
    (SELECT count(*) FROM (SELECT reference FROM c360_ledger_entries GROUP BY reference HAVING count(*) > 1) d) AS "references twice in the ledger",
    (SELECT count(*) FROM c360_wallet_operations o
      JOIN c360_ledger_entries l ON l.transaction_id = o.transaction_id
      JOIN c360_outbox e ON e.payload::json->>'transactionId' = o.transaction_id
      WHERE o.kind <> 'deposit' OR l.kind <> 'deposit' OR l.reference <> o.reference OR l.customer_id <> o.customer_id
        OR e.subject <> o.customer_id OR e.type <> 'wallet.deposit' OR e.payload::json->>'reference' <> o.reference
        OR (e.payload::json->>'amount')::bigint <> l.amount OR (e.payload::json->>'balanceAfter')::bigint <> l.balance_after
        OR (o.result::json->'wallet'->>'balance')::bigint <> l.balance_after
        OR o.result::json->>'transactionId' <> o.transaction_id) AS "operations disagreeing with their entry or event",
    (SELECT count(*) FROM c360_wallets w
      LEFT JOIN (SELECT customer_id, count(*) AS n FROM c360_wallet_operations GROUP BY 1) o USING (customer_id)
      WHERE w.version <> coalesce(o.n, 0)) AS "wallets whose version is not their number of writes"`)).rows[0] as Record<string, string>, database)
  const failures = Object.entries(sqlChecks).filter(([k, v]) => k !== "operations" && k !== "events" && Number(v) !== 0)
  const ok = report.violations.length === 0 && failures.length === 0
  console.log(`http: audit ${side} (${database}): ${fmt(report.wallets)} wallets, ${fmt(report.credits)} credits, ` +
    `${fmt(report.entries)} ledger entries, ${fmt(Number(sqlChecks.operations))} operations, ${fmt(Number(sqlChecks.events))} outbox events: ` +
    `ledger replay ${report.violations.length} violation(s); ` +
    Object.entries(sqlChecks).filter(([k]) => k !== "operations" && k !== "events").map(([k, v]) => `${k} ${v}`).join(", "))
  for (const v of report.violations.slice(0, 10)) console.error(`  ${v}`)
  check(report.violations.length === 0, `audit ${side}: ${report.violations.length} ledger violation(s), first: ${report.violations[0]}`)
  for (const [k, v] of failures) check(false, `audit ${side}: ${k}: ${v}`)
  summary.push({
    label: `${side}: ledger audit`,
    value: ok
      ? `holds (${fmt(report.entries)} entries, ${fmt(Number(sqlChecks.operations))} operations, each with its entry and event)`
      : "VIOLATED"
  })
}

// --- main -------------------------------------------------------------------------------------------------

const printSummary = (loadAtStart: string): void => {
  console.log("")
  console.log("=".repeat(100))
  console.log(`http benchmark summary (${new Date().toISOString()}, node ${process.version}, ` +
    `${QUICK ? "QUICK MODE: 3 s runs, 1 round, figures mean little" : `full run: ${ROUNDS} rounds of ${SECONDS} s per side`}, ` +
    `${CONNECTIONS} connections, pool ${POOL} on each side)`)
  console.log(`  machine: ${loadAtStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share it)`)
  const width = Math.max(...summary.map((r) => r.label.length))
  for (const r of summary) {
    const target = r.target === undefined ? "" : `  target ${r.target} ${r.met ? "MET" : "NOT MET"}`
    console.log(`  ${r.label.padEnd(width)}  ${r.value}${target}`)
  }
  console.log(problems.length === 0
    ? "  correctness: no failed request, same answers and rows on both sides, audit holds, rows match responses"
    : `  correctness: ${problems.length} PROBLEM(S):\n    ${problems.join("\n    ")}`)
  console.log("=".repeat(100))
}

export async function run(): Promise<void> {
  const t0 = performance.now()
  const loadAtStart = load()
  console.log(`http: ${loadAtStart}${QUICK ? "; QUICK MODE" : ""}`)
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    console.error(`http: ${signal}, stopping the servers and dropping the databases`)
    void stopServers().catch(() => undefined).then(() => dropDatabases()).finally(() => process.exit(130))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  let failure: unknown
  try {
    const unreachable = await pgDatabases.reachable()
    if (unreachable !== null) throw new Error(`PostgreSQL is unreachable at ${PG_URL} (${unreachable}); set C360_PG_URL`)
    const source = await seed()
    const databases: Record<Side, string> = { bare: await createDatabase("_bare", source), library: await createDatabase("_library", source) }
    const [bare, library] = await Promise.all([startServer("bare", databases.bare), startServer("library", databases.library)])
    const servers: Record<Side, Server> = { bare, library }
    console.log(`http: servers up (child processes, pool ${POOL} each): bare ${servers.bare.url} (pid ${servers.bare.child.pid}), ` +
      `library ${servers.library.url} (pid ${servers.library.child.pid})${CPU_PROF === undefined ? "" : `, library under --cpu-prof → ${CPU_PROF}`}`)
    await parity(servers, databases)
    for (const workload of WORKLOADS) await benchWorkload(servers, workload)
    await stopServers() // drains what is in flight, so the rows below are final
    for (const side of SIDES) {
      if (WORKLOADS.includes("deposit")) await verifyDeposits(side, databases[side])
      await audit(side, databases[side])
    }
  } catch (e) {
    failure = e
    console.error("http: FAILED", e)
  } finally {
    await stopServers().catch((e) => console.error("http: stopping the servers failed", e))
    await dropDatabases()
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  printSummary(loadAtStart)
  console.log(`http: total ${elapsed(t0)}`)
  if (failure !== undefined || problems.length > 0) {
    process.exitCode = 1
    throw new Error(`http benchmark: ${failure !== undefined ? `failed (${failure instanceof Error ? failure.message : String(failure)}); ` : ""}` +
      `${problems.length} problem(s)`)
  }
}

export default run
