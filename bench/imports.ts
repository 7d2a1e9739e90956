/**
 * Import benchmark (issue 15, Benchmarks): `imports.run({ kind: "sales", path, format: "csv" })` of a
 * 1,000,000-row POS sales CSV, on PostgreSQL and SQLite, against a baseline loading the same file in
 * the same run. Targets: PostgreSQL ≥ 0.5× `COPY` of the file into a bare table; SQLite ≥ 0.5× a raw
 * prepared-insert loop in one transaction; the importing Node process's peak RSS < 256 MB.
 *
 * - The file (support/retail.ts, `writeSalesCsv`): the POS export's default columns, `--rows` rows
 *   (invoice numbers unique, shops HN01…VT12 in 8 groups, dates over two years — one in ten written
 *   `DD/MM/YYYY` —, vip id 0 for one sale in five, amounts written `1.234.000`, `1234000`,
 *   `1234000.00` or `"1,234,000"`, one sale in 100 a refund with negative amounts, one shop name in
 *   eight quoted for its comma), written once to a temporary directory (readable by the PostgreSQL
 *   server, which reads it itself for the COPY).
 * - Library: the built package in a Node process of its own (support/library-process.ts: plain `node`
 *   importing `dist/`, one facade instance over a fresh database it has just migrated, driven over
 *   IPC); the time is taken inside it around `imports.run`, and its peak RSS during the call is the
 *   kernel's high-water mark of that process (`VmHWM`, reset before the call) — exact, and its own.
 *   Then a re-import of the same file on the same database (every row `unchanged`), timed the same way.
 *   A fresh database has no POS customer, so no sale is linked to a library customer (no purchase
 *   recorded): the figure is the import's own path — parse, validate, write.
 * - PostgreSQL baseline: `COPY bare FROM '<file>' WITH (FORMAT csv, HEADER true)` into a bare table
 *   of the file's 15 columns, all `TEXT` (its amounts with separators are no SQL numbers), no key, no
 *   index, in a database of its own; the server reads the file itself (the fastest load there is).
 *   Ratio = COPY time ÷ import time.
 * - SQLite baseline: this process reads the same file (a stream, line by line), splits each record
 *   (RFC 4180 quotes), parses the amounts to integers and the dates to `YYYY-MM-DD`, and inserts the
 *   15 values with one prepared statement, all in one transaction, into a bare table (typed columns,
 *   no key, no index) of a fresh file with the library's pragmas (WAL, `synchronous = NORMAL`). Both
 *   sides read and parse the file: the time of each is from the first byte read to the commit.
 *   Ratio = baseline time ÷ import time.
 * - `--rounds` rounds (default 3), each on fresh databases, the baseline first in odd rounds and the
 *   library first in even ones; a CHECKPOINT (PostgreSQL) before each timed run; medians; ratios per
 *   round and their median.
 * - Diagnostic: the file read and split by the library's own CSV reader alone (the built package's
 *   `Files.readCsvBatches`, in this process) and by the baseline's reader alone — what parsing costs
 *   each side, nothing written.
 * - Checks (any failure fails the run): the report says `created` = every row, nothing failed; the
 *   re-import's says `unchanged` = every row; the library's sales table then holds every row, with the
 *   file's Σ sales_amount, Σ quantity and count of VIP sales; each baseline table holds every row.
 *
 * Options (after `npm run bench -- imports`): `--rows N` (default 1,000,000), `--vips N` (default
 * rows ÷ 10), `--rounds R` (default 3), `--engines pg,sqlite`, `--keep` (keep the CSV and print
 * where). `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432; the server must run on this
 * machine, as a superuser, for the server-side COPY); the bench creates its own `c360_bench_imp_*`
 * databases and drops them at the end, also on failure or Ctrl-C; without a server it runs SQLite
 * only. `C360_BENCH_QUICK=1`: 10,000 rows, 1 round (checks the bench itself; its figures mean little).
 *
 * Exit code 0 on a FAIL of a target (this is a measurement); non-zero on an error or a failed check.
 */
