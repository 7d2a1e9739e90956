/**
 * The retail data sets of the `imports` and `analytics` benchmarks (issue 15, DOMAIN §11, §11a):
 * a POS sales export as a CSV file, and POS customers, VIPs, sales and coupons loaded set-based
 * into the library-migrated schema (`generate_series` on PostgreSQL, a recursive CTE on SQLite).
 * Every value is an integer expression of the row's number: the same rows on both engines, on every
 * run.
 *
 * Sales CSV (`writeSalesCsv`), the POS export's default columns in their order, row `i` (1…n):
 * - `invoice_number` `HD` + `i` in 10 digits (unique); `shop_id` one of 8 groups (`HN`, `SG`, `DN`,
 *   `HP`, `CT`, `NT`, `HU`, `VT`) × shops `01`–`12`; `shop_name` its mall (one in eight names holds a
 *   comma, so it is quoted); `country` `VN`; `bu` one of 4 business units;
 * - `sales_date` over two years (2024-12-01 … 2026-11-30), written `YYYY-MM-DD`, one in ten
 *   `DD/MM/YYYY`; `vip_id` 0 for one sale in five, else 1…`vips` (skewed: a few buy often, some
 *   never), `vip_name` its name (empty for vip id 0);
 * - `quantity` 1–4 at 50,000–4,000,000 đồng each: `tag_amount` = quantity × price, `discount`
 *   0/10/20/30 % of it in whole thousands, `sales_amount` = tag − discount, `rounding` −500…500 on one
 *   sale in eight, `settlement_amount` = sales + rounding, `per_customer_transaction` = sales; one
 *   sale in 100 a refund (quantity and amounts negative, `discount` 0);
 * - money written `1.234.000` (4 in 10), `1234000` (4 in 10), `1234000.00` (1 in 10) or, quoted,
 *   `"1,234,000"` (1 in 10); negative amounts always `-1234000`.
 *
 * The SQL data set (`loadRetailPg`, `loadRetailSqlite`): `customers` POS customers, vip id `i` and
 * phone `090` + `i` in 7 digits (canonical, DOMAIN §1), one `c360_pos_vips` row each (grades VIP0
 * 30 %, VIP1 30 %, VIP2 20 %, VIP3 15 %, DIAMOND 5 %; registered 2023-12-02 … 2026-08-27, so a few
 * after a period ends), no loyalty customer (every POS customer is POS-only in the comparison);
 * `sales` sales over the same two years as the CSV (vip id 0 for one in five, refunds one in 100);
 * `coupons` coupons (60 % used, member a vip id, 0 or none).
 */
import { closeSync, openSync, writeSync } from "node:fs"
import type Sqlite from "better-sqlite3"
import type pg from "pg"

// --- the sales CSV ----------------------------------------------------------------------------------

/** The POS sales export's default columns (issue 15), in their order. */
export const SALES_COLUMNS = [
  "invoice_number", "shop_id", "shop_name", "country", "bu", "sales_date", "vip_id", "vip_name", "quantity",
  "settlement_amount", "sales_amount", "tag_amount", "per_customer_transaction", "discount", "rounding"
] as const

/** The shop groups (the first two characters of a shop id) and their cities. */
export const SHOP_GROUPS = ["HN", "SG", "DN", "HP", "CT", "NT", "HU", "VT"] as const
const CITIES = ["Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Nha Trang", "Huế", "Vũng Tàu"] as const
const MALLS = ["Vincom Center", "AEON Mall", "Lotte Mart", "Big C", "Takashimaya", "Crescent Mall", "Parkson", "Vincom Plaza"] as const
const BUS = ["Fashion", "Kids", "Accessories", "Home"] as const
const FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"] as const
const GIVEN = ["Văn An", "Thị Bình", "Minh Châu", "Thu Hà", "Quốc Huy", "Thanh Lan", "Đức Minh", "Ngọc Trâm"] as const

