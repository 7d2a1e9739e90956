/**
 * The purchase history of the `rfm` and `purchases` benchmarks, loaded set-based into a
 * library-migrated schema — the same rows on PostgreSQL (`generate_series`) and SQLite (a recursive
 * CTE): every value is an integer expression of the customer's number `i` and the purchase's `j`.
 *
 * Customer `i` (1…n): id `cus_` + `i` padded to 26 digits, phone `09` + 8 digits, a payment code
 * (`N2` + `i` in the codes' base-32 alphabet: distinct), source `import`, created 1–720 days ago; its
 * wallet (balance 0); `k(i)` purchases by `i mod 20` from {0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5,
 * 6, 7, 8, 11, 13, 19} (5 on average: `5 n` purchases for `n` a multiple of 20). The last one was
 * `a(i)` days ago (0–119, never before the customer existed), the others within 60 days before it;
 * amounts 10,000–3,000,000 đồng; one purchase in 29 half returned (with its `c360_purchase_returns`
 * row). `business_day` is the calendar day of `at` in Asia/Ho_Chi_Minh (UTC+7, no daylight saving):
 * `(at + 7 h) div 1 day`. The customer's totals, points, last purchase, membership level and
 * `purchase_version` agree with its purchases and returns; its tier is `new` (never scored), or
 * `blacklist` for one customer in 1,000 when `blacklist` is set. No purchase lines (the RFM reads none).
 *
 * So every R, F and M score, every tier and every segment occurs (the benches check it).
 */
import type pg from "pg"
import type Sqlite from "better-sqlite3"

const DAY = 86_400_000
const VN_OFFSET = 7 * 3_600_000
const COUNTS = [0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 7, 8, 11, 13, 19] as const
const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

/** Purchases of `n` customers (`n` a multiple of 20: exactly 5 n). */
export const purchaseCount = (n: number): number => {
  let total = 0
  for (let i = 1; i <= n; i++) total += COUNTS[i % 20]!
  return total
}

type Dialect = "pg" | "sqlite"

/** A pseudo-random integer in [0, 4294967291) of an integer expression: a Weyl step modulo a prime. */
const hash = (expr: string, multiplier: number) => `(((${expr}) * CAST(${multiplier} AS BIGINT)) % 4294967291)`
const M = [2654435761, 2246822519, 3266489917, 668265263, 374761393, 1103515245] as const

const pad26 = (d: Dialect, expr: string) =>
  d === "pg" ? `lpad((${expr})::text, 26, '0')` : `substr('00000000000000000000000000' || (${expr}), -26)`
const pad8 = (d: Dialect, expr: string) => (d === "pg" ? `lpad((${expr})::text, 8, '0')` : `substr('00000000' || (${expr}), -8)`)
const text = (d: Dialect, expr: string) => (d === "pg" ? `(${expr})::text` : `(${expr})`)

/** SQL over a column `i`: the customer's columns (without its totals). */
const customerCols = (d: Dialect, now: string, blacklist: boolean) => {
  const code = Array.from({ length: 8 }, (_, k) => `substr('${CODE_ALPHABET}', CAST((i / ${32 ** (7 - k)}) % 32 AS INTEGER) + 1, 1)`).join(" || ")
  return {
    id: `'cus_' || ${pad26(d, "i")}`,
    phone: `'09' || ${pad8(d, "i")}`,
    code: `'N2' || ${code}`,
    age: `(1 + ${hash("i", M[0])} % 720)`,
    createdAt: `(${now} - (1 + ${hash("i", M[0])} % 720) * ${DAY})`,
    tier: blacklist ? `CASE WHEN ${hash("i", M[4])} % 1000 = 0 THEN 'blacklist' ELSE 'new' END` : `'new'`,
    count: `CASE i % 20 ${COUNTS.map((c, r) => `WHEN ${r} THEN ${c}`).join(" ")} END`
  }
}

/**
 * SQL of one purchase per row of `pairs` (columns `i`, `j`): its columns. `a` is the last
 * purchase's days ago, `span` how many days before it the others may lie.
 */
const purchaseCols = (now: string) => {
  const x = "(i * 64 + j)"
  const age = `(1 + ${hash("i", M[0])} % 720)`
  const a = `(${hash("i", M[1])} % CASE WHEN ${age} < 120 THEN ${age} ELSE 120 END)`
  const span = `CASE WHEN ${age} - ${a} < 60 THEN ${age} - ${a} ELSE 60 END`
  const daysAgo = `CASE WHEN j = 1 THEN ${a} ELSE ${a} + ${hash(x, M[2])} % (${span}) END`
  const at = `(${now} - (${daysAgo}) * ${DAY} - ${hash(x, M[3])} % ${DAY})`
  const amount = `(10000 * (1 + ${hash(x, M[4])} % 300))`
  const returned = `CASE WHEN ${hash(x, M[5])} % 29 = 0 THEN ${amount} / 2 ELSE 0 END`
  return { x, at, amount, returned }
}

