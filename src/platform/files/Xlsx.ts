/**
 * A streaming XLSX reader. The archive is streamed through fflate's `Unzip` + `UnzipInflate`; the
 * workbook (`xl/workbook.xml` and its relationships) names the sheet, the shared-strings table is
 * read into memory, and the sheet's XML is read with a small streaming tag scanner — no DOM, never
 * the whole sheet as one string.
 *
 * The parts of an archive may come in any order. A worksheet met before the reader knows it is the
 * one asked for, or before the shared strings it needs, is kept in memory still compressed (about a
 * twentieth of its XML) and read at the end; any other worksheet is skipped without being kept.
 * Excel writes the workbook first, so only the shared strings can make it wait; the writer of this
 * library writes the workbook last (it has no shared strings), so its sheets wait compressed.
 *
 * Cells: `t="s"` (shared string), `inlineStr` (rich-text runs joined, phonetic runs left out),
 * `str` (a formula's cached text), `b` (boolean), `n` or none (number), `e` (the error's text, such
 * as `#N/A`), `d` (the ISO date-time string as stored); a cell without a value, or absent between
 * others, is `null`. Formulas are never evaluated: a cell gives its cached value. Dates stored as
 * numbers (the usual case) are their Excel serial numbers.
 *
 * @since 0.5.0
 */
import { Inflate, Unzip, type UnzipFile, UnzipInflate, UnzipPassThrough } from "fflate"
import { type ByteSource, type Cell, FileFormatError, flatten, type SheetRow } from "./Source.js"

export { type ByteSource, type Cell, FileAccessError, FileFormatError, fromBytes, fromPath, fromWebStream, type SheetRow } from "./Source.js"

/**
 * Options of `readXlsx`: the sheet to read, by its 0-based position in the workbook or by its name
 * (default: the first sheet).
 *
 * @since 0.5.0
 */
export interface XlsxOptions {
  readonly sheet?: number | string
}

const formatError = (line: number, reason: string) => new FileFormatError({ line, reason })
const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

// --- XML ---------------------------------------------------------------------------------------------

const ENTITY = /&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g
const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }
const decodeEntities = (text: string): string =>
  text.indexOf("&") < 0
    ? text
    : text.replace(ENTITY, (_, e: string) =>
        e.charCodeAt(0) === 35 ? String.fromCodePoint(e.charCodeAt(1) === 120 ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : (NAMED[e] as string)
      )
// Excel's escape of a character in a string: `_xHHHH_` (`_x005F_` is a literal underscore).
const decodeXString = (text: string): string =>
  text.indexOf("_x") < 0 ? text : text.replace(/_x([0-9A-Fa-f]{4})_/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))

const ATTRIBUTE = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g
const attributes = (source: string): Map<string, string> => {
  const found = new Map<string, string>()
  for (const m of source.matchAll(ATTRIBUTE)) found.set(m[1] as string, decodeEntities(m[2] ?? m[3] ?? ""))
  return found
}

interface XmlHandler {
  /** Whether the text before the next tag is wanted (it is not sliced otherwise). */
  wantsText: boolean
  open(name: string, attrs: string, selfClosing: boolean): void
  close(name: string): void
  text(text: string): void
}

const localName = (qualified: string): string => {
  const colon = qualified.indexOf(":")
  return colon < 0 ? qualified : qualified.slice(colon + 1)
}

/**
 * A streaming tag scanner: push decoded text in pieces; it calls the handler for every tag and for
 * wanted text, and keeps only an incomplete tag or text at the end. Namespace prefixes are dropped;
 * comments, processing instructions and declarations are skipped; CDATA is text.
 */
class XmlScanner {
  private buf = ""
  constructor(private readonly handler: XmlHandler) {}

