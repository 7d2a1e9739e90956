/**
 * Transfers benchmark: the matcher on one core, and SePay webhook ingestion on PostgreSQL — the
 * library's HTTP route against a bare Express route doing the same by hand, in the same run.
 *
 * 1. The matcher: contents per second over the hand-written corpus (test/fixtures/transfer-contents.json,
 *    every content of it), `scan` + the held-code lookup + `decide` as bench/support/matcher.ts runs
 *    them (the work the transfer service does per delivery before touching the database), one
 *    thread, warm-up then 5 rounds, median. Target ≥ 200,000/s.
 * 2. Webhook ingestion, `POST /api/webhooks/sepay` with `Authorization: Apikey <key>`:
 *    - Data: one database `c360_bench_transfers_<id>_seed`, migrated by the library (the built
 *      package's `createCustomer360`), then 1,000 customers (phones 0900000001…0900001000, each with
 *      a payment code) with a wallet of 1,000,000 đồng and its `deposit` ledger entry, bulk-loaded
 *      with set-based SQL; VACUUM ANALYZE; two copies (`CREATE DATABASE … TEMPLATE`), `_library` and
 *      `_bare`, so that neither side's rows make the other's tables bigger.
 *    - Servers, each in a child process (bench/support/transfers-server.ts) so that the load
 *      generator, in this process, does not share their event loop, each with a pool of 32
 *      connections: `library`, the library's HTTP API from the built package (the layers of
 *      examples/express/app.ts with `transfers: { sepayApiKey }`, under Express); `bare`, an Express 5
 *      route with its own `pg` Pool doing the same in one transaction (see that file: the transfer
 *      row `ON CONFLICT DO NOTHING`, the customer and wallet by phone, the wallet operation
 *      reference, the balance, the ledger entry, the outbox events, the activity, `COMMIT`,
 *      `{"success":true}`). Before any load, one delivery (and its repeat, and 8 concurrent
 *      deliveries of one new id) is sent to both: the answers must be 200 `{"success":true}`, the
 *      repeats must change nothing, and the rows written must be the same on both sides (ids aside).
 *    - Load: matched transfers only — each content carries the phone of a random existing customer,
 *      in one of five bank-style forms (each checked beforehand to match by that phone), a unique
 *      SePay id, a random amount — so every delivery links and deposits. 32 keep-alive connections
 *      (`node:http` Agent, 32 sockets, a fresh agent per run), 32 requests in flight, `REQUESTS`
 *      per run; after a warm-up of each side (not counted), 3 rounds, the library first in rounds 1
 *      and 3, the bare route first in round 2. Requests/s = requests / time from the first sent to
 *      the last answered. Errors = every answer other than 200 `{"success":true}` and every failed
 *      request: 0 required on both sides. The headline ratio is the median of the per-round ratios
 *      library/bare; the medians of each side are printed too. Target ≥ 1.00×. Diagnostics: each
 *      server process's CPU time (/proc) per request and as a share of one core, the SQL round
 *      trips per request (the queries each server's node-postgres sent, counted by the server), and
 *      what each side's connections were doing during the rounds (`pg_stat_activity` sampled every
 *      200 ms: on a lock, active, idle in a transaction waiting for the server's next statement,
 *      idle; support/pg-activity.ts).
 *    - Afterwards (servers stopped, nothing in flight), on both databases, the ledger audit: each
 *      wallet's balance = the sum of its deposits (the only ledger entries there are); one deposit
 *      per transfer (reference `sepay:<id>`, its transaction the transfer's `deposit_transaction_id`,
 *      same customer and amount) and no deposit without its transfer; no reference twice; each
 *      wallet's version = its number of operations; three outbox events per transfer; every
 *      delivery answered 200 is recorded, and nothing else.
 *
 * The machine's load average is printed with every round: the box has 2 cores shared by
 * PostgreSQL, both servers, the load generator and whatever else runs, so absolute figures move a
 * lot; the ratios compare runs made seconds apart.
 *
 * `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432); the databases are created and dropped
 * by the run, also on failure or Ctrl-C, and the child servers are stopped. `C360_BENCH_QUICK=1`:
 * short runs, 1 round (checks the bench itself; figures mean little). `C360_BENCH_PARTS=1` or `2`
 * runs one part. `C360_BENCH_TRANSFERS_REQUESTS=<n>`: requests per run (default 2,000).
 * `C360_BENCH_TRANSFERS_CPU_PROF=<dir>` runs both servers under `node --cpu-prof` (profiles written
 * into <dir>/library and <dir>/bare when they stop; the figures of such a run are not comparable).
 *
 * Exit code non-zero (throws) on an error, a failed request, a parity difference or a failed audit;
 * the targets only print PASS / MISS.
 *
 * Run with `npm run bench -- transfers`.
 */
