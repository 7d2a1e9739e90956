/**
 * Analytics benchmark (issue 15, Benchmarks): `analytics.sales` over 5,000,000 POS sales rows and
 * `analytics.coupons` over 1,000,000 coupons, on PostgreSQL and SQLite, against hand-written GROUP BY
 * queries computing the same figures in the same run; and `analytics.exportXlsx` of the comparison
 * view with 500,000 POS-only customers. Targets: sales ≤ 1.5× the hand-written queries; the export's
 * peak RSS < 256 MB (exceljs users report ≈ 550 MB at that size).
 *
 * - Data set (support/retail.ts, `loadRetail…`): `--customers` POS customers (default 500,000), each
 *   a VIP with its `c360_pos_vips` row (grades VIP0 30 %, VIP1 30 %, VIP2 20 %, VIP3 15 %, DIAMOND
 *   5 %; registered over 1,000 days, a few after the period), no loyalty customer — so every one is
 *   POS-only in the comparison; `--sales` sales (default 5,000,000) over two years (2024-12-01 …
 *   2026-11-30; vip id 0 for one in five; skewed buyers; refunds), `--coupons` coupons (default
 *   1,000,000; 60 % used). Generated in SQL (`INSERT … SELECT` from `generate_series` on PostgreSQL,
 *   a recursive CTE on SQLite) into the schema the library's migrations made, once per engine;
 *   the secondary indexes built after the rows; then `VACUUM ANALYZE` / `ANALYZE`.
 * - Sales. Library: the facade of the built package in this process (`c360.analytics.sales({ from,
 *   to })`, the whole two years). Baseline, written here by hand from DOMAIN §11a: six GROUP BY
 *   queries — the totals (VIP and non-VIP), by grade (the VIPs' current grade, a LEFT JOIN), by
 *   season, by shop group, grade × season, and the VIPs registered by the period's end per grade —
 *   over the raw driver (PostgreSQL: a `pg` Pool of 6, all six at once, as the library runs them;
 *   SQLite: better-sqlite3, one after another on this thread, as the library's one connection does),
 *   the ratios taken in JavaScript. One warm-up of each, then `--rounds` rounds (default 5), the
 *   order alternating; medians; the headline ratio is the median of the rounds' library ÷ baseline.
 * - Coupons: the same, `c360.analytics.coupons({ from, to })` against four hand-written queries
 *   (totals, by the member's grade, by season, by the using shop's group); no target in the issue.
 * - Checks (a failure fails the run): every figure of the library's reports (totals, non-VIP line,
 *   conversion bases, every line of every breakdown) equals the baseline's, for the whole period,
 *   for one season-straddling quarter and for one shop group; the breakdowns sum to the total.
 * - Export: `c360.analytics.exportXlsx({ view: "comparison", path })` (all time: one sheet of every
 *   POS-only customer) in a Node process of its own (support/library-process.ts: plain `node` with
 *   `dist/`; the time taken inside it, its peak RSS the kernel's high-water mark `VmHWM` during the
 *   call); the workbook's size; its sheets read back with the library's reader (`Files.readXlsx`:
 *   each sheet's rows are the export's count and a header).
 *   Baseline for the time: the same POS-only rows written as CSV — PostgreSQL: `COPY (SELECT …) TO
 *   '<file>'` by the server; SQLite: better-sqlite3 `iterate()` to a file stream. One run each
 *   (`--export-rounds`, default 1).
 *
 * Options (after `npm run bench -- analytics`): `--sales N`, `--customers N`, `--coupons N`,
 * `--rounds R` (default 5), `--export-rounds R` (default 1), `--engines pg,sqlite`, `--parts
 * sales,coupons,export`. `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432; the export's
 * baseline needs the server on this machine); databases `c360_bench_ana_*`, dropped at the end (also
 * on failure or Ctrl-C); without a server it runs SQLite only. `C360_BENCH_QUICK=1`: 10,000 sales,
 * 2,000 customers and coupons, 2 rounds (checks the bench itself; its figures mean nothing).
 *
 * Exit code 0 on a FAIL of a target (this is a measurement); non-zero on an error or a failed check.
 */
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import Sqlite from "better-sqlite3"
import pg from "pg"
import { benchDatabases, withDatabase } from "./support/databases.js"
import { main } from "./support/library.js"
import { startLibraryProcess } from "./support/library-process.js"
import { type Figure, FIRST_DAY, LAST_DAY, loadRetailPg, loadRetailSqlite, printFigures, type RetailLoaded } from "./support/retail.js"
import { librarySource } from "./support/revision.js"
import { fmt, median } from "./support/stats.js"

const { createCustomer360 } = main

// --- options ------------------------------------------------------------------------------------

