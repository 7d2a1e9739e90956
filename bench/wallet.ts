/**
 * Wallet benchmark: the library against hand-written baselines on the same machine, in one run.
 *
 * 1. SQLite (file, WAL, `synchronous = NORMAL`), one caller, withdrawals awaited one after another:
 *    the Promise facade (`c360.wallets.withdraw`) against a raw better-sqlite3 version of the same
 *    logic on the same schema (one `db.transaction(...).immediate()` per withdrawal: customer and
 *    wallet by phone, reference check, active credits, FIFO plan, wallet update, operation row with
 *    its JSON result, credit updates, ledger entries, one outbox row). Diagnostic: the library
 *    through the Effect API (`ManagedRuntime` + `runtime.runPromise(wallets.withdraw(…))`).
 *    The data set is built once through the library and copied, so every side starts from the same
 *    file: 1,000 wallets; the even ones hold a 2,500 credit (10 days), a large one (20 days) and a
 *    credit that is already past its expiry but still `active` (must never be spent). Withdrawal k
 *    goes to wallet k mod 1,000, so exactly half of them spend a credit (checked from `fromCredits`
 *    on every side), and every third one on a credit wallet spans two credits. Afterwards the three
 *    files must hold the same rows per table (and the same balances and remainders).
 * 2. PostgreSQL, 16 concurrent callers: the facade (`maxConnections: 16`) over 1,600 wallets, each
 *    caller its own 100, for 20 s, against `pgbench -M prepared -c 16 -j 2 -T 20` (TPC-B-like,
 *    scale 16, in its own database), alternately, 3 rounds, medians. Diagnostic: 16 callers over 4
 *    wallets. The wallets (deposit, and on every other wallet the same two credits as in part 1,
 *    with their ledger entries) are bulk-loaded with set-based SQL into the library-migrated schema;
 *    every figure is about the library's withdrawals, and half of them spend a credit (checked).
 *    Diagnostics: the machine's CPU time (all processes, /proc/stat) per withdrawal and per TPC-B
 *    transaction; and, after the rounds, the library's write statement alone (`c360_wallet_write_many`
 *    with a payload of the library's sizes, a withdrawal from the real balance planned in SQL on the
 *    wallet's current version) driven by pgbench's C client, next to TPC-B right after it — what
 *    the database side of a withdrawal costs without the Node process beside it.
 * 3. `expireCredits({ batchSize: 5000 })` (facade, `now` fixed) over 1,000,000 credits of which
 *    200,000 are due, spread over 10,000 wallets (customers, wallets with a deposit entry, credits:
 *    all bulk-loaded set-based, `generate_series` / a recursive CTE, into the library-migrated
 *    schema; credits issued in time order, see `expiryLayout`), against one hand-written set-based
 *    pass (PostgreSQL: one data-modifying CTE; SQLite: four statements in one transaction), each on
 *    an identical copy of the loaded database (SQLite: file copy; PostgreSQL: `CREATE DATABASE …
 *    TEMPLATE`, after VACUUM ANALYZE; a CHECKPOINT before each side); 3 rounds, each on two fresh
 *    copies, the library first in rounds 1 and 3 and the baseline first in round 2; medians. Both copies must
 *    expire exactly 200,000 credits and end with the same ledger and outbox counts (and every
 *    credit_expired entry must carry its wallet's balance and credit). Peak RSS of
 *    the library run is sampled every 10 ms by a worker thread (RSS is per process, and a worker
 *    keeps sampling while the main thread is inside a synchronous SQLite batch).
 *
 * The library is the built package (`dist/`, built by `npm run bench` first), as its users run it;
 * see support/library.ts for why not its sources through the benches' TypeScript loader.
 *
 * The machine's load average is printed with every part: other processes on a 2-core box move
 * absolute figures a lot; the ratios compare sides measured in the same minutes.
 *
 * PostgreSQL: `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432); the bench creates its
 * own `c360_bench_*` databases and drops them at the end, also on failure or Ctrl-C. When the server
 * is unreachable it says so and runs the SQLite parts only. `C360_BENCH_QUICK=1` shrinks everything
 * (for checking the bench itself; its figures mean nothing).
 *
 * Prints a summary with every figure, ratio and target (PASS/MISS). Exit code 0 on a MISS (this is
 * a measurement); non-zero on an error or a correctness mismatch.
 *
 * Run with `npm run bench -- wallet`.
 */
import { fmt, median } from "./support/stats.js"
import { execFile } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { Worker } from "node:worker_threads"
import Sqlite from "better-sqlite3"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type pg from "pg"
import type { Customer360Instance } from "../src/index.js"
import { benchDatabases, withDatabase } from "./support/databases.js"
import { newId } from "./support/ids.js"
import { main, sqlite } from "./support/library.js"
import type { CreditRow } from "./support/rows.js"

// the built package, as users run it (see support/library.ts)
const { Customer360, createCustomer360, Wallets } = main
const { SqliteDatabase } = sqlite

const QUICK = process.env.C360_BENCH_QUICK === "1"
const PG_URL = process.env.C360_PG_URL || "postgres://postgres@127.0.0.1:5432"
const DAY = 86_400_000
const AMOUNT = 1_000

// part 1
const SQ_WALLETS = QUICK ? 200 : 1_000
const SQ_WARMUP = QUICK ? 200 : 1_000
const SQ_N = QUICK ? 400 : 2_500
const SQ_ROUNDS = QUICK ? 3 : 5
// part 2
const PG_CALLERS = 16
const PG_WALLETS_PER_CALLER = QUICK ? 10 : 100
const PG_CONTENDED_WALLETS = 4
const PG_SECONDS = QUICK ? 3 : 20
const PG_CONTENDED_SECONDS = QUICK ? 2 : 4
const PG_ROUNDS = 3
const PGBENCH_SCALE = 16
// part 3
const EXP_CREDITS = QUICK ? 50_000 : 1_000_000
const EXP_DUE = EXP_CREDITS / 5
const EXP_WALLETS = EXP_CREDITS / 100
const EXP_ROUNDS = QUICK ? 1 : 3
/** The job's batch size (C360_BENCH_EXPIRY_BATCH); the library default is 5,000. */
const EXP_BATCH = Number(process.env.C360_BENCH_EXPIRY_BATCH ?? 5_000)

// --- reporting ----------------------------------------------------------------------------------

interface SummaryRow {
  readonly label: string
  readonly value: string
  readonly target?: string
  readonly pass?: boolean
}
const summary: Array<SummaryRow> = []
const problems: Array<string> = []

const fail = (message: string): void => {
  problems.push(message)
  console.error(`wallet: MISMATCH ${message}`)
}
const check = (ok: boolean, message: string): void => {
  if (!ok) fail(message)
}

