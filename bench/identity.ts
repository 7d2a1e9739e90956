/**
 * Identity benchmark (issue "Identity…", Benchmarks): password hashing, `login` throughput with 8
 * callers, and the merge of two customers with 10,000 ledger entries each — each against a baseline
 * run in the same process, in the same run.
 *
 * Method:
 * 1. Password hashing. The library's hash function (`hashPassword` of `src/identity/Password.ts`,
 *    run with `Effect.runPromise`; the function is not exported by the package, so the source module
 *    is imported — the TypeScript loader's overhead on the few Effect steps around it is nothing next
 *    to the KDF) against raw `crypto.scrypt` with the same parameters (the library's defaults, OWASP's
 *    N = 2^17, r = 8, p = 1, 16-byte salt, 32-byte key, the same `maxmem`), one hash at a time, in
 *    pairs (the order alternating), after one warm-up hash of each; 12 hashes each (3 in quick mode):
 *    the medians, and the median of the pairs' ratios library/raw (each pair made within a couple of
 *    seconds, so the machine's load, which moves a lot more between pairs, largely cancels). ≈ 1.0×
 *    expected — the library adds nothing to the KDF; printed PASS at ≤ 1.10×.
 * 2. `login` throughput with 8 callers. The facade of the built package (`c360.identity.login`, the
 *    default parameters) on SQLite (a file) and on PostgreSQL (a database of its own), 8 users
 *    registered and verified beforehand (one per caller, correct passwords: every attempt reserves a
 *    slot of the account's hourly failure limit and a correct one gives it back, so at most 8 are
 *    ever held). Each caller logs in 2 times, one after another (1 in quick mode): a fixed amount of
 *    work rather than a time window, because at about one KDF per second (a loaded 2-CPU machine) a
 *    window of a few seconds ends in the middle of a handful of hashes; logins/s = logins ÷ the time
 *    until the last one finished. Baseline: 8 callers each calling raw `crypto.scrypt` with the same
 *    parameters as many times, in the same process — the KDF's own bound on this machine (Node runs
 *    scrypt on libuv's thread pool, whose size and the CPU count are printed). 3
 *    rounds (1 in quick mode), each running the baseline and both engines (the order rotating);
 *    headline: the median of the per-round ratios login/s ÷ scrypt/s. Target ≥ 0.8×.
 * 3. Merge. Two customers with 10,000 ledger entries each (9,990 deposits with `balance_after`
 *    running, then 10 credits issued — all unexpired — their entries carrying the real balance; the
 *    wallet's balance the deposits' sum and its version one per entry), 100 purchases each (the
 *    customers' figures agreeing) and 20 open tickets each, loaded set-based into the schema the
 *    library's migrations made, once per engine; every run starts from a copy of it (PostgreSQL:
 *    `CREATE DATABASE … TEMPLATE`; SQLite: a file copy). Library: `customers.merge({ survivorId,
 *    mergedIds: [other] })`, a dry run then the real one (`dryRun: false`) on the same copy, in a
 *    Node process of its own running the built package (support/library-process.ts): the time inside
 *    it, and its RSS before the call and its exact peak during it (VmHWM, reset before each call).
 *    Baseline: a hand-written merge of the essentials in one transaction on the raw driver (pg /
 *    better-sqlite3) on another copy — both wallets read (locked on PostgreSQL), the merged wallet's
 *    credits copied to the survivor with their expiry and closed `merged`, the ledger entries
 *    (`credit_merged_out`, `merge_out`, `merge_in`, `credit_merged_in`), both wallets' balances and
 *    versions, the merged profile marked (`merged_into`, inactive), the survivor's empty fields and
 *    figures, tickets and purchases re-pointed — no journal, no event, no activity (the library writes
 *    those too). A CHECKPOINT (PostgreSQL) or WAL checkpoint (SQLite) before each timed run. 3 rounds
 *    (1 in quick mode), the library first in odd rounds; medians; ratio library/baseline (no target:
 *    the library writes the journal as well). Memory target: the merge's peak RSS at most 32 MB above
 *    the process's RSS before the call (nothing loaded whole: a merge reads the wallets and their
 *    active credits, not the ledger).
 *    Checks, after each merge (library and baseline alike; any failure fails the run): the money is
 *    conserved — the survivor's balance is the sum of both, the merged wallet's is 0, the total of the
 *    active credits' remainders unchanged and all on the survivor — each wallet's balance equals the
 *    sum of its real-money entries and its last entry's `balance_after`, each credit's remainder the
 *    sum of its entries, the merged profile points at the survivor, its tickets and purchases all on
 *    the survivor; and the dry run's `moved` equals the real merge's.
 *
 * `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432); the bench creates its own
 * `c360_bench_identity_*` databases and drops them at the end, also on failure or Ctrl-C; without a
 * server it runs SQLite only. `C360_BENCH_QUICK=1`: 1 login per caller, 3 hashes, 1 round, 1,000 ledger
 * entries per customer (checks the bench itself; its figures mean nothing).
 *
 * Exit code 0 on a MISS (this is a measurement); non-zero on an error or a failed check.
 *
 * Run with `npm run bench -- identity`.
 */