import { chmodSync, createReadStream, mkdtempSync, rmSync, statSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import Sqlite from "better-sqlite3"
import { benchDatabases, withDatabase } from "./support/databases.js"
import { main } from "./support/library.js"
import { startLibraryProcess } from "./support/library-process.js"
import { type Figure, parseDay, parseMoney, printFigures, SALES_COLUMNS, type SalesFile, splitCsvLine, writeSalesCsv } from "./support/retail.js"
import { librarySource } from "./support/revision.js"
import { fmt, median } from "./support/stats.js"

// --- options ------------------------------------------------------------------------------------

const QUICK = process.env.C360_BENCH_QUICK === "1"
const PG_URL = process.env.C360_PG_URL || "postgres://postgres@127.0.0.1:5432"
const args = process.argv.slice(3)
const argValue = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  if (i >= 0) return args[i + 1]
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}
const ROWS = Math.max(100, Number(argValue("rows") ?? (QUICK ? 10_000 : 1_000_000)))
const VIPS = Math.max(10, Number(argValue("vips") ?? Math.floor(ROWS / 10)))
const ROUNDS = Math.max(1, Number(argValue("rounds") ?? (QUICK ? 1 : 3)))
const ENGINES = new Set((argValue("engines") ?? "pg,sqlite").split(",").map((e) => e.trim()))
const KEEP = args.includes("--keep")
const RATIO_TARGET = 0.5
const RSS_TARGET = 256 * 1024 * 1024
const COMMAND = `npm run bench -- imports --rows ${ROWS} --rounds ${ROUNDS} --engines ${[...ENGINES].join(",")}`

// --- reporting ----------------------------------------------------------------------------------