const QUICK = process.env.C360_BENCH_QUICK === "1"
const PG_URL = process.env.C360_PG_URL || "postgres://postgres@127.0.0.1:5432"
const args = process.argv.slice(3)
const argValue = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  if (i >= 0) return args[i + 1]
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}
const num = (name: string, quick: number, full: number, min: number) => Math.max(min, Number(argValue(name) ?? (QUICK ? quick : full)))
const SALES = num("sales", 10_000, 5_000_000, 1)
const CUSTOMERS = num("customers", 2_000, 500_000, 1)
const COUPONS = num("coupons", 2_000, 1_000_000, 0)
const ROUNDS = num("rounds", 2, 5, 1)
const EXPORT_ROUNDS = num("export-rounds", 1, 1, 1)
const ENGINES = new Set((argValue("engines") ?? "pg,sqlite").split(",").map((e) => e.trim()))
const PARTS = new Set((argValue("parts") ?? "sales,coupons,export").split(",").map((e) => e.trim()))
const SALES_TARGET = 1.5
const RSS_TARGET = 256 * 1024 * 1024
const POOL = 6
const NOW = Date.now()
const COMMAND = `npm run bench -- analytics --sales ${SALES} --customers ${CUSTOMERS} --coupons ${COUPONS} --rounds ${ROUNDS} ` +
  `--engines ${[...ENGINES].join(",")} --parts ${[...PARTS].join(",")}`

/** The periods: the timed one (the whole two years), and those only checked. */
const WHOLE = { from: FIRST_DAY, to: LAST_DAY }
const CHECKED: ReadonlyArray<{ from: string; to: string; shopGroup?: string }> = [
  { from: "2025-05-15", to: "2025-08-14" }, // straddles SS2025 / AW2025
  { ...WHOLE, shopGroup: "HN" }
]

// --- reporting ----------------------------------------------------------------------------------

const figures: Array<Figure> = []
const problems: Array<string> = []
const check = (ok: boolean, message: string): void => {
  if (ok) return
  problems.push(message)
  console.error(`analytics: CHECK FAILED ${message}`)
}
const ms = (t: number): string => (t >= 10_000 ? `${(t / 1000).toFixed(1)} s` : t >= 100 ? `${t.toFixed(0)} ms` : `${t.toFixed(1)} ms`)
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`
const x = (r: number): string => `${r.toFixed(2)}×`
const elapsed = (start: number): string => `${((performance.now() - start) / 1000).toFixed(1)} s`
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} CPUs`

// --- the figures, by hand -------------------------------------------------------------------------

type Engine = "PostgreSQL" | "SQLite"
type Row = Record<string, unknown>
/** Runs the queries (each with its parameters) and answers their rows, in order. */
type RunQueries = (queries: ReadonlyArray<readonly [string, ReadonlyArray<unknown>]>) => Promise<Array<Array<Row>>>

const GRADES = ["VIP0", "VIP1", "VIP2", "VIP3", "DIAMOND"] as const
const n = (v: unknown): number => {
  if (v === null || v === undefined) return 0
  const r = Number(v)
  if (!Number.isSafeInteger(r)) throw new Error(`not a safe integer: ${String(v)}`)
  return r
}
/** ⌊a ÷ b⌋ toward −∞, 0 when b is 0. */
const floorDiv = (a: number, b: number): number => {
  if (b === 0) return 0
  const q = BigInt(a) / BigInt(b)
  return Number(BigInt(a) % BigInt(b) !== 0n && (a < 0) !== (b < 0) ? q - 1n : q)
}
/** a ÷ b as a percent, two decimals, half up; 0 when b is 0. */
const pct = (a: number, b: number): number => (b === 0 ? 0 : Number((BigInt(a) * 20000n + BigInt(b)) / (2n * BigInt(b))) / 100)

/** A grade as the figures name it: one of the five, else null. */
const gradeKey = (g: unknown): string => (typeof g === "string" && (GRADES as ReadonlyArray<string>).includes(g) ? g : "null")

/** Sales figures of one line (the shape of the library's `SalesMetrics`). */
const salesLine = (r: Row, base: number) => {
  const salesAmount = n(r.sales_amount)
  const invoices = n(r.invoices)
  const customers = n(r.customers)
  return {
    salesAmount, invoices, customers, conversion: pct(customers, base),
    avgPerCustomer: floorDiv(salesAmount, customers), avgPerInvoice: floorDiv(salesAmount, invoices)
  }
}