import { cpuSeconds, fmt, median } from "./support/stats.js"
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { Agent, request } from "node:http"
import { cpus, loadavg } from "node:os"
import { dirname, join, resolve } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { decide, scan } from "../src/transfers/Matcher.js"
import { benchDatabases, withDatabase } from "./support/databases.js"
import { main } from "./support/library.js"
import { matcherThroughput } from "./support/matcher.js"
import { type Activity, describeActivity, sampleActivity } from "./support/pg-activity.js"
import { librarySource } from "./support/revision.js"

// the built package, as users run it (see support/library.ts)
const { createCustomer360 } = main

const QUICK = process.env.C360_BENCH_QUICK === "1"
const PG_URL = process.env.C360_PG_URL || "postgres://postgres@127.0.0.1:5432"
const CPU_PROF = process.env.C360_BENCH_TRANSFERS_CPU_PROF
const PARTS = new Set((process.env.C360_BENCH_PARTS ?? "1,2").split(",").map((p) => p.trim()))
const MATCHER_SECONDS = QUICK ? 1 : 5
const MATCHER_TARGET = 200_000
const CUSTOMERS = 1_000
const CONNECTIONS = 32
const POOL = 32
const REQUESTS = Number(process.env.C360_BENCH_TRANSFERS_REQUESTS ?? (QUICK ? 300 : 2_000))
const WARMUP_REQUESTS = QUICK ? 100 : 300
const ROUNDS = QUICK ? 1 : 3
const TARGET = 1.0
const SEPAY_KEY = "bench-sepay-key-0001"
const SEED_BALANCE = 1_000_000
const DAY = 86_400_000

type Side = "library" | "bare"
const SIDES: ReadonlyArray<Side> = ["library", "bare"]

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

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
    console.error(`transfers: PROBLEM ${message}`)
  }
}

const rps = (n: number): string => `${fmt(n)} req/s`
const msf = (n: number): string => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`
const x = (r: number): string => `${r.toFixed(2)}×`
const elapsed = (start: number): string => `${((performance.now() - start) / 1000).toFixed(1)} s`
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} CPUs`
const phoneOf = (i: number): string => `09${String(i + 1).padStart(8, "0")}`
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

// --- part 1: the matcher ----------------------------------------------------------------------------

const partMatcher = (): void => {
  const corpus = JSON.parse(readFileSync(join(root, "test", "fixtures", "transfer-contents.json"), "utf8")) as Array<{ content: string }>
  const contents = corpus.map((c) => c.content)
  const { perSecond, runs } = matcherThroughput(contents, MATCHER_SECONDS)
  const pass = perSecond >= MATCHER_TARGET
  console.log(`transfers[1] matcher (scan + held codes + decide), ${contents.length} corpus contents, one thread, ${MATCHER_SECONDS} s: ` +
    `${fmt(perSecond)} contents/s median (rounds ${runs.map(fmt).join(", ")}); target ≥ ${fmt(MATCHER_TARGET)}/s: ${pass ? "PASS" : "MISS"} (${load()})`)
  summary.push({
    label: "[1] matcher contents/s (one core)",
    value: `${fmt(perSecond)}/s (rounds ${runs.map(fmt).join(", ")})`,
    target: `≥ ${fmt(MATCHER_TARGET)}/s`,
    pass
  })
}

// --- part 2: databases ------------------------------------------------------------------------------

const pgDatabases = benchDatabases(PG_URL, "c360_bench_transfers", "transfers")
const { admin } = pgDatabases
const createDatabase = pgDatabases.create
const dropDatabases = pgDatabases.dropAll

/** Payment code k: `N2` + k in base 32 over the library's alphabet, 8 characters (unique per k). */
const paymentCodeSql = (k: string): string => {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
  const digits = Array.from({ length: 8 }, (_, d) => `substr('${alphabet}', ((${k} / ${32 ** (7 - d)}) % 32)::int + 1, 1)`)
  return `'N2' || ${digits.join(" || ")}`
}

