/**
 * A streaming CSV reader (RFC 4180). The bytes are decoded as UTF-8 (a BOM is dropped; invalid
 * UTF-8 is a `FileFormatError`), then scanned with `indexOf` on the decoded text: a line without a
 * quote is cut at its delimiters, a line with quotes goes field by field. Chunks may split anywhere —
 * inside a character, a quoted field, or between CR and LF. Memory holds one chunk and the record
 * being read; a record longer than a chunk is rescanned only when the buffered text has doubled, so
 * reading stays linear.
 *
 * Rules: fields are separated by `,` or `;` (sniffed from the header line, outside quotes, when not
 * given: `;` when it occurs more often than `,`); records end with CRLF, LF or CR; a field that starts
 * with `"` is quoted (`""` inside is one quote, delimiters and line breaks inside are kept verbatim)
 * and must be followed by a delimiter or the end of the record; a `"` inside an unquoted field is an
 * ordinary character; empty lines are skipped but counted; the last record may lack a line break.
 *
 * @since 0.5.0
 */
import { type ByteSource, type Cell, FileFormatError, flatten, type SheetRow } from "./Source.js"

export { type ByteSource, type Cell, FileAccessError, FileFormatError, fromBytes, fromPath, fromWebStream, type SheetRow } from "./Source.js"

/**
 * Options of `readCsv`: the field delimiter, sniffed from the header line when absent.
 *
 * @since 0.5.0
 */
export interface CsvOptions {
  readonly delimiter?: "," | ";"
}

const LF = 10
const CR = 13
const QUOTE = 34
const COMMA = 44
const SEMICOLON = 59

/** The record at the scan position is not complete in the buffer yet. */
const INCOMPLETE = -1

/** Physical line breaks (CRLF, LF or a lone CR) in `s[from, to)`. */
const lineBreaks = (s: string, from: number, to: number): number => {
  let n = 0
  for (let k = from; k < to; k++) {
    const c = s.charCodeAt(k)
    if (c === LF) n++
    else if (c === CR && s.charCodeAt(k + 1) !== LF) n++
  }
  return n
}

/** Where the first malformed UTF-8 sequence of a chunk starts (approximately: for the error's line). */
const firstInvalidUtf8 = (b: Uint8Array): number => {
  let i = 0
  while (i < 3 && i < b.length && ((b[i] as number) & 0xc0) === 0x80) i++
  while (i < b.length) {
    const c = b[i] as number
    let n: number
    if (c < 0x80) n = 0
    else if (c >= 0xc2 && c <= 0xdf) n = 1
    else if ((c & 0xf0) === 0xe0) n = 2
    else if (c >= 0xf0 && c <= 0xf4) n = 3
    else return i
    if (i + n >= b.length) return i
    for (let k = 1; k <= n; k++) if (((b[i + k] as number) & 0xc0) !== 0x80) return i
    i += n + 1
  }
  return b.length
}

/** Physical line breaks among bytes `[0, to)`. */
const byteLineBreaks = (b: Uint8Array, to: number): number => {
  let n = 0
  for (let k = 0; k < to; k++) {
    const c = b[k]
    if (c === LF) n++
    else if (c === CR && b[k + 1] !== LF) n++
  }
  return n
}

/**
 * The incremental parser over decoded text. `push` appends text and appends every complete record
 * to `out`; `finish` ends the input (the last record may lack a line break).
 */
class CsvParser {
  private buf = ""
  private pos = 0
  private line = 1
  private retryAt = 0
  private delim: string | undefined
  private delimCode = 0
  // Cached positions of the next LF, CR, quote and delimiter at or after the scan (buf.length: none).
  private nLF = -1
  private nCR = -1
  private nQ = -1
  private nD = -1

  constructor(delimiter: "," | ";" | undefined) {
    if (delimiter !== undefined) this.setDelimiter(delimiter)
  }

  private setDelimiter(d: string): void {
    this.delim = d
    this.delimCode = d.charCodeAt(0)
  }

