/**
 * The streaming XLSX reader on hand-built workbooks (shared strings, sparse cells, every cell type,
 * parts in either order, stored or deflated), its errors, and the writer → reader round trip.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { strToU8, zipSync } from "fflate"
import { FileFormatError, fromBytes, readXlsx, type SheetRow } from "../src/platform/files/Xlsx.js"
import { type ByteSink, type WritableCell, xlsxWriter } from "../src/platform/files/XlsxWriter.js"

const NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
const REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

const WORKBOOK = `<?xml version="1.0" encoding="UTF-8"?><workbook ${NS}><sheets><sheet name="Khách hàng" sheetId="1" r:id="rId1"/><sheet name="Bán hàng" sheetId="2" r:id="rId2"/></sheets></workbook>`
const RELS =
  `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
  `<Relationship Id="rId2" Type="${REL}/worksheet" Target="worksheets/sheet2.xml"/>` +
  `<Relationship Id="rId1" Type="${REL}/worksheet" Target="/xl/worksheets/sheet1.xml"/>` +
  `<Relationship Id="rId3" Type="${REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>`
const SHARED =
  `<?xml version="1.0"?><sst ${NS} count="5" uniqueCount="5">` +
  `<si><t>Tên</t></si><si><t xml:space="preserve">Điện thoại </t></si>` +
  `<si><r><rPr><b/></rPr><t>Nguyễn </t></r><r><t>Thị Ánh</t></r><rPh sb="0" eb="1"><t>PHONETIC</t></rPh></si>` +
  `<si><t>a &amp; b &lt;c&gt; _x000D_ _x005F_x0041_</t></si><si><t/></si></sst>`
const SHEET1 =
  `<?xml version="1.0"?><worksheet ${NS}><dimension ref="A1:E6"/><sheetData>` +
  `<row r="1" spans="1:5"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="E1" t="inlineStr"><is><t>Ghi chú</t></is></c></row>` +
  `<row r="2"><c r="B2" t="s"><v>2</v></c><c r="D2" s="3"><v>1250000</v></c><c r="E2" t="inlineStr"><is><r><t>rich </t></r><r><t>inline</t></r></is></c></row>` +
  `<row r="3"><c r="A3" t="b"><v>1</v></c><c r="B3" t="e"><v>#N/A</v></c><c r="C3" t="str"><f>A1&amp;B1</f><v>TênĐiện</v></c><c r="D3" t="d"><v>2026-03-15T00:00:00</v></c><c r="E3"><v>4.6096E4</v></c></row>` +
  `<row r="4"><c r="A4" s="1"/><c r="B4" t="s"/></row>` +
  `<row r="6"><c r="C6" t="s"><v>3</v></c><c r="D6" t="s"><v>4</v></c></row>` +
  `</sheetData></worksheet>`
// No r attributes, a namespace prefix, CDATA and a comment.
const SHEET2 =
  `<?xml version="1.0"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData><!-- generated -->` +
  `<x:row><x:c t="inlineStr"><x:is><x:t><![CDATA[a<b]]></x:t></x:is></x:c><x:c><x:v>-7</x:v></x:c></x:row>` +
  `<x:row><x:c/><x:c t="b"><x:v>0</x:v></x:c></x:row></x:sheetData></x:worksheet>`

type Part = [string, string]
const CORE: ReadonlyArray<Part> = [
  ["[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`],
  ["xl/workbook.xml", WORKBOOK],
  ["xl/_rels/workbook.xml.rels", RELS]
]

const zip = (parts: ReadonlyArray<Part>, level: 0 | 6 = 6): Uint8Array =>
  zipSync(Object.fromEntries(parts.map(([name, xml]) => [name, [strToU8(xml), { level }]])))

const read = async (bytes: Uint8Array, options?: { sheet?: number | string }, chunk?: number): Promise<Array<SheetRow>> => {
  const rows: Array<SheetRow> = []
  for await (const row of readXlsx(fromBytes(bytes, chunk), options)) rows.push(row)
  return rows
}

const failure = async (bytes: Uint8Array, options?: { sheet?: number | string }): Promise<FileFormatError> => {
  const error = await read(bytes, options).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(FileFormatError)
  return error as FileFormatError
}

const SHEET1_ROWS: ReadonlyArray<SheetRow> = [
  { line: 1, cells: ["Tên", "Điện thoại ", null, null, "Ghi chú"] },
  { line: 2, cells: [null, "Nguyễn Thị Ánh", null, 1250000, "rich inline"] },
  { line: 3, cells: [true, "#N/A", "TênĐiện", "2026-03-15T00:00:00", 46096] },
  { line: 6, cells: [null, null, "a & b <c> \r _x0041_", ""] }
]

describe("readXlsx", () => {
  it("reads shared strings (rich runs joined, phonetic left out), sparse cells as null, every cell type; the line is r", async () => {
    const bytes = zip([...CORE, ["xl/sharedStrings.xml", SHARED], ["xl/worksheets/sheet1.xml", SHEET1], ["xl/worksheets/sheet2.xml", SHEET2]])
    expect(await read(bytes)).toEqual(SHEET1_ROWS)
    expect(await read(bytes, undefined, 1)).toEqual(SHEET1_ROWS)
  })

  it("reads a sheet that comes before the shared strings (kept compressed until they arrive), stored or deflated", async () => {
    for (const level of [0, 6] as const) {
      const bytes = zip([...CORE, ["xl/worksheets/sheet1.xml", SHEET1], ["xl/worksheets/sheet2.xml", SHEET2], ["xl/sharedStrings.xml", SHARED]], level)
      expect(await read(bytes, undefined, 7)).toEqual(SHEET1_ROWS)
    }
  })

  it("reads a sheet that comes before the workbook", async () => {
    const bytes = zip([["xl/worksheets/sheet2.xml", SHEET2], ["xl/worksheets/sheet1.xml", SHEET1], ["xl/sharedStrings.xml", SHARED], ...CORE])
    expect(await read(bytes)).toEqual(SHEET1_ROWS)
  })

  it("chooses a sheet by 0-based position or by name; rows without r count on; prefixes, CDATA and comments are fine", async () => {
    const bytes = zip([...CORE, ["xl/sharedStrings.xml", SHARED], ["xl/worksheets/sheet1.xml", SHEET1], ["xl/worksheets/sheet2.xml", SHEET2]])
    const expected = [
      { line: 1, cells: ["a<b", -7] },
      { line: 2, cells: [null, false] }
    ]
    expect(await read(bytes, { sheet: 1 })).toEqual(expected)
    expect(await read(bytes, { sheet: "Bán hàng" })).toEqual(expected)
    expect((await failure(bytes, { sheet: 2 })).message).toMatch(/no sheet at position 2/)
    expect((await failure(bytes, { sheet: "Sheet1" })).message).toMatch(/no sheet named "Sheet1"/)
  })

  it("reads attributes however they are spelled: single quotes, spaces around =, line breaks, entities", async () => {
    const sheet = `<worksheet ${NS}><sheetData><row r = '3'><c\nr='B3'\tt = 's'><v>0</v></c><c r="C3" t="inlineStr" s="&#49;"><is><t>x</t></is></c></row></sheetData></worksheet>`
    const bytes = zip([...CORE, ["xl/sharedStrings.xml", SHARED], ["xl/worksheets/sheet1.xml", sheet]])
    expect(await read(bytes)).toEqual([{ line: 3, cells: [null, "Tên", "x"] }])
  })

  it("fails with a FileFormatError on what is not a workbook", async () => {
    expect((await failure(new Uint8Array(0))).reason).toMatch(/empty/)
    expect((await failure(strToU8("Tên,Điện thoại\n"))).reason).toMatch(/not a ZIP archive/)
    expect((await failure(zip([["hello.txt", "hi"]]))).reason).toMatch(/no xl\/workbook.xml/)
    const whole = zip([...CORE, ["xl/sharedStrings.xml", SHARED], ["xl/worksheets/sheet1.xml", SHEET1]])
    await failure(whole.subarray(0, Math.floor(whole.length * 0.7)))
    const corrupt = whole.slice()
    for (let k = Math.floor(corrupt.length * 0.5); k < corrupt.length * 0.6; k++) corrupt[k] = 0xff
    await failure(corrupt)
    expect((await failure(zip([...CORE, ["xl/worksheets/sheet2.xml", SHEET2]]))).reason).toMatch(/no xl\/worksheets\/sheet1.xml/)
  })

  it("fails on a shared string that does not exist, a value that is not a number, or a sheet cut inside a tag, naming the row", async () => {
    const sheet = (rows: string) => `<worksheet ${NS}><sheetData>${rows}</sheetData></worksheet>`
    const missing = await failure(zip([...CORE, ["xl/sharedStrings.xml", SHARED], ["xl/worksheets/sheet1.xml", sheet('<row r="9"><c r="B9" t="s"><v>17</v></c></row>')]]))
    expect(missing.message).toBe("Line 9: cell B9 names shared string 17, which does not exist")
    const nan = await failure(zip([...CORE, ["xl/sharedStrings.xml", SHARED], ["xl/worksheets/sheet1.xml", sheet('<row r="4"><c r="C4"><v>abc</v></c></row>')]]))
    expect(nan.line).toBe(4)
    await failure(zip([...CORE, ["xl/sharedStrings.xml", SHARED], ["xl/worksheets/sheet1.xml", `<worksheet ${NS}><sheetData><row r="1"><c r="A1"`]]))
  })

  it("stops reading the source when the consumer stops", async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => `<row r="${i + 1}"><c r="A${i + 1}"><v>${i}</v></c></row>`).join("")
    const bytes = zip([...CORE, ["xl/sharedStrings.xml", SHARED], ["xl/worksheets/sheet1.xml", `<worksheet ${NS}><sheetData>${rows}</sheetData></worksheet>`]], 0)
    let pulled = 0
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of fromBytes(bytes, 1024)) {
        pulled++
        yield chunk
      }
    }
    for await (const row of readXlsx(counted())) if (row.line === 10) break
    expect(pulled).toBeLessThan(bytes.length / 1024 / 2)
  })

  // Writer → reader: any table of strings (Vietnamese, markup, line breaks, spaces), finite numbers,
  // booleans and empty cells reads back exactly; an empty string reads back as an empty cell.
  const text = fc.string({
    unit: fc.constantFrom("a", "Z", "7", " ", "\n", "\r", "\t", "<", "&", '"', "'", "_x0041_", "Đ", "ạ", "ữ", "😀", "₫"),
    minLength: 0,
    maxLength: 8
  })
  const number = fc.oneof(fc.integer({ min: -1e12, max: 1e12 }), fc.double({ noNaN: true, noDefaultInfinity: true })).map((n) => (Object.is(n, -0) ? 0 : n))
  const value: fc.Arbitrary<WritableCell> = fc.oneof(text, number, fc.boolean(), fc.constant(null))
  const sheet = fc.record({
    width: fc.integer({ min: 1, max: 6 }),
    rows: fc.array(fc.array(value, { maxLength: 6 }), { maxLength: 25 })
  })

  it("reads back what the writer wrote, exactly (an empty string is an empty cell)", async () => {
    await fc.assert(
      fc.asyncProperty(sheet, fc.integer({ min: 1, max: 4096 }), async ({ rows, width }, chunk) => {
        const parts: Array<Uint8Array> = []
        const sink: ByteSink = async (bytes) => {
          parts.push(bytes.slice())
        }
        const w = xlsxWriter(sink)
        const headers = Array.from({ length: width }, (_, i) => `Cột ${i + 1}`)
        await w.sheet("Dữ liệu", headers.map((header) => ({ header })), rows)
        await w.close()
        const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
        let at = 0
        for (const p of parts) {
          bytes.set(p, at)
          at += p.length
        }
        const expected: Array<SheetRow> = [{ line: 1, cells: headers }]
        rows.forEach((row, i) => {
          const cells = row.map((c) => (c === "" || c === undefined ? null : c))
          while (cells.length > 0 && cells[cells.length - 1] === null) cells.pop()
          if (cells.length > 0) expected.push({ line: i + 2, cells: cells as Array<string | number | boolean | null> })
        })
        expect(await read(bytes, undefined, chunk)).toEqual(expected)
      }),
      { numRuns: 100 }
    )
  })
})