  push(text: string): void {
    const s = this.buf.length === 0 ? text : this.buf + text
    const h = this.handler
    let i = 0
    for (;;) {
      const lt = s.indexOf("<", i)
      if (lt < 0) break
      if (lt > i && h.wantsText) h.text(s.slice(i, lt))
      const next = s.charCodeAt(lt + 1)
      if (next === 33 /* ! */) {
        if (s.startsWith("<![CDATA[", lt)) {
          const end = s.indexOf("]]>", lt)
          if (end < 0) {
            i = lt
            break
          }
          if (h.wantsText) h.text(s.slice(lt + 9, end).replace(/&/g, "&amp;"))
          i = end + 3
          continue
        }
        const end = s.startsWith("<!--", lt) ? s.indexOf("-->", lt) : s.indexOf(">", lt)
        if (end < 0) {
          i = lt
          break
        }
        i = end + (s.charCodeAt(end) === 62 ? 1 : 3)
        continue
      }
      let gt = s.indexOf(">", lt)
      // A `>` inside a quoted attribute value does not end the tag.
      while (gt >= 0 && unbalancedQuotes(s, lt, gt)) gt = s.indexOf(">", gt + 1)
      if (gt < 0) {
        i = lt
        break
      }
      if (next === 47 /* / */) {
        const last = s.charCodeAt(gt - 1)
        h.close(localName(last === 32 || last === 9 || last === 10 || last === 13 ? s.slice(lt + 2, gt).trim() : s.slice(lt + 2, gt)))
      }
      else if (next !== 63 /* ? */) {
        const selfClosing = s.charCodeAt(gt - 1) === 47
        const bodyEnd = selfClosing ? gt - 1 : gt
        let k = lt + 1
        while (k < bodyEnd) {
          const c = s.charCodeAt(k)
          if (c === 32 || c === 9 || c === 10 || c === 13) break
          k++
        }
        const name = localName(s.slice(lt + 1, k))
        h.open(name, k < bodyEnd ? s.slice(k, bodyEnd) : "", selfClosing)
        if (selfClosing) h.close(name)
      }
      i = gt + 1
    }
    this.buf = i >= s.length ? "" : s.slice(i)
  }

  /** Whether anything but whitespace is left over (an unterminated tag). */
  leftover(): boolean {
    return this.buf.trim().length > 0 && this.buf.indexOf("<") >= 0
  }
}

const unbalancedQuotes = (s: string, from: number, to: number): boolean => {
  let quote = 0
  for (let k = from; k < to; k++) {
    const c = s.charCodeAt(k)
    if (quote === 0) {
      if (c === 34 || c === 39) quote = c
    } else if (c === quote) quote = 0
  }
  return quote !== 0
}

/** Feeds an entry's bytes, as UTF-8, to a scanner. */
const xmlSink = (path: string, handler: XmlHandler) => {
  const scanner = new XmlScanner(handler)
  const decoder = new TextDecoder("utf-8", { fatal: true })
  return (data: Uint8Array, final: boolean): void => {
    let text: string
    try {
      text = decoder.decode(data, { stream: !final })
    } catch {
      throw formatError(0, `${path} is not valid UTF-8 XML`)
    }
    scanner.push(text)
    if (final && scanner.leftover()) throw formatError(0, `${path} ends inside a tag`)
  }
}

// --- Parts -------------------------------------------------------------------------------------------

interface SheetRef {
  readonly name: string
  readonly relId: string
}

const workbookHandler = (sheets: Array<SheetRef>): XmlHandler => ({
  wantsText: false,
  open: (name, attrs) => {
    if (name !== "sheet") return
    const a = attributes(attrs)
    let relId: string | undefined
    for (const [key, value] of a) if (key !== "id" && localName(key) === "id") relId = value
    sheets.push({ name: a.get("name") ?? "", relId: relId ?? "" })
  },
  close: () => undefined,
  text: () => undefined
})

interface Relationship {
  readonly type: string
  readonly target: string
}

const relsHandler = (rels: Map<string, Relationship>): XmlHandler => ({
  wantsText: false,
  open: (name, attrs) => {
    if (name !== "Relationship") return
    const a = attributes(attrs)
    rels.set(a.get("Id") ?? "", { type: a.get("Type") ?? "", target: a.get("Target") ?? "" })
  },
  close: () => undefined,
  text: () => undefined
})

/** A relationship target of the workbook as an archive path: relative to `xl/`, or absolute. */
const partPath = (target: string): string => {
  const parts: Array<string> = target.startsWith("/") ? [] : ["xl"]
  for (const piece of target.replace(/^\/+/, "").split("/")) {
    if (piece === "..") parts.pop()
    else if (piece !== "." && piece !== "") parts.push(piece)
  }
  return parts.join("/")
}

/** Collects `<si>` items: the text of their `<t>` runs, phonetic runs (`<rPh>`) left out. */
const sharedStringsHandler = (table: Array<string>): XmlHandler => {
  let current = ""
  let inPhonetic = 0
  const h: XmlHandler = {
    wantsText: false,
    open: (name) => {
      if (name === "si") current = ""
      else if (name === "t") h.wantsText = inPhonetic === 0
      else if (name === "rPh") inPhonetic++
    },
    close: (name) => {
      if (name === "t") h.wantsText = false
      else if (name === "rPh") inPhonetic--
      else if (name === "si") table.push(decodeXString(current))
    },
    text: (text) => {
      current += decodeEntities(text)
    }
  }
  return h
}

