/**
 * The retail analytics through the Promise facade (SQLite file): `c360.analytics.sales`,
 * `coupons`, `comparison` and `exportXlsx` (to a path and to a web stream), and their typed
 * rejections. The source tables are filled with plain SQL through a second connection to the same
 * file (the imports' and loyalty's tables, as their migrations made them).
 */
import Database from "better-sqlite3"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { fromBytes, fromPath } from "../src/platform/files/Source.js"
import { readXlsx } from "../src/platform/files/Xlsx.js"
import { createCustomer360 } from "../src/index.js"
import { EXPECTED_COUPONS, EXPECTED_SALES } from "./contract/analytics.js"

const rowsOf = async (source: AsyncIterable<Uint8Array>, sheet: string) => {
  const rows: Array<ReadonlyArray<unknown>> = []
  for await (const row of readXlsx(source, { sheet })) rows.push(row.cells)
  return rows
}

describe("retail analytics through the Promise facade", () => {
  it("sales, coupons, comparison and exportXlsx (path and stream) answer the views; bad options reject ValidationError", async () => {
    const dir = mkdtempSync(join(tmpdir(), "c360-analytics-"))
    const filename = join(dir, "c360.db")
    const c360 = await createCustomer360({ database: { sqlite: { filename } } })
    try {
      const db = new Database(filename)
      const book = "'test', 1, NULL, NULL, 0, 0"
      db.exec(`
        INSERT INTO c360_pos_vips (vip_id, vip_grade, registration_date) VALUES (1, 'VIP1', '2026-01-01'), (2, 'DIAMOND', '2026-08-01');
        INSERT INTO c360_pos_sales (invoice_number, shop_id, shop_group, sales_date, sales_at, season, vip_id, sales_amount,
          fingerprint, revision, import_id, line, created_at, updated_at) VALUES
          ('F1', 'HN01', 'HN', '2026-06-30', 0, 'SS2026', 1, 1000001, ${book}),
          ('F2', 'SG01', 'SG', '2026-07-01', 0, 'AW2026', 1, 2, ${book}),
          ('F3', 'SG01', 'SG', '2026-07-02', 0, 'AW2026', 0, 500, ${book});
        INSERT INTO c360_pos_coupons (coupon_id, face_value, used, begin_date, using_shop, shop_group, season, member_id,
          fingerprint, revision, import_id, line, created_at, updated_at) VALUES
          ('K1', 100000, 1, '2026-07-01', 'HN01', 'HN', 'AW2026', 1, ${book}),
          ('K2', 50000, 0, '2026-07-02', NULL, NULL, 'AW2026', 2, ${book});
        INSERT INTO c360_pos_customers (vip_id, phone_key, phone, phone_raw, name, vip_grade, registration_date, points,
          fingerprint, revision, import_id, line, created_at, updated_at) VALUES
          (1, '0912000111', '0912000111', '0912 000 111', 'An', 'VIP1', '2026-01-01', 5, ${book}),
          (2, 'bad', NULL, 'bad', 'Binh', 'DIAMOND', '2026-07-05', 7, ${book});
        INSERT INTO c360_loyalty_customers (cnv_id, last_name, first_name, phone_raw, phone, created_date, total_points, used_points)
          VALUES (77, 'Trần', 'Cúc', '0912000111', '0912000111', '2026-07-03', 10, 1);
      `)
      db.close()

      const sales = await c360.analytics.sales({ from: "2026-06-01", to: "2026-07-31" })
      expect(sales.total).toEqual({ salesAmount: 1_000_003, invoices: 2, customers: 1, conversion: 100, avgPerCustomer: 1_000_003, avgPerInvoice: 500_001 })
      expect(sales.nonVip).toEqual({ salesAmount: 500, invoices: 1 })
      expect(sales.bySeason.map((l) => [l.season, l.salesAmount])).toEqual([["SS2026", 1_000_001], ["AW2026", 2]])
      const coupons = await c360.analytics.coupons({ from: "2026-07-01", to: "2026-07-31", shopGroup: "HN" })
      expect(coupons.total).toEqual({ issued: 1, used: 1, usageRate: 100, faceValue: 100_000, usedValue: 100_000 })
      const cmp = await c360.analytics.comparison({ from: "2026-07-01", to: "2026-07-31" })
      expect(cmp.allTime).toEqual({
        pos: { customers: 2, matched: 1, only: 1, invalidPhones: 1 },
        loyalty: { customers: 1, matched: 1, only: 0, invalidPhones: 0 },
        phonesInBoth: 1
      })
      expect(cmp.posOnlyPeriod?.rows.map((r) => [r.vipId, r.phoneValid])).toEqual([[2, false]])

      const path = join(dir, "sales.xlsx")
      const written = await c360.analytics.exportXlsx({ view: "sales", from: "2026-06-01", to: "2026-07-31", path })
      expect(written.sheets.map((s) => s.name)).toEqual(["Overview", "By VIP Grade", "By Season", "By Shop Group", "Grade × Season"])
      expect((await rowsOf(fromPath(path), "By Season")).slice(1).map((r) => r.slice(0, 3))).toEqual([["SS2026", 1_000_001, 1], ["AW2026", 2, 1]])

      const chunks: Array<Uint8Array> = []
      await c360.analytics.exportXlsx({
        view: "comparison",
        stream: new WritableStream<Uint8Array>({ write: (c) => void chunks.push(c) })
      })
      const bytes = new Uint8Array(Buffer.concat(chunks))
      expect((await rowsOf(fromBytes(bytes), "POS Only - All Time")).slice(1).map((r) => [r[0], r[1], r[7]])).toEqual([[2, "bad", "not a valid phone"]])
      expect(readFileSync(path).subarray(0, 2).toString()).toBe("PK")

      await expect(c360.analytics.sales({ from: "2026-07-02", to: "2026-07-01" })).rejects.toMatchObject({ _tag: "ValidationError" })
      await expect(c360.analytics.coupons("2026" as never)).rejects.toMatchObject({ _tag: "ValidationError" })
      await expect(c360.analytics.comparison({ pageSize: 0 })).rejects.toMatchObject({ _tag: "ValidationError" })
      await expect(c360.analytics.exportXlsx({ view: "sales", from: "2026-06-01", to: "2026-07-31" } as never)).rejects.toMatchObject({
        _tag: "ValidationError"
      })
      // the hand-computed sets' shapes are the facade's too
      expect(Object.keys(sales).sort()).toEqual(Object.keys(EXPECTED_SALES).sort())
      expect(Object.keys(coupons).sort()).toEqual(Object.keys(EXPECTED_COUPONS).sort())
    } finally {
      await c360.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