const figures: Array<Figure> = []
const problems: Array<string> = []
const check = (ok: boolean, message: string): void => {
  if (ok) return
  problems.push(message)
  console.error(`imports: CHECK FAILED ${message}`)
}
const s = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`)
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`
const x = (r: number): string => `${r.toFixed(2)}×`
const perSecond = (rows: number, ms: number): string => `${fmt(rows / (ms / 1000))} rows/s`
const elapsed = (start: number): string => `${((performance.now() - start) / 1000).toFixed(1)} s`
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} CPUs`

type Engine = "PostgreSQL" | "SQLite"

/** The import report's counts (its `failed` lists the first failed rows, `failedCount` counts them all). */
interface Report {
  readonly id: string
  readonly status: string
  readonly lines: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly failed: ReadonlyArray<{ line: number; column: string; value: unknown; reason: string }>
  readonly failedCount: number
}
const failedCount = (r: Report): number => r.failedCount ?? r.failed.length
const describe = (r: Report): string =>
  `${r.status}: ${fmt(r.lines)} lines, created ${fmt(r.created)}, updated ${fmt(r.updated)}, unchanged ${fmt(r.unchanged)}, ` +
  `failed ${fmt(failedCount(r))}${r.failed.length > 0 ? ` (first: ${JSON.stringify(r.failed.slice(0, 3))})` : ""}`
/** Every line read, completed, nothing failed. */
const clean = (r: Report, rows: number): boolean => r.status === "completed" && r.lines === rows && failedCount(r) === 0

/** What the library's import left in its sales table. */
interface Stored {
  readonly rows: number
  readonly vipRows: number
  readonly salesAmount: number
  readonly quantity: number
}
const STORED_SQL = `SELECT count(*) AS rows, count(*) FILTER (WHERE vip_id <> 0) AS vip_rows, sum(sales_amount) AS sales_amount,
  sum(quantity) AS quantity FROM c360_pos_sales`
const STORED_SQLITE = STORED_SQL.replace("count(*) FILTER (WHERE vip_id <> 0)", "sum(vip_id <> 0)")
const stored = (r: Record<string, unknown>): Stored =>
  ({ rows: Number(r.rows), vipRows: Number(r.vip_rows ?? 0), salesAmount: Number(r.sales_amount ?? 0), quantity: Number(r.quantity ?? 0) })

const checkStored = (engine: Engine, round: number, got: Stored, file: SalesFile): void => {
  const want: Stored = { rows: file.rows, vipRows: file.vipRows, salesAmount: file.salesAmount, quantity: file.quantity }
  check(JSON.stringify(got) === JSON.stringify(want), `${engine} round ${round}: c360_pos_sales holds ${JSON.stringify(got)}, the file ${JSON.stringify(want)}`)
}

// --- parsing alone (diagnostic) --------------------------------------------------------------------

/** The baseline's read and parse of the file, without the inserts: its rows, and the values' sum (so nothing is optimised away). */
const baselineParse = async (path: string, onRow: (f: Array<string>) => void): Promise<number> => {
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 16 }), crlfDelay: Infinity })
  let header = true
  let rows = 0
  for await (const line of lines) {
    if (header) {
      header = false
      continue
    }
    if (line === "") continue
    onRow(splitCsvLine(line))
    rows++
  }
  return rows
}

/**
 * Where an import's time goes, roughly: the file read and split into records by the library's own
 * CSV reader (the built package's `Files.readCsvBatches`, in this process), and by the baseline's
 * (with its amounts parsed) — neither writes anything.
 */
const parsingAlone = async (file: SalesFile): Promise<void> => {
  const files = (main as unknown as { Files?: { readCsvBatches: (s: AsyncIterable<Uint8Array>) => AsyncIterable<ReadonlyArray<unknown>>; fromPath: (p: string) => AsyncIterable<Uint8Array> } }).Files
  let lib = NaN
  if (files !== undefined) {
    const t = performance.now()
    let rows = -1 // the header
    for await (const batch of files.readCsvBatches(files.fromPath(file.path))) rows += batch.length
    lib = performance.now() - t
    check(rows === file.rows, `the library's CSV reader read ${rows} records of ${file.rows}`)
  }
  const t = performance.now()
  let sum = 0
  const rows = await baselineParse(file.path, (f) => {
    sum += parseMoney(f[10]!)
    parseDay(f[5]!)
  })
  const base = performance.now() - t
  check(rows === file.rows && sum === file.salesAmount, `the baseline's parser read ${rows} records (Σ ${sum}) of ${file.rows} (Σ ${file.salesAmount})`)
  console.log(`imports: parsing alone: the library's CSV reader ${s(lib)} (${perSecond(file.rows, lib)}), the baseline's split and parse ${s(base)} ` +
    `(${perSecond(file.rows, base)})`)
  figures.push({
    figure: `read and split ${fmt(file.rows)} rows, nothing written (this process)`,
    library: files === undefined ? "no Files export" : `${s(lib)} (${perSecond(file.rows, lib)}; Files.readCsvBatches)`,
    baseline: `${s(base)} (${perSecond(file.rows, base)}; readline, split, amounts parsed)`,
    ratio: `${x(base / lib)} baseline/library (diagnostic)`
  })
}

// --- one engine ---------------------------------------------------------------------------------

interface Side {
  readonly engine: Engine
  /** The baseline's load of the file into a fresh bare table: its time (ms). */
  readonly baseline: (round: number) => Promise<number>
  /** A fresh, empty database for the library: its `createCustomer360` option, and how to read it and drop it. */
  readonly fresh: (round: number) => Promise<{ database: unknown; stored: () => Promise<Stored>; settle: () => Promise<void>; drop: () => Promise<void> }>
}

interface Round {
  readonly base: number
  readonly imp: number
  readonly reimp: number
  readonly readyRss: number
  readonly impPeak: number
  readonly reimpPeak: number
}