const seed = async (): Promise<string> => {
  const t0 = performance.now()
  const database = await createDatabase("_seed")
  await (await createCustomer360({ database: { postgres: { url: withDatabase(PG_URL, database) } } })).close()
  const then = Date.now() - 30 * DAY
  await admin(async (c) => {
    const cus = "'cus_' || lpad(i::text, 26, '0')"
    await c.query("BEGIN")
    await c.query(`INSERT INTO c360_customers (id, phone, name, source, created_at, updated_at, payment_code)
      SELECT ${cus}, '09' || lpad(i::text, 8, '0'), 'Bench ' || i, 'import', $1::bigint, $1::bigint, ${paymentCodeSql("i")}
      FROM generate_series(1, ${CUSTOMERS}) i`, [then])
    await c.query(`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
      SELECT ${cus}, ${SEED_BALANCE}, 0, $1::bigint, $1::bigint FROM generate_series(1, ${CUSTOMERS}) i`, [then])
    await c.query(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      SELECT 'le_seed_' || i, 'txn_seed_' || i, ${cus}, 'deposit', ${SEED_BALANCE}, ${SEED_BALANCE}, NULL, NULL, 'seed-' || i,
        'manual', NULL, $1::bigint FROM generate_series(1, ${CUSTOMERS}) i ORDER BY i`, [then])
    await c.query("COMMIT")
    await c.query("VACUUM ANALYZE")
  }, database)
  console.log(`transfers[2] seeded ${fmt(CUSTOMERS)} customers with wallets of ${fmt(SEED_BALANCE)} in ${database} (${elapsed(t0)})`)
  return database
}

// --- part 2: deliveries -------------------------------------------------------------------------------

/** Contents as banks write them, each carrying the phone once (in several written forms). */
const TEMPLATES: ReadonlyArray<(phone: string, n: number) => string> = [
  (p, n) => `MBVCB.3278907687.${458213 + (n % 1000)}.CT tu 0071000123456 NGUYEN VAN AN chuyen tien ${p} FT25308710231543`,
  (p, n) => `NAP VI SDT ${p.slice(0, 4)}.${p.slice(4, 7)}.${p.slice(7)} GD ${464434 + (n % 1000)}-080625 10:55:18`,
  (p) => `${p.slice(0, 4)} ${p.slice(4, 7)} ${p.slice(7)} chuyen khoan mua hang`,
  (p, n) => `IBFT CK${p} NAP TIEN TRACE ${845120 + (n % 1000)}`,
  (p) => `TRAN THI BICH NGOC chuyen tien +84 ${p.slice(1)}`
]

const contentOf = (customer: number, n: number): string => TEMPLATES[n % TEMPLATES.length]!(phoneOf(customer), n)

/** Every template, on a few phones, must be matched by the matcher to exactly that phone. */
const checkTemplates = (): void => {
  for (let t = 0; t < TEMPLATES.length; t++) {
    for (const customer of [0, 41, 999]) {
      const content = TEMPLATES[t]!(phoneOf(customer), t)
      const d = decide([], scan(content, { shopPhones: new Set(), shopAccounts: new Set() }).phones)
      if (d.by !== "phone" || d.phone !== phoneOf(customer)) {
        throw new Error(`bench bug: the content ${JSON.stringify(content)} is not matched by the phone ${phoneOf(customer)}: ${JSON.stringify(d)}`)
      }
    }
  }
}

const localTime = (at: number): string => new Date(at + 7 * 3_600_000).toISOString().slice(0, 19).replace("T", " ")

let nextId = 7_000_000
const delivery = (id: number, customer = Math.floor(Math.random() * CUSTOMERS)) => ({
  id,
  gateway: "Vietcombank",
  transactionDate: localTime(Date.now()),
  accountNumber: "1903512345678",
  subAccount: null,
  code: null,
  content: contentOf(customer, id),
  transferType: "in",
  transferAmount: 1_000 * (1 + Math.floor(Math.random() * 100)),
  accumulated: 25_000_000,
  referenceCode: `FT${id}`,
  description: `BankAPINotify ${id}`
})

interface Answer {
  readonly status: number
  readonly body: string
  readonly error?: string
}

const post = (agent: Agent, url: URL, body: string): Promise<Answer> =>
  new Promise((done) => {
    const req = request({
      agent,
      hostname: url.hostname,
      port: url.port,
      method: "POST",
      path: "/api/webhooks/sepay",
      headers: { authorization: `Apikey ${SEPAY_KEY}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) }
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
      res.on("error", (e) => done({ status: 0, body: "", error: e.message }))
    })
    req.on("error", (e) => done({ status: 0, body: "", error: e.message }))
    req.end(body)
  })

const SUCCESS = JSON.stringify({ success: true })
const ok = (a: Answer): boolean => a.status === 200 && a.body === SUCCESS

// --- part 2: servers ------------------------------------------------------------------------------------

interface Server {
  readonly side: Side
  readonly url: URL
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
}
const running = new Set<Server>()
/** What each server said when it stopped: the requests it served and the SQL statements it sent. */
const serverStats: Partial<Record<Side, { requests: number; queries: number }>> = {}

