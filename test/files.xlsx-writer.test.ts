/**
 * The streaming XLSX writer: the package's parts, well-formed XML, the header style, number formats,
 * column widths, frozen pane and autoFilter, escaping, validation, and backpressure on the sink.
 */
import { describe, expect, it } from "@effect/vitest"
import { strFromU8, unzipSync } from "fflate"
import { type ByteSink, type Column, FileAccessError, WorkbookError, type WritableCell, xlsxWriter } from "../src/platform/files/XlsxWriter.js"

/** A sink collecting the chunks; checks the writer never has two writes in flight. */
const memorySink = () => {
  const chunks: Array<Uint8Array> = []
  let inFlight = 0
  let maxInFlight = 0
  let closed = 0
  let aborted = 0
  const sink: ByteSink = Object.assign(
    async (chunk: Uint8Array) => {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      await new Promise((resolve) => setTimeout(resolve, 0))
      chunks.push(chunk.slice())
      inFlight--
    },
    {
      close: async () => {
        closed++
      },
      abort: async () => {
        aborted++
      }
    }
  )
  return {
    sink,
    files: () => {
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
      let at = 0
      for (const c of chunks) {
        all.set(c, at)
        at += c.length
      }
      return Object.fromEntries(Object.entries(unzipSync(all)).map(([name, bytes]) => [name, strFromU8(bytes)]))
    },
    stats: () => ({ chunks: chunks.length, maxInFlight, closed, aborted })
  }
}

/** A small well-formedness check: balanced tags, quoted attributes, no raw `<` or bare `&` in text. */
const wellFormed = (xml: string): boolean => {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, "")
  const stack: Array<string> = []
  const token = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g
  let m: RegExpExecArray | null
  let roots = 0
  while ((m = token.exec(body)) !== null) {
    if (m[6] !== undefined) return false
    if (m[5] !== undefined) {
      if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(m[5])) return false
      if (stack.length === 0 && m[5].trim() !== "") return false
      continue
    }
    const [, close, name, , selfClose] = m
    if (close === "/") {
      if (stack.pop() !== name) return false
    } else if (selfClose !== "/") {
      if (stack.length === 0) roots++
      stack.push(name as string)
    } else if (stack.length === 0) roots++
  }
  return stack.length === 0 && roots === 1
}

const COLUMNS: ReadonlyArray<Column> = [
  { header: "Mã hóa đơn" },
  { header: "Khách hàng", format: "text", width: 30 },
  { header: "Số lượng", format: "integer" },
  { header: "Doanh thu", format: "dong" },
  { header: "Tỷ lệ", format: "percent" },
  { header: "Ngày", format: "date" }
]