const ops = (n: number): string => `${fmt(n)}/s`
const ms = (n: number): string => (n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`)
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`
const x = (r: number): string => `${r.toFixed(2)}×`
const list = (xs: ReadonlyArray<number>, f: (n: number) => string): string => xs.map(f).join(", ")
const elapsed = (start: number): string => `${((performance.now() - start) / 1000).toFixed(1)} s`
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} CPUs`

const sqlitePragmas = (db: Sqlite.Database): void => {
  db.pragma("journal_mode = WAL")
  db.pragma("busy_timeout = 5000")
  db.pragma("foreign_keys = ON")
  db.pragma("synchronous = NORMAL")
}

/** Copies a closed SQLite database (and its WAL, if one was left behind). */
const copyDatabase = (from: string, to: string): void => {
  copyFileSync(from, to)
  if (existsSync(`${from}-wal`)) copyFileSync(`${from}-wal`, `${to}-wal`)
}

const phoneOf = (i: number): string => `09${String(i + 1).padStart(8, "0")}`

// --- ids (for the raw baseline) -------------------------------------------------------------------


// --- part 1: SQLite, one caller -------------------------------------------------------------------

interface WithdrawOutcome {
  readonly fromCredits: ReadonlyArray<{ readonly creditId: string; readonly amount: number }>
  readonly fromReal: number
}

/** Builds the part-1 data set through the library. */
const setupSqliteWallets = async (filename: string): Promise<void> => {
  const started = Date.now()
  const c360 = await createCustomer360({ database: { sqlite: { filename } } })
  try {
    for (let i = 0; i < SQ_WALLETS; i++) {
      const phone = phoneOf(i)
      await c360.customers.create({ phone, name: `Bench ${i}`, source: "import" })
      await c360.wallets.deposit({ phone, amount: 1_000_000_000, reference: `dep-${i}`, source: "manual" })
      if (i % 2 === 0) {
        await c360.wallets.issueVirtualCredit({ phone, amount: 2_500, reason: "first", reference: `vc-a-${i}`, expiresInDays: 10 })
        await c360.wallets.issueVirtualCredit({ phone, amount: 100_000_000, reason: "second", reference: `vc-b-${i}`, expiresInDays: 20 })
      }
    }
  } finally {
    await c360.close()
  }
  // Credits issued 30 days ago for one day: past their expiry but still `active` (the job has not
  // run). They sort first, so a planner that forgets the expiry would spend them.
  const past = await createCustomer360({ database: { sqlite: { filename } }, now: () => new Date(started - 30 * DAY) })
  try {
    for (let i = 0; i < SQ_WALLETS; i += 2) {
      await past.wallets.issueVirtualCredit({ phone: phoneOf(i), amount: 5_000, reason: "stale", reference: `vc-s-${i}`, expiresInDays: 1 })
    }
  } finally {
    await past.close()
  }
}

/**
 * The hand-written baseline: the same withdrawal (same rows, same JSON result and event) in one
 * synchronous better-sqlite3 transaction taken with `BEGIN IMMEDIATE`.
 */
const makeRawWallets = (filename: string) => {
  const db = new Sqlite(filename)
  sqlitePragmas(db)
  const s = {
    wallet: db.prepare(`SELECT c.id AS customer_id, w.balance FROM c360_customers c
      JOIN c360_wallets w ON w.customer_id = c.id WHERE c.phone = ?`),
    operation: db.prepare(`SELECT kind, fingerprint, result FROM c360_wallet_operations WHERE reference = ?`),
    credits: db.prepare(`SELECT id, amount, remaining, issued_at, expires_at, reason, ticket_id FROM c360_virtual_credits
      WHERE customer_id = ? AND status = 'active' ORDER BY expires_at, issued_at, id`),
    updateWallet: db.prepare(`UPDATE c360_wallets SET balance = ?, version = version + 1, updated_at = ? WHERE customer_id = ?`),
    insertOperation: db.prepare(`INSERT INTO c360_wallet_operations
      (reference, transaction_id, customer_id, kind, fingerprint, result, created_at) VALUES (?, ?, ?, 'withdraw', ?, ?, ?)`),
    updateCredit: db.prepare(`UPDATE c360_virtual_credits SET remaining = ?, status = ? WHERE id = ?`),
    insertEntry: db.prepare(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount,
      balance_after, credit_id, credit_remaining_after, reference, source, note, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)`),
    insertEvent: db.prepare(`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
      VALUES (?, 'wallets', 'wallet.withdraw', ?, ?, ?)`)
  }
  const iso = (t: number) => new Date(t).toISOString()
  const transaction = db.transaction((phone: string, amount: number, reference: string, note: string | null, now: number) => {
    const wallet = s.wallet.get(phone) as { customer_id: string; balance: number } | undefined
    if (wallet === undefined) throw new Error(`no customer with phone ${phone}`)
    const customerId = wallet.customer_id
    const fingerprint = JSON.stringify([phone, amount, note])
    const recorded = s.operation.get(reference) as { kind: string; fingerprint: string; result: string } | undefined
    if (recorded !== undefined) {
      if (recorded.kind === "withdraw" && recorded.fingerprint === fingerprint) return JSON.parse(recorded.result) as WithdrawOutcome
      throw new Error(`reference ${reference} was used with another payload`)
    }
    const credits = s.credits.all(customerId) as Array<CreditRow>
    let available = wallet.balance
    for (const c of credits) if (c.expires_at > now) available += c.remaining
    if (available < amount) throw new Error(`insufficient funds: ${available} < ${amount}`)
    let left = amount
    const parts: Array<{ credit: CreditRow; amount: number }> = []
    for (const c of credits) {
      if (left === 0) break
      if (c.expires_at <= now) continue
      const take = Math.min(left, c.remaining)
      c.remaining -= take
      left -= take
      parts.push({ credit: c, amount: take })
    }
    const balanceAfter = wallet.balance - left
    const transactionId = newId("txn", now)
    const fromCredits = parts.map((p) => ({ creditId: p.credit.id, amount: p.amount }))
    let virtualBalance = 0
    const view = []
    for (const c of credits) {
      if (c.remaining === 0) continue
      const spendable = c.expires_at > now
      if (spendable) virtualBalance += c.remaining
      view.push({
        id: c.id, amount: c.amount, remaining: c.remaining, issuedAt: iso(c.issued_at), expiresAt: iso(c.expires_at),
        status: spendable ? "active" : "expired", reason: c.reason, ticketId: c.ticket_id
      })
    }
    const result = {
      transactionId,
      wallet: { customerId, balance: balanceAfter, virtualBalance, available: balanceAfter + virtualBalance, credits: view },
      fromCredits,
      fromReal: left
    }
    s.updateWallet.run(balanceAfter, now, customerId)
    s.insertOperation.run(reference, transactionId, customerId, fingerprint, JSON.stringify(result), now)
    const entryPrefix = `le_${transactionId.slice(4)}_`
    let ord = 0
    for (const p of parts) {
      s.updateCredit.run(p.credit.remaining, p.credit.remaining === 0 ? "consumed" : "active", p.credit.id)
      s.insertEntry.run(`${entryPrefix}${ord++}`, transactionId, customerId, "credit_spent", -p.amount, wallet.balance, p.credit.id,
        p.credit.remaining, reference, note, now)
    }
    if (left > 0) {
      s.insertEntry.run(`${entryPrefix}${ord}`, transactionId, customerId, "withdrawal", -left, balanceAfter, null, null, reference,
        note, now)
    }
    s.insertEvent.run(newId("evt", now), customerId,
      JSON.stringify({ transactionId, amount, fromCredits, fromReal: left, reference, balanceAfter }), now)
    return result
  })
  return {
    withdraw: (input: { phone: string; amount: number; reference: string; note?: string | null }): WithdrawOutcome =>
      transaction.immediate(input.phone, input.amount, input.reference, input.note ?? null, Date.now()),
    close: () => db.close()
  }
}

/** Row counts and totals that identical withdrawals must leave identical. */
const sqliteState = (filename: string): Record<string, number> => {
  const db = new Sqlite(filename, { readonly: true })
  try {
    const one = (sql: string) => Number((db.prepare(sql).pluck().get() as number | bigint | null) ?? 0)
    return {
      customers: one(`SELECT count(*) FROM c360_customers`),
      wallets: one(`SELECT count(*) FROM c360_wallets`),
      "wallet operations": one(`SELECT count(*) FROM c360_wallet_operations`),
      "ledger entries": one(`SELECT count(*) FROM c360_ledger_entries`),
      "  credit_spent": one(`SELECT count(*) FROM c360_ledger_entries WHERE kind = 'credit_spent'`),
      "  withdrawal": one(`SELECT count(*) FROM c360_ledger_entries WHERE kind = 'withdrawal'`),
      "outbox rows": one(`SELECT count(*) FROM c360_outbox`),
      "credits active": one(`SELECT count(*) FROM c360_virtual_credits WHERE status = 'active'`),
      "credits consumed": one(`SELECT count(*) FROM c360_virtual_credits WHERE status = 'consumed'`),
      "stale credits touched": one(`SELECT count(*) FROM c360_virtual_credits WHERE reason = 'stale' AND remaining <> amount`),
      "sum of balances": one(`SELECT sum(balance) FROM c360_wallets`),
      "sum of versions": one(`SELECT sum(version) FROM c360_wallets`),
      "sum of credit remainders": one(`SELECT sum(remaining) FROM c360_virtual_credits`)
    }
  } finally {
    db.close()
  }
}

/**
 * What each withdrawal wrote, in order, without the parts that are random by design (transaction,
 * entry and event ids): the recorded result, the ledger entries and the event payload.
 */
const withdrawalRows = (filename: string): Array<string> => {
  const db = new Sqlite(filename, { readonly: true })
  try {
    const strip = (json: string) => {
      const value = JSON.parse(json) as Record<string, unknown>
      delete value.transactionId
      return JSON.stringify(value)
    }
    const results = (db.prepare(`SELECT reference, fingerprint, result FROM c360_wallet_operations WHERE kind = 'withdraw'
      ORDER BY rowid`).all() as Array<{ reference: string; fingerprint: string; result: string }>)
      .map((r) => `op ${r.reference} ${r.fingerprint} ${strip(r.result)}`)
    const entries = (db.prepare(`SELECT reference, kind, amount, balance_after, credit_id, credit_remaining_after, note
      FROM c360_ledger_entries WHERE kind IN ('withdrawal', 'credit_spent') ORDER BY seq`).all() as Array<Record<string, unknown>>)
      .map((r) => `entry ${JSON.stringify(Object.values(r))}`)
    const events = (db.prepare(`SELECT subject, type, payload FROM c360_outbox WHERE type = 'wallet.withdraw' ORDER BY seq`)
      .all() as Array<{ subject: string; type: string; payload: string }>)
      .map((r) => `event ${r.subject} ${r.type} ${strip(r.payload)}`)
    return [...results, ...entries, ...events]
  } finally {
    db.close()
  }
}

