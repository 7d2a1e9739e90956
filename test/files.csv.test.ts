/**
 * The streaming CSV reader: RFC 4180 quoting, line endings, empty lines and line numbers, UTF-8 with
 * or without BOM, delimiter sniffing, errors, and chunks split anywhere.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { FileFormatError, fromBytes, readCsv, type SheetRow } from "../src/platform/files/Csv.js"

const encoder = new TextEncoder()

async function* chunked(bytes: Uint8Array, cuts: ReadonlyArray<number>): AsyncGenerator<Uint8Array> {
  let at = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= at || cut >= bytes.length) continue
    yield bytes.subarray(at, cut)
    at = cut
  }
  if (at < bytes.length) yield bytes.subarray(at)
}

const read = async (source: AsyncIterable<Uint8Array>, delimiter?: "," | ";"): Promise<Array<SheetRow>> => {
  const rows: Array<SheetRow> = []
  for await (const row of readCsv(source, delimiter === undefined ? undefined : { delimiter })) rows.push(row)
  return rows
}

/** Reads `text` whole, then byte by byte: both readings must agree. */
const readText = async (text: string | Uint8Array, delimiter?: "," | ";"): Promise<Array<SheetRow>> => {
  const bytes = typeof text === "string" ? encoder.encode(text) : text
  const whole = await read(fromBytes(bytes), delimiter)
  const bytewise = await read(fromBytes(bytes, 1), delimiter)
  expect(bytewise).toEqual(whole)
  return whole
}

const failure = async (text: string | Uint8Array): Promise<FileFormatError> => {
  const bytes = typeof text === "string" ? encoder.encode(text) : text
  for (const size of [1, 7, bytes.length + 1]) {
    try {
      await read(fromBytes(bytes, size))
    } catch (error) {
      expect(error).toBeInstanceOf(FileFormatError)
      if (size === 1) continue
      return error as FileFormatError
    }
    throw new Error(`no error with chunks of ${size}`)
  }
  throw new Error("unreachable")
}