describe("xlsxWriter", () => {
  it("writes the minimal package, every part well-formed", async () => {
    const { files, sink, stats } = memorySink()
    const w = xlsxWriter(sink)
    await w.sheet("Doanh số", COLUMNS, [["INV1", "Nguyễn Thị Ánh", 3, 1_250_000n, 0.125, "2026-03-15"]])
    await w.sheet("Phiếu", [{ header: "x" }], (async function* () {
      yield [1]
    })())
    await w.close()
    const parts = files()
    expect(Object.keys(parts).sort()).toEqual([
      "[Content_Types].xml",
      "_rels/.rels",
      "docProps/app.xml",
      "xl/_rels/workbook.xml.rels",
      "xl/styles.xml",
      "xl/workbook.xml",
      "xl/worksheets/sheet1.xml",
      "xl/worksheets/sheet2.xml"
    ])
    for (const [name, xml] of Object.entries(parts)) expect(wellFormed(xml), name).toBe(true)
    expect(parts["[Content_Types].xml"]).toContain('PartName="/xl/worksheets/sheet2.xml"')
    expect(parts["xl/workbook.xml"]).toContain('<sheet name="Doanh số" sheetId="1" r:id="rId1"/>')
    expect(parts["xl/workbook.xml"]).toContain(
      `<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'Doanh số'!$A$1:$F$2</definedName>`
    )
    expect(stats()).toMatchObject({ maxInFlight: 1, closed: 1, aborted: 0 })
  })

  it("styles the header bold white on blue and defines the number formats", async () => {
    const { files, sink } = memorySink()
    const w = xlsxWriter(sink)
    await w.sheet("S", COLUMNS, [])
    await w.close()
    const styles = files()["xl/styles.xml"] as string
    expect(styles).toContain('<numFmt numFmtId="164" formatCode="#,##0 &quot;₫&quot;"/>')
    expect(styles).toContain('<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/>')
    expect(styles).toContain('<font><b/><sz val="11"/><color rgb="FFFFFFFF"/>')
    expect(styles).toContain('<patternFill patternType="solid"><fgColor rgb="FF1F4E79"/>')
    // cellXfs: 1 header (font 1, fill 2), 2 integer #,##0 (3), 3 dong (164), 4 percent 0.00% (10), 5 date (165)
    const xfs = [...(styles.split("<cellXfs")[1] as string).matchAll(/<xf numFmtId="(\d+)" fontId="(\d)" fillId="(\d)"/g)].map((m) => m.slice(1).join("/"))
    expect(xfs).toEqual(["0/0/0", "0/1/2", "3/0/0", "164/0/0", "10/0/0", "165/0/0", "49/0/0"])
  })

  it("writes the header row styled, sized cols, a frozen pane and an autoFilter over the rows", async () => {
    const { files, sink } = memorySink()
    const w = xlsxWriter(sink)
    await w.sheet("S", COLUMNS, [
      ["INV1", "Nguyễn Thị Ánh", 3, 1_250_000n, 0.125, "2026-03-15"],
      ["INV2", null, -2, -5000, 1, 46023],
      ["INV3", "", undefined, 0, null, null]
    ])
    await w.close()
    const sheet = files()["xl/worksheets/sheet1.xml"] as string
    expect(sheet).toContain('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>')
    expect(sheet).toContain('<col min="1" max="1" width="14" customWidth="1"/>')
    expect(sheet).toContain('<col min="2" max="2" width="30" customWidth="1"/>')
    expect(sheet).toContain('<c r="A1" t="inlineStr" s="1"><is><t xml:space="preserve">Mã hóa đơn</t></is></c>')
    expect(sheet).toContain('<c r="C2" s="2"><v>3</v></c><c r="D2" s="3"><v>1250000</v></c><c r="E2" s="4"><v>0.125</v></c><c r="F2" s="5"><v>46096</v></c>')
    expect(sheet).toContain('<row r="4"><c r="A4" t="inlineStr"><is><t>INV3</t></is></c><c r="D4" s="3"><v>0</v></c></row>')
    expect(sheet).toMatch(/<\/sheetData><autoFilter ref="A1:F4"\/><\/worksheet>$/)
  })

  it("escapes XML, drops characters XML 1.0 forbids, keeps CR and literal _xHHHH_", async () => {
    const { files, sink } = memorySink()
    const w = xlsxWriter(sink)
    await w.sheet("S", [{ header: "a<b>&\"c\"" }], [["x\u0001y\u0000\uFFFEz\uD800 <&> _x0041_ \r\n end "]])
    await w.close()
    const sheet = files()["xl/worksheets/sheet1.xml"] as string
    expect(wellFormed(sheet)).toBe(true)
    expect(sheet).toContain("<t xml:space=\"preserve\">a&lt;b&gt;&amp;&quot;c&quot;</t>")
    expect(sheet).toContain('<t xml:space="preserve">xyz &lt;&amp;&gt; _x005F_x0041_ &#13;\n end </t>')
  })

  it("writes integers exactly, bigints with all their digits, booleans as t=b", async () => {
    const { files, sink } = memorySink()
    const w = xlsxWriter(sink)
    await w.sheet("S", [{ header: "n", format: "integer" }, { header: "b" }], [[9_007_199_254_740_991, true], [123456789012345678901234567890n, false]])
    await w.close()
    const sheet = files()["xl/worksheets/sheet1.xml"] as string
    expect(sheet).toContain("<v>9007199254740991</v>")
    expect(sheet).toContain("<v>123456789012345678901234567890</v>")
    expect(sheet).toContain('<c r="B2" t="b"><v>1</v></c>')
  })

  const rejects = async (write: (w: ReturnType<typeof xlsxWriter>) => Promise<void>, reason: RegExp) => {
    const { sink, stats } = memorySink()
    const w = xlsxWriter(sink)
    const error = await write(w).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(WorkbookError)
    expect((error as WorkbookError).message).toMatch(reason)
    expect(stats().aborted).toBe(1)
    await expect(w.close()).rejects.toBeInstanceOf(WorkbookError)
  }

  it("refuses sheet names Excel refuses", async () => {
    for (const name of ["", "a".repeat(32), "a/b", "x[1]", "q?", "a:b", "a*", "back\\slash", "'quoted'", "History"])
      await rejects((w) => w.sheet(name, [{ header: "x" }], []), /sheet name/)
    await rejects(async (w) => {
      await w.sheet("Doanh số", [{ header: "x" }], [])
      await w.sheet("DOANH SỐ", [{ header: "x" }], [])
    }, /exists already/)
  })

  it("refuses numbers that are not finite and dates that are not days, naming the row", async () => {
    const bad: ReadonlyArray<ReadonlyArray<WritableCell>> = [[1], [Number.NaN]]
    await rejects((w) => w.sheet("S", [{ header: "x" }], bad), /^Sheet "S", row 3: column A: NaN is not a finite number/)
    await rejects((w) => w.sheet("S", [{ header: "d", format: "date" }], [["2026-02-30"]]), /row 2: column A: "2026-02-30" is not a YYYY-MM-DD day/)
  })

  it("reports a failing sink as a FileAccessError and passes the rows' own error through", async () => {
    const broken: ByteSink = async () => {
      throw new Error("disk full")
    }
    const w = xlsxWriter(broken)
    const error = await w.sheet("S", [{ header: "x" }], []).then(() => w.close()).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(FileAccessError)
    expect((error as FileAccessError).reason).toBe("disk full")
    const mine = new Error("the query failed")
    const { sink, stats } = memorySink()
    await expect(
      xlsxWriter(sink).sheet("S", [{ header: "x" }], (function* () {
        yield [1]
        throw mine
      })())
    ).rejects.toBe(mine)
    expect(stats().aborted).toBe(1)
  })

  it("refuses a workbook without sheets", async () => {
    await rejects((w) => w.close(), /at least one sheet/)
  })

  it("hands the sink chunks of about 64 KiB, one at a time, for a large sheet", async () => {
    const { sink, stats } = memorySink()
    const w = xlsxWriter(sink)
    // Random text does not compress: the archive is a few hundred KiB.
    let seed = 1
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648).toString(36)
    await w.sheet("S", [{ header: "a" }, { header: "b" }], Array.from({ length: 20_000 }, () => [random(), random()]))
    await w.close()
    expect(stats().chunks).toBeGreaterThan(3)
    expect(stats().maxInFlight).toBe(1)
  })
})