/** The first and last sales day of the data sets (two years). */
export const FIRST_DAY = "2024-12-01"
export const LAST_DAY = "2026-11-30"
const DAY = 86_400_000
const FIRST_EPOCH_DAY = Date.UTC(2024, 11, 1) / DAY
const SALES_DAYS = (Date.UTC(2026, 10, 30) - Date.UTC(2024, 11, 1)) / DAY + 1 // 730

/** A pseudo-random whole number in [0, 2^32) of two numbers (deterministic). */
export const hash = (a: number, b: number): number => {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  return h >>> 0
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

/** A non-negative whole number with `sep` between its groups of three digits. */
const grouped = (n: number, sep: string): string => {
  const s = String(n)
  let out = s.slice(0, ((s.length - 1) % 3) + 1)
  for (let k = out.length; k < s.length; k += 3) out += sep + s.slice(k, k + 3)
  return out
}

/** A money amount as a POS export writes it, the style chosen by `style` (0…9). */
const money = (amount: number, style: number): string => {
  if (amount < 0) return String(amount)
  if (style < 4) return grouped(amount, ".") // 1.234.000
  if (style < 8) return String(amount)
  if (style < 9) return `${amount}.00`
  return `"${grouped(amount, ",")}"` // "1,234,000"
}

/** The day `k` days after {@link FIRST_DAY}, `YYYY-MM-DD`. */
const dayOf = (k: number): string => new Date((FIRST_EPOCH_DAY + k) * DAY).toISOString().slice(0, 10)

/** What the CSV holds, for checking an import of it. */
export interface SalesFile {
  readonly path: string
  readonly rows: number
  readonly bytes: number
  /** rows with vip id ≠ 0 */
  readonly vipRows: number
  /** Σ sales_amount, Σ quantity (exact: well below 2^53) */
  readonly salesAmount: number
  readonly quantity: number
}

export interface SalesRow {
  readonly invoice: string
  readonly shopId: string
  readonly shopName: string
  readonly day: string
  readonly vipId: number
  readonly vipName: string
  readonly quantity: number
  readonly settlement: number
  readonly sales: number
  readonly tag: number
  readonly perCustomer: number
  readonly discount: number
  readonly rounding: number
}

/** Sale `i` of a file with `vips` VIPs. */
export const saleOf = (i: number, vips: number): SalesRow => {
  const h = hash(i, 1)
  const g = h % SHOP_GROUPS.length
  const shop = 1 + ((h >>> 3) % 12)
  const mall = MALLS[(g + shop) % MALLS.length]!
  const shopName = (h >>> 7) % 8 === 0 ? `${mall}, ${CITIES[g]}` : `${CITIES[g]} ${mall} ${pad(shop, 2)}`
  const v = hash(i, 2)
  const vipId = v % 5 === 0 ? 0 : 1 + Math.floor((((v >>> 3) % vips) * (hash(i, 3) % vips)) / vips)
  const q = hash(i, 4)
  const refund = q % 100 === 0
  const quantity = (1 + ((q >>> 7) % 4)) * (refund ? -1 : 1)
  const price = 50_000 * (1 + ((q >>> 9) % 80))
  const tag = quantity * price
  const discount = refund ? 0 : Math.floor((tag * ((q >>> 16) % 4)) / 10 / 1000) * 1000
  const sales = tag - discount
  const rounding = (q >>> 19) % 8 === 0 ? ((q >>> 22) % 1001) - 500 : 0
  const vipName = vipId === 0 ? "" : `${FAMILY[vipId % 8]} ${GIVEN[(vipId >>> 3) % 8]}`
  return {
    invoice: `HD${pad(i, 10)}`,
    shopId: `${SHOP_GROUPS[g]}${pad(shop, 2)}`,
    shopName,
    day: dayOf(hash(i, 5) % SALES_DAYS),
    vipId,
    vipName,
    quantity,
    settlement: sales + rounding,
    sales,
    tag,
    perCustomer: sales,
    discount,
    rounding
  }
}

const csvLine = (i: number, r: SalesRow): string => {
  const style = hash(i, 6)
  const name = r.shopName.includes(",") ? `"${r.shopName}"` : r.shopName
  const day = style % 10 === 0 ? `${r.day.slice(8, 10)}/${r.day.slice(5, 7)}/${r.day.slice(0, 4)}` : r.day
  const m = (n: number, k: number) => money(n, hash(i, 7 + k) % 10)
  return `${r.invoice},${r.shopId},${name},VN,${BUS[style % 4]},${day},${r.vipId},${r.vipName},${r.quantity},` +
    `${m(r.settlement, 0)},${m(r.sales, 1)},${m(r.tag, 2)},${m(r.perCustomer, 3)},${m(r.discount, 4)},${r.rounding}\n`
}

/** Writes `rows` sales (of `vips` VIPs) to `path` as a UTF-8 CSV with a header line, LF line ends. */
export const writeSalesCsv = (path: string, rows: number, vips: number): SalesFile => {
  const fd = openSync(path, "w", 0o644)
  let bytes = 0
  let vipRows = 0
  let salesAmount = 0
  let quantity = 0
  try {
    let chunk = `${SALES_COLUMNS.join(",")}\n`
    for (let i = 1; i <= rows; i++) {
      const r = saleOf(i, vips)
      if (r.vipId !== 0) vipRows++
      salesAmount += r.sales
      quantity += r.quantity
      chunk += csvLine(i, r)
      if (chunk.length > 1 << 20 || i === rows) {
        bytes += writeSync(fd, chunk)
        chunk = ""
      }
    }
    if (chunk !== "") bytes += writeSync(fd, chunk)
  } finally {
    closeSync(fd)
  }
  return { path, rows, bytes, vipRows, salesAmount, quantity }
}

/**
 * The hand-written baselines' CSV record parser: fields split at commas, RFC 4180 double quotes
 * honoured (the file has no quoted line break, so a record is a line).
 */
export const splitCsvLine = (line: string): Array<string> => {
  if (!line.includes('"')) return line.split(",")
  const out: Array<string> = []
  let field = ""
  let quoted = false
  for (let k = 0; k < line.length; k++) {
    const c = line[k]!
    if (quoted) {
      if (c === '"') {
        if (line[k + 1] === '"') {
          field += '"'
          k++
        } else quoted = false
      } else field += c
    } else if (c === '"') quoted = true
    else if (c === ",") {
      out.push(field)
      field = ""
    } else field += c
  }
  out.push(field)
  return out
}

/** The baselines' money parser: `1.234.000`, `1,234,000`, `1234000`, `1234000.00`, `-1234000` → an integer. */
export const parseMoney = (s: string): number => {
  if (/^-?\d{1,3}([.,]\d{3})+$/.test(s)) return Number(s.replace(/[.,]/g, ""))
  const m = /^(-?\d+)(?:\.0+)?$/.exec(s)
  if (m === null) throw new Error(`not a whole amount: ${JSON.stringify(s)}`)
  return Number(m[1])
}

/** The baselines' day parser: `YYYY-MM-DD` or `DD/MM/YYYY` → `YYYY-MM-DD`. */
export const parseDay = (s: string): string => (s.length === 10 && s[2] === "/" ? `${s.slice(6)}-${s.slice(3, 5)}-${s.slice(0, 2)}` : s)

// --- the SQL data set ---------------------------------------------------------------------------------

type Dialect = "pg" | "sqlite"

export interface RetailOptions {
  /** POS customers, each a VIP (vip id 1…customers) */
  readonly customers: number
  readonly sales: number
  readonly coupons: number
  /** the instant of the rows' bookkeeping columns (epoch ms) */
  readonly now: number
}

/** A pseudo-random integer in [0, 4294967291) of an integer expression: a Weyl step modulo a prime. */
const h = (expr: string, multiplier: number) => `(((${expr}) * CAST(${multiplier} AS BIGINT) + 12345) % 4294967291)`
const M = [2654435761, 2246822519, 3266489917, 668265263, 374761393, 1103515245, 2166136261, 3735928559, 1597334677, 3812015801] as const

const padSql = (d: Dialect, expr: string, width: number) =>
  d === "pg" ? `lpad((${expr})::text, ${width}, '0')` : `substr('${"0".repeat(width)}' || (${expr}), -${width})`
const text = (d: Dialect, expr: string) => (d === "pg" ? `(${expr})::text` : `CAST(${expr} AS TEXT)`)
/** `YYYY-MM-DD` of the day `k` days after `first`. */
const daySql = (d: Dialect, first: string, k: string) =>
  d === "pg" ? `to_char(DATE '${first}' + CAST(${k} AS INTEGER), 'YYYY-MM-DD')` : `date('${first}', '+' || (${k}) || ' days')`
const seasonSql = (day: string) => `CASE WHEN substr(${day}, 6, 2) <= '06' THEN 'SS' ELSE 'AW' END || substr(${day}, 1, 4)`
const pick = (list: ReadonlyArray<string>, expr: string) =>
  `CASE ${expr} ${list.map((s, k) => `WHEN ${k} THEN '${s.replace(/'/g, "''")}'`).join(" ")} END`