const partSqliteWithdrawals = async (dir: string): Promise<void> => {
  const t0 = performance.now()
  const setup = join(dir, "withdraw-setup.sqlite")
  await setupSqliteWallets(setup)
  const files = { facade: join(dir, "withdraw-facade.sqlite"), raw: join(dir, "withdraw-raw.sqlite"), effect: join(dir, "withdraw-effect.sqlite") }
  for (const f of Object.values(files)) copyDatabase(setup, f)
  const before = sqliteState(setup)
  console.log(`wallet[1] SQLite data set: ${SQ_WALLETS} wallets, ${before["credits active"]} credits (${elapsed(t0)})`)

  const c360 = await createCustomer360({ database: { sqlite: { filename: files.facade } } })
  const raw = makeRawWallets(files.raw)
  const runtime = ManagedRuntime.make(Customer360.layer(SqliteDatabase.layer({ filename: files.effect })))
  try {
    const wallets = await runtime.runPromise(Wallets.Wallets)
    const input = (k: number) => ({ phone: phoneOf(k % SQ_WALLETS), amount: AMOUNT, reference: `w-${k}` })
    type Side = "facade" | "raw" | "effect"
    const block: Record<Side, (from: number, n: number) => Promise<number>> = {
      facade: async (from, n) => {
        let credit = 0
        for (let k = from; k < from + n; k++) if ((await c360.wallets.withdraw(input(k))).fromCredits.length > 0) credit++
        return credit
      },
      raw: async (from, n) => {
        let credit = 0
        for (let k = from; k < from + n; k++) if (raw.withdraw(input(k)).fromCredits.length > 0) credit++
        return credit
      },
      effect: async (from, n) => {
        let credit = 0
        for (let k = from; k < from + n; k++) if ((await runtime.runPromise(wallets.withdraw(input(k)))).fromCredits.length > 0) credit++
        return credit
      }
    }
    const sides: ReadonlyArray<Side> = ["facade", "raw", "effect"]
    for (const side of sides) await block[side](0, SQ_WARMUP) // warm-up, not timed
    const rates: Record<Side, Array<number>> = { facade: [], raw: [], effect: [] }
    const ratios: Array<number> = []
    const effectRatios: Array<number> = []
    for (let round = 0; round < SQ_ROUNDS; round++) {
      const from = SQ_WARMUP + round * SQ_N
      const order = sides.map((_, i) => sides[(i + round) % sides.length]!)
      const rate: Partial<Record<Side, number>> = {}
      for (const side of order) {
        const start = performance.now()
        const credit = await block[side](from, SQ_N)
        rate[side] = SQ_N / ((performance.now() - start) / 1000)
        check(credit === SQ_N / 2, `SQLite ${side} round ${round + 1}: ${credit} of ${SQ_N} withdrawals spent a credit, expected exactly half`)
      }
      rates.facade.push(rate.facade!)
      rates.raw.push(rate.raw!)
      rates.effect.push(rate.effect!)
      ratios.push(rate.facade! / rate.raw!)
      effectRatios.push(rate.effect! / rate.raw!)
    }
    const facade = median(rates.facade)
    const rawRate = median(rates.raw)
    const effect = median(rates.effect)
    const ratio = median(ratios)
    console.log(`wallet[1] SQLite withdrawals/s, ${SQ_ROUNDS} rounds of ${SQ_N} (each side in turn, order rotated; half spend a credit):`)
    console.log(`  library (facade)     ${list(rates.facade, fmt)}  median ${ops(facade)}`)
    console.log(`  raw better-sqlite3   ${list(rates.raw, fmt)}  median ${ops(rawRate)}`)
    console.log(`  library (Effect API) ${list(rates.effect, fmt)}  median ${ops(effect)}  (diagnostic)`)
    console.log(`  ratio library/raw: median ${x(ratio)} (per round ${list(ratios, x)}); Effect API/raw ${x(median(effectRatios))}; ` +
      `facade − Effect API: ${fmt(1e6 / facade - 1e6 / effect)} µs per call (a few µs either way is noise)`)
    summary.push({ label: "[1] SQLite withdraw, library (facade)", value: ops(facade) })
    summary.push({ label: "[1] SQLite withdraw, raw better-sqlite3", value: ops(rawRate) })
    summary.push({ label: "[1] SQLite withdraw, library/raw", value: x(ratio), target: "≥ 0.50×", pass: ratio >= 0.5 })
    summary.push({ label: "[1] SQLite withdraw, Effect API (diagnostic)", value: `${ops(effect)} (${x(median(effectRatios))} of raw)` })
  } finally {
    await c360.close()
    raw.close()
    await runtime.dispose()
  }

  const states = { facade: sqliteState(files.facade), raw: sqliteState(files.raw), effect: sqliteState(files.effect) }
  const total = SQ_WARMUP + SQ_ROUNDS * SQ_N
  console.log(`wallet[1] rows after ${total} withdrawals per file (setup → facade / raw / Effect API), per withdrawal:`)
  for (const key of Object.keys(before)) {
    const b = before[key]!
    const [f, r, e] = [states.facade[key]!, states.raw[key]!, states.effect[key]!]
    const same = f === r && r === e
    const per = key.startsWith("sum") || key.startsWith("credits") || key.startsWith("stale") ? "" : `  (${((f - b) / total).toFixed(3)} per withdrawal)`
    console.log(`  ${key.padEnd(26)} ${fmt(b).padStart(14)} → ${fmt(f)} / ${fmt(r)} / ${fmt(e)}${same ? "" : "   <-- DIFFERENT"}${per}`)
    check(same, `SQLite ${key}: facade ${f}, raw ${r}, Effect API ${e}`)
  }
  check(states.facade["wallet operations"]! - before["wallet operations"]! === total, "SQLite: one wallet operation per withdrawal")
  check(states.facade["outbox rows"]! - before["outbox rows"]! === total, "SQLite: one outbox row per withdrawal")
  check(states.facade["stale credits touched"] === 0, "SQLite: a credit past its expiry was spent")
  const rows = { facade: withdrawalRows(files.facade), raw: withdrawalRows(files.raw), effect: withdrawalRows(files.effect) }
  for (const side of ["raw", "effect"] as const) {
    const other = rows[side]
    const differ = rows.facade.filter((row, i) => other[i] !== row).length + Math.abs(rows.facade.length - other.length)
    console.log(`  results, ledger entries and events written (ids aside): facade vs ${side}: ${differ === 0 ? "identical" : `${differ} rows DIFFER`} ` +
      `(${rows.facade.length} rows)`)
    if (differ > 0) {
      const i = rows.facade.findIndex((row, j) => other[j] !== row)
      console.error(`  first difference:\n    facade: ${rows.facade[i]}\n    ${side}: ${other[i]}`)
    }
    check(differ === 0, `SQLite: facade and ${side} wrote different withdrawal rows`)
  }
  summary.push({ label: "[1] SQLite rows per table equal (facade/raw/Effect)", value: problems.some((p) => p.startsWith("SQLite")) ? "NO" : "yes" })
  console.log(`wallet[1] done in ${elapsed(t0)}, ${load()}`)
}

// --- PostgreSQL helpers ---------------------------------------------------------------------------

const databases = benchDatabases(PG_URL, "c360_bench", "wallet")
const { admin } = databases
const createDatabase = databases.create
const dropDatabase = databases.drop
const dropDatabases = databases.dropAll
const pgReachable = databases.reachable

const findPgbench = (): string | undefined => {
  for (const d of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(d, "pgbench")
    if (d !== "" && existsSync(p)) return p
  }
  try {
    for (const v of readdirSync("/usr/lib/postgresql").sort().reverse()) {
      const p = `/usr/lib/postgresql/${v}/bin/pgbench`
      if (existsSync(p)) return p
    }
  } catch {
    // no server package here
  }
  return undefined
}

const pgEnv = (): NodeJS.ProcessEnv => {
  const u = new URL(PG_URL)
  const env: NodeJS.ProcessEnv = { ...process.env, PGHOST: u.hostname || "127.0.0.1", PGPORT: u.port || "5432" }
  if (u.username !== "") env.PGUSER = decodeURIComponent(u.username)
  if (u.password !== "") env.PGPASSWORD = decodeURIComponent(u.password)
  return env
}

const exec = (file: string, args: ReadonlyArray<string>): Promise<{ stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    execFile(file, args, { env: pgEnv(), maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")} failed: ${error.message}\n${stderr}`))
      else resolve({ stdout, stderr })
    })
  })

// --- part 2: PostgreSQL, 16 callers -------------------------------------------------------------

interface LoadResult {
  readonly tps: number
  readonly done: number
  readonly credit: number
  readonly failures: number
  readonly failureTags: ReadonlyMap<string, number>
  /** CPU time of this Node process per successful withdrawal (µs), and its share of one core. */
  readonly cpuPerOp: number
  readonly cpuShare: number
  readonly machinePerOp: number
}