const salesQueries = (engine: Engine, p: { from: string; to: string; shopGroup?: string }) => {
  const pgsql = engine === "PostgreSQL"
  const params: Array<unknown> = [p.from, p.to]
  const ph = (k: number) => (pgsql ? `$${k}` : "?")
  let where = `s.sales_date BETWEEN ${ph(1)} AND ${ph(2)}`
  if (p.shopGroup !== undefined) {
    params.push(p.shopGroup)
    where += ` AND s.shop_group = ${ph(3)}`
  }
  // PostgreSQL: aggregates with FILTER; SQLite: the same over CASE (NULL outside the filter)
  const when = (cond: string, agg: "sum" | "count" | "countDistinct", col: string) =>
    pgsql
      ? `${agg === "countDistinct" ? `count(DISTINCT ${col})` : `${agg}(${col})`} FILTER (WHERE ${cond})`
      : agg === "countDistinct" ? `count(DISTINCT CASE WHEN ${cond} THEN ${col} END)` : `${agg}(CASE WHEN ${cond} THEN ${col} END)`
  const sums = "sum(s.sales_amount) AS sales_amount, count(*) AS invoices, count(DISTINCT s.vip_id) AS customers"
  const all = (sql: string, extra: ReadonlyArray<unknown> = params) => [sql, extra] as const
  return [
    all(`SELECT ${when("s.vip_id <> 0", "sum", "s.sales_amount")} AS sales_amount, ${when("s.vip_id <> 0", "count", "s.invoice_number")} AS invoices,
        ${when("s.vip_id <> 0", "countDistinct", "s.vip_id")} AS customers, ${when("s.vip_id = 0", "sum", "s.sales_amount")} AS non_vip_amount,
        ${when("s.vip_id = 0", "count", "s.invoice_number")} AS non_vip_invoices
      FROM c360_pos_sales s WHERE ${where}`),
    all(`SELECT v.vip_grade AS grade, ${sums} FROM c360_pos_sales s LEFT JOIN c360_pos_vips v ON v.vip_id = s.vip_id
      WHERE s.vip_id <> 0 AND ${where} GROUP BY v.vip_grade`),
    all(`SELECT s.season AS season, ${sums} FROM c360_pos_sales s WHERE s.vip_id <> 0 AND ${where} GROUP BY s.season`),
    all(`SELECT s.shop_group AS shop_group, ${sums} FROM c360_pos_sales s WHERE s.vip_id <> 0 AND ${where} GROUP BY s.shop_group`),
    all(`SELECT v.vip_grade AS grade, s.season AS season, ${sums} FROM c360_pos_sales s LEFT JOIN c360_pos_vips v ON v.vip_id = s.vip_id
      WHERE s.vip_id <> 0 AND ${where} GROUP BY v.vip_grade, s.season`),
    all(`SELECT vip_grade AS grade, count(*) AS vips FROM c360_pos_vips
      WHERE registration_date IS NULL OR registration_date <= ${ph(1)} GROUP BY vip_grade`, [p.to])
  ]
}

/** The sales report by hand: the same keys and figures as the library's (lines keyed by their grade, season, shop group). */
const salesByHand = async (runQueries: RunQueries, engine: Engine, p: { from: string; to: string; shopGroup?: string }) => {
  const [totals, byGrade, bySeason, byShopGroup, byGradeSeason, base] = await runQueries(salesQueries(engine, p))
  const baseOf = new Map<string, number>()
  for (const r of base!) baseOf.set(gradeKey(r.grade), (baseOf.get(gradeKey(r.grade)) ?? 0) + n(r.vips))
  const totalBase = [...baseOf.values()].reduce((a, b) => a + b, 0)
  const t = totals![0]!
  const lines = (rows: Array<Row>, key: (r: Row) => string, base: (r: Row) => number) => {
    // a grade key may gather rows of several stored texts (an unknown grade is `null`): sum them first
    const sums = new Map<string, Row>()
    for (const r of rows) {
      const k = key(r)
      const prev = sums.get(k)
      sums.set(k, prev === undefined ? r : {
        ...r,
        sales_amount: n(prev.sales_amount) + n(r.sales_amount),
        invoices: n(prev.invoices) + n(r.invoices),
        customers: n(prev.customers) + n(r.customers)
      })
    }
    return Object.fromEntries([...sums].map(([k, r]) => [k, salesLine(r, base(r))]))
  }
  return {
    total: salesLine(t, totalBase),
    nonVip: { salesAmount: n(t.non_vip_amount), invoices: n(t.non_vip_invoices) },
    vipBase: { total: totalBase, byGrade: Object.fromEntries([...baseOf]) },
    byGrade: lines(byGrade!, (r) => gradeKey(r.grade), (r) => baseOf.get(gradeKey(r.grade)) ?? 0),
    bySeason: lines(bySeason!, (r) => String(r.season), () => totalBase),
    byShopGroup: lines(byShopGroup!, (r) => String(r.shop_group), () => totalBase),
    byGradeSeason: lines(byGradeSeason!, (r) => `${gradeKey(r.grade)} ${String(r.season)}`, (r) => baseOf.get(gradeKey(r.grade)) ?? 0)
  }
}