export interface LoadOptions {
  readonly customers: number
  /** The instant "now" of the data set (epoch ms): purchases lie before it. */
  readonly now: number
  /** One customer in 1,000 blacklisted (default false). */
  readonly blacklist?: boolean
}

/** What was loaded. */
export interface Loaded {
  readonly customers: number
  readonly purchases: number
  readonly returns: number
}

const counts = (rows: Record<string, unknown>): Loaded => ({
  customers: Number(rows.customers),
  purchases: Number(rows.purchases),
  returns: Number(rows.returns)
})

const countSql = `SELECT (SELECT count(*) FROM c360_customers) AS customers, (SELECT count(*) FROM c360_purchases) AS purchases,
  (SELECT count(*) FROM c360_purchase_returns) AS returns`

/** The membership level of a total spent (DOMAIN §7). */
const levelSql = (spent: string) => `CASE WHEN ${spent} >= 10000000 THEN 'platinum' WHEN ${spent} >= 5000000 THEN 'gold'
  WHEN ${spent} >= 2000000 THEN 'silver' ELSE 'bronze' END`

/**
 * The statements of the load, in order, given the SQL of the customer numbers (`seq`, a FROM item
 * with a column `i`) and of the purchase pairs (`pairs`, with columns `i` and `j`). The customers'
 * figures: on PostgreSQL computed in their INSERT from their purchases (a LATERAL aggregate over the
 * same expressions), on SQLite set afterwards by an UPDATE from the purchases (in place there; on
 * PostgreSQL it would leave a dead version of every customer).
 */
const statements = (d: Dialect, seq: string, pairs: string, o: LoadOptions): ReadonlyArray<string> => {
  const now = String(o.now)
  const c = customerCols(d, now, o.blacklist === true)
  const p = purchaseCols(now)
  const day = (at: string) => `((${at} + ${VN_OFFSET}) / ${DAY})`
  const cus = `'cus_' || ${pad26(d, "i")}`
  const generated = (from: string) => `SELECT i, j, ${p.x} AS x, ${p.at} AS at, ${p.amount} AS amount, ${p.returned} AS returned FROM ${from}`
  const customers = d === "pg"
    ? `INSERT INTO c360_customers (id, phone, name, source, tier, payment_code, created_at, updated_at, total_orders, total_spent,
          points, last_purchase_at, purchase_version, membership_level)
        SELECT ${c.id}, ${c.phone}, 'Customer ' || ${text(d, "i")}, 'import', ${c.tier}, ${c.code}, ${c.createdAt}, ${c.createdAt},
          t.orders, t.spent, t.points, t.last_at, t.orders + t.returns, ${levelSql("t.spent")}
        FROM ${seq} CROSS JOIN LATERAL (
          SELECT count(*) AS orders, coalesce(sum(amount - returned), 0) AS spent,
            coalesce(sum(amount / 10000 - returned / 10000), 0) AS points, max(at) AS last_at,
            count(*) FILTER (WHERE returned > 0) AS returns
          FROM (${generated(`generate_series(1, ${c.count}) AS t(j)`)}) g) t`
    : `INSERT INTO c360_customers (id, phone, name, source, tier, payment_code, created_at, updated_at)
        SELECT ${c.id}, ${c.phone}, 'Customer ' || ${text(d, "i")}, 'import', ${c.tier}, ${c.code}, ${c.createdAt}, ${c.createdAt}
        FROM ${seq}`
  return [
    customers,
    `INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
      SELECT ${c.id}, 0, 0, ${c.createdAt}, ${c.createdAt} FROM ${seq}`,
    `INSERT INTO c360_purchases (id, reference, fingerprint, customer_id, amount, returned, points, points_returned, shop_id, at,
        business_day, created_at)
      SELECT 'pur_' || ${pad26(d, "x")}, 'seed-' || ${text(d, "x")},
        '["' || ${cus} || '",' || ${text(d, "amount")} || ',' || ${text(d, "at")} || ',"shop-' || ${text(d, "x % 8")} || '",[]]',
        ${cus}, amount, returned, amount / 10000, returned / 10000, 'shop-' || ${text(d, "x % 8")}, at, ${day("at")}, at
      FROM (${generated(pairs)}) g`,
    `INSERT INTO c360_purchase_returns (id, reference, fingerprint, purchase_id, customer_id, amount, points, at, business_day,
        created_at)
      SELECT 'ret_' || substr(id, 5), 'seed-return-' || substr(reference, 6), '["' || id || '",null,null]', id, customer_id,
        returned, points_returned, ra, ${day("ra")}, ra
      FROM (SELECT id, reference, customer_id, returned, points_returned, at + (${now} - at) / 2 AS ra
        FROM c360_purchases WHERE returned > 0) r`,
    ...(d === "pg" ? [] : [
      `UPDATE c360_customers SET total_orders = t.orders, total_spent = t.spent, points = t.points,
          last_purchase_at = t.last_at, purchase_version = t.orders + t.returns, membership_level = ${levelSql("t.spent")}
        FROM (SELECT customer_id, count(*) AS orders, sum(amount - returned) AS spent, sum(points - points_returned) AS points,
            max(at) AS last_at, sum(CASE WHEN returned > 0 THEN 1 ELSE 0 END) AS returns
          FROM c360_purchases GROUP BY customer_id) t
        WHERE t.customer_id = c360_customers.id`
    ])
  ]
}