const withdrawLoad = async (
  c360: Customer360Instance,
  tag: string,
  seconds: number,
  walletsOf: (caller: number) => ReadonlyArray<number>
): Promise<LoadResult> => {
  let done = 0
  let credit = 0
  let failures = 0
  const failureTags = new Map<string, number>()
  const cpu = process.cpuUsage()
  const machine = machineCpu()
  const start = performance.now()
  const deadline = start + seconds * 1000
  await Promise.all(Array.from({ length: PG_CALLERS }, async (_, caller) => {
    const mine = walletsOf(caller)
    for (let k = 0; performance.now() < deadline; k++) {
      try {
        const r = await c360.wallets.withdraw({ phone: phoneOf(mine[k % mine.length]!), amount: AMOUNT, reference: `${tag}-${caller}-${k}` })
        done++
        if (r.fromCredits.length > 0) credit++
      } catch (e) {
        failures++
        const t = `${(e as { _tag?: string })._tag ?? "Error"}${(e as { reason?: string }).reason === undefined ? "" : `/${(e as { reason?: string }).reason}`}`
        failureTags.set(t, (failureTags.get(t) ?? 0) + 1)
      }
    }
  }))
  const seconds_ = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  const cpuMicros = used.user + used.system
  return {
    tps: done / seconds_, done, credit, failures, failureTags,
    cpuPerOp: cpuMicros / Math.max(1, done), cpuShare: cpuMicros / 1e6 / seconds_,
    machinePerOp: machineCpuPerOp(machine, done)
  }
}

/** Busy and total CPU time of the whole machine so far, in µs (/proc/stat; null where there is none). */
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

/** Machine CPU (all processes: this one, PostgreSQL, pgbench, anything else) per operation, in µs. */
const machineCpuPerOp = (before: ReturnType<typeof machineCpu>, ops: number): number => {
  const after = machineCpu()
  return before === null || after === null ? NaN : (after.busy - before.busy) / Math.max(1, ops)
}

/**
 * For the part [2] diagnostic: one library write (`c360_wallet_write_many` with one write, as the library calls it) of a
 * 1,000 đồng withdrawal from wallet k's real balance, planned in SQL on the wallet's current version,
 * with an idempotency record, a ledger entry and an outbox event of the sizes the library writes.
 */
const statementOnlyFunction = `CREATE OR REPLACE FUNCTION c360_bench_write(k int) RETURNS boolean LANGUAGE plpgsql AS $$
  DECLARE
    cus text := 'cus_' || lpad((k + 1)::text, 26, '0');
    n text := md5(random()::text || clock_timestamp()::text);
    at bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    v bigint; b bigint;
  BEGIN
    SELECT version, balance INTO v, b FROM c360_wallets WHERE customer_id = cus;
    RETURN (c360_wallet_write_many(jsonb_build_array(jsonb_build_object(
      'customer', cus, 'phone', '09' || lpad((k + 1)::text, 8, '0'), 'version', v, 'balance', b - 1000, 'at', at,
      'reference', 'pgbench-' || n, 'transaction', 'txn_' || n, 'kind', 'withdraw',
      'fingerprint', '["09' || lpad((k + 1)::text, 8, '0') || '",1000,null]', 'result', repeat('r', 420),
      'creditUpdates', '[]'::jsonb, 'newCredits', '[]'::jsonb,
      'entries', jsonb_build_array(jsonb_build_object('ord', 0, 'id', 'le_' || n || '_0', 'kind', 'withdrawal',
        'amount', -1000, 'balanceAfter', b - 1000, 'creditId', NULL, 'creditRemainingAfter', NULL, 'source', NULL, 'note', NULL)),
      'events', jsonb_build_array(jsonb_build_object('ord', 0, 'id', 'evt_' || n, 'channel', 'wallets',
        'type', 'wallet.withdraw', 'subject', cus, 'payload', repeat('p', 330), 'occurred_at', at)))))->>0) = 'applied';
  END $$`

const pgbenchTps = async (pgbench: string, database: string): Promise<{ tps: number; cpuPerTx: number }> => {
  const cpuBefore = machineCpu()
  const { stdout } = await exec(pgbench, ["-M", "prepared", "-c", String(PG_CALLERS), "-j", "2", "-T", String(PG_SECONDS), database])
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)
  if (m === null) throw new Error(`pgbench printed no tps line:\n${stdout}`)
  const done = /number of transactions actually processed: (\d+)/.exec(stdout)
  return { tps: Number(m[1]), cpuPerTx: machineCpuPerOp(cpuBefore, Number(done?.[1] ?? NaN)) }
}

/**
 * Wallets 0..n-1 of part 2 (phones `phoneOf(i)`), each with a deposit; the even ones with a 2,500
 * credit for 10 days and a large one for 20 days; ledger entries for all of it. Returns the number
 * of credits.
 */
const loadPgWallets = async (c: pg.Client, n: number, now: number): Promise<number> => {
  const cus = "'cus_' || lpad(i::text, 26, '0')"
  await c.query("BEGIN")
  await c.query(`INSERT INTO c360_customers (id, phone, name, source, created_at, updated_at)
    SELECT ${cus}, '09' || lpad(i::text, 8, '0'), 'Bench ' || i, 'import', $1::bigint, $1::bigint FROM generate_series(1, ${n}) i`, [now])
  await c.query(`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
    SELECT ${cus}, 1000000000000, 0, $1::bigint, $1::bigint FROM generate_series(1, ${n}) i`, [now])
  await c.query(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
      credit_remaining_after, reference, source, created_at)
    SELECT 'le_dep_' || i, 'txn_dep_' || i, ${cus}, 'deposit', 1000000000000, 1000000000000, NULL, NULL, 'dep-' || i, 'manual',
      $1::bigint FROM generate_series(1, ${n}) i`, [now])
  // i is 1-based: wallet i - 1 is even when i is odd
  const credits = `SELECT i, k, 'vc_' || lpad((i * 2 + k)::text, 26, '0') AS id, CASE k WHEN 0 THEN 2500 ELSE 10000000000 END AS amount,
      $1::bigint + CASE k WHEN 0 THEN 10 ELSE 20 END * ${DAY}::bigint AS expires_at
    FROM generate_series(1, ${n}) i CROSS JOIN (VALUES (0), (1)) AS v(k) WHERE i % 2 = 1`
  const r = await c.query(`INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id,
      transaction_id, issued_at, expires_at)
    SELECT id, ${cus}, amount, amount, 'active', CASE k WHEN 0 THEN 'first' ELSE 'second' END, NULL, 'txn_vc_' || id, $1::bigint + k,
      expires_at FROM (${credits}) s`, [now])
  await c.query(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
      credit_remaining_after, reference, note, created_at)
    SELECT 'le_' || id, 'txn_vc_' || id, ${cus}, 'credit_issued', amount, 1000000000000, id, amount, 'ref_' || id,
      CASE k WHEN 0 THEN 'first' ELSE 'second' END, $1::bigint + k FROM (${credits}) s ORDER BY i, k`, [now])
  await c.query("COMMIT")
  await c.query("VACUUM ANALYZE")
  return r.rowCount ?? 0
}