import { randomBytes, scrypt } from "node:crypto"
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import pg from "pg"
import { defaultKdfParams, hashPassword } from "../src/identity/Password.js"
import { benchDatabases, withDatabase } from "./support/databases.js"
import { newId } from "./support/ids.js"
import { main } from "./support/library.js"
import { startLibraryProcess } from "./support/library-process.js"
import { vnBusinessDay } from "./support/purchase-data.js"
import { librarySource } from "./support/revision.js"
import { fmt, median } from "./support/stats.js"

const { createCustomer360 } = main

// --- options ------------------------------------------------------------------------------------

const QUICK = process.env.C360_BENCH_QUICK === "1"
const PG_URL = process.env.C360_PG_URL || "postgres://postgres@127.0.0.1:5432"
const HASHES = QUICK ? 3 : 12
const CALLERS = 8
const PER_CALLER = QUICK ? 1 : 2
const ROUNDS = QUICK ? 1 : 3
const MERGE_ROUNDS = QUICK ? 1 : 3
const ENTRIES = QUICK ? 1_000 : 10_000
const CREDITS = 10
const DEPOSITS = ENTRIES - CREDITS
const PURCHASES = 100
const TICKETS = 20
const LOGIN_TARGET = 0.8
const RSS_RISE_TARGET = 32 * 1024 * 1024
const PARAMS = defaultKdfParams
const PASSWORD = "correct horse battery staple"
const NOW = Date.now()
const DAY = 86_400_000

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
  console.error(`identity: CHECK FAILED ${message}`)
}
const msf = (ms: number): string => (ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`)
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`
const x = (r: number): string => `${r.toFixed(2)}×`
const per = (n: number): string => `${n.toFixed(1)}/s`
const elapsed = (start: number): string => `${((performance.now() - start) / 1000).toFixed(1)} s`
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} CPUs`
const THREADPOOL = Number(process.env.UV_THREADPOOL_SIZE || 4)

// --- 1. password hashing ------------------------------------------------------------------------------

/** What the library gives scrypt as `maxmem` (Password.ts), so both sides run the very same call. */
const MAXMEM = 256 * 2 ** PARAMS.ln * PARAMS.r + 16 * 1024 * 1024
const rawScrypt = (password: string): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    scrypt(password, randomBytes(16), 32, { N: 2 ** PARAMS.ln, r: PARAMS.r, p: PARAMS.p, maxmem: MAXMEM }, (e, key) =>
      e === null ? resolve(key) : reject(e)))
const libraryHash = (password: string): Promise<string> => Effect.runPromise(hashPassword(password, PARAMS))

const timed = async (f: () => Promise<unknown>): Promise<number> => {
  const t = performance.now()
  await f()
  return performance.now() - t
}

const hashing = async (): Promise<void> => {
  await libraryHash(PASSWORD)
  await rawScrypt(PASSWORD)
  const lib: number[] = []
  const raw: number[] = []
  // pairs, one hash after the other, the order alternating: each pair's ratio compares two hashes made
  // a second apart (the machine's load moves a lot more than that between pairs)
  for (let i = 0; i < HASHES; i++) {
    if (i % 2 === 0) {
      lib.push(await timed(() => libraryHash(PASSWORD)))
      raw.push(await timed(() => rawScrypt(PASSWORD)))
    } else {
      raw.push(await timed(() => rawScrypt(PASSWORD)))
      lib.push(await timed(() => libraryHash(PASSWORD)))
    }
  }
  const stored = await libraryHash(PASSWORD)
  check(stored.startsWith(`scrypt$ln=${PARAMS.ln},r=${PARAMS.r},p=${PARAMS.p}$`), `the library's hash ${stored.slice(0, 24)}… has other parameters`)
  const pairRatios = lib.map((l, i) => l / raw[i]!)
  const ratio = median(pairRatios)
  console.log(`identity: hashing (scrypt ln=${PARAMS.ln} r=${PARAMS.r} p=${PARAMS.p}, ${HASHES} each, one at a time): ` +
    `library ${msf(median(lib))} per hash (${lib.map(msf).join(", ")}), raw crypto.scrypt ${msf(median(raw))} ` +
    `(${raw.map(msf).join(", ")}); ratio of the medians ${x(median(lib) / median(raw))}, median of the pairs' ratios ${x(ratio)}`)
  summary.push({ label: `hash, library (ln=${PARAMS.ln} r=${PARAMS.r} p=${PARAMS.p}), median of ${HASHES}`, value: `${msf(median(lib))} per hash` })
  summary.push({ label: `hash, raw crypto.scrypt, median of ${HASHES}`, value: `${msf(median(raw))} per hash` })
  summary.push({
    label: "hash, library/raw (median of the pairs' ratios)",
    value: `${x(ratio)} (ratio of the medians ${x(median(lib) / median(raw))})`,
    target: "≈ 1.0× (≤ 1.10×)",
    pass: ratio <= 1.1
  })
}

// --- 2. login throughput --------------------------------------------------------------------------------

type Facade = Awaited<ReturnType<typeof createCustomer360>>

/**
 * `CALLERS` callers, each running `f(caller)` `PER_CALLER` times one after another: completions per
 * second, from the start until the last one finished. A fixed amount of work (not a fixed time):
 * with about one KDF per second on a loaded machine, a time window would end in the middle of a
 * handful of hashes and count them by luck.
 */
