/**
 * The analytics views as `.xlsx` workbooks (docs/analytics.md#export), written by the streaming
 * writer of `platform/files` (formatted header row, đồng and percent formats, sized columns, the
 * filter on the header row, frozen header):
 *
 * - `sales`: Overview, By VIP Grade, By Season, By Shop Group, Grade × Season;
 * - `coupons`: Overview, By VIP Grade, By Season, By Shop Group;
 * - `comparison`: Overview, POS Only - All Time, Loyalty Only - All Time and, with a period,
 *   POS Only - Period, Loyalty Only - Period.
 *
 * The figures are the views' own (the same service calls). The comparison's lists are read from
 * the database in keyset pages of {@link EXPORT_PAGE} rows and handed to the writer as they come:
 * one page at a time is in memory, whatever the list's length. Percent cells hold the fraction
 * (`conversion ÷ 100`: 77.78 % is 0.7778); days are Excel dates.
 *
 * @since 0.5.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Cause from "effect/Cause"
import type { StorageError, ValidationError } from "../kernel/Errors.js"
import { decoder } from "../kernel/Input.js"
import { FileAccessError } from "../platform/files/Source.js"
import {
  type Column,
  type WritableCell,
  WorkbookError,
  xlsxWriter,
  toPath,
  toWebStream
} from "../platform/files/XlsxWriter.js"
import { AnalyticsRepository, type PosKey, type Scope } from "./AnalyticsRepository.js"
import {
  type ComparisonReport,
  type CouponMetrics,
  type CouponReport,
  Day,
  type LoyaltyCustomerRow,
  PeriodQuery,
  type PosCustomerRow,
  type SalesMetrics,
  type SalesReport
} from "./Figures.js"

/** Rows per keyset page read while a comparison list is exported. @since 0.5.0 */
export const EXPORT_PAGE = 1_000

/** The media type of an `.xlsx` workbook. @since 0.5.0 */
export const XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

/** A web `WritableStream` of bytes (checked by shape: it has `getWriter`). @since 0.5.0 */
export const ByteStream = Schema.declare(
  (u: unknown): u is WritableStream<Uint8Array> =>
    typeof u === "object" && u !== null && typeof (u as { getWriter?: unknown }).getWriter === "function",
  { identifier: "WritableStream", message: () => "must be a web WritableStream" }
)

const target = {
  path: Schema.optional(Schema.String.pipe(Schema.minLength(1, { message: () => "must be a file path" }))),
  stream: Schema.optional(ByteStream)
}
const oneTarget = (o: { readonly path?: string | undefined; readonly stream?: unknown }) =>
  (o.path === undefined) !== (o.stream === undefined) || { path: ["path"], message: "give exactly one of path and stream" }

/**
 * Options of `Analytics.exportXlsx`: the `view` and its filters (`sales`, `coupons`: `from`, `to`,
 * `shopGroup?`; `comparison`: `from?`, `to?`), and exactly one of `path` (a file, written with
 * `node:fs`) and `stream` (a web `WritableStream<Uint8Array>`, closed at the end, aborted on failure).
 *
 * @since 0.5.0
 */
export const ExportOptions = Schema.Union(
  Schema.Struct({ view: Schema.Literal("sales", "coupons"), ...PeriodQuery.from.fields, ...target }).pipe(
    Schema.filter((o) => {
      const period = Schema.is(PeriodQuery)({ from: o.from, to: o.to, ...(o.shopGroup === undefined ? {} : { shopGroup: o.shopGroup }) })
      return period ? oneTarget(o) : { path: ["to"], message: "must not be before from, nor more than 3660 days after it" }
    })
  ),
  Schema.Struct({ view: Schema.Literal("comparison"), from: Schema.optional(Day), to: Schema.optional(Day), ...target }).pipe(
    Schema.filter((o) =>
      o.from !== undefined && o.to !== undefined && o.from > o.to ? { path: ["to"], message: "must not be before from" } : oneTarget(o)
    )
  )
)
/** @since 0.5.0 */
export type ExportOptions = typeof ExportOptions.Encoded
/** @since 0.5.0 */
export type ExportView = ExportOptions["view"]

/**
 * The workbook could not be written: `file` (the path or stream refused the bytes, or the client
 * went away) or `workbook` (the writer refused a value). Whatever was written is abandoned (a file
 * is removed, a stream aborted).
 *
 * @since 0.5.0
 */
export class ExportFailed extends Schema.TaggedError<ExportFailed>()("ExportFailed", {
  reason: Schema.Literal("file", "workbook"),
  detail: Schema.String
}) {
  override get message(): string {
    return `The workbook could not be written: ${this.detail}`
  }
}

/** What an export wrote: its sheets, in order, with their data rows (the header not counted). @since 0.5.0 */
export interface ExportSummary {
  readonly view: ExportView
  readonly sheets: ReadonlyArray<{ readonly name: string; readonly rows: number }>
}