const partPgWithdrawals = async (): Promise<void> => {
  const t0 = performance.now()
  const database = await createDatabase("")
  const url = withDatabase(PG_URL, database)
  const wallets = PG_CALLERS * PG_WALLETS_PER_CALLER
  // the schema, by the library; then the wallets, set-based
  await (await createCustomer360({ database: { postgres: { url } } })).close()
  const loaded = await admin((c) => loadPgWallets(c, wallets + PG_CONTENDED_WALLETS, Date.now()), database)
  console.log(`wallet[2] PostgreSQL data set: ${wallets} + ${PG_CONTENDED_WALLETS} wallets, ${loaded} credits in ${database} (${elapsed(t0)})`)
  const c360 = await createCustomer360({ database: { postgres: { url, maxConnections: PG_CALLERS } } })
  let withdrawals = 0
  try {
    const pgbench = findPgbench()
    let pgbenchDb: string | undefined
    if (pgbench === undefined) {
      console.error("wallet[2] !!! pgbench not found (PATH, /usr/lib/postgresql/*/bin): the pgbench comparison is SKIPPED. " +
        "It ships with the PostgreSQL server package (Debian: postgresql-<version> or postgresql-contrib).")
    } else {
      const t = performance.now()
      pgbenchDb = await createDatabase("_pgbench")
      await exec(pgbench, ["-i", "-q", "-s", String(PGBENCH_SCALE), pgbenchDb])
      console.log(`wallet[2] ${pgbench}: initialised scale ${PGBENCH_SCALE} in ${pgbenchDb} (${elapsed(t)})`)
    }

    const own = (caller: number) => Array.from({ length: PG_WALLETS_PER_CALLER }, (_, j) => caller * PG_WALLETS_PER_CALLER + j)
    const contended = (caller: number) => Array.from({ length: PG_CONTENDED_WALLETS }, (_, j) => wallets + ((caller + j) % PG_CONTENDED_WALLETS))
    const account = (r: LoadResult, what: string, contention: boolean) => {
      withdrawals += r.done
      for (const [tag, n] of r.failureTags) {
        if (!(contention && tag === "StorageError/contention")) fail(`PostgreSQL ${what}: ${n} withdrawals failed with ${tag}`)
      }
    }
    account(await withdrawLoad(c360, "warm", QUICK ? 1 : 3, own), "warm-up", false)

    const lib: Array<LoadResult> = []
    const hot: Array<LoadResult> = []
    const bench: Array<number> = []
    const benchCpu: Array<number> = []
    const ratios: Array<number> = []
    for (let round = 0; round < PG_ROUNDS; round++) {
      const runLib = async () => {
        const r = await withdrawLoad(c360, `r${round}`, PG_SECONDS, own)
        account(r, `round ${round + 1}`, false)
        lib.push(r)
        console.log(`wallet[2] round ${round + 1}: library ${ops(r.tps)} (${r.done} withdrawals, ` +
          `${((100 * r.credit) / Math.max(1, r.done)).toFixed(1)} % from a credit, ${r.failures} failed; ` +
          `Node CPU ${fmt(r.cpuPerOp)} µs per withdrawal, ${(100 * r.cpuShare).toFixed(0)} % of a core; ` +
          `machine CPU ${fmt(r.machinePerOp)} µs per withdrawal)`)
      }
      const runBench = async () => {
        if (pgbench === undefined || pgbenchDb === undefined) return
        const { tps, cpuPerTx } = await pgbenchTps(pgbench, pgbenchDb)
        bench.push(tps)
        benchCpu.push(cpuPerTx)
        console.log(`wallet[2] round ${round + 1}: pgbench ${ops(tps)} (machine CPU ${fmt(cpuPerTx)} µs per transaction)`)
      }
      if (round % 2 === 0) {
        await runLib()
        await runBench()
      } else {
        await runBench()
        await runLib()
      }
      if (bench.length > 0) ratios.push(lib[lib.length - 1]!.tps / bench[bench.length - 1]!)
      const h = await withdrawLoad(c360, `hot${round}`, PG_CONTENDED_SECONDS, contended)
      account(h, `contended round ${round + 1}`, true)
      hot.push(h)
      console.log(`wallet[2] round ${round + 1}: library contended (16 callers, ${PG_CONTENDED_WALLETS} wallets) ${ops(h.tps)} ` +
        `(${h.done} withdrawals, ${h.failures} failed${h.failures > 0 ? `: ${[...h.failureTags].map(([t, n]) => `${n} ${t}`).join(", ")}` : ""})`)
    }
    const libRate = median(lib.map((r) => r.tps))
    const hotRate = median(hot.map((r) => r.tps))
    const creditShare = lib.reduce((a, r) => a + r.credit, 0) / Math.max(1, lib.reduce((a, r) => a + r.done, 0))
    console.log(`wallet[2] PostgreSQL withdrawals/s, 16 callers, ${PG_ROUNDS} rounds of ${PG_SECONDS} s, alternating:`)
    console.log(`  library (facade, 16 connections, ${wallets} wallets)  ${list(lib.map((r) => r.tps), fmt)}  median ${ops(libRate)}`)
    summary.push({ label: "[2] PG withdraw, library 16 callers", value: `${ops(libRate)} (${(creditShare * 100).toFixed(1)} % spend a credit)` })
    summary.push({
      label: "[2] PG library, Node CPU per withdrawal",
      value: `${fmt(median(lib.map((r) => r.cpuPerOp)))} µs (${(100 * median(lib.map((r) => r.cpuShare))).toFixed(0)} % of a core; diagnostic)`
    })
    summary.push({
      label: "[2] machine CPU per op: library / pgbench",
      value: `${fmt(median(lib.map((r) => r.machinePerOp)))} µs per withdrawal / ${
        benchCpu.length > 0 ? `${fmt(median(benchCpu))} µs per TPC-B transaction` : "n/a"
      } (all processes; diagnostic)`
    })
    check(Math.abs(creditShare - 0.5) < 0.01, `PostgreSQL: ${(creditShare * 100).toFixed(1)} % of withdrawals spent a credit, expected half`)
    if (bench.length > 0) {
      const benchRate = median(bench)
      const ratio = median(ratios)
      console.log(`  pgbench -M prepared -c 16 -j 2 -T ${PG_SECONDS}, scale ${PGBENCH_SCALE}  ${list(bench, fmt)}  median ${ops(benchRate)}`)
      console.log(`  ratio library/pgbench: median ${x(ratio)} (per round ${list(ratios, x)})`)
      summary.push({ label: "[2] PG pgbench TPC-B-like (tps)", value: ops(benchRate) })
      summary.push({ label: "[2] PG library/pgbench", value: x(ratio), target: "≥ 1.00×", pass: ratio >= 1 })
    } else {
      summary.push({ label: "[2] PG library/pgbench", value: "SKIPPED (no pgbench)" })
    }
    console.log(`  library contended, 16 callers over ${PG_CONTENDED_WALLETS} wallets  ${list(hot.map((r) => r.tps), fmt)}  median ${ops(hotRate)} (diagnostic)`)
    const hotFailed = hot.reduce((a, r) => a + r.failures, 0)
    summary.push({ label: "[2] PG contended, 16 callers / 4 wallets", value: `${ops(hotRate)}, ${hotFailed} failed (diagnostic)` })

    const counts = await admin(async (c) => (await c.query(`SELECT
      (SELECT count(*) FROM c360_wallet_operations) AS ops,
      (SELECT count(*) FROM c360_wallet_operations WHERE kind = 'withdraw') AS withdrawals,
      (SELECT count(*) FROM c360_outbox WHERE type = 'wallet.withdraw') AS events,
      (SELECT count(DISTINCT transaction_id) FROM c360_ledger_entries WHERE kind IN ('withdrawal', 'credit_spent')) AS entries`)).rows[0] as
      Record<string, string>, database)
    console.log(`wallet[2] rows: ${counts.withdrawals} withdraw operations, ${counts.events} wallet.withdraw events, ` +
      `${counts.entries} withdrawal transactions in the ledger; ${withdrawals} withdrawals succeeded`)
    check(Number(counts.ops) === withdrawals, `PostgreSQL: ${counts.ops} operations, expected ${withdrawals}`)
    check(Number(counts.withdrawals) === withdrawals && Number(counts.events) === withdrawals && Number(counts.entries) === withdrawals,
      `PostgreSQL: rows do not match the ${withdrawals} successful withdrawals`)

    // Diagnostic: the library's write statement alone, driven by pgbench's C client on the same data
    // (after the rounds above, which it would otherwise disturb). Where a withdrawal's cost lies: in
    // the database, or in the Node process that shares these cores with it.
    if (pgbench !== undefined && pgbenchDb !== undefined && bench.length > 0) {
      await admin((c) => c.query(statementOnlyFunction), database)
      const script = join(mkdtempSync(join(tmpdir(), "c360-pgbench-")), "write.sql")
      writeFileSync(script, `\\set k random(0, ${wallets - 1})\nSELECT c360_bench_write(:k);\n`)
      const before = await admin(async (c) => Number((await c.query("SELECT count(*) AS n FROM c360_wallet_operations")).rows[0].n), database)
      const cpuBefore = machineCpu()
      const { stdout } = await exec(pgbench, ["-M", "prepared", "-n", "-c", String(PG_CALLERS), "-j", "2", "-T", String(PG_SECONDS), "-f", script, database])
      const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? NaN)
      const calls = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? NaN)
      const cpuPerCall = machineCpuPerOp(cpuBefore, calls)
      const written = await admin(async (c) => Number((await c.query("SELECT count(*) AS n FROM c360_wallet_operations")).rows[0].n), database) - before
      const tpcb = (await pgbenchTps(pgbench, pgbenchDb))
      const statementRatio = tps / tpcb.tps
      console.log(`wallet[2] diagnostic: c360_wallet_write_many alone from pgbench (16 clients, a withdrawal from the real balance, ` +
        `payload as the library's): ${ops(tps)}, ${written} of ${calls} calls wrote (the rest lost a version race), ` +
        `machine CPU ${fmt(cpuPerCall)} µs per call; TPC-B right after: ${ops(tpcb.tps)}, ${fmt(tpcb.cpuPerTx)} µs → ${x(statementRatio)}`)
      summary.push({
        label: "[2] PG write statement alone (pgbench client)",
        value: `${ops(tps)}, ${x(statementRatio)} of TPC-B, ${fmt(cpuPerCall)} µs machine CPU per call (diagnostic)`
      })
    }
  } finally {
    await c360.close()
  }
  console.log(`wallet[2] done in ${elapsed(t0)}, ${load()}`)
}