const throughput = async (f: (caller: number) => Promise<unknown>): Promise<number> => {
  const start = performance.now()
  await Promise.all(Array.from({ length: CALLERS }, async (_, caller) => {
    for (let k = 0; k < PER_CALLER; k++) await f(caller)
  }))
  return (CALLERS * PER_CALLER) / ((performance.now() - start) / 1000)
}

const email = (i: number) => `bench.login${i}@example.vn`

/** A facade over `database` with `CALLERS` registered, verified users. */
const loginFacade = async (label: string, database: unknown): Promise<Facade> => {
  const tokens = new Map<string, string>()
  const c360 = await createCustomer360({
    database: database as never,
    mailer: { send: async (m: { to: string; token: string }) => void tokens.set(m.to, m.token) }
  } as never)
  const t0 = performance.now()
  await Promise.all(Array.from({ length: CALLERS }, (_, i) => c360.identity.register({ email: email(i), password: PASSWORD })))
  console.log(`identity: ${label}: ${CALLERS} users registered (${elapsed(t0)})`)
  for (let i = 0; i < CALLERS; i++) {
    const token = tokens.get(email(i))
    if (token === undefined) throw new Error(`no verification e-mail for ${email(i)}`)
    await c360.identity.verifyEmail(token)
  }
  // one login each, not counted: the users as a login finds them
  await Promise.all(Array.from({ length: CALLERS }, (_, i) => c360.identity.login(email(i), PASSWORD)))
  console.log(`identity: ${label}: ${CALLERS} users verified and logged in once (${elapsed(t0)})`)
  return c360
}

const logins = async (dir: string, pgReachable: boolean): Promise<void> => {
  const sides: Array<{ name: string; c360: Facade }> = []
  sides.push({ name: "SQLite", c360: await loginFacade("SQLite", { sqlite: { filename: join(dir, "login.sqlite") } }) })
  if (pgReachable) {
    const db = await pgDatabases.create("_login")
    sides.push({ name: "PostgreSQL", c360: await loginFacade("PostgreSQL", { postgres: { url: withDatabase(PG_URL, db) } }) })
  }
  try {
    const login = (c360: Facade) => async (caller: number) => {
      const user = await c360.identity.login(email(caller), PASSWORD)
      if ((user as { email?: string }).email !== email(caller)) throw new Error(`login answered ${JSON.stringify(user)}`)
    }
    const results = new Map<string, Array<{ rate: number; base: number }>>(sides.map((s) => [s.name, []]))
    for (let n = 0; n < ROUNDS; n++) {
      // rotate: baseline, SQLite, PostgreSQL; then SQLite, PostgreSQL, baseline; …
      const order: Array<"baseline" | number> = ["baseline", ...sides.map((_, i) => i)]
      for (let k = 0; k < n % order.length; k++) order.push(order.shift()!)
      let base = NaN
      const rates = new Map<string, number>()
      for (const o of order) {
        if (o === "baseline") base = await throughput(() => rawScrypt(PASSWORD))
        else rates.set(sides[o]!.name, await throughput(login(sides[o]!.c360)))
      }
      for (const s of sides) results.get(s.name)!.push({ rate: rates.get(s.name)!, base })
      console.log(`identity: login round ${n + 1} (${order.map((o) => (o === "baseline" ? "scrypt" : sides[o]!.name)).join(", ")}): ` +
        `raw scrypt ×${CALLERS} ${per(base)}; ${sides.map((s) => `${s.name} login ${per(rates.get(s.name)!)} (${x(rates.get(s.name)! / base)})`).join("; ")}; ${load()}`)
    }
    summary.push({ label: "libuv thread pool / CPUs", value: `${THREADPOOL} threads (UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? "unset"}), ` +
      `${cpus().length} CPUs (available parallelism ${availableParallelism()})` })
    for (const s of sides) {
      const rs = results.get(s.name)!
      const ratios = rs.map((r) => r.rate / r.base)
      summary.push({ label: `${s.name} login, ${CALLERS} callers, median of ${ROUNDS}`, value: `${per(median(rs.map((r) => r.rate)))} (rounds ${rs.map((r) => per(r.rate)).join(", ")})` })
      summary.push({ label: `  raw scrypt, ${CALLERS} concurrent, same rounds`, value: `${per(median(rs.map((r) => r.base)))} (rounds ${rs.map((r) => per(r.base)).join(", ")})` })
      summary.push({
        label: `${s.name} login/s ÷ scrypt/s`,
        value: `${x(median(ratios))} (rounds ${ratios.map(x).join(", ")})`,
        target: `≥ ${x(LOGIN_TARGET)}`,
        pass: median(ratios) >= LOGIN_TARGET
      })
    }
  } finally {
    for (const s of sides) await s.c360.close()
  }
}

// --- 3. merge: data ---------------------------------------------------------------------------------------

type Engine = "PostgreSQL" | "SQLite"

/** A query runner on one database copy: rows as plain objects. */
type Query = (sql: string) => Promise<ReadonlyArray<Record<string, unknown>>>

const series = (engine: Engine, n: number): string =>
  engine === "PostgreSQL"
    ? `SELECT generate_series(1, ${n}) AS i`
    : `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n}) SELECT i FROM s`