/**
 * One attribute's value, found with `indexOf` (the common `name="value"` after a space); falls back
 * to the full parse for other spellings (single quotes, spaces around `=`, entities).
 */
const attribute = (attrs: string, name: string): string | undefined => {
  const key = name + '="'
  let at = attrs.indexOf(key)
  while (at >= 0) {
    const before = attrs.charCodeAt(at - 1)
    if (before === 32 || before === 9 || before === 10 || before === 13) {
      const start = at + key.length
      const end = attrs.indexOf('"', start)
      if (end < 0) break
      const value = attrs.slice(start, end)
      return value.indexOf("&") < 0 ? value : decodeEntities(value)
    }
    at = attrs.indexOf(key, at + 1)
  }
  return attrs.indexOf("'") < 0 && attrs.indexOf("= ") < 0 && attrs.indexOf(" =") < 0 ? undefined : attributes(attrs).get(name)
}

const columnIndex = (ref: string): number => {
  let n = 0
  let k = 0
  for (; k < ref.length; k++) {
    const c = ref.charCodeAt(k)
    if (c >= 65 && c <= 90) n = n * 26 + (c - 64)
    else if (c >= 97 && c <= 122) n = n * 26 + (c - 96)
    else break
  }
  return k === 0 ? -1 : n - 1
}

/** Reads `<row>`s and their `<c>`s into rows; appends each row that has a value to `out`. */
const sheetHandler = (sharedStrings: () => ReadonlyArray<string>, emit: (row: SheetRow) => void): XmlHandler => {
  let rowNumber = 0
  let cells: Array<Cell> = []
  let column = -1
  let type = "n"
  let value: string | undefined
  let inline = ""
  let target: "none" | "v" | "t" = "none"
  let inPhonetic = 0
  let hasValue = false
  const convert = (): Cell => {
    switch (type) {
      case "s": {
        if (value === undefined) return null
        const index = Number(value)
        const table = sharedStrings()
        if (!Number.isInteger(index) || index < 0 || index >= table.length)
          throw formatError(rowNumber, `cell ${refOf(column, rowNumber)} names shared string ${value}, which does not exist`)
        return table[index] as string
      }
      case "inlineStr":
        return decodeXString(inline)
      case "str":
      case "e":
      case "d":
        return value === undefined ? null : decodeXString(value)
      case "b":
        return value === undefined ? null : value.trim() === "1" || value.trim() === "true"
      default: {
        if (value === undefined || value.trim() === "") return null
        const n = Number(value)
        if (Number.isNaN(n)) throw formatError(rowNumber, `cell ${refOf(column, rowNumber)} holds ${JSON.stringify(value)}, which is not a number`)
        return n
      }
    }
  }
  const h: XmlHandler = {
    wantsText: false,
    open: (name, attrs) => {
      switch (name) {
        case "row": {
          const r = attrs.length === 0 ? undefined : attribute(attrs, "r")
          rowNumber = r === undefined || !/^\d+$/.test(r) ? rowNumber + 1 : Number(r)
          cells = []
          column = -1
          hasValue = false
          break
        }
        case "c": {
          const ref = attrs.length === 0 ? undefined : attribute(attrs, "r")
          const at = ref === undefined ? -1 : columnIndex(ref)
          column = at >= 0 ? at : column + 1
          type = (attrs.length === 0 ? undefined : attribute(attrs, "t")) ?? "n"
          value = undefined
          inline = ""
          break
        }
        case "v":
          target = "v"
          h.wantsText = true
          value = ""
          break
        case "rPh":
          inPhonetic++
          break
        case "t":
          if (inPhonetic === 0 && type === "inlineStr") {
            target = "t"
            h.wantsText = true
          }
          break
      }
    },
    close: (name) => {
      switch (name) {
        case "v":
        case "t":
          target = "none"
          h.wantsText = false
          break
        case "rPh":
          inPhonetic--
          break
        case "c": {
          const cell = convert()
          if (cell !== null) {
            while (cells.length < column) cells.push(null)
            cells[column] = cell
            hasValue = true
          }
          break
        }
        case "row":
          if (hasValue) emit({ line: rowNumber, cells })
          cells = []
          break
      }
    },
    text: (text) => {
      if (target === "v") value += decodeEntities(text)
      else if (target === "t") inline += decodeEntities(text)
    }
  }
  return h
}