describe("readCsv", () => {
  it("reads plain records with LF endings and a trailing newline", async () => {
    expect(await readText("a,b,c\n1,2,3\n")).toEqual([
      { line: 1, cells: ["a", "b", "c"] },
      { line: 2, cells: ["1", "2", "3"] }
    ])
  })

  it("reads CRLF, LF and lone CR endings, with or without a final line break", async () => {
    expect(await readText("h\r\n1\n2\r3")).toEqual([
      { line: 1, cells: ["h"] },
      { line: 2, cells: ["1"] },
      { line: 3, cells: ["2"] },
      { line: 4, cells: ["3"] }
    ])
    expect(await readText("h\r3\r")).toEqual([
      { line: 1, cells: ["h"] },
      { line: 2, cells: ["3"] }
    ])
  })

  it("keeps empty fields as empty strings", async () => {
    expect(await readText('a,,c\n,\n"",x\n')).toEqual([
      { line: 1, cells: ["a", "", "c"] },
      { line: 2, cells: ["", ""] },
      { line: 3, cells: ["", "x"] }
    ])
  })

  it("reads quoted fields: doubled quotes, delimiters and line breaks inside are kept verbatim", async () => {
    expect(await readText('a,b\n"x,""y""",z\n"two\r\nlines\rand\nmore",""";"""\n')).toEqual([
      { line: 1, cells: ["a", "b"] },
      { line: 2, cells: ['x,"y"', "z"] },
      { line: 3, cells: ["two\r\nlines\rand\nmore", '";"'] }
    ])
  })

  it("skips empty lines but counts them: a row's line is the physical line where it starts", async () => {
    expect(await readText('h\n\n\r\n\r1\n"a\nb"\n\n2\n')).toEqual([
      { line: 1, cells: ["h"] },
      { line: 5, cells: ["1"] },
      { line: 6, cells: ["a\nb"] },
      { line: 9, cells: ["2"] }
    ])
  })

  it("treats a quote inside an unquoted field as an ordinary character", async () => {
    expect(await readText('a,b\n5" screen,x"y\n')).toEqual([
      { line: 1, cells: ["a", "b"] },
      { line: 2, cells: ['5" screen', 'x"y'] }
    ])
  })

  it("drops a UTF-8 BOM and reads Vietnamese text", async () => {
    const bytes = encoder.encode("\uFEFFTên,Điện thoại\nNguyễn Thị Ánh,0912345678\n")
    expect(bytes[0]).toBe(0xef)
    expect(await readText(bytes)).toEqual([
      { line: 1, cells: ["Tên", "Điện thoại"] },
      { line: 2, cells: ["Nguyễn Thị Ánh", "0912345678"] }
    ])
    expect(await readText("Tên\nỨ\n")).toEqual([
      { line: 1, cells: ["Tên"] },
      { line: 2, cells: ["Ứ"] }
    ])
  })

  it("sniffs ; from the header line, outside quotes", async () => {
    expect(await readText('a;b;"c,d,e"\n1;2,5;3\n')).toEqual([
      { line: 1, cells: ["a", "b", "c,d,e"] },
      { line: 2, cells: ["1", "2,5", "3"] }
    ])
    expect(await readText('a,b;c\n1,2\n')).toEqual([
      { line: 1, cells: ["a", "b;c"] },
      { line: 2, cells: ["1", "2"] }
    ])
    expect(await readText("\n\na;b\n1;2")).toEqual([
      { line: 3, cells: ["a", "b"] },
      { line: 4, cells: ["1", "2"] }
    ])
  })

  it("uses the given delimiter over the sniffed one", async () => {
    expect(await readText("a;b\n1;2\n", ",")).toEqual([
      { line: 1, cells: ["a;b"] },
      { line: 2, cells: ["1;2"] }
    ])
  })

  it("reads nothing from an empty source or only empty lines", async () => {
    expect(await readText("")).toEqual([])
    expect(await readText("\n\r\n\r")).toEqual([])
  })

  it("fails on an unterminated quote at the end of the file, at the line where the field starts", async () => {
    const error = await failure('h\n1,2\n3,"open\nstill open\n')
    expect(error.line).toBe(3)
    expect(error.message).toMatch(/^Line 3: .*quoted field/)
  })

  it("fails on a character after a closing quote", async () => {
    const error = await failure('h\n"a\nb"x,1\n')
    expect(error.line).toBe(3)
    expect(error.reason).toMatch(/after the closing quote/)
  })

  it("fails on invalid UTF-8 with the line of the bad byte", async () => {
    const bytes = new Uint8Array([...encoder.encode("h\n1\n2,"), 0xc3, 0x28, ...encoder.encode("\n")])
    const error = await failure(bytes)
    expect(error.reason).toMatch(/UTF-8/)
    expect(error.line).toBe(3)
    const truncated = await failure(new Uint8Array([...encoder.encode("h\nx"), 0xe1, 0xbb]))
    expect(truncated.line).toBe(2)
  })

  it("stops reading the source when the consumer stops", async () => {
    let pulled = 0
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        pulled++
        yield encoder.encode("a,b\n")
      }
    }
    let seen = 0
    for await (const _ of readCsv(endless())) if (++seen === 3) break
    expect(pulled).toBe(3)
  })

  // A table of cells with quotes, both delimiters, line breaks and non-ASCII text; serialised with
  // random quoting, line endings and empty lines; split into random chunks; read back equal.
  const cell = fc.string({
    unit: fc.constantFrom("a", "Z", "1", " ", ",", ";", '"', "\n", "\r", "\r\n", "ạ", "Đ", "😀", "\t"),
    maxLength: 6
  })
  const table = fc.record({
    delimiter: fc.constantFrom<"," | ";">(",", ";"),
    rows: fc.array(
      fc.record({
        cells: fc.array(fc.tuple(cell, fc.boolean()), { minLength: 1, maxLength: 5 }),
        ending: fc.constantFrom("\n", "\r\n", "\r"),
        emptyLinesAfter: fc.nat({ max: 2 })
      }),
      { minLength: 1, maxLength: 12 }
    ),
    finalBreak: fc.boolean(),
    bom: fc.boolean(),
    cuts: fc.array(fc.nat({ max: 400 }), { maxLength: 12 })
  })

  it("reads back any serialised table, chunked anywhere, with the line where each record starts", async () => {
    await fc.assert(
      fc.asyncProperty(table, async ({ bom, cuts, delimiter, finalBreak, rows }) => {
        let text = ""
        let line = 1
        const expected: Array<SheetRow> = []
        rows.forEach((row, index) => {
          const cells = row.cells.map(([value]) => value)
          const fields = row.cells.map(([value, quoteAnyway]) =>
            quoteAnyway || value === "" || /[",;\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
          )
          expected.push({ line, cells })
          const record = fields.join(delimiter)
          text += record
          line += (record.match(/\r\n|\r|\n/g) ?? []).length
          const last = index === rows.length - 1
          if (!last || finalBreak || row.emptyLinesAfter > 0) {
            text += row.ending.repeat(1 + (last ? 0 : row.emptyLinesAfter))
            line += 1 + (last ? 0 : row.emptyLinesAfter)
          }
        })
        const bytes = encoder.encode((bom ? "\uFEFF" : "") + text)
        expect(await read(chunked(bytes, cuts), delimiter)).toEqual(expected)
      }),
      { numRuns: 400 }
    )
  })
})