const lit = (v: string | number | null): string => (v === null ? "NULL" : typeof v === "number" ? String(v) : `'${v.replace(/'/g, "''")}'`)

const T0 = NOW - 400 * DAY
const PURCHASE_AT = NOW - 10 * DAY
const PURCHASE_AMOUNT = 150_000
const CREDIT_AMOUNT = 20_000
const deposit = (i: string) => `(1000 + (${i} % 10) * 1000)`
/** The sum of the deposits 1…DEPOSITS. */
const DEPOSIT_SUM = Array.from({ length: DEPOSITS }, (_, k) => 1000 + ((k + 1) % 10) * 1000).reduce((a, b) => a + b, 0)

interface Profile {
  readonly key: "a" | "b"
  readonly id: string
  readonly phone: string
  readonly paymentCode: string
  readonly credits: ReadonlyArray<string>
}
const survivor: Profile = {
  key: "a",
  id: newId("cus", T0),
  phone: "0900000001",
  paymentCode: "N2MRGAAAAA",
  credits: Array.from({ length: CREDITS }, (_, i) => newId("vc", NOW - DAY + i))
}
const merged: Profile = {
  key: "b",
  id: newId("cus", T0 + 1),
  phone: "0900000002",
  paymentCode: "N2MRGBBBBB",
  credits: Array.from({ length: CREDITS }, (_, i) => newId("vc", NOW - DAY + 100 + i))
}

/** The data set's statements, set-based (generate_series / a recursive CTE). */
const loadStatements = (engine: Engine): Array<string> => {
  const out: Array<string> = []
  const year = new Date(NOW).getUTCFullYear()
  for (const p of [survivor, merged]) {
    out.push(`INSERT INTO c360_customers (id, phone, name, address, source, payment_code, created_at, updated_at, total_orders,
        total_spent, points, last_purchase_at)
      VALUES (${lit(p.id)}, ${lit(p.phone)}, ${lit(p.key === "a" ? "Nguyễn Văn Survivor" : "Nguyen Van Duplicate")},
        ${p.key === "a" ? "NULL" : lit("12 Hàng Bài, Hà Nội")}, 'import', ${lit(p.paymentCode)}, ${T0}, ${T0}, ${PURCHASES},
        ${PURCHASES * PURCHASE_AMOUNT}, ${PURCHASES * (PURCHASE_AMOUNT / 10_000)}, ${PURCHASE_AT})`)
    out.push(`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
      VALUES (${lit(p.id)}, ${DEPOSIT_SUM}, ${ENTRIES}, ${T0}, ${NOW - DAY})`)
    out.push(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      SELECT 'le_bench${p.key}_' || i, 'txn_bench${p.key}_' || i, ${lit(p.id)}, 'deposit', ${deposit("i")},
        sum(${deposit("i")}) OVER (ORDER BY i), NULL, NULL, 'bench-${p.key}-' || i, 'manual', NULL, ${T0} + i * 60000
      FROM (${series(engine, DEPOSITS)}) g ORDER BY i`)
    out.push(`INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id, transaction_id,
        issued_at, expires_at)
      VALUES ${p.credits.map((c, i) => `(${lit(c)}, ${lit(p.id)}, ${CREDIT_AMOUNT}, ${CREDIT_AMOUNT}, 'active', 'goodwill', NULL,
        ${lit(`txn_benchvc${p.key}_${i}`)}, ${NOW - DAY + i}, ${NOW + (30 + i) * DAY})`).join(",\n        ")}`)
    out.push(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      SELECT 'le_' || transaction_id, transaction_id, customer_id, 'credit_issued', amount, ${DEPOSIT_SUM}, id, amount,
        'bench-' || id, NULL, reason, issued_at
      FROM c360_virtual_credits WHERE customer_id = ${lit(p.id)} ORDER BY issued_at, id`)
    out.push(`INSERT INTO c360_purchases (id, reference, fingerprint, customer_id, amount, returned, points, points_returned, shop_id,
        at, business_day, created_at)
      SELECT 'pur_bench${p.key}' || i, 'bench-${p.key}-' || i, 'bench-${p.key}-' || i, ${lit(p.id)}, ${PURCHASE_AMOUNT}, 0,
        ${PURCHASE_AMOUNT / 10_000}, 0, 'shop-1', ${PURCHASE_AT}, ${vnBusinessDay(PURCHASE_AT)}, ${PURCHASE_AT}
      FROM (${series(engine, PURCHASES)}) g`)
    const base = p.key === "a" ? 0 : TICKETS
    out.push(`INSERT INTO c360_tickets (id, code, year, number, type, status, priority, customer_id, phone, created_at, updated_at)
      VALUES ${Array.from({ length: TICKETS }, (_, i) => {
        const n = base + i + 1
        return `(${lit(newId("tkt", NOW - 5 * DAY + n))}, ${lit(`TV-${year}-${String(n).padStart(5, "0")}`)}, ${year}, ${n}, 'KHAC',
        'new', 'normal', ${lit(p.id)}, ${lit(p.phone)}, ${NOW - 5 * DAY + n}, ${NOW - 5 * DAY + n})`
      }).join(",\n        ")}`)
  }
  out.push(`INSERT INTO c360_ticket_counters (year, last_number) VALUES (${year}, ${2 * TICKETS})`)
  return out
}