const refOf = (column: number, row: number): string => {
  let name = ""
  let n = column + 1
  while (n > 0) {
    const r = (n - 1) % 26
    name = String.fromCharCode(65 + r) + name
    n = (n - 1 - r) / 26
  }
  return name + row
}

// --- Archive -----------------------------------------------------------------------------------------

/** Hands the entry's stored bytes through untouched, whatever its compression: for keeping. */
class KeepCompressed {
  static readonly compression = 8
  ondata: (error: Error | null, data: Uint8Array, final: boolean) => void = () => undefined
  push(data: Uint8Array, final: boolean): void {
    this.ondata(null, data, final)
  }
}

/** Drops the entry's bytes (an unstarted entry would be kept by `Unzip`). */
class Discard {
  static compression = 8
  ondata: (error: Error | null, data: Uint8Array, final: boolean) => void = () => undefined
  push(_data: Uint8Array, final: boolean): void {
    if (final) this.ondata(null, new Uint8Array(0), true)
  }
}

const decoderFor = (compression: number, mode: "inflate" | "keep" | "discard") => {
  if (mode === "discard") return Object.assign(class extends Discard {}, { compression })
  if (mode === "keep") return Object.assign(class extends KeepCompressed {}, { compression })
  return compression === 0 ? UnzipPassThrough : UnzipInflate
}

/** Compressed bytes handed to the decompressor at a time: about 400 KiB of XML, a few thousand rows. */
const SLICE = 16 * 1024

interface Kept {
  readonly compression: number
  readonly chunks: Array<Uint8Array>
}

/**
 * The rows of a sheet in batches (in order, one per chunk of the archive that completes rows) — the
 * cheaper form for a consumer that writes in batches. Same rules and errors as `readXlsx`.
 *
 * @since 0.5.0
 */