const shopSql = (d: Dialect, x: string) =>
  `${pick(SHOP_GROUPS, `${h(x, M[0])} % ${SHOP_GROUPS.length}`)} || ${padSql(d, `1 + ${h(x, M[1])} % 12`, 2)}`
/** Epoch ms of the start of a `YYYY-MM-DD` day in Asia/Ho_Chi_Minh (UTC+7), of the day's offset `k` after `first`. */
const dayStartSql = (firstEpochDay: number, k: string) => `((${firstEpochDay} + (${k})) * ${DAY} - 25200000)`

const gradeSql = (i: string) =>
  `CASE WHEN ${h(i, M[2])} % 100 < 30 THEN 'VIP0' WHEN ${h(i, M[2])} % 100 < 60 THEN 'VIP1' WHEN ${h(i, M[2])} % 100 < 80 THEN 'VIP2' ` +
  `WHEN ${h(i, M[2])} % 100 < 95 THEN 'VIP3' ELSE 'DIAMOND' END`
const REGISTRATION_FIRST = "2023-12-02"
const REGISTRATION_DAYS = 1000
const registrationSql = (d: Dialect, i: string) => daySql(d, REGISTRATION_FIRST, `${h(i, M[3])} % ${REGISTRATION_DAYS}`)

/** The statements of the load, in order, with the name of each; `seq(n, col)` is a FROM item of 1…n in column `col`. */
const statements = (d: Dialect, seq: (n: number, col: string) => string, o: RetailOptions): Array<[string, string]> => {
  const now = String(o.now)
  const C = Math.max(1, o.customers)
  const phone = `'090' || ${padSql(d, "i", 7)}`
  const name = `${pick(FAMILY, "i % 8")} || ' ' || ${pick(GIVEN, "(i / 8) % 8")}`
  const customers = `INSERT INTO c360_pos_customers (vip_id, phone_key, phone, phone_raw, id_number, birthday_month, vip_grade, name, race,
      gender, birthday, city_state, postal_code, country, email, contact_address, registration_store, registration_date, points,
      customer_id, fingerprint, revision, import_id, line, created_at, updated_at)
    SELECT i, ${phone}, ${phone}, ${phone}, ${padSql(d, `${h("i", M[4])} % 1000000000000`, 12)}, 1 + i % 12, ${gradeSql("i")}, ${name},
      'Kinh', CASE WHEN i % 3 = 0 THEN 'Nam' ELSE 'Nữ' END,
      ${daySql(d, "1970-01-01", `${h("i", M[5])} % 14000 + 2000`)}, ${pick(CITIES, "i % 8")}, '100000', 'VN',
      'kh' || ${text(d, "i")} || '@example.vn', ${text(d, "i % 500 + 1")} || ' Lê Lợi', ${shopSql(d, "i")}, ${registrationSql(d, "i")},
      ${h("i", M[6])} % 5000, NULL, 'bench-' || ${text(d, "i")}, 1, 'imp_bench', i + 1, ${now}, ${now}
    FROM ${seq(C, "i")}`
  const vips = `INSERT INTO c360_pos_vips (vip_id, vip_grade, registration_date, phone, customer_id, updated_at)
    SELECT i, ${gradeSql("i")}, ${registrationSql(d, "i")}, ${phone}, NULL, ${now} FROM ${seq(C, "i")}`

  // sale j: the day, the vip (0 for one in five; skewed towards small ids), the amounts
  const k = `${h("j", M[7])} % ${SALES_DAYS}`
  const vip = `CASE WHEN ${h("j", M[8])} % 5 = 0 THEN 0 ELSE 1 + (${h("j", M[9])} % ${C}) * (${h("j", M[1])} % ${C}) / ${C} END`
  const refund = `(${h("j", M[3])} % 100 = 0)`
  const quantity = `(CASE WHEN ${refund} THEN -1 ELSE 1 END) * (1 + ${h("j", M[4])} % 4)`
  const price = `(50000 * (1 + ${h("j", M[5])} % 80))`
  const salesRows = `SELECT j, ${daySql(d, FIRST_DAY, k)} AS day, ${k} AS k, ${vip} AS vip, ${quantity} AS quantity,
      ${quantity} * ${price} AS tag, CASE WHEN ${refund} THEN 0 ELSE (${quantity} * ${price} * (${h("j", M[6])} % 4) / 10) / 1000 * 1000 END AS discount,
      CASE WHEN ${h("j", M[2])} % 8 = 0 THEN ${h("j", M[0])} % 1001 - 500 ELSE 0 END AS rounding
    FROM ${seq(o.sales, "j")}`
  const sales = `INSERT INTO c360_pos_sales (invoice_number, shop_id, shop_group, shop_name, country, bu, sales_date, sales_at, season, vip_id,
      vip_name, quantity, settlement_amount, sales_amount, tag_amount, per_customer_transaction, discount, rounding, customer_id,
      purchase_reference, fingerprint, revision, import_id, line, created_at, updated_at)
    SELECT invoice, shop, substr(shop, 1, 2), 'Shop ' || shop, 'VN', ${pick(BUS, "j % 4")}, day,
      ${dayStartSql(FIRST_EPOCH_DAY, "k")} + (9 + j % 12) * 3600000, ${seasonSql("day")}, vip,
      CASE WHEN vip = 0 THEN '' ELSE 'VIP ' || ${text(d, "vip")} END, quantity, tag - discount + rounding, tag - discount, tag,
      tag - discount, discount, rounding, NULL, NULL, 'bench-' || invoice, 1, 'imp_bench', j + 1, ${now}, ${now}
    FROM (SELECT s.*, 'HD' || ${padSql(d, "j", 10)} AS invoice, ${shopSql(d, "j")} AS shop FROM (${salesRows}) s) t`

  // coupon c: issued over the two years, valid 30 days, used (60 %) within them at a shop
  const ck = `${h("c", M[8])} % ${SALES_DAYS}`
  const used = `(${h("c", M[2])} % 10 < 6)`
  const member = `CASE WHEN ${h("c", M[3])} % 10 = 0 THEN NULL WHEN ${h("c", M[3])} % 10 = 1 THEN 0 ELSE 1 + ${h("c", M[4])} % ${C} END`
  const couponRows = `SELECT c, ${daySql(d, FIRST_DAY, ck)} AS begin_day, ${daySql(d, FIRST_DAY, `${ck} + 30`)} AS end_day,
      CASE WHEN ${used} THEN 1 ELSE 0 END AS used, CASE WHEN ${used} THEN ${shopSql(d, "c")} ELSE NULL END AS shop,
      CASE WHEN ${used} THEN ${daySql(d, FIRST_DAY, `${ck} + ${h("c", M[5])} % 30`)} ELSE NULL END AS using_day,
      ${member} AS member, 100000 * (1 + ${h("c", M[6])} % 10) AS face
    FROM ${seq(o.coupons, "c")}`
  const coupons = `INSERT INTO c360_pos_coupons (coupon_id, department, creator, document_number, face_value, used, begin_date, end_date,
      using_shop, shop_group, using_date, season, push, member_id, member_name, member_phone_raw, member_phone, docket_number,
      fingerprint, revision, import_id, line, created_at, updated_at)
    SELECT 'CP' || ${padSql(d, "c", 10)}, 'Marketing', 'admin', 'DOC' || ${text(d, "c % 1000")}, face, used, begin_day, end_day,
      shop, substr(shop, 1, 2), using_day, ${seasonSql("begin_day")}, CASE WHEN c % 2 = 0 THEN 'SMS' ELSE 'Zalo' END, member,
      CASE WHEN member IS NULL OR member = 0 THEN NULL ELSE 'VIP ' || ${text(d, "member")} END,
      CASE WHEN member IS NULL OR member = 0 THEN '' ELSE '090' || ${padSql(d, "member", 7)} END,
      CASE WHEN member IS NULL OR member = 0 THEN NULL ELSE '090' || ${padSql(d, "member", 7)} END,
      CASE WHEN used = 1 THEN 'DK' || ${text(d, "c")} ELSE NULL END, 'bench-' || ${text(d, "c")}, 1, 'imp_bench', c + 1, ${now}, ${now}
    FROM (${couponRows}) t`
  const run = `INSERT INTO c360_imports (id, kind, format, status, lines, created, updated, unchanged, failed, error, actor, started_at, finished_at)
    VALUES ('imp_bench', 'sales', 'csv', 'completed', ${o.sales}, ${o.sales}, 0, 0, 0, NULL, NULL, ${now}, ${now})`
  return [
    ["import run", run],
    ["POS customers", customers],
    ["VIPs", vips],
    ["sales", sales],
    ["coupons", coupons]
  ]
}