type LibraryLine = Record<string, unknown>
interface SalesSums { salesAmount: number; invoices: number; customers: number }
/** The library's sales report in the same shape (lines with no sale at all left out, as the hand-written queries have none). */
const salesOfLibrary = (r: Record<string, unknown>) => {
  const strip = (l: LibraryLine, ...keys: Array<string>) => {
    const out = { ...l }
    for (const k of keys) delete out[k]
    return out
  }
  const lines = (ls: unknown, key: (l: LibraryLine) => string, ...keys: Array<string>) =>
    Object.fromEntries((ls as Array<LibraryLine>)
      .filter((l) => !(l.salesAmount === 0 && l.invoices === 0 && l.customers === 0))
      .map((l) => [key(l), strip(l, ...keys)]))
  const base = r.vipBase as { total: number; byGrade: Array<{ grade: string | null; vips: number }> }
  return {
    total: r.total,
    nonVip: r.nonVip,
    vipBase: { total: base.total, byGrade: Object.fromEntries(base.byGrade.filter((g) => g.vips !== 0).map((g) => [gradeKey(g.grade), g.vips])) },
    byGrade: lines(r.byGrade, (l) => gradeKey(l.grade), "grade"),
    bySeason: lines(r.bySeason, (l) => String(l.season), "season"),
    byShopGroup: lines(r.byShopGroup, (l) => String(l.shopGroup), "shopGroup"),
    byGradeSeason: lines(r.byGradeSeason, (l) => `${gradeKey(l.grade)} ${String(l.season)}`, "grade", "season")
  }
}