const libraryRound = async (side: Side, file: SalesFile, n: number): Promise<Omit<Round, "base">> => {
  const db = await side.fresh(n)
  try {
    const child = await startLibraryProcess(db.database)
    let closed = false
    try {
      const input = { kind: "sales", path: file.path, format: "csv" }
      await db.settle()
      const first = await child.call<Report>("imports.run", [input])
      console.log(`imports: ${side.engine} round ${n}: import ${s(first.ms)} (${perSecond(file.rows, first.ms)}), RSS ${mb(first.rssBefore)} before, ` +
        `peak ${mb(first.callPeak)}; ${describe(first.result)}`)
      check(clean(first.result, file.rows) && first.result.created === file.rows && first.result.updated === 0,
        `${side.engine} round ${n}: the import's report: ${describe(first.result)} (the file has ${fmt(file.rows)} rows)`)
      await db.settle()
      const again = await child.call<Report>("imports.run", [input])
      console.log(`imports: ${side.engine} round ${n}: re-import ${s(again.ms)} (${perSecond(file.rows, again.ms)}), peak RSS ${mb(again.callPeak)}; ` +
        describe(again.result))
      check(clean(again.result, file.rows) && again.result.unchanged === file.rows && again.result.created === 0 && again.result.updated === 0,
        `${side.engine} round ${n}: the re-import's report: ${describe(again.result)} (want every row unchanged)`)
      await child.close()
      closed = true
      checkStored(side.engine, n, await db.stored(), file)
      return { imp: first.ms, reimp: again.ms, readyRss: child.readyRss, impPeak: first.callPeak, reimpPeak: again.callPeak }
    } finally {
      if (!closed) await child.close().catch(() => undefined)
    }
  } finally {
    await db.drop()
  }
}

const engineRounds = async (side: Side, file: SalesFile): Promise<void> => {
  const t0 = performance.now()
  const rounds: Array<Round> = []
  for (let n = 1; n <= ROUNDS; n++) {
    let base: number
    let lib: Omit<Round, "base">
    const baseline = async () => {
      const ms = await side.baseline(n)
      console.log(`imports: ${side.engine} round ${n}: baseline ${s(ms)} (${perSecond(file.rows, ms)})`)
      return ms
    }
    if (n % 2 === 1) {
      base = await baseline()
      lib = await libraryRound(side, file, n)
    } else {
      lib = await libraryRound(side, file, n)
      base = await baseline()
    }
    rounds.push({ ...lib, base })
    console.log(`imports: ${side.engine} round ${n} (${n % 2 === 1 ? "baseline first" : "library first"}): baseline ${s(base)}, ` +
      `import ${s(lib.imp)}, baseline/import ${x(base / lib.imp)}, re-import ${s(lib.reimp)}; ${load()}`)
  }
  const ratios = rounds.map((r) => r.base / r.imp)
  const ratio = median(ratios)
  const peak = Math.max(...rounds.map((r) => Math.max(r.impPeak, r.reimpPeak)))
  const e = side.engine
  const med = (f: (r: Round) => number) => median(rounds.map(f))
  const per = (f: (r: Round) => number) => rounds.map((r) => s(f(r))).join(", ")
  const baselineName = e === "PostgreSQL" ? "COPY into a bare table" : "prepared-insert loop, one transaction (parse included)"
  figures.push({
    figure: `${e}: import of ${fmt(ROWS)} sales rows (median of ${ROUNDS})`,
    library: `${s(med((r) => r.imp))} (${perSecond(ROWS, med((r) => r.imp))}; rounds ${per((r) => r.imp)})`,
    baseline: `${s(med((r) => r.base))} ${baselineName} (rounds ${per((r) => r.base)})`,
    ratio: `${x(ratio)} baseline/library (rounds ${ratios.map(x).join(", ")})`,
    target: `≥ ${x(RATIO_TARGET)}`,
    pass: ratio >= RATIO_TARGET
  })
  figures.push({
    figure: `${e}: Node peak RSS during the import (and re-import)`,
    library: `${mb(Math.max(...rounds.map((r) => r.impPeak)))} (re-import ${mb(Math.max(...rounds.map((r) => r.reimpPeak)))}; ` +
      `${mb(med((r) => r.readyRss))} once loaded)`,
    target: "< 256 MB",
    pass: peak < RSS_TARGET
  })
  figures.push({
    figure: `${e}: re-import, every row unchanged (median of ${ROUNDS})`,
    library: `${s(med((r) => r.reimp))} (${perSecond(ROWS, med((r) => r.reimp))}; rounds ${per((r) => r.reimp)})`,
    baseline: `${s(med((r) => r.base))} (the same baseline)`,
    ratio: `${x(med((r) => r.base) / med((r) => r.reimp))} baseline/re-import`
  })
  console.log(`imports: ${e} done in ${elapsed(t0)}`)
}

// --- PostgreSQL ---------------------------------------------------------------------------------

const pgDatabases = benchDatabases(PG_URL, "c360_bench_imp", "imports")