/** How many rows each table holds after a load. */
export interface RetailLoaded {
  readonly customers: number
  readonly vips: number
  readonly sales: number
  readonly coupons: number
}

const countSql = `SELECT (SELECT count(*) FROM c360_pos_customers) AS customers, (SELECT count(*) FROM c360_pos_vips) AS vips,
  (SELECT count(*) FROM c360_pos_sales) AS sales, (SELECT count(*) FROM c360_pos_coupons) AS coupons`
const counted = (r: Record<string, unknown>): RetailLoaded =>
  ({ customers: Number(r.customers), vips: Number(r.vips), sales: Number(r.sales), coupons: Number(r.coupons) })

/**
 * Runs `f` with `table`'s secondary indexes dropped, then builds each again from its own definition
 * (read from the catalogue): one sorted build instead of millions of index insertions. (The same
 * trick as purchase-data.ts; the keys stay, nothing references these tables but themselves.)
 */
const withoutIndexes = async (c: pg.Client, table: string, f: () => Promise<void>): Promise<void> => {
  const indexes = (await c.query(`SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
    WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`, [table]))
    .rows as Array<{ name: string; def: string }>
  for (const i of indexes) await c.query(`DROP INDEX ${i.name}`)
  await f()
  for (const i of indexes) await c.query(i.def)
}