/**
 * Runs `f` with `table`'s indexes and key constraints dropped — and the foreign keys that reference
 * it — then puts every one back as it was (its own definition, read from the catalogue): one sorted
 * index build instead of millions of index insertions (measured: 1,000,000 purchases 20 s with
 * the indexes, 2.3 s without and about 1 s per index build).
 */
const withoutIndexes = async (c: pg.Client, table: string, f: () => Promise<void>): Promise<void> => {
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
  await f()
  for (const k of keys) await c.query(`ALTER TABLE ${table} ADD CONSTRAINT ${k.conname} ${k.def}`)
  for (const i of indexes) await c.query(i.def)
  for (const k of foreign) await c.query(`ALTER TABLE ${k.tab} ADD CONSTRAINT ${k.conname} ${k.def}`)
}

/**
 * Loads the data set into the PostgreSQL database `c` is connected to (schema migrated, tables
 * empty), then `VACUUM ANALYZE`. Foreign keys are not checked during the load (the rows are built
 * to satisfy them; `session_replication_role = replica`, superuser), so that it takes minutes, not
 * tens of them. `log` hears each step's time.
 */
export const loadPg = async (c: pg.Client, o: LoadOptions, log: (line: string) => void = () => undefined): Promise<Loaded> => {
  const customerCount = customerCols("pg", String(o.now), false).count
  const seq = `generate_series(1, ${o.customers}) AS s(i)`
  const pairs = `generate_series(1, ${o.customers}) AS s(i) CROSS JOIN LATERAL generate_series(1, ${customerCount}) AS t(j)`
  await c.query("SET session_replication_role = replica")
  await c.query("SET synchronous_commit = off")
  await c.query("SET maintenance_work_mem = '256MB'")
  await c.query("SET work_mem = '64MB'")
  const names = ["customers (with their figures)", "wallets", "purchases", "returns"]
  const all = statements("pg", seq, pairs, o)
  const step = async (k: number) => {
    const t = performance.now()
    await c.query(all[k]!)
    log(`${names[k]} ${((performance.now() - t) / 1000).toFixed(1)} s`)
  }
  await c.query("BEGIN")
  await step(0)
  await step(1)
  const t = performance.now()
  await withoutIndexes(c, "c360_purchases", () => step(2))
  log(`purchases with their indexes and keys ${((performance.now() - t) / 1000).toFixed(1)} s`)
  await step(3)
  await c.query("COMMIT")
  await c.query("RESET session_replication_role")
  const v = performance.now()
  await c.query("VACUUM ANALYZE")
  log(`VACUUM ANALYZE ${((performance.now() - v) / 1000).toFixed(1)} s`)
  return counts((await c.query(countSql)).rows[0] as Record<string, unknown>)
}

/** Loads the data set into a library-migrated SQLite database (one transaction, foreign keys off for the load). */
export const loadSqlite = (db: Sqlite.Database, o: LoadOptions, log: (line: string) => void = () => undefined): Loaded => {
  const customerCount = customerCols("sqlite", String(o.now), false).count
  const max = Math.max(...COUNTS)
  const seq = `(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${o.customers}) SELECT i FROM s) s`
  const pairs = `(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${o.customers}),
      t(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM t WHERE j < ${max})
    SELECT i, j FROM s CROSS JOIN t WHERE t.j <= ${customerCount}) p`
  db.pragma("foreign_keys = OFF")
  const cache = db.pragma("cache_size", { simple: true })
  db.pragma("cache_size = -524288") // 512 MB for the load only
  const names = ["customers", "wallets", "purchases", "returns", "customer figures"]
  const all = statements("sqlite", seq, pairs, o)
  // the purchase-version guard refuses a step other than one: off for the figures' update, then back as it was
  const guard = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name = 'c360_customers_purchase_version_guard'`)
    .get() as { name: string; sql: string }
  db.transaction(() => {
    db.exec(`DROP TRIGGER ${guard.name}`)
    for (let k = 0; k < all.length; k++) {
      const t = performance.now()
      db.exec(all[k]!)
      log(`${names[k]} ${((performance.now() - t) / 1000).toFixed(1)} s`)
    }
    db.exec(guard.sql)
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