const pgSide = async (file: SalesFile): Promise<Side> => {
  const copyDb = await pgDatabases.create("_copy")
  const columns = SALES_COLUMNS.map((c) => `${c} TEXT`).join(", ")
  const literal = `'${file.path.replace(/'/g, "''")}'`
  return {
    engine: "PostgreSQL",
    baseline: (n) =>
      pgDatabases.admin(async (c) => {
        const table = `bare_sales_${n}`
        await c.query(`CREATE TABLE ${table} (${columns})`)
        await c.query("CHECKPOINT")
        const t = performance.now()
        const copied = await c.query(`COPY ${table} FROM ${literal} WITH (FORMAT csv, HEADER true)`)
        const ms = performance.now() - t
        check(copied.rowCount === file.rows, `PostgreSQL round ${n}: COPY loaded ${copied.rowCount} rows of ${file.rows}`)
        await c.query(`DROP TABLE ${table}`)
        return ms
      }, copyDb),
    fresh: async (n) => {
      const db = await pgDatabases.create(`_lib${n}`)
      return {
        database: { postgres: { url: withDatabase(PG_URL, db) } },
        stored: () => pgDatabases.admin(async (c) => stored((await c.query(STORED_SQL)).rows[0] as Record<string, unknown>), db),
        settle: async () => void (await pgDatabases.admin((c) => c.query("CHECKPOINT"))),
        drop: () => pgDatabases.drop(db)
      }
    }
  }
}

// --- SQLite -------------------------------------------------------------------------------------

const SQLITE_TYPES: Record<(typeof SALES_COLUMNS)[number], "TEXT" | "INTEGER"> = {
  invoice_number: "TEXT", shop_id: "TEXT", shop_name: "TEXT", country: "TEXT", bu: "TEXT", sales_date: "TEXT", vip_id: "INTEGER",
  vip_name: "TEXT", quantity: "INTEGER", settlement_amount: "INTEGER", sales_amount: "INTEGER", tag_amount: "INTEGER",
  per_customer_transaction: "INTEGER", discount: "INTEGER", rounding: "INTEGER"
}

const removeDb = (file: string): void => {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true })
}

/** The hand-written load: read, split, parse, insert; one transaction. Its time (ms), from opening the file to the commit. */
const sqliteBaseline = async (dbFile: string, file: SalesFile, n: number): Promise<number> => {
  const db = new Sqlite(dbFile)
  try {
    db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.pragma("foreign_keys = ON")
    db.exec(`CREATE TABLE bare_sales (${SALES_COLUMNS.map((c) => `${c} ${SQLITE_TYPES[c]}`).join(", ")})`)
    const insert = db.prepare(`INSERT INTO bare_sales (${SALES_COLUMNS.join(", ")}) VALUES (${SALES_COLUMNS.map(() => "?").join(", ")})`)
    const t = performance.now()
    db.exec("BEGIN IMMEDIATE")
    try {
      await baselineParse(file.path, (f) => {
        if (f.length !== SALES_COLUMNS.length) throw new Error(`a record of ${f.length} fields: ${f.join(",")}`)
        insert.run(f[0], f[1], f[2], f[3], f[4], parseDay(f[5]!), Number(f[6]), f[7], Number(f[8]), parseMoney(f[9]!), parseMoney(f[10]!),
          parseMoney(f[11]!), parseMoney(f[12]!), parseMoney(f[13]!), parseMoney(f[14]!))
      })
      db.exec("COMMIT")
    } catch (e) {
      db.exec("ROLLBACK")
      throw e
    }
    const ms = performance.now() - t
    const counted = db.prepare("SELECT count(*) AS n, sum(sales_amount) AS s FROM bare_sales").get() as { n: number; s: number }
    check(counted.n === file.rows && counted.s === file.salesAmount,
      `SQLite round ${n}: the baseline loaded ${counted.n} rows (Σ sales ${counted.s}) of ${file.rows} (Σ ${file.salesAmount})`)
    return ms
  } finally {
    db.close()
  }
}