const TABLE_OF: Record<string, string> = { "POS customers": "c360_pos_customers", VIPs: "c360_pos_vips", sales: "c360_pos_sales", coupons: "c360_pos_coupons" }

/**
 * Loads the data set into the PostgreSQL database `c` is connected to (schema migrated, tables
 * empty), one transaction, the secondary indexes built after each table's rows; then `VACUUM
 * ANALYZE`. `log` hears each step's time.
 */
export const loadRetailPg = async (c: pg.Client, o: RetailOptions, log: (line: string) => void = () => undefined): Promise<RetailLoaded> => {
  await c.query("SET synchronous_commit = off")
  await c.query("SET maintenance_work_mem = '256MB'")
  await c.query("SET work_mem = '64MB'")
  await c.query("BEGIN")
  for (const [name, sql] of statements("pg", (n, col) => `generate_series(1, ${n}) AS s(${col})`, o)) {
    const t = performance.now()
    const table = TABLE_OF[name]
    if (table === undefined) await c.query(sql)
    else await withoutIndexes(c, table, async () => void (await c.query(sql)))
    log(`${name} ${((performance.now() - t) / 1000).toFixed(1)} s`)
  }
  await c.query("COMMIT")
  const v = performance.now()
  await c.query("VACUUM ANALYZE")
  log(`VACUUM ANALYZE ${((performance.now() - v) / 1000).toFixed(1)} s`)
  return counted((await c.query(countSql)).rows[0] as Record<string, unknown>)
}