/** Decodes export options (exported for the HTTP handlers, which validate before they stream). @since 0.5.0 */
export const decodeExportOptions = decoder(ExportOptions, "export options")

/** The views an export reads, as the service computes them. @since 0.5.0 */
export interface ExportViews {
  readonly sales: (q: typeof PeriodQuery.Type) => Effect.Effect<SalesReport, StorageError>
  readonly coupons: (q: typeof PeriodQuery.Type) => Effect.Effect<CouponReport, StorageError>
  /** The comparison's counts (its lists are read page by page by the export). */
  readonly comparison: (q: { readonly from?: string; readonly to?: string }) => Effect.Effect<ComparisonReport, StorageError>
}

// ---------------------------------------------------------------------------------------------
// Sheets

type Sheet = {
  readonly name: string
  readonly columns: ReadonlyArray<Column>
  readonly rows: Iterable<ReadonlyArray<WritableCell>> | AsyncIterable<ReadonlyArray<WritableCell>>
}

const fraction = (percent: number): number => percent / 100

const SALES_COLUMNS: ReadonlyArray<Column> = [
  { header: "Sales amount", format: "dong", width: 18 },
  { header: "Invoices", format: "integer" },
  { header: "Customers", format: "integer" },
  { header: "Conversion", format: "percent" },
  { header: "Avg per customer", format: "dong", width: 18 },
  { header: "Avg per invoice", format: "dong", width: 18 }
]
const salesCells = (m: SalesMetrics): Array<WritableCell> => [
  m.salesAmount,
  m.invoices,
  m.customers,
  fraction(m.conversion),
  m.avgPerCustomer,
  m.avgPerInvoice
]

/** The label of a line with no grade. @since 0.5.0 */
export const NO_GRADE = "No grade"
/** The label of the coupons not used anywhere (no shop group). @since 0.5.0 */
export const NOT_USED = "Not used"
/** The label of the coupons with no season (no begin date). @since 0.5.0 */
export const NO_SEASON = "No season"
/** The label of all shop groups (no filter). @since 0.5.0 */
export const ALL_SHOP_GROUPS = "All"

/** The sales workbook's sheets. @since 0.5.0 */
export const salesSheets = (r: SalesReport): ReadonlyArray<Sheet> => {
  const baseOf = new Map(r.vipBase.byGrade.map((g) => [g.grade, g.vips]))
  return [
    {
      name: "Overview",
      columns: [
        { header: "Line", width: 16 },
        { header: "From", format: "date" },
        { header: "To", format: "date" },
        { header: "Shop group" },
        ...SALES_COLUMNS.slice(0, 3),
        { header: "VIP customers registered", format: "integer" },
        ...SALES_COLUMNS.slice(3)
      ],
      rows: [
        ["VIP", r.from, r.to, r.shopGroup ?? ALL_SHOP_GROUPS, ...salesCells(r.total).slice(0, 3), r.vipBase.total, ...salesCells(r.total).slice(3)],
        ["Non-VIP", r.from, r.to, r.shopGroup ?? ALL_SHOP_GROUPS, r.nonVip.salesAmount, r.nonVip.invoices, null, null, null, null, null]
      ]
    },
    {
      name: "By VIP Grade",
      columns: [{ header: "Grade" }, ...SALES_COLUMNS.slice(0, 3), { header: "VIP customers registered", format: "integer" }, ...SALES_COLUMNS.slice(3)],
      rows: r.byGrade.map((l) => {
        const cells = salesCells(l)
        return [l.grade ?? NO_GRADE, ...cells.slice(0, 3), baseOf.get(l.grade) ?? 0, ...cells.slice(3)]
      })
    },
    { name: "By Season", columns: [{ header: "Season" }, ...SALES_COLUMNS], rows: r.bySeason.map((l) => [l.season, ...salesCells(l)]) },
    {
      name: "By Shop Group",
      columns: [{ header: "Shop group" }, ...SALES_COLUMNS],
      rows: r.byShopGroup.map((l) => [l.shopGroup, ...salesCells(l)])
    },
    {
      name: "Grade × Season",
      columns: [{ header: "Grade" }, { header: "Season" }, ...SALES_COLUMNS],
      rows: r.byGradeSeason.map((l) => [l.grade ?? NO_GRADE, l.season, ...salesCells(l)])
    }
  ]
}

const COUPON_COLUMNS: ReadonlyArray<Column> = [
  { header: "Issued", format: "integer" },
  { header: "Used", format: "integer" },
  { header: "Usage rate", format: "percent" },
  { header: "Face value", format: "dong", width: 18 },
  { header: "Used value", format: "dong", width: 18 }
]
const couponCells = (m: CouponMetrics): Array<WritableCell> => [m.issued, m.used, fraction(m.usageRate), m.faceValue, m.usedValue]

