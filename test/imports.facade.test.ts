/**
 * The imports through the Promise facade (SQLite): `c360.imports.run({ kind, path | stream })`
 * answers the report, `c360.imports.get(id)` the stored one; a path's extension picks the format;
 * progress after each batch; typed rejections (ImportNotFound, ImportHeaderInvalid, ValidationError).
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createCustomer360 } from "../src/index.js"
import { freshPhone } from "./contract/customers.js"

describe("imports through the Promise facade", () => {
  it("run({ kind, path }) and run({ kind, stream }) answer the report; get(id) the stored one; linked sales are purchases", async () => {
    const now = new Date("2026-12-01T03:00:00Z")
    const c360 = await createCustomer360({ database: { sqlite: { filename: ":memory:" } }, now: () => now })
    const dir = mkdtempSync(join(tmpdir(), "c360-imports-"))
    try {
      const phone = freshPhone()
      const customers = join(dir, "customers.csv")
      writeFileSync(customers, `\uFEFFvip_id;phone;vip_grade;registration_date\n777;${phone};VIP3;2025-01-01\n`)
      const first = await c360.imports.run({ kind: "customers", path: customers })
      expect(first).toMatchObject({ kind: "customers", format: "csv", status: "completed", lines: 1, created: 1, failed: [], failedCount: 0 })
      const progress: Array<number> = []
      const sales = new TextEncoder().encode(
        "invoice_number,shop_id,sales_date,vip_id,sales_amount\nF1,HN01,2026-06-30 23:30,777,\"2.000.000\"\nF2,HN01,2026-07-01,0,\"500.000\"\nF3,HN01,bad,0,1\n"
      )
      const report = await c360.imports.run({
        kind: "sales",
        stream: (async function*() {
          yield sales.subarray(0, 40)
          yield sales.subarray(40)
        })(),
        batchSize: 2,
        onProgress: (p) => void progress.push(p.lines)
      })
      expect(report).toMatchObject({ lines: 3, created: 2, failedCount: 1, failed: [{ line: 4, column: "sales_date", value: "bad" }] })
      expect(progress).toEqual([2, 3])
      expect(await c360.imports.get(report.id)).toMatchObject({ id: report.id, created: 2, failedCount: 1 })
      expect((await c360.purchases.get("pos:F1")).purchase.amount).toBe(2_000_000)
      expect((await c360.purchases.membership(phone)).totalSpent).toBe(2_000_000)
      expect((await c360.customers.getByPhone(phone)).source).toBe("import")

      await expect(c360.imports.get("imp_missing")).rejects.toMatchObject({ _tag: "ImportNotFound" })
      await expect(c360.imports.run({ kind: "sales", stream: (async function*() {
        yield new TextEncoder().encode("invoice_number\nX\n")
      })() })).rejects.toMatchObject({ _tag: "ImportHeaderInvalid" })
      await expect(c360.imports.run({ kind: "nope", path: customers })).rejects.toMatchObject({ _tag: "ValidationError" })
      await expect(c360.imports.run({ kind: "sales", path: join(dir, "missing.csv") })).rejects.toMatchObject({ _tag: "FileAccessError" })
    } finally {
      rmSync(dir, { recursive: true, force: true })
      await c360.close()
    }
  })
})
