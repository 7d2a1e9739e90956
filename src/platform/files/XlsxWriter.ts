/**
 * A streaming XLSX writer with bounded memory. Each sheet's XML is produced row by row, deflated by
 * fflate's streaming `Zip` + `ZipDeflate`, and handed to the sink in chunks of about 64 KiB; the
 * writer awaits the sink before producing more, so a slow sink slows the writer instead of filling
 * memory. Strings are written inline (`t="inlineStr"`): there is no shared-strings table to hold.
 *
 * The package is the minimal one Excel and LibreOffice open without repair: `[Content_Types].xml`,
 * `_rels/.rels`, `docProps/app.xml`, `xl/workbook.xml` (with the `_xlnm._FilterDatabase` name of
 * each sheet's filter), `xl/_rels/workbook.xml.rels`, `xl/styles.xml` and one
 * `xl/worksheets/sheetN.xml` per sheet. Every sheet has a bold white-on-blue header row, frozen, with
 * an autoFilter over its columns, and sized columns. The sheets come first in the archive and the
 * workbook parts last (their content is known only at `close`).
 *
 * @since 0.5.0
 */
import { Schema } from "effect"
import { Zip, ZipDeflate } from "fflate"
import { type Cell, FileAccessError, nodeFs } from "./Source.js"

export { type Cell, FileAccessError } from "./Source.js"

/**
 * How a column's numbers are shown: `integer` `#,##0`, `dong` `#,##0 "₫"`, `percent` `0.00%` (the
 * cell holds the fraction: 0.5 is 50.00%), `date` `yyyy-mm-dd` (the cell takes a `YYYY-MM-DD`
 * string or an Excel serial number), `text` (`@`). Strings are written as text in any column except
 * `date`.
 *
 * @since 0.5.0
 */
export type ColumnFormat = "text" | "integer" | "dong" | "percent" | "date"

/**
 * A column of a sheet: its header, its width in characters (default: from the header's length and
 * the format) and its format (default: general).
 *
 * @since 0.5.0
 */
export interface Column {
  readonly header: string
  readonly width?: number
  readonly format?: ColumnFormat
}

/**
 * A value the writer takes: a `Cell` or a `bigint` (money, counts; written with all its digits).
 * `null`, `undefined` and `""` leave the cell empty. Numbers must be finite.
 *
 * @since 0.5.0
 */
export type WritableCell = Cell | bigint | undefined

/**
 * Where the workbook's bytes go: a function the writer awaits for every chunk (backpressure), with
 * an optional `close` called once after the last chunk and an optional `abort` called when writing
 * fails. `toPath` and `toWebStream` make one; any `(chunk) => Promise<void>` is one.
 *
 * @since 0.5.0
 */
export interface ByteSink {
  (chunk: Uint8Array): Promise<void>
  readonly close?: () => Promise<void>
  readonly abort?: (reason: unknown) => Promise<void>
}

/**
 * Options of a sheet: `freezeHeader` (default true) freezes the header row, `autoFilter` (default
 * true) puts a filter on it.
 *
 * @since 0.5.0
 */
export interface SheetOptions {
  readonly freezeHeader?: boolean
  readonly autoFilter?: boolean
}

/**
 * The workbook cannot be written as asked: an invalid or duplicate sheet name, a number that is not
 * finite, a date that is not a day, a call after `close`. `sheet` is the sheet's name (`""` when
 * about the workbook) and `row` the 1-based sheet row (the header is row 1; `0` when not about a
 * row). The workbook is abandoned (the sink is aborted).
 *
 * @since 0.5.0
 */
export class WorkbookError extends Schema.TaggedError<WorkbookError>()("WorkbookError", {
  sheet: Schema.String,
  row: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    const where = this.sheet === "" ? "" : this.row > 0 ? `Sheet ${JSON.stringify(this.sheet)}, row ${this.row}: ` : `Sheet ${JSON.stringify(this.sheet)}: `
    return where + this.reason
  }
}

/**
 * A streaming workbook writer: `sheet` writes one whole sheet (call it once per sheet, one at a
 * time), `close` writes the workbook parts, ends the archive and closes the sink.
 *
 * @since 0.5.0
 */