/** The coupons workbook's sheets. @since 0.5.0 */
export const couponSheets = (r: CouponReport): ReadonlyArray<Sheet> => [
  {
    name: "Overview",
    columns: [{ header: "From", format: "date" }, { header: "To", format: "date" }, { header: "Shop group" }, ...COUPON_COLUMNS],
    rows: [[r.from, r.to, r.shopGroup ?? ALL_SHOP_GROUPS, ...couponCells(r.total)]]
  },
  { name: "By VIP Grade", columns: [{ header: "Grade" }, ...COUPON_COLUMNS], rows: r.byGrade.map((l) => [l.grade ?? NO_GRADE, ...couponCells(l)]) },
  { name: "By Season", columns: [{ header: "Season" }, ...COUPON_COLUMNS], rows: r.bySeason.map((l) => [l.season ?? NO_SEASON, ...couponCells(l)]) },
  {
    name: "By Shop Group",
    columns: [{ header: "Shop group" }, ...COUPON_COLUMNS],
    rows: r.byShopGroup.map((l) => [l.shopGroup ?? NOT_USED, ...couponCells(l)])
  }
]

/** The flag written beside a phone that does not normalise. @since 0.5.0 */
export const INVALID_PHONE = "not a valid phone"

/** The columns of a POS-only sheet (the seed's seven, and the phone check). @since 0.5.0 */
export const POS_COLUMNS: ReadonlyArray<Column> = [
  { header: "VIP ID", format: "integer" },
  { header: "Phone", format: "text", width: 16 },
  { header: "Name", width: 24 },
  { header: "Grade" },
  { header: "Email", width: 24 },
  { header: "Registration date", format: "date" },
  { header: "Points", format: "integer" },
  { header: "Phone check" }
]
/** A POS customer as a sheet row. @since 0.5.0 */
export const posCells = (r: PosCustomerRow): Array<WritableCell> => [
  r.vipId,
  r.phone ?? r.phoneRaw,
  r.name,
  r.grade,
  r.email,
  r.registrationDate,
  r.points,
  r.phoneValid ? null : INVALID_PHONE
]

/** The columns of a loyalty-only sheet (the seed's eight, and the phone check). @since 0.5.0 */
export const LOYALTY_COLUMNS: ReadonlyArray<Column> = [
  { header: "Customer ID", format: "integer" },
  { header: "Phone", format: "text", width: 16 },
  { header: "Name", width: 24 },
  { header: "Level" },
  { header: "Email", width: 24 },
  { header: "Registration date", format: "date" },
  { header: "Points", format: "integer" },
  { header: "Used points", format: "integer" },
  { header: "Phone check" }
]
/** A loyalty customer as a sheet row. @since 0.5.0 */
export const loyaltyCells = (r: LoyaltyCustomerRow): Array<WritableCell> => [
  r.cnvId,
  r.phone ?? r.phoneRaw,
  r.name,
  r.level,
  r.email,
  r.registrationDate,
  r.points,
  r.usedPoints,
  r.phoneValid ? null : INVALID_PHONE
]

/** The comparison's overview rows: a figure, its POS value, its loyalty value. @since 0.5.0 */
export const comparisonOverview = (r: ComparisonReport): Array<Array<WritableCell>> => {
  const rows: Array<Array<WritableCell>> = [
    ["Customers (all time)", r.allTime.pos.customers, r.allTime.loyalty.customers],
    ["Also in the other system (all time)", r.allTime.pos.matched, r.allTime.loyalty.matched],
    ["Only in this system (all time)", r.allTime.pos.only, r.allTime.loyalty.only],
    ["Phone not valid (all time)", r.allTime.pos.invalidPhones, r.allTime.loyalty.invalidPhones],
    ["Phones in both systems", r.allTime.phonesInBoth, r.allTime.phonesInBoth]
  ]
  if (r.period !== null) {
    const p = `${r.from ?? "…"} – ${r.to ?? "…"}`
    rows.push(
      [`New in period ${p}`, r.period.pos.customers, r.period.loyalty.customers],
      [`New in period, also in the other system`, r.period.pos.matched, r.period.loyalty.matched],
      [`New in period, only in this system`, r.period.pos.only, r.period.loyalty.only],
      [`New in period, phone not valid`, r.period.pos.invalidPhones, r.period.loyalty.invalidPhones]
    )
  }
  return rows
}

// ---------------------------------------------------------------------------------------------
// Writing

/** A failure of a database read inside the writer's row iteration, carried out of the Promise. */
class Carried {
  constructor(readonly cause: Cause.Cause<StorageError>) {}
}

/**
 * Writes the workbook of the decoded options to its path or stream. The lists of the comparison
 * are read in keyset pages while the writer consumes them.
 *
 * @since 0.5.0
 */