/** A canonical JSON (object keys sorted) for comparing two reports. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, val: unknown) =>
    val !== null && typeof val === "object" && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : val)

/** The first difference between two canonical reports, for the failure message. */
const firstDifference = (a: unknown, b: unknown, path = ""): string | null => {
  if (canonical(a) === canonical(b)) return null
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)])
    for (const k of [...keys].sort()) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`)
      if (d !== null) return d
    }
  }
  return `${path || "."}: library ${JSON.stringify(a)}, by hand ${JSON.stringify(b)}`
}

/** The breakdowns' amounts and invoices sum to the total (property of the issue's tests, checked on the big data set too). */
const checkSums = (label: string, lib: ReturnType<typeof salesOfLibrary>): void => {
  const total = lib.total as { salesAmount: number; invoices: number; customers: number }
  for (const part of ["byGrade", "bySeason", "byShopGroup", "byGradeSeason"] as const) {
    const lines = Object.values(lib[part]) as unknown as Array<SalesSums>
    const amount = lines.reduce((a, l) => a + l.salesAmount, 0)
    const invoices = lines.reduce((a, l) => a + l.invoices, 0)
    check(amount === total.salesAmount && invoices === total.invoices,
      `${label}: ${part} sums to ${amount} đồng / ${invoices} invoices, the total is ${total.salesAmount} / ${total.invoices}`)
  }
}

const couponQueries = (engine: Engine, p: { from: string; to: string; shopGroup?: string }) => {
  const pgsql = engine === "PostgreSQL"
  const params: Array<unknown> = [p.from, p.to]
  const ph = (k: number) => (pgsql ? `$${k}` : "?")
  let where = `c.begin_date BETWEEN ${ph(1)} AND ${ph(2)}`
  if (p.shopGroup !== undefined) {
    params.push(p.shopGroup)
    where += ` AND c.shop_group = ${ph(3)}`
  }
  const sums = pgsql
    ? "count(*) AS issued, count(*) FILTER (WHERE c.used = 1) AS used, sum(c.face_value) AS face_value, sum(c.face_value) FILTER (WHERE c.used = 1) AS used_value"
    : "count(*) AS issued, sum(c.used = 1) AS used, sum(c.face_value) AS face_value, sum(CASE WHEN c.used = 1 THEN c.face_value END) AS used_value"
  return [
    [`SELECT ${sums} FROM c360_pos_coupons c WHERE ${where}`, params],
    [`SELECT CASE WHEN c.member_id <> 0 THEN v.vip_grade END AS grade, ${sums} FROM c360_pos_coupons c
      LEFT JOIN c360_pos_vips v ON v.vip_id = c.member_id WHERE ${where} GROUP BY CASE WHEN c.member_id <> 0 THEN v.vip_grade END`, params],
    [`SELECT c.season AS season, ${sums} FROM c360_pos_coupons c WHERE ${where} GROUP BY c.season`, params],
    [`SELECT c.shop_group AS shop_group, ${sums} FROM c360_pos_coupons c WHERE ${where} GROUP BY c.shop_group`, params]
  ] as const
}

const couponLine = (r: Row) => {
  const issued = n(r.issued)
  const used = n(r.used)
  return { issued, used, usageRate: pct(used, issued), faceValue: n(r.face_value), usedValue: n(r.used_value) }
}

const couponsByHand = async (runQueries: RunQueries, engine: Engine, p: { from: string; to: string; shopGroup?: string }) => {
  const [totals, byGrade, bySeason, byShopGroup] = await runQueries(couponQueries(engine, p))
  const lines = (rows: Array<Row>, key: (r: Row) => string) => {
    const sums = new Map<string, Row>()
    for (const r of rows) {
      const prev = sums.get(key(r))
      sums.set(key(r), prev === undefined ? r : {
        issued: n(prev.issued) + n(r.issued), used: n(prev.used) + n(r.used),
        face_value: n(prev.face_value) + n(r.face_value), used_value: n(prev.used_value) + n(r.used_value)
      })
    }
    return Object.fromEntries([...sums].map(([k, r]) => [k, couponLine(r)]))
  }
  return {
    total: couponLine(totals![0]!),
    byGrade: lines(byGrade!, (r) => gradeKey(r.grade)),
    bySeason: lines(bySeason!, (r) => String(r.season)),
    byShopGroup: lines(byShopGroup!, (r) => String(r.shop_group))
  }
}

const couponsOfLibrary = (r: Record<string, unknown>) => {
  const lines = (ls: unknown, key: (l: LibraryLine) => string, drop: string) =>
    Object.fromEntries((ls as Array<LibraryLine>).filter((l) => l.issued !== 0).map((l) => {
      const out = { ...l }
      delete out[drop]
      return [key(l), out]
    }))
  return {
    total: r.total,
    byGrade: lines(r.byGrade, (l) => gradeKey(l.grade), "grade"),
    bySeason: lines(r.bySeason, (l) => String(l.season), "season"),
    byShopGroup: lines(r.byShopGroup, (l) => String(l.shopGroup), "shopGroup")
  }
}

// --- one engine -------------------------------------------------------------------------------------

type Facade = Awaited<ReturnType<typeof createCustomer360>>
/** What `exportXlsx` answers: its sheets and their data rows. */
interface ExportSummary {
  readonly view: string
  readonly sheets: ReadonlyArray<{ readonly name: string; readonly rows: number }>
}

interface EngineSide {
  readonly engine: Engine
  readonly database: unknown
  readonly runQueries: RunQueries
  /** The POS-only customers written as CSV to `path` (the export's time baseline); the rows written. */
  readonly csvBaseline: (path: string) => Promise<number>
  readonly loaded: RetailLoaded
  readonly close: () => Promise<void>
}

/** The timed comparison of one figure: warm-up, then rounds alternating the order; medians. */
const timedRounds = async (
  label: string,
  library: () => Promise<unknown>,
  baseline: () => Promise<unknown>
): Promise<{ lib: Array<number>; base: Array<number>; ratios: Array<number> }> => {
  const time = async (f: () => Promise<unknown>) => {
    const t = performance.now()
    await f()
    return performance.now() - t
  }
  const warmLib = await time(library)
  const warmBase = await time(baseline)
  console.log(`analytics: ${label} warm-up: library ${ms(warmLib)}, baseline ${ms(warmBase)}`)
  const lib: Array<number> = []
  const base: Array<number> = []
  for (let k = 0; k < ROUNDS; k++) {
    if (k % 2 === 0) {
      lib.push(await time(library))
      base.push(await time(baseline))
    } else {
      base.push(await time(baseline))
      lib.push(await time(library))
    }
    console.log(`analytics: ${label} round ${k + 1}: library ${ms(lib[k]!)}, baseline ${ms(base[k]!)}, ${x(lib[k]! / base[k]!)}; ${load()}`)
  }
  return { lib, base, ratios: lib.map((l, k) => l / base[k]!) }
}

const salesPart = async (side: EngineSide, c360: Facade): Promise<void> => {
  const e = side.engine
  const analytics = (c360 as unknown as { analytics: Record<string, (q: unknown) => Promise<Record<string, unknown>>> }).analytics
  for (const p of [WHOLE, ...CHECKED]) {
    const label = `${e} sales ${p.from}…${p.to}${"shopGroup" in p ? ` shop group ${p.shopGroup}` : ""}`
    const lib = salesOfLibrary(await analytics.sales!(p))
    const hand = await salesByHand(side.runQueries, e, p)
    const d = firstDifference(lib, hand)
    check(d === null, `${label}: the library's figures differ from the hand-written queries' at ${d}`)
    checkSums(label, lib)
    if (d === null) console.log(`analytics: ${label}: the library's figures equal the hand-written queries' ` +
      `(${fmt((lib.total as { invoices: number }).invoices)} VIP invoices, ${Object.keys(lib.byGradeSeason).length} grade × season lines)`)
  }
  const r = await timedRounds(`${e} sales`, () => analytics.sales!(WHOLE), () => salesByHand(side.runQueries, e, WHOLE))
  const ratio = median(r.ratios)
  figures.push({
    figure: `${e}: analytics.sales over ${fmt(side.loaded.sales)} sales, two years (median of ${ROUNDS})`,
    library: `${ms(median(r.lib))} (rounds ${r.lib.map(ms).join(", ")})`,
    baseline: `${ms(median(r.base))} 6 GROUP BY queries${e === "PostgreSQL" ? `, pool of ${POOL}` : ""} (rounds ${r.base.map(ms).join(", ")})`,
    ratio: `${x(ratio)} library/baseline (rounds ${r.ratios.map(x).join(", ")})`,
    target: `≤ ${x(SALES_TARGET)}`,
    pass: ratio <= SALES_TARGET
  })
}

const couponsPart = async (side: EngineSide, c360: Facade): Promise<void> => {
  const e = side.engine
  const analytics = (c360 as unknown as { analytics: Record<string, (q: unknown) => Promise<Record<string, unknown>>> }).analytics
  for (const p of [WHOLE, ...CHECKED]) {
    const label = `${e} coupons ${p.from}…${p.to}${"shopGroup" in p ? ` shop group ${p.shopGroup}` : ""}`
    const lib = couponsOfLibrary(await analytics.coupons!(p))
    const hand = await couponsByHand(side.runQueries, e, p)
    const d = firstDifference(lib, hand)
    check(d === null, `${label}: the library's figures differ from the hand-written queries' at ${d}`)
    if (d === null) console.log(`analytics: ${label}: the library's figures equal the hand-written queries' (${fmt((lib.total as { issued: number }).issued)} coupons)`)
  }
  const r = await timedRounds(`${e} coupons`, () => analytics.coupons!(WHOLE), () => couponsByHand(side.runQueries, e, WHOLE))
  figures.push({
    figure: `${e}: analytics.coupons over ${fmt(side.loaded.coupons)} coupons (median of ${ROUNDS})`,
    library: `${ms(median(r.lib))} (rounds ${r.lib.map(ms).join(", ")})`,
    baseline: `${ms(median(r.base))} 4 GROUP BY queries (rounds ${r.base.map(ms).join(", ")})`,
    ratio: `${x(median(r.ratios))} library/baseline (rounds ${r.ratios.map(x).join(", ")}; no target in the issue)`
  })
}

/**
 * The rows (header included) of each named sheet of a workbook, read back with the library's own
 * reader (the built package's `Files.readXlsx`); a sentence instead when there is none.
 */
const sheetRows = async (path: string, names: ReadonlyArray<string>): Promise<Array<{ sheet: string; rows: number }> | string> => {
  const files = (main as unknown as {
    Files?: {
      readXlsx?: (s: AsyncIterable<Uint8Array>, o?: { sheet?: number | string }) => AsyncIterable<unknown>
      fromPath: (p: string) => AsyncIterable<Uint8Array>
    }
  }).Files
  const read = files?.readXlsx
  if (files === undefined || read === undefined) return "not read back (the package has no Files.readXlsx)"
  const out: Array<{ sheet: string; rows: number }> = []
  for (const sheet of names) {
    let rows = 0
    for await (const _ of read(files.fromPath(path), { sheet })) rows++
    out.push({ sheet, rows })
  }
  return out
}

const exportPart = async (side: EngineSide, dir: string): Promise<void> => {
  const e = side.engine
  const runs: Array<{ ms: number; peak: number; before: number; ready: number; bytes: number; base: number; baseRows: number }> = []
  let readBack: Awaited<ReturnType<typeof sheetRows>> = "not read"
  let summary: ExportSummary["sheets"] = []
  for (let k = 1; k <= EXPORT_ROUNDS; k++) {
    const path = join(dir, `comparison-${e}-${k}.xlsx`)
    const child = await startLibraryProcess(side.database)
    let closed = false
    let call: Awaited<ReturnType<typeof child.call<ExportSummary>>>
    try {
      call = await child.call<ExportSummary>("analytics.exportXlsx", [{ view: "comparison", path }])
      await child.close()
      closed = true
    } finally {
      if (!closed) await child.close().catch(() => undefined)
    }
    const bytes = statSync(path).size
    const sheets = Array.isArray(call.result?.sheets) ? call.result.sheets : []
    if (k === 1) {
      summary = sheets
      readBack = await sheetRows(path, sheets.map((x) => x.name))
    }
    rmSync(path, { force: true })
    const csv = join(dir, "server", `pos-only-${e}-${k}.csv`)
    const t = performance.now()
    const baseRows = await side.csvBaseline(csv)
    const base = performance.now() - t
    rmSync(csv, { force: true })
    runs.push({ ms: call.ms, peak: call.callPeak, before: call.rssBefore, ready: child.readyRss, bytes, base, baseRows })
    console.log(`analytics: ${e} export ${k}: ${ms(call.ms)}, ${mb(bytes)}, RSS ${mb(call.rssBefore)} before, peak ${mb(call.callPeak)}; ` +
      `CSV baseline ${ms(base)} (${fmt(baseRows)} rows); answered ${JSON.stringify(call.result)?.slice(0, 200)}`)
  }
  const pos = side.loaded.customers
  check(summary.some((s) => s.rows === pos), `${e} export: no sheet holds the ${fmt(pos)} POS-only customers: ${JSON.stringify(summary)}`)
  if (typeof readBack === "string") console.log(`analytics: ${e} export: workbook ${readBack}`)
  else {
    console.log(`analytics: ${e} export: sheets read back: ${readBack.map((s) => `${s.sheet} ${fmt(s.rows)} rows`).join(", ")}`)
    check(readBack.every((r, k) => r.rows === summary[k]!.rows + 1),
      `${e} export: the sheets read back hold ${JSON.stringify(readBack)}, the export said ${JSON.stringify(summary)} (+ 1 header row each)`)
  }
  check(runs.every((r) => r.baseRows === pos), `${e} export: the CSV baseline wrote ${runs.map((r) => r.baseRows).join(", ")} rows, want ${pos}`)
  const peak = Math.max(...runs.map((r) => r.peak))
  const med = (f: (r: (typeof runs)[number]) => number) => median(runs.map(f))
  figures.push({
    figure: `${e}: exportXlsx comparison, ${fmt(pos)} POS-only rows: peak RSS`,
    library: `${mb(peak)} (${mb(med((r) => r.before))} before the call, ${mb(med((r) => r.ready))} once loaded)`,
    target: "< 256 MB",
    pass: peak < RSS_TARGET
  })
  figures.push({
    figure: `${e}: exportXlsx comparison: time, workbook size`,
    library: `${ms(med((r) => r.ms))}, ${mb(med((r) => r.bytes))} (sheets: ${summary.map((s) => `${s.name} ${fmt(s.rows)}`).join(", ")})`,
    baseline: `${ms(med((r) => r.base))} the same rows as CSV (${e === "PostgreSQL" ? "server-side COPY TO a file" : "better-sqlite3 iterate() to a file"})`,
    ratio: `${x(med((r) => r.ms) / med((r) => r.base))} library/baseline (no target)`
  })
}

// --- engines ------------------------------------------------------------------------------------

const pgDatabases = benchDatabases(PG_URL, "c360_bench_ana", "analytics")

const POS_ONLY_COLUMNS = "p.vip_id, p.phone, p.phone_raw, p.name, p.vip_grade, p.email, p.registration_date, p.points"
const POS_ONLY = (loyalty: boolean) => `SELECT ${POS_ONLY_COLUMNS} FROM c360_pos_customers p
  ${loyalty ? "WHERE p.phone IS NULL OR NOT EXISTS (SELECT 1 FROM c360_loyalty_customers l WHERE l.phone = p.phone)" : ""}
  ORDER BY p.vip_id, p.phone_key`

const pgEngine = async (): Promise<EngineSide> => {
  const t0 = performance.now()
  const db = await pgDatabases.create("_data")
  const url = withDatabase(PG_URL, db)
  await (await createCustomer360({ database: { postgres: { url } } })).close()
  const loaded = await pgDatabases.admin((c) => loadRetailPg(c, { customers: CUSTOMERS, sales: SALES, coupons: COUPONS, now: NOW },
    (line) => console.log(`analytics: PostgreSQL load: ${line}`)), db)
  console.log(`analytics: PostgreSQL data set ${JSON.stringify(loaded)} loaded in ${elapsed(t0)}`)
  const loyalty = await pgDatabases.admin(async (c) => (await c.query("SELECT to_regclass('c360_loyalty_customers') IS NOT NULL AS t")).rows[0].t === true, db)
  const pool = new pg.Pool({ connectionString: url, max: POOL, application_name: "c360-bench-analytics-baseline" })
  return {
    engine: "PostgreSQL",
    database: { postgres: { url } },
    loaded,
    runQueries: (qs) => Promise.all(qs.map(async ([sql, params]) => (await pool.query(sql, [...params])).rows as Array<Row>)),
    csvBaseline: async (path) => {
      const copied = await pool.query(`COPY (${POS_ONLY(loyalty)}) TO '${path.replace(/'/g, "''")}' WITH (FORMAT csv, HEADER true)`)
      return copied.rowCount ?? -1
    },
    close: () => pool.end()
  }
}

