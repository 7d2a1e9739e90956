/**
 * The history of the `fraud` benchmark (bench/fraud.ts), loaded set-based into a library-migrated
 * schema: every value is an integer expression of the customer's number `i` and the row's number
 * `j`, so PostgreSQL (`generate_series`) and SQLite (recursive CTEs) get the same rows.
 *
 * The history lies in the 8 days before `now` (`W0 = now − 8 days`). Customer `i` (1…n): id `cus_` +
 * `i` padded to 26 digits, phone `09` + 8 digits, payment code `N2` + `i` in the codes' base-32
 * alphabet, source `import`, created 30–730 days ago; its wallet (balance and version those of its
 * ledger). What it did depends on its class `i mod 1000`:
 *
 * - **wallet**: most customers have `L(i)` ledger entries (0–8, 3.1 on average): deposit/withdrawal
 *   pairs, one pair per slot of `8 days / pairs`, the deposit in the slot's first half and its
 *   withdrawal 1 minute to half a slot after it, 10–100 % of it (so single deposit→withdraw cycles
 *   within the hour happen, three in 24 hours never); deposits 50,000–10,000,000 đồng (large ones,
 *   above 5,000,000, are common; six in an hour never).
 *   - class 1 (trips **wallet-abuse**): no ordinary entries; a burst of 6–8 deposits of
 *     5,000,001–9,999,999 đồng 9 minutes apart; every second one a second burst 3 days later (a
 *     second episode).
 *   - class 2 (near miss): six such deposits at +0, 11, 22, 33, 44 and 60 minutes (never six in
 *     `[t, t + 60 min)`).
 *   - class 3 (trips **self-dealing**): 3–4 cycles 5 hours apart, a deposit of 1–4 M withdrawn at
 *     95 % 10–31 minutes later.
 *   - class 4 (near miss): 3 such cycles 12 hours apart (never 3 in `[c, c + 24 h)`).
 * - **purchases**: most customers have `P(i)` purchases (0–4, 1.8 on average) at random instants
 *   of the 8 days, 10,000–3,000,000 đồng; one in 20 half returned later (so a customer now and then
 *   trips high-return-rate by chance).
 *   - class 5 (trips **high-return-rate**): 2, 3 or 4 purchases an hour apart, 2, 2 or 3 of them
 *     returned in full 30 minutes after; every fifth one the same again 7 days 5 hours later (a
 *     second episode); every tenth one already blacklisted.
 *   - class 6 (near miss): 2 purchases and 1 return, or 4 and 2 (exactly half: not more).
 *
 * Ledger entries: one per transaction (id `le_<26 digits>_0`, transaction `txn_<26 digits>`), kind
 * `deposit` (source `bank_transfer`) or `withdrawal` (negative amount), `balance_after` the running
 * balance (never negative: a withdrawal takes at most the deposit before it), reference
 * `seed-d-…`/`seed-w-…`, in time order (as a ledger grows). Purchases and returns in time order,
 * `business_day` the calendar day of `at` in Asia/Ho_Chi_Minh (UTC+7, no daylight saving); the
 * customer's totals, points, last purchase, membership level and `purchase_version` agree with them.
 * Tiers: 60 % `new`, 20 % `silver`, 10 % `gold`, 10 % `platinum` (so the tier a blacklist replaces
 * varies). Not seeded: idempotency records, virtual credits (the rules read neither).
 */
import type Sqlite from "better-sqlite3"
import type pg from "pg"

export const DAY = 86_400_000
export const HOUR = 3_600_000
export const MINUTE = 60_000
const VN_OFFSET = 7 * HOUR
const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

/** Ledger entries per ordinary customer, by `h(i) mod 20` (3.1 on average). */
const LEDGER_COUNTS = [0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 4, 4, 5, 6, 7, 8] as const
/** Purchases per ordinary customer, by `h(i) mod 20` (1.8 on average). */
const PURCHASE_COUNTS = [0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4] as const

/** Customer classes (`i mod 1000`). */
export const CLASS = {
  walletAbuse: 1,
  walletAbuseNearMiss: 2,
  selfDealing: 3,
  selfDealingNearMiss: 4,
  highReturn: 5,
  highReturnNearMiss: 6
} as const

export type Dialect = "pg" | "sqlite"

/**
 * A pseudo-random integer in [0, 2³¹ − 1) of an integer expression: a Weyl step modulo a prime, then
 * `y (y + 1)` modulo it (a Weyl step alone maps consecutive inputs to an arithmetic progression:
 * two consecutive purchases would then hardly ever both be returned).
 */