  push(text: string, out: Array<SheetRow>): void {
    if (text.length === 0) return
    this.buf = this.pos >= this.buf.length ? text : this.pos === 0 ? this.buf + text : this.buf.slice(this.pos) + text
    this.pos = 0
    this.nLF = this.nCR = this.nQ = this.nD = -1
    if (this.buf.length >= this.retryAt) this.parse(false, out)
  }

  finish(out: Array<SheetRow>): void {
    this.parse(true, out)
    this.buf = ""
    this.pos = 0
  }

  /** The physical line at the end of the text received so far (for errors found while decoding). */
  lineAtEnd(): number {
    return this.line + lineBreaks(this.buf, this.pos, this.buf.length)
  }

  invalidUtf8(chunk: Uint8Array): FileFormatError {
    // No bad sequence inside the chunk: the one begun at the end of the previous chunk is broken.
    const bad = firstInvalidUtf8(chunk)
    const line = this.lineAtEnd() + (bad >= chunk.length ? 0 : byteLineBreaks(chunk, bad))
    return new FileFormatError({ line, reason: "the file is not valid UTF-8 text" })
  }

  private parse(eof: boolean, out: Array<SheetRow>): void {
    const s = this.buf
    const len = s.length
    let i = this.pos
    while (i < len) {
      if (this.nLF < i) {
        this.nLF = s.indexOf("\n", i)
        if (this.nLF < 0) this.nLF = len
      }
      if (this.nCR < i) {
        this.nCR = s.indexOf("\r", i)
        if (this.nCR < 0) this.nCR = len
      }
      const eol = this.nLF < this.nCR ? this.nLF : this.nCR
      if (eol === i) {
        // An empty line: skipped, counted.
        if (s.charCodeAt(i) === CR) {
          if (i + 1 >= len && !eof) break
          i += s.charCodeAt(i + 1) === LF ? 2 : 1
        } else i += 1
        this.line++
        continue
      }
      if (this.delim === undefined && !this.sniff(s, i, eof)) break
      if (this.nQ < i) {
        this.nQ = s.indexOf('"', i)
        if (this.nQ < 0) this.nQ = len
      }
      let end: number
      if (this.nQ > eol) {
        // No quote on this line: cut at each delimiter.
        if (eol === len && !eof) break
        if (eol + 1 === len && !eof && s.charCodeAt(eol) === CR) break
        const cells: Array<Cell> = []
        let j = i
        for (;;) {
          if (this.nD < j) {
            this.nD = s.indexOf(this.delim as string, j)
            if (this.nD < 0) this.nD = len
          }
          if (this.nD >= eol) break
          cells.push(s.slice(j, this.nD))
          j = this.nD + 1
        }
        cells.push(s.slice(j, eol))
        out.push({ line: this.line, cells })
        this.line++
        end = eol
      } else {
        end = this.quotedRecord(s, i, eof, out)
        if (end === INCOMPLETE) break
      }
      i = end >= len ? len : s.charCodeAt(end) === CR && s.charCodeAt(end + 1) === LF ? end + 2 : end + 1
    }
    this.pos = i
    this.retryAt = i < len ? (len - i) * 2 : 0
    // An incomplete record is rescanned from its start: the caches may point past its first
    // delimiter or line break.
    this.nLF = this.nCR = this.nQ = this.nD = -1
  }

  /** Sniffs the delimiter from the header line at `i`; false when the line is not complete yet. */
  private sniff(s: string, i: number, eof: boolean): boolean {
    let commas = 0
    let semicolons = 0
    let quoted = false
    let k = i
    for (; k < s.length; k++) {
      const c = s.charCodeAt(k)
      if (c === QUOTE) quoted = !quoted
      else if (quoted) continue
      else if (c === COMMA) commas++
      else if (c === SEMICOLON) semicolons++
      else if (c === LF || c === CR) break
    }
    if (k >= s.length && !eof) return false
    this.setDelimiter(semicolons > commas ? ";" : ",")
    return true
  }