export interface XlsxWriter {
  readonly sheet: (
    name: string,
    columns: ReadonlyArray<Column>,
    rows: Iterable<ReadonlyArray<WritableCell>> | AsyncIterable<ReadonlyArray<WritableCell>>,
    options?: SheetOptions
  ) => Promise<void>
  readonly close: () => Promise<void>
}

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

// --- XML text --------------------------------------------------------------------------------------

// Characters XML 1.0 does not allow (C0 controls but tab/LF/CR, U+FFFE/U+FFFF, lone surrogates).
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const NEEDS_WORK = /[&<>"\r_\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/
const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;" }

/**
 * A string as XML text or attribute value: escaped, characters XML 1.0 forbids dropped, a CR kept
 * as `&#13;` (a parser would turn a raw one into LF), and a literal `_xHHHH_` protected as
 * `_x005F_xHHHH_` (Excel reads `_xHHHH_` as an escaped character).
 */
const xmlText = (value: string): string =>
  NEEDS_WORK.test(value)
    ? value
        .replace(INVALID_XML, "")
        .replace(/_(x[0-9A-Fa-f]{4}_)/g, "_x005F_$1")
        .replace(/[&<>"\r]/g, (c) => ESCAPES[c] as string)
    : value

const encoder = new TextEncoder()

// --- Cells -----------------------------------------------------------------------------------------

/** The column letters of a 0-based column index: 0 → A, 25 → Z, 26 → AA. @since 0.5.0 */
export const columnLetters = (index: number): string => {
  let name = ""
  let n = index + 1
  while (n > 0) {
    const r = (n - 1) % 26
    name = String.fromCharCode(65 + r) + name
    n = (n - 1 - r) / 26
  }
  return name
}

const EXCEL_EPOCH = Date.UTC(1899, 11, 30)
const DAY_MS = 86_400_000
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/

/**
 * The Excel serial number (1900 date system) of a `YYYY-MM-DD` day — 2026-01-01 is 46023 — or
 * undefined when the string is not a real day.
 *
 * @since 0.5.0
 */
export const serialOfDay = (day: string): number | undefined => {
  const m = DAY.exec(day)
  if (m === null) return undefined
  const y = Number(m[1])
  const mo = Number(m[2])
  const d = Number(m[3])
  const at = Date.UTC(y, mo - 1, d)
  const back = new Date(at)
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined
  const serial = (at - EXCEL_EPOCH) / DAY_MS
  // Excel's 1900 system counts a 29 February 1900 that never was: days before March 1900 are one less.
  return serial < 61 ? serial - 1 : serial
}

// The cellXfs indexes of styles.xml below.
const STYLE = { header: 1, integer: 2, dong: 3, percent: 4, date: 5, text: 6 } as const

const STYLES_XML =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' +
  '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' +
  '<numFmts count="2"><numFmt numFmtId="164" formatCode="#,##0 &quot;₫&quot;"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>' +
  '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>' +
  '<font><b/><sz val="11"/><color rgb="FFFFFFFF"/><name val="Calibri"/><family val="2"/></font></fonts>' +
  '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>' +
  '<fill><patternFill patternType="solid"><fgColor rgb="FF1F4E79"/><bgColor indexed="64"/></patternFill></fill></fills>' +
  '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>' +
  '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
  '<cellXfs count="7"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' +
  '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" applyAlignment="1"><alignment vertical="center"/></xf>' +
  '<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>' +
  '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>' +
  '<xf numFmtId="10" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>' +
  '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>' +
  '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>' +
  '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>' +
  '<dxfs count="0"/><tableStyles count="0"/></styleSheet>'

const NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
const NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
const NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

// Sheet names Excel refuses: too long, empty, with []:*?/\, or starting or ending with an apostrophe.
const validSheetName = (name: string): string | undefined => {
  if (name.length === 0) return "a sheet name cannot be empty"
  if (name.length > 31) return "a sheet name has at most 31 characters"
  if (/[[\]:*?/\\]/.test(name)) return "a sheet name cannot contain any of [ ] : * ? / \\"
  if (name.startsWith("'") || name.endsWith("'")) return "a sheet name cannot start or end with an apostrophe"
  if (name.toLowerCase() === "history") return "Excel reserves the sheet name History"
  if (name.replace(INVALID_XML, "") !== name) return "a sheet name cannot contain control characters"
  return undefined
}

const defaultWidth = (column: Column): number => {
  // Room for the filter button; numbers and dates need a little more than a short header.
  const minimum = column.format === "dong" ? 16 : column.format === "date" ? 12 : column.format === "integer" ? 12 : 10
  return Math.min(60, Math.max(minimum, column.header.length + 4))
}

interface SheetEntry {
  readonly name: string
  readonly filter: string | undefined
}

const CHUNK = 64 * 1024

/**
 * A workbook writer over `sink`. Call `sheet` once per sheet, awaiting each, then `close`. A failure
 * (a `WorkbookError`, the sink's own error as a `FileAccessError`, or an error thrown by the rows'
 * iterable, passed through as it is) aborts the sink; the writer then refuses further calls.
 *
 * @since 0.5.0
 */
export const xlsxWriter = (sink: ByteSink): XlsxWriter => {
  const sheets: Array<SheetEntry> = []
  let out: Array<Uint8Array> = []
  let outBytes = 0
  let zipError: unknown
  let state: "open" | "busy" | "closed" | "failed" = "open"
  const zip = new Zip((error, data) => {
    if (error !== null) zipError = error
    else if (data.length > 0) {
      out.push(data)
      outBytes += data.length
    }
  })

  // A sink's own failure becomes a FileAccessError; the rows' iterator's errors pass through as they are.
  const toSink = async (write: () => Promise<void>): Promise<void> => {
    try {
      await write()
    } catch (cause) {
      throw cause instanceof FileAccessError ? cause : new FileAccessError({ path: "sink", reason: describe(cause) })
    }
  }

  const drain = async (all: boolean): Promise<void> => {
    if (zipError !== undefined) throw new WorkbookError({ sheet: "", row: 0, reason: `compression failed: ${describe(zipError)}` })
    if (outBytes === 0 || (!all && outBytes < CHUNK)) return
    const chunk = out.length === 1 ? (out[0] as Uint8Array) : new Uint8Array(outBytes)
    if (out.length > 1) {
      let at = 0
      for (const part of out) {
        chunk.set(part, at)
        at += part.length
      }
    }
    out = []
    outBytes = 0
    await toSink(() => sink(chunk))
  }

  /** An archive entry written in pieces; `text` queues XML, flushed to the deflater every ~64 KiB. */
  const entry = (path: string) => {
    // Level 3: XML compresses about 25:1 already, at half the time of the default level 6.
    const file = new ZipDeflate(path, { level: 3 })
    zip.add(file)
    let pending = ""
    return {
      text: async (xml: string): Promise<void> => {
        pending += xml
        if (pending.length >= CHUNK) {
          file.push(encoder.encode(pending))
          pending = ""
          await drain(false)
        }
      },
      end: async (): Promise<void> => {
        file.push(encoder.encode(pending), true)
        pending = ""
        await drain(false)
      }
    }
  }

  const whole = async (path: string, xml: string): Promise<void> => {
    const e = entry(path)
    await e.text(xml)
    await e.end()
  }

  const fail = async (error: unknown): Promise<never> => {
    state = "failed"
    zip.terminate()
    await sink.abort?.(error).catch(() => undefined)
    throw error
  }

  const guard = (sheet: string): void => {
    if (state === "busy") throw new WorkbookError({ sheet, row: 0, reason: "another sheet is still being written; await it first" })
    if (state !== "open") throw new WorkbookError({ sheet, row: 0, reason: "the workbook is closed" })
  }

  const writeSheet = async (
    name: string,
    columns: ReadonlyArray<Column>,
    rows: Iterable<ReadonlyArray<WritableCell>> | AsyncIterable<ReadonlyArray<WritableCell>>,
    options: SheetOptions | undefined
  ): Promise<void> => {
    const invalid = validSheetName(name)
    if (invalid !== undefined) throw new WorkbookError({ sheet: name, row: 0, reason: invalid })
    if (sheets.some((s) => s.name.toLowerCase() === name.toLowerCase()))
      throw new WorkbookError({ sheet: name, row: 0, reason: "a sheet of this name (ignoring case) exists already" })
    if (columns.length === 0) throw new WorkbookError({ sheet: name, row: 0, reason: "a sheet needs at least one column" })
    const freeze = options?.freezeHeader ?? true
    const filter = options?.autoFilter ?? true
    const letters: Array<string> = columns.map((_, i) => columnLetters(i))
    const styles: Array<number> = columns.map((c) => (c.format === undefined ? 0 : STYLE[c.format]))
    const dates: Array<boolean> = columns.map((c) => c.format === "date")
    const e = entry(`xl/worksheets/sheet${sheets.length + 1}.xml`)

    let head = XML_HEAD + `<worksheet xmlns="${NS_MAIN}" xmlns:r="${NS_REL}"><sheetViews><sheetView workbookViewId="0"${sheets.length === 0 ? ' tabSelected="1"' : ""}>`
    head += freeze
      ? '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
      : ""
    head += '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>'
    columns.forEach((c, i) => {
      const width = c.width !== undefined && Number.isFinite(c.width) && c.width > 0 ? Math.min(255, c.width) : defaultWidth(c)
      head += `<col min="${i + 1}" max="${i + 1}" width="${width}" customWidth="1"/>`
    })
    head += '</cols><sheetData><row r="1">'
    columns.forEach((c, i) => {
      head += `<c r="${letters[i]}1" t="inlineStr" s="${STYLE.header}"><is><t xml:space="preserve">${xmlText(c.header)}</t></is></c>`
    })
    await e.text(head + "</row>")

    let r = 1
    for await (const row of rows as AsyncIterable<ReadonlyArray<WritableCell>>) {
      r++
      let xml = `<row r="${r}">`
      for (let i = 0; i < row.length; i++) {
        const value = row[i]
        if (value === null || value === undefined || value === "") continue
        const ref = (letters[i] ?? (letters[i] = columnLetters(i))) + r
        const style = styles[i] ?? 0
        const s = style === 0 ? "" : ` s="${style}"`
        switch (typeof value) {
          case "number":
            if (!Number.isFinite(value))
              throw new WorkbookError({ sheet: name, row: r, reason: `column ${letters[i]}: ${value} is not a finite number` })
            xml += `<c r="${ref}"${s}><v>${value}</v></c>`
            break
          case "bigint":
            xml += `<c r="${ref}"${s}><v>${value}</v></c>`
            break
          case "boolean":
            xml += `<c r="${ref}" t="b"${s}><v>${value ? 1 : 0}</v></c>`
            break
          case "string":
            if (dates[i] === true) {
              const serial = serialOfDay(value)
              if (serial === undefined)
                throw new WorkbookError({ sheet: name, row: r, reason: `column ${letters[i]}: ${JSON.stringify(value)} is not a YYYY-MM-DD day` })
              xml += `<c r="${ref}"${s}><v>${serial}</v></c>`
            } else {
              const text = xmlText(value)
              const space = text.length > 0 && (text.charCodeAt(0) <= 32 || text.charCodeAt(text.length - 1) <= 32) ? ' xml:space="preserve"' : ""
              xml += `<c r="${ref}" t="inlineStr"${s}><is><t${space}>${text}</t></is></c>`
            }
            break
          default:
            throw new WorkbookError({ sheet: name, row: r, reason: `column ${letters[i]}: a ${typeof value} cannot be written` })
        }
      }
      await e.text(xml + "</row>")
    }
    const range = `A1:${letters[columns.length - 1]}${r}`
    await e.text("</sheetData>" + (filter ? `<autoFilter ref="${range}"/>` : "") + "</worksheet>")
    await e.end()
    sheets.push({ name, filter: filter ? `$A$1:$${letters[columns.length - 1]}$${r}` : undefined })
  }

  const writeWorkbook = async (): Promise<void> => {
    if (sheets.length === 0) throw new WorkbookError({ sheet: "", row: 0, reason: "a workbook needs at least one sheet" })
    let workbook = XML_HEAD + `<workbook xmlns="${NS_MAIN}" xmlns:r="${NS_REL}"><bookViews><workbookView/></bookViews><sheets>`
    sheets.forEach((s, i) => {
      workbook += `<sheet name="${xmlText(s.name)}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`
    })
    workbook += "</sheets>"
    const names = sheets.flatMap((s, i) =>
      s.filter === undefined ? [] : [`<definedName name="_xlnm._FilterDatabase" localSheetId="${i}" hidden="1">${xmlText(`'${s.name.replace(/'/g, "''")}'!${s.filter}`)}</definedName>`]
    )
    if (names.length > 0) workbook += `<definedNames>${names.join("")}</definedNames>`
    await whole("xl/workbook.xml", workbook + "</workbook>")

    let rels = XML_HEAD + `<Relationships xmlns="${NS_PKG_REL}">`
    sheets.forEach((_, i) => {
      rels += `<Relationship Id="rId${i + 1}" Type="${NS_REL}/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`
    })
    rels += `<Relationship Id="rId${sheets.length + 1}" Type="${NS_REL}/styles" Target="styles.xml"/></Relationships>`
    await whole("xl/_rels/workbook.xml.rels", rels)
    await whole("xl/styles.xml", STYLES_XML)

    await whole(
      "docProps/app.xml",
      XML_HEAD +
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>customer360</Application></Properties>'
    )
    await whole(
      "_rels/.rels",
      XML_HEAD +
        `<Relationships xmlns="${NS_PKG_REL}"><Relationship Id="rId1" Type="${NS_REL}/officeDocument" Target="xl/workbook.xml"/>` +
        `<Relationship Id="rId2" Type="${NS_REL}/extended-properties" Target="docProps/app.xml"/></Relationships>`
    )
    let types =
      XML_HEAD +
      '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
      '<Default Extension="xml" ContentType="application/xml"/>' +
      '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
      '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' +
      '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    sheets.forEach((_, i) => {
      types += `<Override PartName="/xl/worksheets/sheet${i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`
    })
    await whole("[Content_Types].xml", types + "</Types>")
    zip.end()
    await drain(true)
    if (sink.close !== undefined) await toSink(sink.close)
  }

  return {
    sheet: async (name, columns, rows, options) => {
      guard(name)
      state = "busy"
      try {
        await writeSheet(name, columns, rows, options)
        state = "open"
      } catch (error) {
        return fail(error)
      }
    },
    close: async () => {
      guard("")
      state = "busy"
      try {
        await writeWorkbook()
        state = "closed"
      } catch (error) {
        return fail(error)
      }
    }
  }
}