const sqliteEngine = async (dir: string): Promise<EngineSide> => {
  const t0 = performance.now()
  const file = join(dir, "analytics.sqlite")
  await (await createCustomer360({ database: { sqlite: { filename: file } } })).close()
  const db = new Sqlite(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  const loaded = loadRetailSqlite(db, { customers: CUSTOMERS, sales: SALES, coupons: COUPONS, now: NOW },
    (line) => console.log(`analytics: SQLite load: ${line}`))
  console.log(`analytics: SQLite data set ${JSON.stringify(loaded)} loaded in ${elapsed(t0)} (${mb(statSync(file).size)})`)
  const loyalty = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'c360_loyalty_customers'").get() !== undefined
  return {
    engine: "SQLite",
    database: { sqlite: { filename: file } },
    loaded,
    runQueries: async (qs) => qs.map(([sql, params]) => db.prepare(sql).all(...params) as Array<Row>),
    csvBaseline: async (path) => {
      const out = createWriteStream(path)
      const cell = (v: unknown) => (v === null ? "" : typeof v === "string" && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v))
      let rows = 0
      let chunk = "vip_id,phone,phone_raw,name,vip_grade,email,registration_date,points\n"
      for (const r of db.prepare(POS_ONLY(loyalty)).raw().iterate() as IterableIterator<Array<unknown>>) {
        chunk += `${r.map(cell).join(",")}\n`
        rows++
        if (chunk.length > 1 << 16) {
          if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()))
          chunk = ""
        }
      }
      out.write(chunk)
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())))
      return rows
    },
    close: async () => void db.close()
  }
}