const h = (expr: string, multiplier: number) => {
  const y = `(((${expr}) * CAST(${multiplier} AS BIGINT)) % 2147483647)`
  return `((${y} * (${y} + 1)) % 2147483647)`
}
const M = [2654435761, 2246822519, 3266489917, 668265263, 374761393, 1103515245, 1664525, 22695477, 134775813] as const

const pad = (d: Dialect, expr: string, n: number) =>
  d === "pg" ? `lpad((${expr})::text, ${n}, '0')` : `substr('${"0".repeat(n)}' || (${expr}), -${n})`
const text = (d: Dialect, expr: string) => (d === "pg" ? `(${expr})::text` : `CAST(${expr} AS TEXT)`)

/** `CASE expr WHEN 0 THEN t[0] … END`. */
const table = (expr: string, t: ReadonlyArray<number>) => `CASE ${expr} ${t.map((c, k) => `WHEN ${k} THEN ${c}`).join(" ")} END`

export interface LoadOptions {
  readonly customers: number
  /** The data set's now (epoch ms): the history lies in the 8 days before it. */
  readonly now: number
}

export interface Loaded {
  readonly customers: number
  readonly ledgerEntries: number
  readonly purchases: number
  readonly returns: number
}

const countSql = `SELECT (SELECT count(*) FROM c360_customers) AS customers,
  (SELECT count(*) FROM c360_ledger_entries) AS ledger,
  (SELECT count(*) FROM c360_purchases) AS purchases,
  (SELECT count(*) FROM c360_purchase_returns) AS returns`
const counts = (r: Record<string, unknown>): Loaded => ({
  customers: Number(r.customers),
  ledgerEntries: Number(r.ledger),
  purchases: Number(r.purchases),
  returns: Number(r.returns)
})

/**
 * The statements of the load, in order. `seq(n)` is a FROM item of the numbers 1…n in a column
 * named as given; the generated rows go through two work tables (`bench_gen_ledger`,
 * `bench_gen_purchases`), dropped at the end.
 */