/**
 * A sink writing to a file (created or truncated on the first chunk), opened lazily with
 * `node:fs`; `close` closes it, `abort` closes and removes it. Failures are `FileAccessError`s.
 *
 * @since 0.5.0
 */
export const toPath = (path: string): ByteSink => {
  interface Handle {
    write(chunk: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>
    close(): Promise<void>
  }
  let handle: Promise<Handle> | undefined
  const open = (): Promise<Handle> => (handle ??= nodeFs().then((fs) => fs.promises.open(path, "w")))
  const access = async <A>(f: () => Promise<A>): Promise<A> => {
    try {
      return await f()
    } catch (cause) {
      throw new FileAccessError({ path, reason: describe(cause) })
    }
  }
  const write = (chunk: Uint8Array): Promise<void> =>
    access(async () => {
      const h = await open()
      let at = 0
      while (at < chunk.length) at += (await h.write(chunk, at, chunk.length - at)).bytesWritten
    })
  return Object.assign(write, {
    close: () => access(async () => (await open()).close()),
    abort: async () => {
      if (handle === undefined) return
      const h = await handle.catch(() => undefined)
      await h?.close().catch(() => undefined)
      const fs = await nodeFs()
      await fs.promises.rm(path, { force: true }).catch(() => undefined)
    }
  })
}

/**
 * A sink writing to a web `WritableStream` (a Worker's `TransformStream`, a response body): each
 * chunk waits for the stream to accept it; `close` closes the stream, `abort` aborts it.
 *
 * @since 0.5.0
 */
export const toWebStream = (stream: WritableStream<Uint8Array>): ByteSink => {
  const writer = stream.getWriter()
  const access = async (f: () => Promise<void>): Promise<void> => {
    try {
      await f()
    } catch (cause) {
      throw new FileAccessError({ path: "stream", reason: describe(cause) })
    }
  }
  return Object.assign(
    (chunk: Uint8Array) =>
      access(async () => {
        await writer.ready
        await writer.write(chunk)
      }),
    {
      close: () => access(() => writer.close()),
      abort: (reason: unknown) => writer.abort(reason).catch(() => undefined)
    }
  )
}