/** Loads the data set into a library-migrated SQLite database (one transaction, foreign keys off for the load), then `ANALYZE`. */
export const loadRetailSqlite = (db: Sqlite.Database, o: RetailOptions, log: (line: string) => void = () => undefined): RetailLoaded => {
  const seq = (n: number, col: string) =>
    `(WITH RECURSIVE s(${col}) AS (SELECT 1 WHERE ${n} > 0 UNION ALL SELECT ${col} + 1 FROM s WHERE ${col} < ${n}) SELECT ${col} FROM s) s`
  db.pragma("foreign_keys = OFF")
  const cache = db.pragma("cache_size", { simple: true })
  db.pragma("cache_size = -524288") // 512 MB for the load only
  db.transaction(() => {
    for (const [name, sql] of statements("sqlite", seq, o)) {
      const t = performance.now()
      const table = TABLE_OF[name]
      // the secondary indexes built after the rows (one sorted build each, not millions of insertions)
      const indexes = table === undefined ? [] : db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?
        AND sql IS NOT NULL`).all(table) as Array<{ name: string; sql: string }>
      for (const i of indexes) db.exec(`DROP INDEX ${i.name}`)
      db.exec(sql)
      for (const i of indexes) db.exec(i.sql)
      log(`${name} ${((performance.now() - t) / 1000).toFixed(1)} s`)
    }
  }).immediate()
  const t = performance.now()
  db.exec("ANALYZE")
  db.pragma("wal_checkpoint(TRUNCATE)")
  log(`ANALYZE + checkpoint ${((performance.now() - t) / 1000).toFixed(1)} s`)
  db.pragma(`cache_size = ${cache}`)
  db.pragma("foreign_keys = ON")
  return counted(db.prepare(countSql).get() as Record<string, unknown>)
}

// --- the summary table ------------------------------------------------------------------------------

/** One line of a benchmark's summary: a figure, the library's and the baseline's values, their ratio against the target. */
export interface Figure {
  readonly figure: string
  readonly library: string
  readonly baseline?: string
  readonly ratio?: string
  readonly target?: string
  /** undefined: no target (a diagnostic) */
  readonly pass?: boolean
}

/** The figures as a table (figure, library, baseline, ratio, target, PASS/FAIL), each column as wide as its widest cell. */
export const printFigures = (figures: ReadonlyArray<Figure>): void => {
  const head = ["figure", "library", "baseline", "ratio", "target", "result"]
  const rows = figures.map((f) => [f.figure, f.library, f.baseline ?? "", f.ratio ?? "", f.target ?? "",
    f.pass === undefined ? "" : f.pass ? "PASS" : "FAIL"])
  const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)))
  const line = (cells: ReadonlyArray<string>) => `  ${cells.map((c, k) => c.padEnd(widths[k]!)).join(" | ")}`.trimEnd()
  console.log(line(head))
  console.log(`  ${widths.map((w) => "-".repeat(w)).join("-+-")}`)
  for (const r of rows) console.log(line(r))
}