const statements = (d: Dialect, o: LoadOptions, seq: (column: string, n: number) => string): ReadonlyArray<readonly [string, string]> => {
  const now = o.now
  const w0 = now - 8 * DAY
  const cls = "(i % 1000)"
  const grp = "(i / 1000)" // integer division on both engines: i is an integer
  const x = "(i * 64 + j)"
  const cus = `'cus_' || ${pad(d, "i", 26)}`
  const deposit = (xe: string) => `(50000 * (1 + ${h(xe, M[1])} % 200))`

  // ordinary ledger: pairs k = (j + 1) / 2 in slots of s2 = 8 days / pairs
  const pairs = "((l + 1) / 2)"
  const s2 = `(${8 * DAY} / ${pairs})`
  const depAt = `(${w0} + ((j + 1) / 2 - 1) * ${s2} + ${h(`i * 64 + 2 * ((j + 1) / 2) - 1`, M[2])} % (${s2} / 2))`
  const ordinaryLedger = `SELECT i, j, CASE WHEN j % 2 = 1 THEN 1 ELSE 0 END AS deposit,
      CASE WHEN j % 2 = 1 THEN ${deposit(x)} ELSE ${deposit(`${x} - 1`)} * (10 + ${h(x, M[4])} % 91) / 100 END AS amount,
      ${depAt} + CASE WHEN j % 2 = 1 THEN 0 ELSE ${MINUTE} + ${h(x, M[3])} % (${s2} / 2 - ${MINUTE}) END AS at
    FROM (SELECT i, ${table(`${h("i", M[5])} % 20`, LEDGER_COUNTS)} AS l FROM ${seq("i", o.customers)}
      WHERE ${cls} NOT IN (${CLASS.walletAbuse}, ${CLASS.walletAbuseNearMiss}, ${CLASS.selfDealing}, ${CLASS.selfDealingNearMiss})) c
    JOIN ${seq("j", 8)} ON j <= l`

  const burstStart = `(${w0} + ${DAY} + ${h("i", M[6])} % ${2 * DAY})`
  // class 1: burst b (1, and 2 for even groups) of n = 6 + group mod 3 deposits, j = 16 b + k
  const abuse = `SELECT i, j, 1 AS deposit, 5000001 + ${h(x, M[1])} % 5000000 AS amount,
      ${burstStart} + (j / 16 - 1) * ${3 * DAY} + (j % 16) * ${9 * MINUTE} + ${h(x, M[2])} % ${MINUTE} AS at
    FROM (SELECT i FROM ${seq("i", o.customers)} WHERE ${cls} = ${CLASS.walletAbuse}) c
    JOIN ${seq("j", 47)} ON j >= 16 AND j % 16 < 6 + ${grp} % 3 AND (j < 32 OR ${grp} % 2 = 0)`
  const nearAbuse = `SELECT i, j, 1 AS deposit, 5000001 + ${h(x, M[1])} % 5000000 AS amount,
      ${burstStart} + ${table("j - 16", [0, 11, 22, 33, 44, 60])} * ${MINUTE} AS at
    FROM (SELECT i FROM ${seq("i", o.customers)} WHERE ${cls} = ${CLASS.walletAbuseNearMiss}) c
    JOIN ${seq("j", 21)} ON j >= 16`
  // class 3: cycles k = (j - 16) / 2 (3, or 4 for odd groups): deposit j = 16 + 2k, withdrawal j + 1
  const cycleStart = `(${w0} + ${DAY} + ${h("i", M[6])} % ${5 * DAY})`
  const cycleDeposit = `(1000000 * (1 + ${h(`i * 64 + 16 + 2 * ((j - 16) / 2)`, M[1])} % 4))`
  const cycleDepAt = (spacing: number, jitter: boolean) =>
    `(${cycleStart} + ((j - 16) / 2) * ${spacing}${jitter ? ` + ${h(`i * 64 + 16 + 2 * ((j - 16) / 2)`, M[2])} % ${MINUTE}` : ""})`
  const cycles = (klass: number, spacing: number, gap: (k: string) => string, count: string, jitter: boolean) =>
    `SELECT i, j, CASE WHEN j % 2 = 0 THEN 1 ELSE 0 END AS deposit,
      CASE WHEN j % 2 = 0 THEN ${cycleDeposit} ELSE ${cycleDeposit} * 95 / 100 END AS amount,
      ${cycleDepAt(spacing, jitter)} + CASE WHEN j % 2 = 0 THEN 0 ELSE ${gap("((j - 16) / 2)")} END AS at
    FROM (SELECT i FROM ${seq("i", o.customers)} WHERE ${cls} = ${klass}) c
    JOIN ${seq("j", 23)} ON j >= 16 AND (j - 16) / 2 < ${count}`
  const selfDealing = cycles(CLASS.selfDealing, 5 * HOUR, (k) => `${10 * MINUTE} + ${k} * ${7 * MINUTE}`, `3 + ${grp} % 2`, true)
  const nearSelfDealing = cycles(CLASS.selfDealingNearMiss, 12 * HOUR, () => `${30 * MINUTE}`, "3", false)

  // ordinary purchases: P(i), at random instants of the 8 days; one in 20 half returned later
  const amount = `(10000 * (1 + ${h(x, M[3])} % 300))`
  const ordinaryPurchases = `SELECT i, j, at, amount,
      CASE WHEN ${h(x, M[7])} % 20 = 0 THEN amount / 2 ELSE 0 END AS returned,
      at + (${now} - at) * (1 + ${h(x, M[8])} % 999) / 1000 AS ra
    FROM (SELECT i, j, ${w0} + ${h(x, M[2])} % ${8 * DAY} AS at, ${amount} AS amount
      FROM (SELECT i, ${table(`${h("i", M[4])} % 20`, PURCHASE_COUNTS)} AS p FROM ${seq("i", o.customers)}
        WHERE ${cls} NOT IN (${CLASS.highReturn}, ${CLASS.highReturnNearMiss})) c
      JOIN ${seq("j", 4)} ON j <= p) g`
  // class 5: set s (1, and 2 for groups ≡ 0 mod 5) of P = 2 + group mod 3 purchases an hour apart,
  // j = 16 s + k (k = 1…P); purchases k ≤ R returned in full 30 minutes later
  const hrStart = `(${w0} + ${h("i", M[6])} % ${4 * HOUR})`
  const highReturn = `SELECT i, j, at, amount, CASE WHEN j % 16 <= ${table(`${grp} % 3`, [2, 2, 3])} THEN amount ELSE 0 END AS returned,
      at + ${30 * MINUTE} AS ra
    FROM (SELECT i, j, ${hrStart} + (j / 16 - 1) * ${7 * DAY + 5 * HOUR} + (j % 16) * ${HOUR} AS at, ${amount} AS amount
      FROM (SELECT i FROM ${seq("i", o.customers)} WHERE ${cls} = ${CLASS.highReturn}) c
      JOIN ${seq("j", 36)} ON j >= 16 AND j % 16 >= 1 AND j % 16 <= 2 + ${grp} % 3 AND (j < 32 OR ${grp} % 5 = 0)) g`
  // class 6: P = 2 (R = 1) or 4 (R = 2), the returns an hour apart after the last purchase
  const nearHighReturn = `SELECT i, j, at, amount, CASE WHEN j - 16 <= (1 + ${grp} % 2) THEN amount ELSE 0 END AS returned,
      ${hrStart} + (2 + 2 * (${grp} % 2)) * ${HOUR} + (j - 16) * ${HOUR} AS ra
    FROM (SELECT i, j, ${hrStart} + (j - 16) * ${HOUR} AS at, ${amount} AS amount
      FROM (SELECT i FROM ${seq("i", o.customers)} WHERE ${cls} = ${CLASS.highReturnNearMiss}) c
      JOIN ${seq("j", 20)} ON j >= 17 AND j - 16 <= 2 + 2 * (${grp} % 2)) g`

  const day = (at: string) => `((${at} + ${VN_OFFSET}) / ${DAY})`
  const code = Array.from({ length: 8 }, (_, k) => `substr('${CODE_ALPHABET}', CAST((i / ${32 ** (7 - k)}) % 32 AS INTEGER) + 1, 1)`).join(" || ")
  const createdAt = `(${now} - (30 + ${h("i", M[0])} % 700) * ${DAY})`
  const tier = `CASE WHEN ${cls} = ${CLASS.highReturn} AND ${grp} % 10 = 9 THEN 'blacklist'
    ELSE ${`CASE ${h("i", M[8])} % 10 WHEN 6 THEN 'silver' WHEN 7 THEN 'silver' WHEN 8 THEN 'gold' WHEN 9 THEN 'platinum' ELSE 'new' END`} END`
  const level = (spent: string) => `CASE WHEN ${spent} >= 10000000 THEN 'platinum' WHEN ${spent} >= 5000000 THEN 'gold'
    WHEN ${spent} >= 2000000 THEN 'silver' ELSE 'bronze' END`
  const t26 = pad(d, x, 26)
  const ledgerTable = d === "pg" ? "CREATE UNLOGGED TABLE" : "CREATE TABLE"

  return [
    ["work tables", `${ledgerTable} bench_gen_ledger (i INTEGER NOT NULL, j INTEGER NOT NULL, deposit INTEGER NOT NULL,
      amount BIGINT NOT NULL, at BIGINT NOT NULL)`],
    ["", `${ledgerTable} bench_gen_purchases (i INTEGER NOT NULL, j INTEGER NOT NULL, at BIGINT NOT NULL, amount BIGINT NOT NULL,
      returned BIGINT NOT NULL, ra BIGINT NOT NULL)`],
    ["generated ledger", `INSERT INTO bench_gen_ledger (i, j, deposit, amount, at)
      ${ordinaryLedger} UNION ALL ${abuse} UNION ALL ${nearAbuse} UNION ALL ${selfDealing} UNION ALL ${nearSelfDealing}`],
    ["generated purchases", `INSERT INTO bench_gen_purchases (i, j, at, amount, returned, ra)
      ${ordinaryPurchases} UNION ALL ${highReturn} UNION ALL ${nearHighReturn}`],
    ["ledger entries", `INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
        credit_remaining_after, reference, source, note, created_at)
      SELECT 'le_' || t || '_0', 'txn_' || t, ${cus}, CASE WHEN deposit = 1 THEN 'deposit' ELSE 'withdrawal' END, signed,
        sum(signed) OVER (PARTITION BY i ORDER BY at, j ROWS UNBOUNDED PRECEDING), NULL, NULL,
        CASE WHEN deposit = 1 THEN 'seed-d-' ELSE 'seed-w-' END || ${text(d, x)},
        CASE WHEN deposit = 1 THEN 'bank_transfer' END, NULL, at
      FROM (SELECT i, j, deposit, at, CASE WHEN deposit = 1 THEN amount ELSE -amount END AS signed, ${t26} AS t
        FROM bench_gen_ledger) g
      ORDER BY at, i, j`],
    ["purchases", `INSERT INTO c360_purchases (id, reference, fingerprint, customer_id, amount, returned, points, points_returned,
        shop_id, at, business_day, created_at)
      SELECT 'pur_' || ${t26}, 'seed-' || ${text(d, x)},
        '["' || ${cus} || '",' || ${text(d, "amount")} || ',' || ${text(d, "at")} || ',"shop-' || ${text(d, `${x} % 8`)} || '",[]]',
        ${cus}, amount, returned, amount / 10000, returned / 10000, 'shop-' || ${text(d, `${x} % 8`)}, at, ${day("at")}, at
      FROM bench_gen_purchases ORDER BY at, i, j`],
    ["returns", `INSERT INTO c360_purchase_returns (id, reference, fingerprint, purchase_id, customer_id, amount, points, at,
        business_day, created_at)
      SELECT 'ret_' || ${t26}, 'seed-return-' || ${text(d, x)}, '["pur_' || ${t26} || '",null,null]', 'pur_' || ${t26}, ${cus},
        returned, returned / 10000, ra, ${day("ra")}, ra
      FROM bench_gen_purchases WHERE returned > 0 ORDER BY ra, i, j`],
    ["customers", `INSERT INTO c360_customers (id, phone, name, source, tier, payment_code, created_at, updated_at, total_orders,
        total_spent, points, last_purchase_at, purchase_version, membership_level)
      SELECT ${cus}, '09' || ${pad(d, "i", 8)}, 'Customer ' || ${text(d, "i")}, 'import', ${tier}, 'N2' || ${code},
        ${createdAt}, ${createdAt}, coalesce(t.orders, 0), coalesce(t.spent, 0), coalesce(t.points, 0), t.last_at,
        coalesce(t.orders, 0) + coalesce(t.returns, 0), ${level("coalesce(t.spent, 0)")}
      FROM ${seq("i", o.customers)} LEFT JOIN (
        SELECT i AS n, count(*) AS orders, sum(amount - returned) AS spent, sum(amount / 10000 - returned / 10000) AS points,
          max(at) AS last_at, sum(CASE WHEN returned > 0 THEN 1 ELSE 0 END) AS returns
        FROM bench_gen_purchases GROUP BY i) t ON t.n = i
      ORDER BY i`],
    ["wallets", `INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
      SELECT ${cus}, coalesce(t.balance, 0), coalesce(t.n, 0), ${createdAt}, coalesce(t.last_at, ${createdAt})
      FROM ${seq("i", o.customers)} LEFT JOIN (
        SELECT i AS k, sum(CASE WHEN deposit = 1 THEN amount ELSE -amount END) AS balance, count(*) AS n, max(at) AS last_at
        FROM bench_gen_ledger GROUP BY i) t ON t.k = i
      ORDER BY i`],
    ["", "DROP TABLE bench_gen_ledger"],
    ["", "DROP TABLE bench_gen_purchases"]
  ]
}