  /**
   * Reads the record at `i` field by field; appends it and returns the position of its line break
   * (or `len`), or INCOMPLETE when it does not end inside the buffer yet.
   */
  private quotedRecord(s: string, i: number, eof: boolean, out: Array<SheetRow>): number {
    const len = s.length
    const delim = this.delim as string
    const cells: Array<Cell> = []
    let breaks = 0
    let j = i
    for (;;) {
      if (s.charCodeAt(j) === QUOTE) {
        let value = ""
        let k = j + 1
        for (;;) {
          const q = s.indexOf('"', k)
          if (q < 0) {
            if (!eof) return INCOMPLETE
            throw new FileFormatError({ line: this.line, reason: "a quoted field is not closed before the end of the file" })
          }
          if (q + 1 >= len && !eof) return INCOMPLETE
          breaks += lineBreaks(s, k, q)
          if (s.charCodeAt(q + 1) === QUOTE) {
            value += s.slice(k, q + 1)
            k = q + 2
            continue
          }
          value += s.slice(k, q)
          k = q + 1
          break
        }
        cells.push(value)
        j = k
        if (j >= len) break
        const c = s.charCodeAt(j)
        if (c === this.delimCode) {
          j++
          continue
        }
        if (c === LF || c === CR) break
        throw new FileFormatError({
          line: this.line + breaks,
          reason: `unexpected character ${JSON.stringify(s[j])} after the closing quote of field ${cells.length}`
        })
      }
      if (this.nD < j) {
        this.nD = s.indexOf(delim, j)
        if (this.nD < 0) this.nD = len
      }
      if (this.nLF < j) {
        this.nLF = s.indexOf("\n", j)
        if (this.nLF < 0) this.nLF = len
      }
      if (this.nCR < j) {
        this.nCR = s.indexOf("\r", j)
        if (this.nCR < 0) this.nCR = len
      }
      const eol = this.nLF < this.nCR ? this.nLF : this.nCR
      if (this.nD < eol) {
        cells.push(s.slice(j, this.nD))
        j = this.nD + 1
        continue
      }
      if (eol === len && !eof) return INCOMPLETE
      cells.push(s.slice(j, eol))
      j = eol
      break
    }
    if (j + 1 === len && !eof && s.charCodeAt(j) === CR) return INCOMPLETE
    out.push({ line: this.line, cells })
    this.line += breaks + 1
    return j
  }
}

/**
 * The records of a CSV source in batches (one batch per chunk that completes records, in order) —
 * the cheaper form for a consumer that writes in batches. Same rules and errors as `readCsv`.
 *
 * @since 0.5.0
 */
export async function* readCsvBatches(source: ByteSource, options?: CsvOptions): AsyncGenerator<ReadonlyArray<SheetRow>> {
  const decoder = new TextDecoder("utf-8", { fatal: true })
  const parser = new CsvParser(options?.delimiter)
  let rows: Array<SheetRow> = []
  for await (const chunk of source) {
    let text: string
    try {
      text = decoder.decode(chunk, { stream: true })
    } catch {
      throw parser.invalidUtf8(chunk)
    }
    parser.push(text, rows)
    if (rows.length > 0) {
      yield rows
      rows = []
    }
  }
  let tail: string
  try {
    tail = decoder.decode()
  } catch {
    throw new FileFormatError({ line: parser.lineAtEnd(), reason: "the file ends inside a UTF-8 character" })
  }
  parser.push(tail, rows)
  parser.finish(rows)
  if (rows.length > 0) yield rows
}

/**
 * The records of a CSV source, streamed: each is `{ line, cells }` with `line` the physical line
 * where the record starts (the header is line 1) and `cells` its fields as strings (an empty field is
 * `""`). Empty lines are skipped. The header is the first row; no column count is enforced. Throws a
 * `FileFormatError` from the iterator for invalid UTF-8, an unterminated quoted field, or a character
 * after a closing quote; a failing source's own error passes through. Stopping early closes the source.
 *
 * @since 0.5.0
 */
export const readCsv = (source: ByteSource, options?: CsvOptions): AsyncIterableIterator<SheetRow> =>
  flatten(readCsvBatches(source, options))