/** The state a merge of `merged` into `survivor` must leave (money conserved); returns the failures. */
const checkMerged = async (q: Query, label: string): Promise<void> => {
  const n = (v: unknown) => Number(v)
  const wallets = new Map((await q(`SELECT customer_id, balance FROM c360_wallets`)).map((r) => [String(r.customer_id), n(r.balance)]))
  const credits = await q(`SELECT customer_id, status, count(*) AS n, sum(remaining) AS remaining FROM c360_virtual_credits
    GROUP BY customer_id, status`)
  const real = new Map((await q(`SELECT customer_id, sum(amount) AS s FROM c360_ledger_entries
    WHERE kind IN ('deposit', 'withdrawal', 'merge_out', 'merge_in') GROUP BY customer_id`)).map((r) => [String(r.customer_id), n(r.s)]))
  const last = new Map((await q(`SELECT customer_id, balance_after FROM c360_ledger_entries l
    WHERE seq = (SELECT max(seq) FROM c360_ledger_entries m WHERE m.customer_id = l.customer_id)`))
    .map((r) => [String(r.customer_id), n(r.balance_after)]))
  const [creditLedger] = await q(`SELECT count(*) AS n FROM c360_virtual_credits vc
    WHERE vc.remaining <> coalesce((SELECT sum(amount) FROM c360_ledger_entries l WHERE l.credit_id = vc.id), 0)`)
  const [profile] = await q(`SELECT merged_into, status FROM c360_customers WHERE id = ${lit(merged.id)}`)
  const [left] = await q(`SELECT (SELECT count(*) FROM c360_tickets WHERE customer_id = ${lit(merged.id)}) AS tickets,
    (SELECT count(*) FROM c360_purchases WHERE customer_id = ${lit(merged.id)}) AS purchases,
    (SELECT count(*) FROM c360_tickets WHERE customer_id = ${lit(survivor.id)}) AS stickets,
    (SELECT count(*) FROM c360_purchases WHERE customer_id = ${lit(survivor.id)}) AS spurchases`)
  const active = (id: string) => credits.filter((c) => c.customer_id === id && c.status === "active")
  const activeSum = (id: string) => active(id).reduce((s, c) => s + n(c.remaining), 0)
  const a = survivor.id
  const b = merged.id
  check(wallets.get(a) === 2 * DEPOSIT_SUM, `${label}: survivor's balance ${wallets.get(a)}, expected the sum ${2 * DEPOSIT_SUM}`)
  check(wallets.get(b) === 0, `${label}: merged wallet's balance ${wallets.get(b)}, expected 0`)
  check([...wallets.values()].reduce((s, v) => s + v, 0) === 2 * DEPOSIT_SUM, `${label}: real money not conserved`)
  check(activeSum(a) === 2 * CREDITS * CREDIT_AMOUNT && activeSum(b) === 0,
    `${label}: active credits: survivor ${activeSum(a)}, merged ${activeSum(b)}, expected ${2 * CREDITS * CREDIT_AMOUNT} and 0`)
  check(active(a).reduce((s, c) => s + n(c.n), 0) === 2 * CREDITS, `${label}: the survivor holds ${JSON.stringify(active(a))} active credits`)
  check(real.get(a) === wallets.get(a) && (real.get(b) ?? 0) === wallets.get(b),
    `${label}: balances ≠ sums of real entries (survivor ${real.get(a)} vs ${wallets.get(a)}, merged ${real.get(b)} vs ${wallets.get(b)})`)
  check(last.get(a) === wallets.get(a) && last.get(b) === wallets.get(b),
    `${label}: last balance_after (survivor ${last.get(a)}, merged ${last.get(b)}) ≠ balances`)
  check(n(creditLedger!.n) === 0, `${label}: ${creditLedger!.n} credits whose remainder ≠ the sum of their entries`)
  check(profile?.merged_into === a, `${label}: merged profile's merged_into ${String(profile?.merged_into)}`)
  check(n(left!.tickets) === 0 && n(left!.purchases) === 0 && n(left!.stickets) === 2 * TICKETS && n(left!.spurchases) === 2 * PURCHASES,
    `${label}: tickets/purchases left on the merged profile: ${JSON.stringify(left)}`)
}

// --- 3. merge: the baseline -------------------------------------------------------------------------------