/** What each customer's tier, `updated_at` and `purchase_version` were after the load: a run's changes are undone from it. */
const SNAPSHOT = `CREATE TABLE bench_customer_state AS SELECT id, tier, updated_at, purchase_version FROM c360_customers`

/**
 * Runs `f` with `table`'s indexes and key constraints dropped — and the foreign keys that reference
 * it — then puts every one back as it was (its own definition, from the catalogue): one sorted index
 * build instead of millions of index insertions.
 */
const withoutIndexes = async (c: pg.Client, tables: ReadonlyArray<string>, f: () => Promise<void>): Promise<void> => {
  const restore: Array<string> = []
  for (const table of tables) {
    const keys = (await c.query(`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = $1::regclass AND contype IN ('p', 'u') ORDER BY contype`, [table])).rows as Array<{ conname: string; def: string }>
    const foreign = (await c.query(`SELECT conrelid::regclass::text AS tab, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE confrelid = $1::regclass AND contype = 'f'`, [table])).rows as Array<{ tab: string; conname: string; def: string }>
    const indexes = (await c.query(`SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
      WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`, [table]))
      .rows as Array<{ name: string; def: string }>
    for (const k of foreign) await c.query(`ALTER TABLE ${k.tab} DROP CONSTRAINT ${k.conname}`)
    for (const k of keys) await c.query(`ALTER TABLE ${table} DROP CONSTRAINT ${k.conname}`)
    for (const i of indexes) await c.query(`DROP INDEX ${i.name}`)
    restore.unshift(
      ...keys.map((k) => `ALTER TABLE ${table} ADD CONSTRAINT ${k.conname} ${k.def}`),
      ...indexes.map((i) => i.def),
      ...foreign.map((k) => `ALTER TABLE ${k.tab} ADD CONSTRAINT ${k.conname} ${k.def}`)
    )
  }
  await f()
  // keys first, then the plain indexes, then the foreign keys (which need the keys)
  const order = (s: string) => (s.includes(" FOREIGN KEY ") ? 2 : s.startsWith("ALTER TABLE") ? 0 : 1)
  for (const s of [...restore].sort((a, b) => order(a) - order(b))) await c.query(s)
}

