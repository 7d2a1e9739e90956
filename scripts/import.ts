/**
 * `npm run import`: imports a POS export (customers, sales or coupons; CSV or XLSX) into the
 * library's database, with a progress bar on stderr and the report on stdout (docs/imports.md "CLI").
 *
 *   npm run import -- sales sales.csv                  SQLite ./customer360.db
 *   npm run import -- customers vip.xlsx --db shop.db  another SQLite file
 *   npm run import -- coupons coupons.csv --pg postgres://…   PostgreSQL (or C360_PG_URL)
 *
 * Options: `--db FILE`, `--pg URL`, `--batch N` (rows a transaction, default 2,000),
 * `--map column=header` (repeatable: the file's header of a column), `--format csv|xlsx`, `--json`
 * (the whole report as JSON, every failure kept), `--sheet N|NAME` (XLSX).
 * Exit codes: 0 the import completed (failed rows are listed: they are the file's, not the
 * import's); 1 the import failed (the header, the file, the database); 2 bad usage.
 */
import { createCustomer360 } from "../src/index.js"

const USAGE = "usage: npm run import -- customers|sales|coupons FILE [--db FILE | --pg URL] [--batch N] [--map column=header]… [--format csv|xlsx] [--sheet N|NAME] [--json]"

const usage = (message: string): never => {
  console.error(`import: ${message}\n${USAGE}`)
  process.exit(2)
}

const args = process.argv.slice(2)
if (args.includes("--help") || args.includes("-h")) {
  console.log(USAGE)
  process.exit(0)
}
const positional: Array<string> = []
const mapping: Record<string, string> = {}
let db: string | undefined
let pg: string | undefined = process.env.C360_PG_URL === "" ? undefined : process.env.C360_PG_URL
let batchSize: number | undefined
let format: "csv" | "xlsx" | undefined
let sheet: number | string | undefined
let json = false
for (let i = 0; i < args.length; i++) {
  const a = args[i]!
  const value = () => args[++i] ?? usage(`${a} needs a value`)
  if (a === "--db") {
    db = value()
    pg = undefined
  } else if (a === "--pg") pg = value()
  else if (a === "--batch") {
    batchSize = Number(value())
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) usage("--batch must be a positive whole number")
  } else if (a === "--map") {
    const [column, ...header] = value().split("=")
    if (column === undefined || column === "" || header.length === 0) usage("--map takes column=header")
    mapping[column!] = header.join("=")
  } else if (a === "--format") {
    const f = value()
    if (f !== "csv" && f !== "xlsx") usage("--format is csv or xlsx")
    format = f as "csv" | "xlsx"
  } else if (a === "--sheet") {
    const s = value()
    sheet = /^\d+$/.test(s) ? Number(s) : s
  } else if (a === "--json") json = true
  else if (a.startsWith("--")) usage(`unknown option ${a}`)
  else positional.push(a)
}
if (positional.length !== 2) usage("give the kind and the file")
const [kind, path] = positional as [string, string]
if (!["customers", "sales", "coupons"].includes(kind)) usage(`unknown kind "${kind}"`)

const started = Date.now()
const interactive = process.stderr.isTTY === true
let lastDraw = 0
const draw = (p: { lines: number; created: number; updated: number; unchanged: number; failed: number }, final = false) => {
  const now = Date.now()
  if (!final && now - lastDraw < 200) return
  lastDraw = now
  const seconds = Math.max(0.001, (now - started) / 1000)
  const rate = Math.round(p.lines / seconds)
  const spin = "▏▎▍▌▋▊▉█"
  const bar = spin[Math.floor(now / 150) % spin.length]
  const text = `${final ? "█" : bar} ${p.lines.toLocaleString("en-US")} lines · ${rate.toLocaleString("en-US")}/s · ` +
    `created ${p.created} · updated ${p.updated} · unchanged ${p.unchanged} · failed ${p.failed} · ${seconds.toFixed(1)} s`
  process.stderr.write(interactive ? `\r\u001b[2K${text}${final ? "\n" : ""}` : `${text}\n`)
}

const database = pg !== undefined ? { postgres: { url: pg } } : { sqlite: { filename: db ?? "./customer360.db" } }

const main = async (): Promise<number> => {
  let c360: Awaited<ReturnType<typeof createCustomer360>>
  try {
    c360 = await createCustomer360({ database })
  } catch (e) {
    console.error(`import: cannot open the database: ${(e as Error).message ?? String(e)}`)
    return 1
  }
  try {
    const report = await c360.imports.run({
      kind,
      path,
      ...(format === undefined ? {} : { format }),
      ...(batchSize === undefined ? {} : { batchSize }),
      ...(Object.keys(mapping).length === 0 ? {} : { mapping }),
      ...(sheet === undefined ? {} : { sheet }),
      actor: "cli",
      onProgress: (p) => draw(p)
    })
    draw({ ...report, failed: report.failedCount }, true)
    if (json) {
      console.log(JSON.stringify(report, null, 2))
    } else {
      console.log(`import ${report.id} (${report.kind}, ${report.format}): ${report.status}`)
      console.log(`  lines ${report.lines} · created ${report.created} · updated ${report.updated} · unchanged ${report.unchanged} · failed ${report.failedCount}`)
      for (const f of report.failed.slice(0, 50)) {
        console.log(`  line ${f.line}${f.column === null ? "" : ` ${f.column}`}${f.value === null ? "" : ` "${f.value}"`}: ${f.reason}`)
      }
      if (report.failedCount > 50) console.log(`  … ${report.failedCount - 50} more (--json lists up to ${report.failed.length})`)
    }
    return 0
  } catch (e) {
    if (interactive) process.stderr.write("\n")
    const error = e as { _tag?: string; message?: string }
    console.error(`import: ${error._tag ?? "Error"}: ${error.message ?? String(e)}`)
    return 1
  } finally {
    await c360.close()
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(`import: ${(e as Error).message ?? String(e)}`)
  process.exit(1)
})