/** The hand-written merge's statements, given both wallets as read (one transaction around them). */
const baselineStatements = (balances: { a: number; b: number }): Array<string> => {
  const at = Date.now()
  const txn = `txn_basemerge_${at}`
  const ref = lit(`merge:base_${at}`)
  const [a, b] = [lit(survivor.id), lit(merged.id)]
  const total = balances.a + balances.b
  const newCredit = `'vc_m' || substr(id, 4)`
  return [
    `INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      SELECT 'le_${txn}_o_' || id, '${txn}', customer_id, 'credit_merged_out', -remaining, ${balances.b}, id, 0, ${ref}, NULL, NULL, ${at}
      FROM c360_virtual_credits WHERE customer_id = ${b} AND status = 'active' ORDER BY expires_at, id`,
    `INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id, transaction_id, issued_at, expires_at)
      SELECT ${newCredit}, ${a}, remaining, remaining, 'active', reason, ticket_id, '${txn}', issued_at, expires_at
      FROM c360_virtual_credits WHERE customer_id = ${b} AND status = 'active' ORDER BY expires_at, id`,
    `UPDATE c360_virtual_credits SET merged_amount = remaining, remaining = 0, status = 'merged', merged_to = ${newCredit}
      WHERE customer_id = ${b} AND status = 'active'`,
    `INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      VALUES ('le_${txn}_mo', '${txn}', ${b}, 'merge_out', ${-balances.b}, 0, NULL, NULL, ${ref}, NULL, NULL, ${at}),
        ('le_${txn}_mi', '${txn}', ${a}, 'merge_in', ${balances.b}, ${total}, NULL, NULL, ${ref}, NULL, NULL, ${at})`,
    `INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      SELECT 'le_${txn}_i_' || id, '${txn}', customer_id, 'credit_merged_in', amount, ${total}, id, amount, ${ref}, NULL, NULL, ${at}
      FROM c360_virtual_credits WHERE customer_id = ${a} AND transaction_id = '${txn}' ORDER BY expires_at, id`,
    `UPDATE c360_wallets SET balance = 0, version = version + 1, updated_at = ${at} WHERE customer_id = ${b}`,
    `UPDATE c360_wallets SET balance = ${total}, version = version + 1, updated_at = ${at} WHERE customer_id = ${a}`,
    `UPDATE c360_customers SET
        address = coalesce(address, (SELECT address FROM c360_customers WHERE id = ${b})),
        total_orders = total_orders + (SELECT total_orders FROM c360_customers WHERE id = ${b}),
        total_spent = total_spent + (SELECT total_spent FROM c360_customers WHERE id = ${b}),
        points = points + (SELECT points FROM c360_customers WHERE id = ${b}),
        version = version + 1, updated_at = ${at}
      WHERE id = ${a}`,
    `UPDATE c360_customers SET merged_into = ${a}, status = 'inactive', version = version + 1, updated_at = ${at} WHERE id = ${b}`,
    `UPDATE c360_tickets SET customer_id = ${a} WHERE customer_id = ${b}`,
    `UPDATE c360_purchases SET customer_id = ${a} WHERE customer_id = ${b}`
  ]
}

// --- 3. merge: engines --------------------------------------------------------------------------------------

interface MergeSide {
  readonly engine: Engine
  readonly copy: (name: string) => Promise<string>
  readonly drop: (handle: string) => Promise<void>
  readonly settle: (handle: string) => Promise<void>
  readonly database: (handle: string) => unknown
  /** The hand-written merge on `handle`; its time (ms). */
  readonly baseline: (handle: string) => Promise<number>
  readonly query: (handle: string) => { q: Query; close: () => Promise<void> }
}

const pgDatabases = benchDatabases(PG_URL, "c360_bench_identity", "identity")

const pgMergeSide = async (): Promise<MergeSide> => {
  const t0 = performance.now()
  const source = await pgDatabases.create("_merge")
  const url = (db: string) => withDatabase(PG_URL, db)
  await (await createCustomer360({ database: { postgres: { url: url(source) } } })).close()
  await pgDatabases.admin(async (c) => {
    await c.query("BEGIN")
    for (const st of loadStatements("PostgreSQL")) await c.query(st)
    await c.query("COMMIT")
    await c.query("VACUUM ANALYZE")
  }, source)
  console.log(`identity: PostgreSQL merge data set loaded (${fmt(2 * ENTRIES)} ledger entries) in ${elapsed(t0)}`)
  return {
    engine: "PostgreSQL",
    copy: (name) => pgDatabases.create(`_${name}`, source),
    drop: (db) => pgDatabases.drop(db),
    settle: async () => void (await pgDatabases.admin((c) => c.query("CHECKPOINT"))),
    database: (db) => ({ postgres: { url: url(db) } }),
    baseline: async (db) => {
      const client = new pg.Client({ connectionString: url(db), application_name: "c360-bench-identity-baseline" })
      await client.connect()
      try {
        await client.query("SELECT 1")
        const t = performance.now()
        await client.query("BEGIN")
        const rows = (await client.query(`SELECT customer_id, balance FROM c360_wallets WHERE customer_id IN ($1, $2)
          ORDER BY customer_id FOR UPDATE`, [survivor.id, merged.id])).rows
        const bal = (id: string) => Number(rows.find((r) => r.customer_id === id)!.balance)
        for (const st of baselineStatements({ a: bal(survivor.id), b: bal(merged.id) })) await client.query(st)
        await client.query("COMMIT")
        return performance.now() - t
      } finally {
        await client.end()
      }
    },
    query: (db) => {
      const client = new pg.Client({ connectionString: url(db) })
      const connected = client.connect()
      return {
        q: async (sql) => {
          await connected
          return (await client.query(sql)).rows
        },
        close: async () => {
          await connected
          await client.end()
        }
      }
    }
  }
}

const sqlitePragmas = (db: Sqlite.Database): void => {
  db.pragma("journal_mode = WAL")
  db.pragma("busy_timeout = 5000")
  db.pragma("foreign_keys = ON")
  db.pragma("synchronous = NORMAL")
}