// --- main -------------------------------------------------------------------------------------------

export async function run(): Promise<void> {
  const t0 = performance.now()
  const builtFrom = librarySource()
  const loadAtStart = load()
  console.log(`analytics: ${fmt(SALES)} sales, ${fmt(CUSTOMERS)} POS customers, ${fmt(COUPONS)} coupons; parts ${[...PARTS].join(", ")}; ` +
    `${ROUNDS} round(s); engines ${[...ENGINES].join(", ")}; ${loadAtStart}${QUICK ? "; QUICK MODE" : ""}`)
  const dir = mkdtempSync(join(tmpdir(), "c360-bench-analytics-"))
  chmodSync(dir, 0o755)
  mkdirSync(join(dir, "server"))
  chmodSync(join(dir, "server"), 0o777) // the PostgreSQL server writes the export's CSV baseline there
  let interrupted = false
  const cleanUp = async () => {
    await pgDatabases.dropAll()
    rmSync(dir, { recursive: true, force: true })
  }
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    console.error(`analytics: ${signal}, cleaning up`)
    void cleanUp().finally(() => process.exit(130))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const errors: Array<string> = []
  const attempt = async (name: string, f: () => Promise<void>) => {
    try {
      await f()
    } catch (e) {
      errors.push(`${name}: ${e instanceof Error ? e.message : String(e)}`)
      console.error(`analytics: ${name} FAILED`, e)
    }
  }
  const engine = async (make: () => Promise<EngineSide>) => {
    const side = await make()
    const c360 = await createCustomer360({ database: side.database as never })
    try {
      if (PARTS.has("sales")) await attempt(`${side.engine} sales`, () => salesPart(side, c360))
      if (PARTS.has("coupons")) await attempt(`${side.engine} coupons`, () => couponsPart(side, c360))
    } finally {
      await c360.close()
    }
    try {
      if (PARTS.has("export")) await attempt(`${side.engine} export`, () => exportPart(side, dir))
    } finally {
      await side.close()
    }
  }
  try {
    if (ENGINES.has("pg")) {
      const unreachable = await pgDatabases.reachable()
      if (unreachable !== null) {
        console.error(`analytics: !!! PostgreSQL is UNREACHABLE at ${PG_URL} (${unreachable}): SQLite only`)
        figures.push({ figure: "PostgreSQL", library: `SKIPPED (unreachable: ${unreachable})` })
      } else {
        await attempt("PostgreSQL", () => engine(pgEngine))
        await pgDatabases.dropAll()
      }
    }
    if (ENGINES.has("sqlite")) await attempt("SQLite", () => engine(() => sqliteEngine(dir)))
  } finally {
    await cleanUp()
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  console.log("")
  console.log("=".repeat(100))
  console.log(`analytics benchmark summary (${new Date().toISOString()}, node ${process.version}, ${fmt(SALES)} sales, ` +
    `${fmt(CUSTOMERS)} POS customers, ${fmt(COUPONS)} coupons, ${ROUNDS} round(s)${QUICK ? ", QUICK MODE" : ""})`)
  console.log(`  library: the built package (dist/), built from ${builtFrom}; the export in a process of its own`)
  console.log(`  machine: ${loadAtStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share it)`)
  printFigures(figures)
  if (errors.length > 0) console.log(`  errors: ${errors.length}:\n    ${errors.join("\n    ")}`)
  console.log(problems.length === 0 ? "  correctness: all checks passed" : `  correctness: ${problems.length} FAILED CHECK(S):\n    ${problems.join("\n    ")}`)
  console.log(`  command: ${COMMAND}`)
  console.log("=".repeat(100))
  console.log(`analytics: total ${elapsed(t0)}`)
  if (errors.length > 0 || problems.length > 0) {
    process.exitCode = 1
    throw new Error(`analytics benchmark: ${errors.length} error(s), ${problems.length} failed check(s)`)
  }
}

export default run
