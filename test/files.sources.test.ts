/**
 * The byte sources and sinks: files through node:fs (written, read back, removed on failure) and web
 * streams, each way, with the readers and the writer.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, existsSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { FileAccessError, fromPath, fromWebStream, readCsv, type SheetRow } from "../src/platform/files/Csv.js"
import { readXlsx } from "../src/platform/files/Xlsx.js"
import { toPath, toWebStream, WorkbookError, xlsxWriter } from "../src/platform/files/XlsxWriter.js"

const collect = async (rows: AsyncIterable<SheetRow>): Promise<Array<SheetRow>> => {
  const all: Array<SheetRow> = []
  for await (const row of rows) all.push(row)
  return all
}

describe("sources and sinks", () => {
  it("writes a workbook to a path and reads it back from the path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "c360-files-"))
    try {
      const path = join(dir, "báo cáo.xlsx")
      const w = xlsxWriter(toPath(path))
      await w.sheet("Doanh số", [{ header: "Cửa hàng" }, { header: "Doanh thu", format: "dong" }], [["Hà Nội", 1_500_000n]])
      await w.close()
      expect(await collect(readXlsx(fromPath(path, { chunkSize: 64 })))).toEqual([
        { line: 1, cells: ["Cửa hàng", "Doanh thu"] },
        { line: 2, cells: ["Hà Nội", 1_500_000] }
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("removes the partial file when writing fails", async () => {
    const dir = mkdtempSync(join(tmpdir(), "c360-files-"))
    try {
      const path = join(dir, "broken.xlsx")
      const w = xlsxWriter(toPath(path))
      await w.sheet("A", [{ header: "x" }], [[1]])
      await expect(w.sheet("B", [{ header: "x" }], [[Number.POSITIVE_INFINITY]])).rejects.toBeInstanceOf(WorkbookError)
      expect(existsSync(path)).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("fails with a FileAccessError on a missing file", async () => {
    const error = await collect(readCsv(fromPath(join(tmpdir(), "c360-no-such-file.csv")))).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(FileAccessError)
    expect((error as FileAccessError).message).toMatch(/c360-no-such-file\.csv/)
  })

  it("writes a workbook to a web WritableStream and reads it from a web ReadableStream", async () => {
    const chunks: Array<Uint8Array> = []
    const stream = new WritableStream<Uint8Array>({ write: (chunk) => void chunks.push(chunk) }, { highWaterMark: 1 })
    const w = xlsxWriter(toWebStream(stream))
    await w.sheet("S", [{ header: "Tên" }], [["Lê Văn Lương"]])
    await w.close()
    const readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        for (const c of chunks) controller.enqueue(c)
        controller.close()
      }
    })
    expect(await collect(readXlsx(fromWebStream(readable)))).toEqual([
      { line: 1, cells: ["Tên"] },
      { line: 2, cells: ["Lê Văn Lương"] }
    ])
  })

  it("cancels a web stream when the reader stops early", async () => {
    let cancelled = false
    const encoder = new TextEncoder()
    const readable = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(encoder.encode("a,b\n")),
      cancel: () => {
        cancelled = true
      }
    })
    for await (const row of readCsv(fromWebStream(readable))) if (row.line === 3) break
    expect(cancelled).toBe(true)
  })
})