export const exportWorkbook = (
  raw: unknown,
  views: ExportViews
): Effect.Effect<ExportSummary, ValidationError | StorageError | ExportFailed, AnalyticsRepository> =>
  Effect.gen(function*() {
    const options = yield* decodeExportOptions(raw)
    const repo = yield* AnalyticsRepository
    const runtime = yield* Effect.runtime<never>()
    let carried: Carried | undefined
    const pull = async <A>(effect: Effect.Effect<A, StorageError>): Promise<A> => {
      const exit = await Runtime.runPromiseExit(runtime)(effect)
      if (Exit.isSuccess(exit)) return exit.value
      carried = new Carried(exit.cause)
      throw carried
    }
    async function* posPages(scope: Scope) {
      let after: PosKey | null = null
      for (;;) {
        const page: ReadonlyArray<{ readonly key: PosKey; readonly row: PosCustomerRow }> = await pull(
          repo.posOnly(scope, { after }, EXPORT_PAGE)
        )
        for (const r of page) yield posCells(r.row)
        if (page.length < EXPORT_PAGE) return
        after = page[page.length - 1]!.key
      }
    }
    async function* loyaltyPages(scope: Scope) {
      let after: number | null = null
      for (;;) {
        const page: ReadonlyArray<LoyaltyCustomerRow> = await pull(repo.loyaltyOnly(scope, { after }, EXPORT_PAGE))
        for (const r of page) yield loyaltyCells(r)
        if (page.length < EXPORT_PAGE) return
        after = page[page.length - 1]!.cnvId
      }
    }

    const counts = new Map<string, number>()
    const counted = (name: string, rows: AsyncIterable<Array<WritableCell>>): AsyncIterable<Array<WritableCell>> => ({
      async *[Symbol.asyncIterator]() {
        counts.set(name, 0)
        for await (const row of rows) {
          counts.set(name, (counts.get(name) ?? 0) + 1)
          yield row
        }
      }
    })

    let sheets: ReadonlyArray<Sheet & { readonly count: number }>
    if (options.view === "comparison") {
      const report = yield* views.comparison({
        ...(options.from === undefined ? {} : { from: options.from }),
        ...(options.to === undefined ? {} : { to: options.to })
      })
      const period = report.period === null ? null : { from: report.from, to: report.to }
      const overview = comparisonOverview(report)
      sheets = [
        { name: "Overview", columns: [{ header: "Figure", width: 44 }, { header: "POS", format: "integer" }, { header: "Loyalty", format: "integer" }], rows: overview, count: overview.length },
        { name: "POS Only - All Time", columns: POS_COLUMNS, rows: counted("POS Only - All Time", posPages(null)), count: -1 },
        { name: "Loyalty Only - All Time", columns: LOYALTY_COLUMNS, rows: counted("Loyalty Only - All Time", loyaltyPages(null)), count: -1 },
        ...(period === null || report.period === null ? [] : [
          { name: "POS Only - Period", columns: POS_COLUMNS, rows: counted("POS Only - Period", posPages(period)), count: -1 },
          { name: "Loyalty Only - Period", columns: LOYALTY_COLUMNS, rows: counted("Loyalty Only - Period", loyaltyPages(period)), count: -1 }
        ])
      ]
    } else {
      const query = { from: options.from, to: options.to, ...(options.shopGroup === undefined ? {} : { shopGroup: options.shopGroup }) }
      const built = options.view === "sales" ? salesSheets(yield* views.sales(query)) : couponSheets(yield* views.coupons(query))
      sheets = built.map((s) => ({ ...s, count: [...(s.rows as Iterable<unknown>)].length }))
    }

    const sink = options.path !== undefined ? toPath(options.path) : toWebStream(options.stream!)
    const written = yield* Effect.tryPromise({
      try: async () => {
        const writer = xlsxWriter(sink)
        for (const s of sheets) await writer.sheet(s.name, s.columns, s.rows)
        await writer.close()
        return sheets.map((s) => ({ name: s.name, rows: s.count >= 0 ? s.count : (counts.get(s.name) ?? 0) }))
      },
      catch: (error): unknown => error
    }).pipe(
      Effect.catchAll((error: unknown): Effect.Effect<never, StorageError | ExportFailed> => {
        if (carried !== undefined) return Effect.failCause(carried.cause)
        if (error instanceof WorkbookError) return Effect.fail(new ExportFailed({ reason: "workbook", detail: error.message }))
        if (error instanceof FileAccessError) return Effect.fail(new ExportFailed({ reason: "file", detail: error.message }))
        return Effect.fail(new ExportFailed({ reason: "file", detail: error instanceof Error ? error.message : String(error) }))
      })
    )
    return { view: options.view, sheets: written }
  })