// --- part 3: the expiry job -----------------------------------------------------------------------

/** Samples the process's RSS every 10 ms in a worker thread; `stop` returns the maximum seen. */
const startRssSampler = async (): Promise<{ readonly stop: () => Promise<number> }> => {
  const shared = new Int32Array(new SharedArrayBuffer(8))
  const worker = new Worker(
    `const { workerData } = require("node:worker_threads")
    const tick = () => {
      const kb = Math.ceil(process.memoryUsage.rss() / 1024)
      if (kb > Atomics.load(workerData, 0)) Atomics.store(workerData, 0, kb)
      if (Atomics.load(workerData, 1) === 0) setTimeout(tick, 10)
    }
    tick()`,
    { eval: true, workerData: shared }
  )
  await new Promise<void>((resolve, reject) => {
    worker.once("online", () => resolve())
    worker.once("error", reject)
  })
  while (Atomics.load(shared, 0) === 0) await new Promise((r) => setTimeout(r, 1))
  return {
    stop: async () => {
      Atomics.store(shared, 1, 1)
      const max = Math.max(Atomics.load(shared, 0) * 1024, process.memoryUsage.rss())
      await worker.terminate()
      return max
    }
  }
}

interface ExpiryCheck {
  readonly expired: number
  readonly expiredAmount: number
  readonly stillDue: number
  readonly ledger: number
  readonly ledgerExpired: number
  readonly outbox: number
  readonly outboxExpired: number
  readonly badEntries: number
  readonly touchedWallets: number
}

const expiryCheckSql = (now: number) => `SELECT
  (SELECT count(*) FROM c360_virtual_credits WHERE status = 'expired') AS expired,
  (SELECT coalesce(sum(expired_amount), 0) FROM c360_virtual_credits) AS "expiredAmount",
  (SELECT count(*) FROM c360_virtual_credits WHERE status = 'active' AND expires_at <= ${now}) AS "stillDue",
  (SELECT count(*) FROM c360_ledger_entries) AS ledger,
  (SELECT count(*) FROM c360_ledger_entries WHERE kind = 'credit_expired') AS "ledgerExpired",
  (SELECT count(*) FROM c360_outbox) AS outbox,
  (SELECT count(*) FROM c360_outbox WHERE type = 'wallet.credit_expired') AS "outboxExpired",
  (SELECT count(*) FROM c360_ledger_entries l JOIN c360_wallets w ON w.customer_id = l.customer_id
    JOIN c360_virtual_credits c ON c.id = l.credit_id
    WHERE l.kind = 'credit_expired' AND (l.balance_after <> w.balance OR l.credit_remaining_after <> 0
      OR l.amount <> -c.expired_amount OR c.status <> 'expired')) AS "badEntries",
  (SELECT count(*) FROM c360_wallets WHERE version > 0) AS "touchedWallets"`

const toCheck = (row: Record<string, unknown>): ExpiryCheck => ({
  expired: Number(row.expired),
  expiredAmount: Number(row.expiredAmount),
  stillDue: Number(row.stillDue),
  ledger: Number(row.ledger),
  ledgerExpired: Number(row.ledgerExpired),
  outbox: Number(row.outbox),
  outboxExpired: Number(row.outboxExpired),
  badEntries: Number(row.badEntries),
  touchedWallets: Number(row.touchedWallets)
})

const compareExpiry = (engine: string, lib: ExpiryCheck, base: ExpiryCheck, reported: { expired: number; amount: number }, dueAmount: number) => {
  console.log(`wallet[3] ${engine} check (library / baseline): expired ${fmt(lib.expired)} / ${fmt(base.expired)}, ` +
    `ledger ${fmt(lib.ledger)} / ${fmt(base.ledger)} (credit_expired ${fmt(lib.ledgerExpired)} / ${fmt(base.ledgerExpired)}), ` +
    `outbox ${fmt(lib.outbox)} / ${fmt(base.outbox)} (credit_expired ${fmt(lib.outboxExpired)} / ${fmt(base.outboxExpired)}), ` +
    `wallets touched ${fmt(lib.touchedWallets)} / ${fmt(base.touchedWallets)}, bad entries ${lib.badEntries} / ${base.badEntries}`)
  for (const [who, c] of [["library", lib], ["baseline", base]] as const) {
    check(c.expired === EXP_DUE && c.ledgerExpired === EXP_DUE && c.outboxExpired === EXP_DUE && c.stillDue === 0,
      `${engine} ${who}: expired ${c.expired}, ${c.ledgerExpired} ledger and ${c.outboxExpired} outbox rows, ${c.stillDue} still due; expected ${EXP_DUE}`)
    check(c.expiredAmount === dueAmount, `${engine} ${who}: expired amount ${c.expiredAmount}, expected ${dueAmount}`)
    check(c.badEntries === 0, `${engine} ${who}: ${c.badEntries} credit_expired entries disagree with their wallet or credit`)
    check(c.touchedWallets === EXP_WALLETS, `${engine} ${who}: ${c.touchedWallets} wallets had their version bumped, expected ${EXP_WALLETS}`)
  }
  check(lib.ledger === base.ledger && lib.outbox === base.outbox, `${engine}: ledger/outbox counts differ between library and baseline`)
  check(reported.expired === EXP_DUE && reported.amount === dueAmount,
    `${engine}: expireCredits reported ${JSON.stringify(reported)}, expected { expired: ${EXP_DUE}, amount: ${dueAmount} }`)
}

const creditAmountSql = "1000 + (i % 50) * 100"
const EXPIRY_LAYOUT = process.env.C360_BENCH_EXPIRY_LAYOUT === "scattered" ? "scattered" : "issued"

/**
 * Credit i (1-based) of the part-3 data set, as SQL over a column `i`, given the SQL for now:
 * its wallet `w` and `expires_at` `e`, and its `issued_at` from `e`.
 *
 * - `issued` (default): credits were issued in time order (row order = issue order, as a shop
 *   writes them), round-robin over the wallets, expiring 15–17 days after issue; the 200,000 due
 *   ones are the oldest.
 * - `scattered` (`C360_BENCH_EXPIRY_LAYOUT=scattered`): every fifth credit is due, with 200
 *   different past expiries, and each wallet holds 100 consecutive credits: the due credits are
 *   spread over every page of the table, the worst case for a job that works in expiry order.
 */
const expiryLayout = (now: string) => {
  const day = `CAST(${DAY} AS BIGINT)`
  return EXPIRY_LAYOUT === "issued"
    ? {
      w: `(i - 1) % ${EXP_WALLETS} + 1`,
      e: `${now} + (CAST(i AS BIGINT) - ${EXP_DUE}) * 2000 - 1000`,
      issued: `e - (15 + i % 3) * ${day}`
    }
    : {
      w: `(i - 1) / 100 + 1`,
      e: `CASE WHEN i % 5 = 0 THEN ${now} - (i % 1000 + 1) * 60000 ELSE ${now} + (1 + i % 30) * ${day} END`,
      issued: `e - 15 * ${day}`
    }
}

/** One round of part 3: the library's run and the baseline's, each on its own copy of the data. */
interface ExpiryRound {
  readonly libMs: number
  readonly baseMs: number
  readonly rss: { readonly peak: number; readonly base: number }
}

/**
 * Runs `rounds` rounds of part 3, the library first in even rounds and the baseline first in odd ones;
 * `round(n, libraryFirst)` prepares its copies, runs both sides, checks them and cleans up.
 */
const expiryRounds = async (
  engine: string,
  round: (n: number, libraryFirst: boolean) => Promise<ExpiryRound>
): Promise<ReadonlyArray<ExpiryRound>> => {
  const results: Array<ExpiryRound> = []
  for (let n = 0; n < EXP_ROUNDS; n++) {
    const r = await round(n, n % 2 === 0)
    console.log(`wallet[3] ${engine} round ${n + 1} (${n % 2 === 0 ? "library first" : "baseline first"}): library ${ms(r.libMs)}, ` +
      `baseline ${ms(r.baseMs)}, ratio ${x(r.libMs / r.baseMs)}; library peak RSS +${mb(r.rss.peak - r.rss.base)}`)
    results.push(r)
  }
  return results
}