const startServer = (side: Side, database: string): Promise<Server> =>
  new Promise((resolveServer, reject) => {
    const profile = CPU_PROF !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${resolve(CPU_PROF, side)}`] : []
    const child = spawn(process.execPath, [...profile, "--import", "tsx", join(root, "bench", "support", "transfers-server.ts")], {
      cwd: root,
      env: {
        ...process.env,
        MODE: side,
        DATABASE_URL: withDatabase(PG_URL, database),
        PORT: "0",
        C360_BENCH_POOL: String(POOL),
        C360_BENCH_SEPAY_KEY: SEPAY_KEY
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
      const stats = /^stats (\{.*\})$/.exec(line)
      if (stats !== null) {
        serverStats[side] = JSON.parse(stats[1]!) as { requests: number; queries: number }
      } else if (!listening && m !== null) {
        listening = true
        clearTimeout(timer)
        const server: Server = { side, url: new URL(m[1]!), child, exited }
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
    console.error(`transfers: the ${server.side} server did not stop within 20 s: SIGKILL`)
    server.child.kill("SIGKILL")
    await server.exited
  } else {
    check(code === 0, `the ${server.side} server exited with code ${code}`)
  }
}
const stopServers = () => Promise.all([...running].map(stopServer))


// --- part 2: parity -------------------------------------------------------------------------------------

/** Deliveries answered 200 per side, by SePay id (the audit compares them with the rows). */
const answered: Record<Side, Set<number>> = { library: new Set(), bare: new Set() }

const rowsOf = async (database: string, providerId: string) =>
  admin(async (c) => {
    const t = (await c.query(`SELECT status, customer_id, match_by, match_reason, candidates, explanation, amount, content,
        transaction_date, linked_by, raw, deposit_transaction_id, version FROM c360_bank_transfers WHERE provider_id = $1`, [providerId])).rows
    const txn = t[0]?.deposit_transaction_id as string | undefined
    for (const row of t) delete row.deposit_transaction_id // an id (the audit checks it names the deposit)
    const o = (await c.query(`SELECT reference, customer_id, kind, fingerprint, result::json->'wallet' AS wallet
      FROM c360_wallet_operations WHERE transaction_id = $1`, [txn])).rows
    const l = (await c.query(`SELECT customer_id, kind, amount, balance_after, credit_id, credit_remaining_after, reference, source, note
      FROM c360_ledger_entries WHERE transaction_id = $1`, [txn])).rows
    const e = (await c.query(`SELECT channel, type, subject, payload FROM c360_outbox
      WHERE payload::json->>'transactionId' = $1 OR payload::json->'transfer'->>'providerId' = $2 ORDER BY seq`, [txn, providerId])).rows
    const a = (await c.query(`SELECT a.customer_id, a.actor, a.kind, a.subject_type, a.summary, a.data FROM c360_activities a
      JOIN c360_bank_transfers t ON t.id = a.subject_id WHERE t.provider_id = $1`, [providerId])).rows
    const w = (await c.query(`SELECT w.balance, w.version FROM c360_wallets w WHERE w.customer_id = $1`, [t[0]?.customer_id])).rows
    const counts = (await c.query(`SELECT (SELECT count(*) FROM c360_bank_transfers) AS transfers,
      (SELECT count(*) FROM c360_ledger_entries) AS entries, (SELECT count(*) FROM c360_wallet_operations) AS operations,
      (SELECT count(*) FROM c360_outbox) AS events, (SELECT count(*) FROM c360_activities) AS activities`)).rows[0]
    // ids, and the instants and transaction ids inside JSON, differ by nature
    const scrub = (s: string) => s.replace(/"(id|transactionId|depositTransactionId|occurredAt)":"[^"]*"/g, `"$1":"…"`)
    const events = e.map((r) => ({ ...r, payload: scrub(String(r.payload)) }))
    return { transfer: t, operation: o, ledger: l, events, activity: a, wallet: w, counts }
  }, database)

const parity = async (servers: Record<Side, Server>, databases: Record<Side, string>): Promise<void> => {
  const body = JSON.stringify(delivery(1_000_001, 9))
  const racedId = 1_000_002
  const raced = JSON.stringify(delivery(racedId, 41))
  const results = {} as Record<Side, { first: Answer; repeat: Answer; race: Array<Answer> }>
  for (const side of SIDES) {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 })
    try {
      const first = await post(agent, servers[side].url, body)
      const repeat = await post(agent, servers[side].url, body)
      const race = await Promise.all(Array.from({ length: 8 }, () => post(agent, servers[side].url, raced)))
      results[side] = { first, repeat, race }
    } finally {
      agent.destroy()
    }
    const { first, repeat, race } = results[side]
    check(ok(first), `parity: ${side} answered the first delivery ${first.status} ${first.body}${first.error ?? ""}`)
    check(ok(repeat), `parity: ${side} answered the repeated delivery ${repeat.status} ${repeat.body}${repeat.error ?? ""}`)
    check(race.every(ok), `parity: ${side} answered 8 concurrent deliveries of one id ${race.map((a) => a.status).join(", ")}`)
    if (ok(first)) answered[side].add(1_000_001)
    if (race.some(ok)) answered[side].add(racedId)
  }
  const rows = {} as Record<Side, string>
  for (const side of SIDES) {
    const r = await rowsOf(databases[side], "1000001")
    const race = await rowsOf(databases[side], String(racedId))
    check(r.transfer.length === 1 && r.operation.length === 1 && r.ledger.length === 1 && r.events.length === 3 && r.activity.length === 1,
      `parity: ${side} wrote ${r.transfer.length} transfer, ${r.operation.length} operation, ${r.ledger.length} ledger entry, ` +
        `${r.events.length} events, ${r.activity.length} activity for one delivery (expected 1, 1, 1, 3, 1)`)
    check(race.transfer.length === 1 && race.ledger.length === 1,
      `parity: ${side}: 8 concurrent deliveries of one id wrote ${race.transfer.length} transfers and ${race.ledger.length} deposits`)
    check(r.wallet[0]?.balance !== undefined && Number(r.wallet[0].balance) === SEED_BALANCE + Number(r.transfer[0]?.amount),
      `parity: ${side}: the wallet holds ${r.wallet[0]?.balance}, expected ${SEED_BALANCE} + the transfer`)
    const { counts, ...written } = r
    rows[side] = JSON.stringify(written)
    console.log(`transfers[2] parity ${side}: rows after 1 delivery + its repeat + 8 concurrent of another id: ${JSON.stringify(counts)}`)
  }
  check(rows.library === rows.bare, `parity: one delivery wrote different rows (ids aside):\n  library ${rows.library}\n  bare    ${rows.bare}`)
  const same = problems.every((p) => !p.startsWith("parity"))
  console.log(`transfers[2] parity (a delivery, its repeat, 8 concurrent deliveries of one id; rows written): ` +
    `${same ? "same answers and rows on both sides, repeats change nothing" : "DIFFERENT (see above)"}`)
  summary.push({ label: "[2] answers and rows: library = bare", value: same ? "yes (repeats and concurrent repeats deposit once)" : "NO" })
}

// --- part 2: load ---------------------------------------------------------------------------------------

interface Run {
  readonly side: Side
  readonly label: string
  readonly rate: number
  readonly requests: number
  readonly errors: number
  readonly errorKinds: ReadonlyMap<string, number>
  readonly p50: number
  readonly p99: number
  readonly cpuShare: number | undefined
  readonly cpuPerRequest: number | undefined
  /** what the side's connections were doing (sampled during the measured runs) */
  readonly activity?: Activity | undefined
}

const runLoad = async (server: Server, label: string, total: number, database?: string): Promise<Run> => {
  const bodies = Array.from({ length: total }, () => {
    const id = nextId++
    return { id, body: JSON.stringify(delivery(id)) }
  })
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const latencies: Array<number> = []
  const errorKinds = new Map<string, number>()
  let errors = 0
  let next = 0
  const sampler = database === undefined ? undefined : await sampleActivity(PG_URL, database)
  const cpu0 = cpuSeconds(server.child.pid)
  const t0 = performance.now()
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (next < bodies.length) {
        const { id, body } = bodies[next++]!
        const t = performance.now()
        const a = await post(agent, server.url, body)
        if (ok(a)) {
          latencies.push(performance.now() - t)
          answered[server.side].add(id)
        } else {
          errors++
          const kind = a.error ?? `${a.status} ${a.body.slice(0, 100)}`
          errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1)
        }
      }
    }))
  } finally {
    agent.destroy()
  }
  const wall = (performance.now() - t0) / 1000
  const cpu1 = cpuSeconds(server.child.pid)
  const activity = await sampler?.stop()
  const cpu = cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0
  latencies.sort((a, b) => a - b)
  const at = (p: number) => latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!
  const run: Run = {
    side: server.side,
    label,
    rate: total / wall,
    requests: total,
    errors,
    errorKinds,
    p50: at(0.5),
    p99: at(0.99),
    cpuShare: cpu === undefined ? undefined : cpu / wall,
    cpuPerRequest: cpu === undefined ? undefined : (cpu * 1e6) / total,
    activity
  }
  check(errors === 0, `${server.side} ${label}: ${errors} of ${total} requests failed (${[...errorKinds].map(([k, n]) => `${n}× ${k}`).join("; ")})`)
  return run
}

const runLine = (title: string, r: Run): string =>
  `  ${title.padEnd(18)} ${rps(r.rate).padStart(13)}  ${fmt(r.requests)} requests  p50 ${msf(r.p50).padStart(7)}  p99 ${msf(r.p99).padStart(7)}  ` +
  `errors ${r.errors}` +
  (r.cpuShare === undefined ? "" : `  server CPU ${(100 * r.cpuShare).toFixed(0)} % of a core, ${fmt(r.cpuPerRequest!)} µs/request`)

// --- part 2: audit --------------------------------------------------------------------------------------

const audit = async (side: Side, database: string): Promise<void> => {
  const r = await admin(async (c) => (await c.query(`SELECT
    (SELECT count(*) FROM c360_wallets) AS wallets,
    (SELECT count(*) FROM c360_bank_transfers) AS transfers,
    (SELECT count(*) FROM c360_ledger_entries WHERE reference LIKE 'sepay:%') AS deposits,
    (SELECT count(*) FROM c360_wallets w LEFT JOIN (SELECT customer_id, sum(amount) AS s FROM c360_ledger_entries
        WHERE kind = 'deposit' GROUP BY 1) l USING (customer_id)
      WHERE w.balance <> coalesce(l.s, 0)) AS "wallets whose balance is not the sum of their deposits",
    (SELECT count(*) FROM c360_ledger_entries WHERE kind <> 'deposit') AS "ledger entries other than deposits",
    (SELECT count(*) FROM c360_bank_transfers t LEFT JOIN (SELECT reference, transaction_id, customer_id, amount, count(*) AS n
        FROM c360_ledger_entries WHERE kind = 'deposit' AND reference LIKE 'sepay:%' GROUP BY 1, 2, 3, 4) l
        ON l.reference = 'sepay:' || t.provider_id AND l.transaction_id = t.deposit_transaction_id AND l.customer_id = t.customer_id
          AND l.amount = t.amount
      WHERE t.status <> 'matched' OR t.match_by <> 'phone' OR l.n IS DISTINCT FROM 1) AS "transfers without exactly one matching deposit",
    (SELECT count(*) FROM c360_ledger_entries l LEFT JOIN c360_bank_transfers t ON 'sepay:' || t.provider_id = l.reference
      WHERE l.reference LIKE 'sepay:%' AND t.id IS NULL) AS "deposits without their transfer",
    (SELECT count(*) FROM (SELECT reference FROM c360_ledger_entries GROUP BY reference HAVING count(*) > 1) d)
      AS "references twice in the ledger",
    (SELECT count(*) FROM c360_wallets w LEFT JOIN (SELECT customer_id, count(*) AS n FROM c360_wallet_operations GROUP BY 1) o
        USING (customer_id) WHERE w.version <> coalesce(o.n, 0)) AS "wallets whose version is not their number of operations",
    (SELECT count(*) FROM c360_bank_transfers t
      LEFT JOIN (SELECT payload::json->'transfer'->>'id' AS id, count(*) AS n FROM c360_outbox
        WHERE type IN ('transfer.received', 'transfer.linked') GROUP BY 1) e ON e.id = t.id
      LEFT JOIN (SELECT payload::json->>'transactionId' AS txn, count(*) AS n FROM c360_outbox
        WHERE type = 'wallet.deposit' GROUP BY 1) d ON d.txn = t.deposit_transaction_id
      WHERE e.n IS DISTINCT FROM 2 OR d.n IS DISTINCT FROM 1) AS "transfers without their three events"`))
    .rows[0] as Record<string, string>, database)
  const ids = await admin(async (c) => (await c.query(`SELECT provider_id FROM c360_bank_transfers`)).rows
    .map((row: { provider_id: string }) => Number(row.provider_id)), database)
  const stored = new Set(ids)
  const missing = [...answered[side]].filter((id) => !stored.has(id)).length
  const unexpected = ids.filter((id) => !answered[side].has(id)).length
  const counts = new Set(["wallets", "transfers", "deposits"])
  const failures = Object.entries(r).filter(([k, v]) => !counts.has(k) && Number(v) !== 0)
  check(missing === 0, `audit ${side}: ${missing} deliveries answered 200 are not recorded`)
  check(unexpected === 0, `audit ${side}: ${unexpected} transfers recorded that were not answered 200`)
  check(Number(r.deposits) === Number(r.transfers), `audit ${side}: ${r.deposits} deposits for ${r.transfers} transfers`)
  for (const [k, v] of failures) check(false, `audit ${side}: ${k}: ${v}`)
  const good = failures.length === 0 && missing === 0 && unexpected === 0 && Number(r.deposits) === Number(r.transfers)
  console.log(`transfers[2] audit ${side} (${database}): ${fmt(Number(r.wallets))} wallets, ${fmt(Number(r.transfers))} transfers, ` +
    `${fmt(Number(r.deposits))} sepay deposits, ${fmt(answered[side].size)} deliveries answered 200; ` +
    Object.entries(r).filter(([k]) => !counts.has(k)).map(([k, v]) => `${k} ${v}`).join(", ") +
    `; answered but not recorded ${missing}, recorded but not answered ${unexpected}`)
  summary.push({
    label: `[2] ${side}: ledger audit`,
    value: good
      ? `holds (balance = sum of deposits on ${fmt(Number(r.wallets))} wallets; ${fmt(Number(r.transfers))} transfers, one deposit each)`
      : "VIOLATED"
  })
}

// --- part 2 -----------------------------------------------------------------------------------------------

const partWebhook = async (): Promise<void> => {
  const t0 = performance.now()
  checkTemplates()
  const source = await seed()
  const databases: Record<Side, string> = { library: await createDatabase("_library", source), bare: await createDatabase("_bare", source) }
  const [library, bare] = await Promise.all([startServer("library", databases.library), startServer("bare", databases.bare)])
  const servers: Record<Side, Server> = { library, bare }
  console.log(`transfers[2] servers up (child processes, pool ${POOL} each): library ${servers.library.url.origin} ` +
    `(pid ${servers.library.child.pid}), bare ${servers.bare.url.origin} (pid ${servers.bare.child.pid})` +
    `${CPU_PROF === undefined ? "" : `, both under --cpu-prof → ${CPU_PROF}`}`)
  await parity(servers, databases)

  console.log(`transfers[2] POST /api/webhooks/sepay, matched by phone (link + deposit), ${CONNECTIONS} keep-alive connections, ` +
    `${fmt(REQUESTS)} requests per run, ${ROUNDS} round(s); ${load()}`)
  for (const side of SIDES) console.log(runLine(`warm-up ${side}`, await runLoad(servers[side], "warm-up", WARMUP_REQUESTS)))
  const bySide: Record<Side, Array<Run>> = { library: [], bare: [] }
  const ratios: Array<number> = []
  for (let round = 0; round < ROUNDS; round++) {
    const order: ReadonlyArray<Side> = round % 2 === 0 ? ["library", "bare"] : ["bare", "library"]
    for (const side of order) {
      const r = await runLoad(servers[side], `round ${round + 1}`, REQUESTS, databases[side])
      bySide[side].push(r)
      console.log(runLine(`round ${round + 1} ${side}`, r))
    }
    ratios.push(bySide.library[round]!.rate / bySide.bare[round]!.rate)
    console.log(`  round ${round + 1} library/bare  ${x(ratios[round]!)}  (${load()})`)
  }
  const med = (side: Side, f: (r: Run) => number) => median(bySide[side].map(f))
  const ratio = median(ratios)
  console.log(`transfers[2] medians of ${ROUNDS} round(s):`)
  for (const side of SIDES) {
    const cpu = bySide[side].every((r) => r.cpuShare !== undefined)
      ? `  server CPU ${(100 * med(side, (r) => r.cpuShare!)).toFixed(0)} % of a core, ${fmt(med(side, (r) => r.cpuPerRequest!))} µs/request`
      : ""
    console.log(`  ${side.padEnd(8)} ${rps(med(side, (r) => r.rate)).padStart(13)}  (per round ${bySide[side].map((r) => fmt(r.rate)).join(", ")})  ` +
      `p50 ${msf(med(side, (r) => r.p50))}  p99 ${msf(med(side, (r) => r.p99))}  errors ${bySide[side].reduce((a, r) => a + r.errors, 0)}${cpu}`)
  }
  const activityOf = (side: Side): Activity => {
    const mean = (f: (a: Activity) => number) => bySide[side].reduce((a, r) => a + f(r.activity!), 0) / bySide[side].length
    return {
      samples: bySide[side].reduce((a, r) => a + r.activity!.samples, 0),
      lock: mean((a) => a.lock),
      active: mean((a) => a.active),
      client: mean((a) => a.client),
      idle: mean((a) => a.idle)
    }
  }
  for (const side of SIDES) console.log(`  ${side.padEnd(8)} connections (of ${POOL}): ${describeActivity(activityOf(side))}`)
  console.log(`  requests/s library/bare: median of per-round ratios ${x(ratio)} (per round ${ratios.map(x).join(", ")}); ` +
    `target ≥ ${x(TARGET)}: ${ratio >= TARGET ? "PASS" : "MISS"}`)

  await stopServers() // drains what is in flight, so the rows below are final
  const perRequest = (side: Side) => {
    const st = serverStats[side]
    return st === undefined ? "n/a" : (st.queries / Math.max(1, st.requests)).toFixed(1)
  }
  console.log(`transfers[2] SQL round trips per request (every query each server sent / every request it served): ` +
    `library ${perRequest("library")} (${JSON.stringify(serverStats.library)}), bare ${perRequest("bare")} (${JSON.stringify(serverStats.bare)})`)
  for (const side of SIDES) await audit(side, databases[side])

  for (const side of SIDES) {
    const cpu = bySide[side].every((r) => r.cpuPerRequest !== undefined)
      ? `, server CPU ${fmt(med(side, (r) => r.cpuPerRequest!))} µs/request`
      : ""
    summary.push({
      label: `[2] ${side}: webhook req/s (median)`,
      value: `${rps(med(side, (r) => r.rate))} (per round ${bySide[side].map((r) => fmt(r.rate)).join(", ")}), ` +
        `p50 ${msf(med(side, (r) => r.p50))}, p99 ${msf(med(side, (r) => r.p99))}, ` +
        `${bySide[side].reduce((a, r) => a + r.errors, 0)} errors${cpu}`
    })
  }
  summary.push({
    label: "[2] connections waiting for the server: library / bare",
    value: `${activityOf("library").client.toFixed(1)} / ${activityOf("bare").client.toFixed(1)} of ${POOL} idle in a transaction ` +
      `(active ${activityOf("library").active.toFixed(1)} / ${activityOf("bare").active.toFixed(1)}; pg_stat_activity; diagnostic)`
  })
  summary.push({
    label: "[2] SQL round trips per request: library / bare",
    value: `${perRequest("library")} / ${perRequest("bare")} (all requests served; diagnostic)`
  })
  summary.push({ label: "[2] library/bare webhook req/s", value: `${x(ratio)} (per round ${ratios.map(x).join(", ")})`, target: `≥ ${x(TARGET)}`, pass: ratio >= TARGET })
  console.log(`transfers[2] done in ${elapsed(t0)}, ${load()}`)
}

// --- main ---------------------------------------------------------------------------------------------------

const printSummary = (loadAtStart: string): void => {
  console.log("")
  console.log("=".repeat(100))
  console.log(`transfers benchmark summary (${new Date().toISOString()}, node ${process.version}, ` +
    `${QUICK ? "QUICK MODE, figures mean little" : `full run: ${ROUNDS} rounds of ${fmt(REQUESTS)} requests per side`}, ` +
    `${CONNECTIONS} connections, pool ${POOL} on each side)`)
  console.log(`  library: the built package (dist/), built from ${builtFrom}`)
  console.log(`  machine: ${loadAtStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share it)`)
  const width = Math.max(...summary.map((r) => r.label.length))
  const valueWidth = Math.max(...summary.map((r) => r.value.length))
  for (const r of summary) {
    const target = r.target === undefined ? "" : `  target ${r.target.padEnd(11)} ${r.pass ? "PASS" : "MISS"}`
    console.log(`  ${r.label.padEnd(width)}  ${r.value.padEnd(valueWidth)}${target}`)
  }
  console.log(problems.length === 0
    ? "  correctness: no failed request, same rows on both sides, repeats deposit once, audit holds"
    : `  correctness: ${problems.length} PROBLEM(S):\n    ${problems.join("\n    ")}`)
  console.log("=".repeat(100))
}

/** The sources of the build being measured (`npm run bench` builds just before the run starts). */
let builtFrom = "unknown revision"

export async function run(): Promise<void> {
  const t0 = performance.now()
  builtFrom = librarySource()
  const loadAtStart = load()
  console.log(`transfers: ${loadAtStart}${QUICK ? "; QUICK MODE" : ""}`)
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    console.error(`transfers: ${signal}, stopping the servers and dropping the databases`)
    void stopServers().catch(() => undefined).then(() => dropDatabases()).finally(() => process.exit(130))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const errors: Array<string> = []
  const attempt = async (name: string, f: () => Promise<void> | void) => {
    try {
      await f()
    } catch (e) {
      errors.push(`${name}: ${e instanceof Error ? e.message : String(e)}`)
      console.error(`transfers: ${name} FAILED`, e)
      summary.push({ label: name, value: "ERROR" })
    }
  }
  try {
    if (PARTS.has("1")) await attempt("[1] matcher", partMatcher)
    if (PARTS.has("2")) {
      const unreachable = await pgDatabases.reachable()
      if (unreachable !== null) {
        errors.push(`PostgreSQL is unreachable at ${PG_URL} (${unreachable}); set C360_PG_URL`)
        summary.push({ label: "[2] webhook ingestion", value: `SKIPPED: PostgreSQL unreachable at ${PG_URL}` })
      } else {
        await attempt("[2] webhook ingestion", partWebhook)
      }
    }
  } finally {
    await stopServers().catch((e) => console.error("transfers: stopping the servers failed", e))
    await dropDatabases()
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  printSummary(loadAtStart)
  console.log(`transfers: total ${elapsed(t0)}`)
  if (errors.length > 0 || problems.length > 0) {
    process.exitCode = 1
    throw new Error(`transfers benchmark: ${errors.length} error(s), ${problems.length} problem(s)`)
  }
}

export default run