/**
 * Loads the data set into the PostgreSQL database `c` is connected to (schema migrated, tables
 * empty), then `VACUUM ANALYZE`. Triggers and foreign keys are not run during the load
 * (`session_replication_role = replica`, superuser; the rows are built to satisfy them). `log`
 * hears each step's time.
 */
export const loadPg = async (c: pg.Client, o: LoadOptions, log: (line: string) => void = () => undefined): Promise<Loaded> => {
  const seq = (column: string, n: number) => `generate_series(1, ${n}) AS ${column}_s(${column})`
  await c.query("SET session_replication_role = replica")
  await c.query("SET synchronous_commit = off")
  await c.query("SET maintenance_work_mem = '512MB'")
  await c.query("SET work_mem = '256MB'")
  await c.query("SET max_parallel_maintenance_workers = 2")
  const all = statements("pg", o, seq)
  await c.query("BEGIN")
  const tables = ["c360_ledger_entries", "c360_purchases", "c360_purchase_returns"]
  const t0 = performance.now()
  await withoutIndexes(c, tables, async () => {
    for (const [name, sql] of all) {
      const t = performance.now()
      await c.query(sql)
      if (name !== "") log(`${name} ${((performance.now() - t) / 1000).toFixed(1)} s`)
    }
    log(`rows in ${((performance.now() - t0) / 1000).toFixed(1)} s; building the indexes and keys`)
  })
  await c.query(SNAPSHOT)
  await c.query("ALTER TABLE bench_customer_state ADD PRIMARY KEY (id)")
  await c.query("COMMIT")
  log(`rows, indexes and keys ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  await c.query("RESET session_replication_role")
  const v = performance.now()
  await c.query("VACUUM (FREEZE, ANALYZE)")
  log(`VACUUM (FREEZE, ANALYZE) ${((performance.now() - v) / 1000).toFixed(1)} s`)
  return counts((await c.query(countSql)).rows[0] as Record<string, unknown>)
}

/** Loads the data set into a library-migrated SQLite database (one transaction, foreign keys off for the load). */
export const loadSqlite = (db: Sqlite.Database, o: LoadOptions, log: (line: string) => void = () => undefined): Loaded => {
  const seq = (column: string, n: number) =>
    `(WITH RECURSIVE ${column}_s(${column}) AS (SELECT 1 UNION ALL SELECT ${column} + 1 FROM ${column}_s WHERE ${column} < ${n})
      SELECT ${column} FROM ${column}_s) ${column}_t`
  db.pragma("foreign_keys = OFF")
  const cache = db.pragma("cache_size", { simple: true })
  db.pragma("cache_size = -524288") // 512 MB for the load only
  const all = statements("sqlite", o, seq)
  db.transaction(() => {
    for (const [name, sql] of all) {
      const t = performance.now()
      db.exec(sql)
      if (name !== "") log(`${name} ${((performance.now() - t) / 1000).toFixed(1)} s`)
    }
    db.exec(SNAPSHOT)
    db.exec("CREATE UNIQUE INDEX bench_customer_state_id ON bench_customer_state (id)")
  }).immediate()
  const t = performance.now()
  db.exec("ANALYZE")
  db.pragma("wal_checkpoint(TRUNCATE)")
  log(`ANALYZE + checkpoint ${((performance.now() - t) / 1000).toFixed(1)} s`)
  db.pragma(`cache_size = ${cache}`)
  db.pragma("foreign_keys = ON")
  return counts(db.prepare(countSql).get() as Record<string, unknown>)
}

/** The business day of an instant in Asia/Ho_Chi_Minh (UTC+7 all year), as the data set counts it. */
export const vnBusinessDay = (at: number): number => Math.floor((at + VN_OFFSET) / DAY)