const reportExpiry = (engine: string, rounds: ReadonlyArray<ExpiryRound>, baseline: string) => {
  const libMs = median(rounds.map((r) => r.libMs))
  const baseMs = median(rounds.map((r) => r.baseMs))
  const ratios = rounds.map((r) => r.libMs / r.baseMs)
  const ratio = median(ratios)
  const worst = rounds.reduce((a, r) => (r.rss.peak - r.rss.base > a.peak - a.base ? r.rss : a), rounds[0]!.rss)
  const delta = worst.peak - worst.base
  console.log(`wallet[3] ${engine}: library expireCredits({ batchSize: ${EXP_BATCH} }) median ${ms(libMs)}, ${baseline} median ${ms(baseMs)}, ` +
    `ratio median ${x(ratio)} (per round ${list(ratios, x)}); library peak RSS +${mb(delta)} over ${mb(worst.base)} at most (max ${mb(worst.peak)})`)
  summary.push({ label: `[3] ${engine} expire ${fmt(EXP_DUE)}/${fmt(EXP_CREDITS)} (${EXPIRY_LAYOUT}), library`, value: ms(libMs) })
  summary.push({ label: `[3] ${engine} expire, ${baseline}`, value: ms(baseMs) })
  summary.push({
    label: `[3] ${engine} expire, library/baseline`,
    value: `${x(ratio)} (rounds ${list(ratios, x)})`,
    target: "≤ 1.50×",
    pass: ratio <= 1.5
  })
  summary.push({
    label: `[3] ${engine} expire, library peak RSS increase`,
    value: `${mb(delta)} (max ${mb(worst.peak)})`,
    target: "< 256 MB",
    pass: delta < 256 * 1024 * 1024
  })
}

const timeLibraryExpiry = async (database: Customer360Instance["jobs"]) => {
  const sampler = await startRssSampler()
  const rssBase = process.memoryUsage.rss()
  const start = performance.now()
  try {
    const reported = await database.expireCredits({ batchSize: EXP_BATCH })
    return { reported, ms: performance.now() - start, rss: { base: rssBase, peak: await sampler.stop() } }
  } catch (e) {
    await sampler.stop()
    throw e
  }
}

const partSqliteExpiry = async (dir: string): Promise<void> => {
  const t0 = performance.now()
  const now = Date.now()
  const source = join(dir, "expiry-source.sqlite")
  // the schema, by the library
  await (await createCustomer360({ database: { sqlite: { filename: source } } })).close()
  const db = new Sqlite(source)
  sqlitePragmas(db)
  db.pragma("cache_size = -524288") // 512 MB for the load only: set-up, not measured
  const layout = expiryLayout("@now")
  const seq = (n: number) => `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n})`
  const id = (prefix: string, expr: string) => `'${prefix}_' || substr('00000000000000000000000000' || (${expr}), -26)`
  db.transaction(() => {
    db.prepare(`INSERT INTO c360_customers (id, phone, name, source, created_at, updated_at)
      ${seq(EXP_WALLETS)} SELECT ${id("cus", "i")}, '09' || substr('00000000' || i, -8), 'Bench ' || i, 'import', ?, ? FROM s`)
      .run(now - 60 * DAY, now - 60 * DAY)
    db.prepare(`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
      ${seq(EXP_WALLETS)} SELECT ${id("cus", "i")}, (i % 1000) * 1000 + 1000, 0, ?, ? FROM s`).run(now - 60 * DAY, now - 60 * DAY)
    db.prepare(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      ${seq(EXP_WALLETS)} SELECT 'le_load_' || i, 'txn_load_' || i, ${id("cus", "i")}, 'deposit', (i % 1000) * 1000 + 1000,
        (i % 1000) * 1000 + 1000, NULL, NULL, 'load:' || i, 'manual', NULL, ? FROM s`).run(now - 60 * DAY)
    db.prepare(`INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id, transaction_id,
        issued_at, expires_at)
      ${seq(EXP_CREDITS)}, t AS (SELECT i, ${layout.w} AS w, ${layout.e} AS e FROM s)
      SELECT ${id("vc", "i")}, ${id("cus", "w")}, ${creditAmountSql}, ${creditAmountSql}, 'active', 'bench', NULL,
        'txn_vc_' || i, ${layout.issued}, e FROM t`).run({ now })
  }).immediate()
  const dueAmount = Number(db.prepare(`SELECT sum(remaining) FROM c360_virtual_credits WHERE status = 'active' AND expires_at <= ?`)
    .pluck().get(now))
  db.close()
  console.log(`wallet[3] SQLite: loaded ${fmt(EXP_CREDITS)} credits (${fmt(EXP_DUE)} due, layout "${EXPIRY_LAYOUT}") over ${fmt(EXP_WALLETS)} wallets, ` +
    `${mb(statSync(source).size)} file (${elapsed(t0)}); ${EXP_ROUNDS} round${EXP_ROUNDS === 1 ? "" : "s"}, each on two fresh copies`)

  const due = "status = 'active' AND expires_at <= @now"
  const runBaseline = (baseFile: string): number => {
    const base = new Sqlite(baseFile)
    sqlitePragmas(base)
    const statements = [
      base.prepare(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
          credit_remaining_after, reference, created_at)
        SELECT 'le_exp_' || c.id, 'txn_exp_' || c.id, c.customer_id, 'credit_expired', -c.remaining, w.balance, c.id, 0,
          'expire:' || c.id, @now
        FROM c360_virtual_credits c JOIN c360_wallets w ON w.customer_id = c.customer_id
        WHERE c.${due} ORDER BY c.expires_at, c.id`),
      base.prepare(`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
        SELECT 'evt_exp_' || id, 'wallets', 'wallet.credit_expired', customer_id,
          json_object('creditId', id, 'amount', remaining,
            'expiresAt', strftime('%Y-%m-%dT%H:%M:%fZ', expires_at / 1000.0, 'unixepoch')), @now
        FROM c360_virtual_credits WHERE ${due} ORDER BY expires_at, id`),
      base.prepare(`UPDATE c360_wallets SET version = version + 1, updated_at = @now
        WHERE customer_id IN (SELECT customer_id FROM c360_virtual_credits WHERE ${due})`),
      base.prepare(`UPDATE c360_virtual_credits SET expired_amount = remaining, remaining = 0, status = 'expired' WHERE ${due}`)
    ]
    const start = performance.now()
    base.transaction(() => {
      for (const s of statements) s.run({ now })
    }).immediate()
    const baseMs = performance.now() - start
    base.close()
    return baseMs
  }
  const runLibrary = async (libFile: string) => {
    const c360 = await createCustomer360({ database: { sqlite: { filename: libFile } }, now: () => new Date(now) })
    try {
      return await timeLibraryExpiry(c360.jobs)
    } finally {
      await c360.close()
    }
  }
  const state = (file: string) => {
    const d = new Sqlite(file, { readonly: true })
    try {
      return toCheck(d.prepare(expiryCheckSql(now)).get() as Record<string, unknown>)
    } finally {
      d.close()
    }
  }
  const rounds = await expiryRounds("SQLite", async (n, libraryFirst) => {
    const libFile = join(dir, `expiry-library-${n}.sqlite`)
    const baseFile = join(dir, `expiry-baseline-${n}.sqlite`)
    copyDatabase(source, libFile)
    copyDatabase(source, baseFile)
    let lib: Awaited<ReturnType<typeof timeLibraryExpiry>>
    let baseMs: number
    if (libraryFirst) {
      lib = await runLibrary(libFile)
      baseMs = runBaseline(baseFile)
    } else {
      baseMs = runBaseline(baseFile)
      lib = await runLibrary(libFile)
    }
    compareExpiry("SQLite", state(libFile), state(baseFile), lib.reported, dueAmount)
    for (const f of [libFile, baseFile]) for (const suffix of ["", "-wal", "-shm"]) rmSync(`${f}${suffix}`, { force: true })
    return { libMs: lib.ms, baseMs, rss: lib.rss }
  })
  reportExpiry("SQLite", rounds, "4 set-based statements, 1 transaction")
  console.log(`wallet[3] SQLite done in ${elapsed(t0)}, ${load()}`)
}