export async function* readXlsxBatches(source: ByteSource, options?: XlsxOptions): AsyncGenerator<ReadonlyArray<SheetRow>> {
  const wanted = options?.sheet ?? 0
  const sheets: Array<SheetRef> = []
  const rels = new Map<string, Relationship>()
  const table: Array<string> = []
  let workbookDone = false
  let relsDone = false
  let sharedDone = false
  let sheetDone = false
  const kept = new Map<string, Kept>()
  let out: Array<SheetRow> = []
  let failure: unknown

  const metadataKnown = (): boolean => workbookDone && relsDone
  const targetPath = (): string => {
    const ref = typeof wanted === "number" ? sheets[wanted] : sheets.find((s) => s.name === wanted)
    if (ref === undefined)
      throw formatError(0, typeof wanted === "number" ? `the workbook has no sheet at position ${wanted} (it has ${sheets.length})` : `the workbook has no sheet named ${JSON.stringify(wanted)}`)
    const rel = rels.get(ref.relId)
    if (rel === undefined) throw formatError(0, `the workbook does not say where sheet ${JSON.stringify(ref.name)} is`)
    return partPath(rel.target)
  }
  const sharedPath = (): string | undefined => {
    for (const rel of rels.values()) if (rel.type.endsWith("/sharedStrings")) return partPath(rel.target)
    return undefined
  }
  const needsShared = (): boolean => !sharedDone && sharedPath() !== undefined

  const unzip = new Unzip()
  const start = (file: UnzipFile, mode: "inflate" | "keep" | "discard", onData?: (data: Uint8Array, final: boolean) => void): void => {
    unzip.register(decoderFor(file.compression, mode) as unknown as typeof UnzipInflate)
    file.ondata = (error, data, final) => {
      if (failure !== undefined) return
      try {
        if (error !== null) throw formatError(0, `${file.name} cannot be decompressed: ${error.message}`)
        onData?.(data, final)
      } catch (e) {
        failure = e
      }
    }
    file.start()
  }
  const sheetSink = (path: string) => xmlSink(path, sheetHandler(() => table, (row) => out.push(row)))

  unzip.onfile = (file) => {
    const name = file.name.replace(/^\/+/, "")
    if (name === "xl/workbook.xml") {
      const feed = xmlSink(name, workbookHandler(sheets))
      start(file, "inflate", (data, final) => {
        feed(data, final)
        if (final) workbookDone = true
      })
    } else if (name === "xl/_rels/workbook.xml.rels") {
      const feed = xmlSink(name, relsHandler(rels))
      start(file, "inflate", (data, final) => {
        feed(data, final)
        if (final) relsDone = true
      })
    } else if (relsDone ? name === sharedPath() : name === "xl/sharedStrings.xml") {
      const feed = xmlSink(name, sharedStringsHandler(table))
      start(file, "inflate", (data, final) => {
        feed(data, final)
        if (final) sharedDone = true
      })
    } else if (name.startsWith("xl/worksheets/") && name.endsWith(".xml")) {
      if (metadataKnown() && name !== targetPath()) start(file, "discard")
      else if (metadataKnown() && !needsShared()) {
        const feed = sheetSink(name)
        start(file, "inflate", (data, final) => {
          feed(data, final)
          if (final) sheetDone = true
        })
      } else {
        const entry: Kept = { compression: file.compression, chunks: [] }
        kept.set(name, entry)
        start(file, "keep", (data) => {
          if (data.length > 0) entry.chunks.push(data.slice())
        })
      }
    } else start(file, "discard")
  }

  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      unzip.push(chunk, final)
    } catch (e) {
      failure ??= e instanceof FileFormatError ? e : formatError(0, `the file is not a valid XLSX (ZIP) archive: ${describe(e)}`)
    }
    if (failure !== undefined) throw failure
  }

  // A ZIP archive starts with a local file header: "PK\x03\x04".
  const SIGNATURE = [0x50, 0x4b, 3, 4]
  let seen = 0
  for await (const chunk of source) {
    if (chunk.length === 0) continue
    for (let k = 0; seen < 4 && k < chunk.length; k++, seen++)
      if (chunk[k] !== SIGNATURE[seen]) throw formatError(0, "the file is not an XLSX workbook (not a ZIP archive)")
    // In slices, so that one large chunk does not become one burst of rows.
    for (let at = 0; at < chunk.length; at += SLICE) {
      push(chunk.subarray(at, Math.min(chunk.length, at + SLICE)), false)
      if (out.length > 0) {
        yield out
        out = []
      }
    }
  }
  if (seen === 0) throw formatError(0, "the file is empty")
  push(new Uint8Array(0), true)
  if (out.length > 0) {
    yield out
    out = []
  }
  if (!workbookDone) throw formatError(0, "the archive has no xl/workbook.xml: it is not an XLSX workbook")
  if (!relsDone) throw formatError(0, "the archive has no xl/_rels/workbook.xml.rels")
  if (sheetDone) return
  const path = targetPath()
  const entry = kept.get(path)
  if (entry === undefined) throw formatError(0, `the archive has no ${path}`)
  kept.clear()
  const feed = sheetSink(path)
  const inflate = new Inflate((data, final) => feed(data, final))
  const replay = (data: Uint8Array, final: boolean): void => {
    try {
      if (entry.compression === 0) feed(data, final)
      else inflate.push(data, final)
    } catch (e) {
      throw e instanceof FileFormatError ? e : formatError(0, `${path} cannot be decompressed: ${describe(e)}`)
    }
  }
  const chunks = entry.chunks
  for (let k = 0; k < chunks.length; k++) {
    const chunk = chunks[k] as Uint8Array
    chunks[k] = new Uint8Array(0)
    for (let at = 0; at < chunk.length; at += SLICE) {
      const end = Math.min(chunk.length, at + SLICE)
      replay(chunk.subarray(at, end), k === chunks.length - 1 && end === chunk.length)
      if (out.length > 0) {
        yield out
        out = []
      }
    }
  }
  if (chunks.length === 0) replay(new Uint8Array(0), true)
  if (out.length > 0) yield out
}

/**
 * The rows of one sheet of an XLSX workbook, streamed: each is `{ line, cells }` with `line` the
 * row's number (`r`; the header is usually 1) and `cells` its values by column (`null` where a cell is
 * absent or empty). Rows without any value are skipped. Throws a `FileFormatError` from the iterator
 * when the file is not a ZIP archive, has no workbook or no such sheet, or its XML or compression is
 * broken; a failing source's own error passes through. Stopping early closes the source.
 *
 * @since 0.5.0
 */
export const readXlsx = (source: ByteSource, options?: XlsxOptions): AsyncIterableIterator<SheetRow> =>
  flatten(readXlsxBatches(source, options))