const sqliteSide = (dir: string, file: SalesFile): Side => ({
  engine: "SQLite",
  baseline: async (n) => {
    const dbFile = join(dir, `baseline-${n}.sqlite`)
    try {
      return await sqliteBaseline(dbFile, file, n)
    } finally {
      removeDb(dbFile)
    }
  },
  fresh: async (n) => {
    const dbFile = join(dir, `library-${n}.sqlite`)
    return {
      database: { sqlite: { filename: dbFile } },
      stored: async () => {
        const db = new Sqlite(dbFile, { readonly: true })
        try {
          return stored(db.prepare(STORED_SQLITE).get() as Record<string, unknown>)
        } finally {
          db.close()
        }
      },
      settle: async () => undefined,
      drop: async () => removeDb(dbFile)
    }
  }
})

// --- main -------------------------------------------------------------------------------------------

export async function run(): Promise<void> {
  const t0 = performance.now()
  const builtFrom = librarySource()
  const loadAtStart = load()
  console.log(`imports: ${fmt(ROWS)} sales rows (${fmt(VIPS)} VIPs), ${ROUNDS} round(s), engines ${[...ENGINES].join(", ")}; ${loadAtStart}` +
    `${QUICK ? "; QUICK MODE" : ""}`)
  const dir = mkdtempSync(join(tmpdir(), "c360-bench-imports-"))
  chmodSync(dir, 0o755) // the PostgreSQL server reads the file itself
  let interrupted = false
  const cleanUp = async () => {
    await pgDatabases.dropAll()
    if (!KEEP) rmSync(dir, { recursive: true, force: true })
  }
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    console.error(`imports: ${signal}, cleaning up`)
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
      console.error(`imports: ${name} FAILED`, e)
    }
  }
  let file: SalesFile | undefined
  try {
    const t = performance.now()
    file = writeSalesCsv(join(dir, "sales.csv"), ROWS, VIPS)
    chmodSync(file.path, 0o644)
    const written = elapsed(t)
    console.log(`imports: wrote ${file.path}: ${fmt(file.rows)} rows, ${mb(statSync(file.path).size)} (${fmt(file.vipRows)} VIP sales, ` +
      `Σ sales_amount ${fmt(file.salesAmount)} đồng) in ${written}`)
    const f = file
    await attempt("parsing alone", () => parsingAlone(f))
    if (ENGINES.has("pg")) {
      const unreachable = await pgDatabases.reachable()
      if (unreachable !== null) {
        console.error(`imports: !!! PostgreSQL is UNREACHABLE at ${PG_URL} (${unreachable}): SQLite only`)
        figures.push({ figure: "PostgreSQL", library: `SKIPPED (unreachable: ${unreachable})` })
      } else {
        await attempt("PostgreSQL", async () => engineRounds(await pgSide(f), f))
        await pgDatabases.dropAll()
      }
    }
    if (ENGINES.has("sqlite")) await attempt("SQLite", () => engineRounds(sqliteSide(dir, f), f))
  } finally {
    await cleanUp()
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  console.log("")
  console.log("=".repeat(100))
  console.log(`imports benchmark summary (${new Date().toISOString()}, node ${process.version}, ${fmt(ROWS)} rows, ${ROUNDS} round(s)` +
    `${QUICK ? ", QUICK MODE" : ""})`)
  console.log(`  library: the built package (dist/) in a process of its own, built from ${builtFrom}`)
  console.log(`  file: ${file === undefined ? "not written" : `${mb(file.bytes)}${KEEP ? ` kept at ${file.path}` : ""}`}`)
  console.log(`  machine: ${loadAtStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share it)`)
  printFigures(figures)
  if (errors.length > 0) console.log(`  errors: ${errors.length}:\n    ${errors.join("\n    ")}`)
  console.log(problems.length === 0 ? "  correctness: all checks passed" : `  correctness: ${problems.length} FAILED CHECK(S):\n    ${problems.join("\n    ")}`)
  console.log(`  command: ${COMMAND}`)
  console.log("=".repeat(100))
  console.log(`imports: total ${elapsed(t0)}`)
  if (errors.length > 0 || problems.length > 0) {
    process.exitCode = 1
    throw new Error(`imports benchmark: ${errors.length} error(s), ${problems.length} failed check(s)`)
  }
}

export default run