const partPgExpiry = async (): Promise<void> => {
  const t0 = performance.now()
  const now = Date.now()
  const source = await createDatabase("_expiry")
  await (await createCustomer360({ database: { postgres: { url: withDatabase(PG_URL, source) } } })).close()
  const layout = expiryLayout("$1::bigint")
  const dueAmount = await admin(async (c) => {
    const id = (prefix: string, expr: string) => `'${prefix}_' || lpad((${expr})::text, 26, '0')`
    await c.query(`INSERT INTO c360_customers (id, phone, name, source, created_at, updated_at)
      SELECT ${id("cus", "i")}, '09' || lpad(i::text, 8, '0'), 'Bench ' || i, 'import', $1::bigint, $1::bigint
      FROM generate_series(1, ${EXP_WALLETS}) i`, [now - 60 * DAY])
    await c.query(`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
      SELECT ${id("cus", "i")}, (i % 1000) * 1000 + 1000, 0, $1::bigint, $1::bigint FROM generate_series(1, ${EXP_WALLETS}) i`,
      [now - 60 * DAY])
    await c.query(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      SELECT 'le_load_' || i, 'txn_load_' || i, ${id("cus", "i")}, 'deposit', (i % 1000) * 1000 + 1000, (i % 1000) * 1000 + 1000,
        NULL, NULL, 'load:' || i, 'manual', NULL, $1::bigint FROM generate_series(1, ${EXP_WALLETS}) i`, [now - 60 * DAY])
    await c.query(`INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id, transaction_id,
        issued_at, expires_at)
      SELECT ${id("vc", "i")}, ${id("cus", "w")}, ${creditAmountSql}, ${creditAmountSql}, 'active', 'bench', NULL,
        'txn_vc_' || i, ${layout.issued}, e
      FROM (SELECT i, ${layout.w} AS w, ${layout.e} AS e FROM generate_series(1, ${EXP_CREDITS}) i) s`, [now])
    const loadedAt = performance.now()
    await c.query("VACUUM ANALYZE")
    console.log(`wallet[3] PostgreSQL: inserts ${elapsed(t0)}, VACUUM ANALYZE ${elapsed(loadedAt)}`)
    const r = await c.query(`SELECT sum(remaining) AS s FROM c360_virtual_credits WHERE status = 'active' AND expires_at <= $1::bigint`, [now])
    return Number((r.rows[0] as { s: string }).s)
  }, source)
  const size = await admin(async (c) => Number((await c.query(`SELECT pg_database_size($1) AS s`, [source])).rows[0].s), undefined)
  console.log(`wallet[3] PostgreSQL: loaded ${fmt(EXP_CREDITS)} credits (${fmt(EXP_DUE)} due, layout "${EXPIRY_LAYOUT}") over ${fmt(EXP_WALLETS)} wallets, ` +
    `${mb(size)} (${elapsed(t0)}); ${EXP_ROUNDS} round${EXP_ROUNDS === 1 ? "" : "s"}, each on two fresh copies (CREATE DATABASE … TEMPLATE)`)
  const checkpoint = () => admin((c) => c.query("CHECKPOINT")).catch(() => undefined)

  const runLibrary = async (libDb: string) => {
    await checkpoint()
    const c360 = await createCustomer360({ database: { postgres: { url: withDatabase(PG_URL, libDb) } }, now: () => new Date(now) })
    try {
      return await timeLibraryExpiry(c360.jobs)
    } finally {
      await c360.close()
    }
  }
  const runBaseline = async (baseDb: string) => {
    await checkpoint()
    return admin(async (c) => {
      await c.query("SELECT 1") // connected and warm, like the library's pool
      const start = performance.now()
      await c.query(`WITH due AS (
          UPDATE c360_virtual_credits SET expired_amount = remaining, remaining = 0, status = 'expired'
          WHERE status = 'active' AND expires_at <= $1::bigint
          RETURNING id, customer_id, expired_amount AS amount, expires_at
        ), w AS (
          UPDATE c360_wallets w SET version = w.version + 1, updated_at = $1::bigint
          FROM (SELECT DISTINCT customer_id FROM due) d WHERE w.customer_id = d.customer_id
          RETURNING w.customer_id, w.balance
        ), le AS (
          INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
            credit_remaining_after, reference, created_at)
          SELECT 'le_exp_' || due.id, 'txn_exp_' || due.id, due.customer_id, 'credit_expired', -due.amount, w.balance, due.id, 0,
            'expire:' || due.id, $1::bigint
          FROM due JOIN w ON w.customer_id = due.customer_id
        ), ob AS (
          INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
          SELECT 'evt_exp_' || due.id, 'wallets', 'wallet.credit_expired', due.customer_id,
            json_build_object('creditId', due.id, 'amount', due.amount,
              'expiresAt', to_char(to_timestamp(due.expires_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text,
            $1::bigint
          FROM due
        )
        SELECT count(*) AS expired FROM due`, [now])
      return performance.now() - start
    }, baseDb)
  }
  const state = (database: string) => admin(async (c) => toCheck((await c.query(expiryCheckSql(now))).rows[0] as Record<string, unknown>), database)
  const rounds = await expiryRounds("PostgreSQL", async (n, libraryFirst) => {
    const libDb = await createDatabase(`_expiry_lib${n}`, source)
    const baseDb = await createDatabase(`_expiry_base${n}`, source)
    let lib: Awaited<ReturnType<typeof timeLibraryExpiry>>
    let baseMs: number
    if (libraryFirst) {
      lib = await runLibrary(libDb)
      baseMs = await runBaseline(baseDb)
    } else {
      baseMs = await runBaseline(baseDb)
      lib = await runLibrary(libDb)
    }
    compareExpiry("PostgreSQL", await state(libDb), await state(baseDb), lib.reported, dueAmount)
    await dropDatabase(libDb)
    await dropDatabase(baseDb)
    return { libMs: lib.ms, baseMs, rss: lib.rss }
  })
  reportExpiry("PostgreSQL", rounds, "1 data-modifying CTE")
  console.log(`wallet[3] PostgreSQL done in ${elapsed(t0)}, ${load()}`)
}

// --- main -------------------------------------------------------------------------------------------

const printSummary = (pgSkipped: string | null, loadAtStart: string) => {
  console.log("")
  console.log("=".repeat(100))
  console.log(`wallet benchmark summary (${new Date().toISOString()}, node ${process.version}, ${QUICK ? "QUICK MODE, figures meaningless" : "full run"})`)
  console.log(`  machine: ${loadAtStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share it)`)
  if (pgSkipped !== null) console.log(`!!! PostgreSQL SKIPPED: ${pgSkipped}`)
  const width = Math.max(...summary.map((r) => r.label.length))
  const valueWidth = Math.max(...summary.map((r) => r.value.length))
  for (const r of summary) {
    const target = r.target === undefined ? "" : `  target ${r.target.padEnd(9)} ${r.pass ? "PASS" : "MISS"}`
    console.log(`  ${r.label.padEnd(width)}  ${r.value.padEnd(valueWidth)}${target}`)
  }
  console.log(problems.length === 0 ? "  correctness: all checks passed" : `  correctness: ${problems.length} MISMATCH(ES):\n    ${problems.join("\n    ")}`)
  console.log("=".repeat(100))
}

export async function run(): Promise<void> {
  const t0 = performance.now()
  const loadAtStart = load()
  console.log(`wallet: ${loadAtStart}`)
  const dir = mkdtempSync(join(tmpdir(), "c360-bench-wallet-"))
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`wallet: ${signal}, cleaning up`)
    void dropDatabases().finally(() => {
      rmSync(dir, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  const errors: Array<string> = []
  const attempt = async (name: string, f: () => Promise<void>) => {
    try {
      await f()
    } catch (e) {
      errors.push(`${name}: ${e instanceof Error ? e.message : String(e)}`)
      console.error(`wallet: ${name} FAILED`, e)
      summary.push({ label: name, value: "ERROR" })
    }
  }
  let pgSkipped: string | null = null
  try {
    const unreachable = await pgReachable()
    if (unreachable !== null) {
      pgSkipped = `server at ${PG_URL} unreachable (${unreachable}); set C360_PG_URL`
      const banner = `!!! PostgreSQL is UNREACHABLE at ${PG_URL} (${unreachable}): running the SQLite parts only !!!`
      console.error(banner)
      console.log(banner)
    }
    // C360_BENCH_PARTS=1,3 runs only some parts (1 SQLite withdrawals, 2 PostgreSQL withdrawals,
    // 3 expiry on both engines); all by default.
    const parts = new Set((process.env.C360_BENCH_PARTS ?? "1,2,3").split(",").map((p) => p.trim()))
    if (parts.has("1")) await attempt("[1] SQLite withdrawals", () => partSqliteWithdrawals(dir))
    if (parts.has("2") && pgSkipped === null) await attempt("[2] PostgreSQL withdrawals", partPgWithdrawals)
    if (parts.has("3")) await attempt("[3] SQLite expiry", () => partSqliteExpiry(dir))
    if (parts.has("3") && pgSkipped === null) await attempt("[3] PostgreSQL expiry", partPgExpiry)
  } finally {
    await dropDatabases()
    rmSync(dir, { recursive: true, force: true })
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  if (pgSkipped !== null) {
    summary.push({ label: "[2] PG library/pgbench", value: "SKIPPED (PostgreSQL unreachable)" })
    summary.push({ label: "[3] PostgreSQL expiry", value: "SKIPPED (PostgreSQL unreachable)" })
  }
  printSummary(pgSkipped, loadAtStart)
  console.log(`wallet: total ${elapsed(t0)}`)
  if (errors.length > 0 || problems.length > 0) {
    process.exitCode = 1
    throw new Error(`wallet benchmark: ${errors.length} error(s), ${problems.length} correctness mismatch(es)`)
  }
}

export default run