const sqliteMergeSide = async (dir: string): Promise<MergeSide> => {
  const t0 = performance.now()
  const source = join(dir, "merge-source.sqlite")
  await (await createCustomer360({ database: { sqlite: { filename: source } } })).close()
  const db = new Sqlite(source)
  sqlitePragmas(db)
  db.transaction(() => {
    for (const st of loadStatements("SQLite")) db.exec(st)
  }).immediate()
  db.exec("ANALYZE")
  db.pragma("wal_checkpoint(TRUNCATE)")
  db.close()
  console.log(`identity: SQLite merge data set loaded (${fmt(2 * ENTRIES)} ledger entries) in ${elapsed(t0)}`)
  return {
    engine: "SQLite",
    copy: async (name) => {
      const file = join(dir, `merge-${name}.sqlite`)
      copyFileSync(source, file)
      if (existsSync(`${source}-wal`)) copyFileSync(`${source}-wal`, `${file}-wal`)
      return file
    },
    drop: async (file) => {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true })
    },
    settle: async (file) => {
      const d = new Sqlite(file)
      try {
        d.pragma("wal_checkpoint(TRUNCATE)")
      } finally {
        d.close()
      }
    },
    database: (file) => ({ sqlite: { filename: file } }),
    baseline: async (file) => {
      const d = new Sqlite(file)
      try {
        sqlitePragmas(d)
        const t = performance.now()
        d.transaction(() => {
          const rows = d.prepare(`SELECT customer_id, balance FROM c360_wallets WHERE customer_id IN (?, ?)`).all(survivor.id, merged.id) as
            Array<{ customer_id: string; balance: number }>
          const bal = (id: string) => Number(rows.find((r) => r.customer_id === id)!.balance)
          for (const st of baselineStatements({ a: bal(survivor.id), b: bal(merged.id) })) d.prepare(st).run()
        }).immediate()
        return performance.now() - t
      } finally {
        d.close()
      }
    },
    query: (file) => {
      const d = new Sqlite(file, { readonly: true })
      return {
        q: async (sql) => d.prepare(sql).all() as Array<Record<string, unknown>>,
        close: async () => void d.close()
      }
    }
  }
}

interface MergeRun {
  readonly dry: number
  readonly real: number
  readonly readyRss: number
  readonly rssBefore: number
  readonly callPeak: number
  readonly dryPeak: number
  readonly base: number
}

const inspect = async (side: MergeSide, handle: string, label: string) => {
  const { q, close } = side.query(handle)
  try {
    await checkMerged(q, label)
  } finally {
    await close()
  }
}

const mergeEngine = async (side: MergeSide): Promise<void> => {
  const t0 = performance.now()
  const runs: Array<MergeRun> = []
  for (let n = 0; n < MERGE_ROUNDS; n++) {
    const libCopy = await side.copy(`lib${n}`)
    const baseCopy = await side.copy(`base${n}`)
    const library = async () => {
      const child = await startLibraryProcess(side.database(libCopy))
      let closed = false
      try {
        const input = { survivorId: survivor.id, mergedIds: [merged.id] }
        await side.settle(libCopy)
        const dry = await child.call<{ moved: unknown; dryRun: boolean }>("customers.merge", [{ ...input, dryRun: true }])
        await side.settle(libCopy)
        const real = await child.call<{ moved: unknown; dryRun: boolean; mergeId: string | null }>("customers.merge", [{ ...input, dryRun: false }])
        check(dry.result.dryRun && !real.result.dryRun && real.result.mergeId !== null, `${side.engine}: merge answered ${JSON.stringify(real.result).slice(0, 200)}`)
        check(JSON.stringify(dry.result.moved) === JSON.stringify(real.result.moved),
          `${side.engine} round ${n + 1}: the dry run's moved ${JSON.stringify(dry.result.moved).slice(0, 300)} ≠ the merge's ${JSON.stringify(real.result.moved).slice(0, 300)}`)
        await child.close()
        closed = true
        return { dry: dry.ms, real: real.ms, readyRss: child.readyRss, rssBefore: real.rssBefore, callPeak: real.callPeak, dryPeak: dry.callPeak }
      } finally {
        if (!closed) await child.close().catch(() => undefined)
      }
    }
    const baseline = async () => {
      await side.settle(baseCopy)
      return side.baseline(baseCopy)
    }
    let lib: Awaited<ReturnType<typeof library>>
    let base: number
    if (n % 2 === 0) {
      lib = await library()
      base = await baseline()
    } else {
      base = await baseline()
      lib = await library()
    }
    await inspect(side, libCopy, `${side.engine} round ${n + 1}, library`)
    await inspect(side, baseCopy, `${side.engine} round ${n + 1}, baseline`)
    await side.drop(libCopy)
    await side.drop(baseCopy)
    runs.push({ ...lib, base })
    console.log(`identity: ${side.engine} merge round ${n + 1} (${n % 2 === 0 ? "library first" : "baseline first"}): dry run ${msf(lib.dry)}, ` +
      `merge ${msf(lib.real)}, baseline ${msf(base)}, ${x(lib.real / base)}; library process RSS ${mb(lib.readyRss)} loaded, ` +
      `${mb(lib.rssBefore)} before the merge, peak ${mb(lib.callPeak)} during it (+${mb(lib.callPeak - lib.rssBefore)}), ` +
      `dry run's peak ${mb(lib.dryPeak)}; ${load()}`)
  }
  const ratios = runs.map((r) => r.real / r.base)
  const rise = Math.max(...runs.map((r) => r.callPeak - r.rssBefore))
  const e = side.engine
  summary.push({ label: `${e} merge (${fmt(ENTRIES)} + ${fmt(ENTRIES)} entries), library`, value: `${msf(median(runs.map((r) => r.real)))} (rounds ${runs.map((r) => msf(r.real)).join(", ")})` })
  summary.push({ label: `${e} merge, dry run`, value: `${msf(median(runs.map((r) => r.dry)))} (rounds ${runs.map((r) => msf(r.dry)).join(", ")})` })
  summary.push({ label: `${e} merge, baseline (one transaction, raw driver)`, value: `${msf(median(runs.map((r) => r.base)))} (rounds ${runs.map((r) => msf(r.base)).join(", ")})` })
  summary.push({ label: `${e} merge, library/baseline`, value: `${x(median(ratios))} (rounds ${ratios.map(x).join(", ")}; the library also journals)` })
  summary.push({
    label: `${e} merge, library process RSS before → peak`,
    value: `${mb(median(runs.map((r) => r.rssBefore)))} → ${mb(Math.max(...runs.map((r) => r.callPeak)))} (at most +${mb(rise)}; ` +
      `${mb(median(runs.map((r) => r.readyRss)))} once loaded)`,
    target: "rise ≤ 32 MB",
    pass: rise <= RSS_RISE_TARGET
  })
  console.log(`identity: ${e} merge done in ${elapsed(t0)}`)
}

// --- main -------------------------------------------------------------------------------------------

const printSummary = (loadAtStart: string, builtFrom: string): void => {
  console.log("")
  console.log("=".repeat(100))
  console.log(`identity benchmark summary (${new Date().toISOString()}, node ${process.version}, ` +
    `${QUICK ? "QUICK MODE, figures meaningless" : `${ROUNDS} login round(s) of ${CALLERS} × ${PER_CALLER} logins, ${MERGE_ROUNDS} merge round(s)`})`)
  console.log(`  library: the built package (dist/), built from ${builtFrom}; hashing from the source module`)
  console.log(`  machine: ${loadAtStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share it)`)
  const width = Math.max(...summary.map((r) => r.label.length))
  const valueWidth = Math.max(...summary.map((r) => r.value.length))
  for (const r of summary) {
    const target = r.target === undefined ? "" : `  target ${r.target.padEnd(12)} ${r.pass ? "PASS" : "MISS"}`
    console.log(`  ${r.label.padEnd(width)}  ${r.value.padEnd(valueWidth)}${target}`)
  }
  console.log(problems.length === 0 ? "  correctness: all checks passed" : `  correctness: ${problems.length} FAILED CHECK(S):\n    ${problems.join("\n    ")}`)
  console.log("=".repeat(100))
}

export async function run(): Promise<void> {
  const t0 = performance.now()
  const builtFrom = librarySource()
  const loadAtStart = load()
  const parts = new Set((process.argv.slice(3).find((a) => a.startsWith("--parts="))?.slice(8) ?? "hash,login,merge").split(","))
  console.log(`identity: parts ${[...parts].join(", ")}; scrypt ln=${PARAMS.ln} r=${PARAMS.r} p=${PARAMS.p}; ${CALLERS} callers; ` +
    `libuv thread pool ${THREADPOOL}; ${loadAtStart}${QUICK ? "; QUICK MODE" : ""}`)
  const dir = mkdtempSync(join(tmpdir(), "c360-bench-identity-"))
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    console.error(`identity: ${signal}, cleaning up`)
    void pgDatabases.dropAll().finally(() => {
      rmSync(dir, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const errors: string[] = []
  const attempt = async (name: string, f: () => Promise<void>) => {
    try {
      await f()
    } catch (e) {
      errors.push(`${name}: ${e instanceof Error ? e.message : String(e)}`)
      console.error(`identity: ${name} FAILED`, e)
    }
  }
  try {
    const unreachable = await pgDatabases.reachable()
    if (unreachable !== null) {
      console.error(`identity: !!! PostgreSQL is UNREACHABLE at ${PG_URL} (${unreachable}): SQLite only`)
      summary.push({ label: "PostgreSQL", value: `SKIPPED (unreachable: ${unreachable})` })
    }
    if (parts.has("hash")) await attempt("hashing", hashing)
    if (parts.has("login")) await attempt("login", () => logins(dir, unreachable === null))
    if (parts.has("merge")) {
      if (unreachable === null) {
        await attempt("PostgreSQL merge", async () => mergeEngine(await pgMergeSide()))
        await pgDatabases.dropAll()
      }
      await attempt("SQLite merge", async () => mergeEngine(await sqliteMergeSide(dir)))
    }
  } finally {
    await pgDatabases.dropAll()
    rmSync(dir, { recursive: true, force: true })
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  printSummary(loadAtStart, builtFrom)
  console.log(`identity: total ${elapsed(t0)}`)
  if (errors.length > 0 || problems.length > 0) {
    process.exitCode = 1
    throw new Error(`identity benchmark: ${errors.length} error(s), ${problems.length} failed check(s)`)
  }
}

export default run
