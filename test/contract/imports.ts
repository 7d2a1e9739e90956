/**
 * The imports contract (DOMAIN §11, §11a, docs/imports.md), run against SQLite, SQLite with deferred
 * writes, PostgreSQL and D1 (imports.*.test.ts): per-row validation of every column type (empty,
 * malformed, each money and date form, bad phones and grades, duplicate keys inside one file) with
 * exact report counts; a re-import is a no-op (revisions and `updated_at` untouched); an edited row
 * is updated; POS customers linked to library customers (source `import`) and their VIPs kept; sales
 * of linked VIPs recorded as purchases `pos:<invoice>` (vip id 0 not linked, a blacklisted customer's
 * sale kept without a purchase); coupons; a mapping; a header without a required column writes
 * nothing; progress per batch; a crash mid-import and its re-run; XLSX input; the merge part.
 *
 * The suite's database is shared by its tests; each test uses invoice numbers, vip ids and phones of
 * its own.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { Customers } from "../../src/customers/Customers.js"
import { Imports, type ImportInput } from "../../src/imports/Imports.js"
import { fromBytes } from "../../src/platform/files/Source.js"
import { Purchases } from "../../src/purchases/Purchases.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { workbook } from "../fixtures/imports/workbook.js"
import { freshPhone, servicesOver } from "./customers.js"

const NOW = Date.UTC(2026, 11, 1, 3) // 10:00 on 1 December 2026 in Hanoi

let counter = Math.floor(Math.random() * 100_000)
/** A prefix no other test (or run) uses, for invoice numbers and coupon ids. */
const fresh = (what: string) => `${what}${Date.now().toString(36)}${(counter++).toString(36)}`.toUpperCase()
/** A vip id no other test uses. */
const freshVip = () => 1_000_000 + Math.floor(Math.random() * 1_000_000_000)

const bytes = (text: string) => new TextEncoder().encode(text)
const csv = (lines: ReadonlyArray<string>) => fromBytes(bytes(lines.join("\r\n") + "\r\n"), 7)

const run = (input: ImportInput) => Effect.flatMap(Imports, (i) => i.run(input))

const rows = (query: string, ...params: ReadonlyArray<unknown>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<Record<string, unknown>>(query, params as Array<unknown>)).pipe(Effect.orDie)
const num = (v: unknown) => (v === null ? null : Number(v))

const SALES_HEADER = "invoice_number,shop_id,shop_name,country,bu,sales_date,vip_id,vip_name,quantity,settlement_amount,sales_amount,tag_amount,per_customer_transaction,discount,rounding"
const CUSTOMERS_HEADER = "vip_id,id_number,birthday_month,vip_grade,name,phone,race,gender,birthday,city_state,postal_code,country,email,contact_address,registration_store,registration_date,points"
const COUPONS_HEADER = "department,creator,document_number,coupon_id,face_value,used,begin_date,end_date,using_shop,using_date,push,member_id,member_name,member_phone,docket_number"

const sale = (invoice: string, o: { day?: string; vip?: number; amount?: string; shop?: string } = {}) =>
  `${invoice},${o.shop ?? "HN01"},Shop,VN,BU1,${o.day ?? "2026-06-30"},${o.vip ?? 0},Khách,1,${o.amount ?? "100000"},${o.amount ?? "100000"},0,0,0,0`

export const importsContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly small?: boolean } = {}
) =>
  layer(servicesOver(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("sales: every money and date form, each failure with its line, column, value and reason; exact counts; Hanoi season edges", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const p = fresh("S")
        const report = yield* run({
          kind: "sales",
          stream: csv([
            SALES_HEADER,
            `${p}1,HN01,Shop,VN,BU1,2026-06-30 23:30,0,A,2,"1.234.000","1.234.000",0,0,0,0`,
            `${p}2,HN01,Shop,VN,BU1,2026-06-30T17:10:00Z,0,A,1,"1,234,000","1,234,000",0,0,0,0`,
            `${p}3,SG02,Shop,VN,BU1,01/07/2026,0,A,1,1234000.00,1234000.00,0,0,-5.000,0`,
            `${p}4,SG02,Shop,VN,BU1,2026-07-01,0,A,1,"1.234.000,00","1.234.000,00",0,0,0,0`,
            `${p}5,SG02,Shop,VN,BU1,2026-07-01,0,A,1,100,"1.234,50",0,0,0,0`,
            `${p}6,SG02,Shop,VN,BU1,2026-13-01,0,A,1,100,100,0,0,0,0`,
            `${p}7,SG02,Shop,VN,BU1,,0,A,1,100,100,0,0,0,0`,
            `${p}8,SG02,Shop,VN,BU1,2026-07-01,x,A,1,100,100,0,0,0,0`,
            `${p}9,SG02,Shop,VN,BU1,2026-07-01,0,A,1.5,100,100,0,0,0,0`,
            `${p}1,SG02,Shop,VN,BU1,2026-07-01,0,A,1,100,100,0,0,0,0`,
            `${p}10,SG02,Shop,VN,BU1,2026-07-01,0,A,1,100,abc,0,0,0,0`,
            `${p}11,,Shop,VN,BU1,2026-07-01,0,A,1,100,100,0,0,0,0`,
            `${p}12,SG02,Shop,VN,BU1,2026-07-01T00:10:00+07:00,0,A,1,-100,-100,0,0,0,0`
          ]),
          batchSize: 4
        })
        expect(report).toMatchObject({ kind: "sales", format: "csv", status: "completed", lines: 13, created: 5, updated: 0, unchanged: 0, failedCount: 8 })
        expect(report.failed).toEqual([
          { line: 6, column: "sales_amount", value: "1.234,50", reason: "has a fraction of a đồng" },
          { line: 7, column: "sales_date", value: "2026-13-01", reason: "is not a date of the calendar" },
          { line: 8, column: "sales_date", value: "", reason: "is required" },
          { line: 9, column: "vip_id", value: "x", reason: "is not a non-negative whole number" },
          { line: 10, column: "quantity", value: "1.5", reason: "is not a whole number" },
          { line: 11, column: null, value: `${p}1`, reason: "duplicate key, first on line 2" },
          { line: 12, column: "sales_amount", value: "abc", reason: "is not an amount of đồng" },
          { line: 13, column: "shop_id", value: "", reason: "is required" }
        ])
        const stored = yield* rows(
          `SELECT invoice_number, sales_date, sales_at, season, shop_group, sales_amount, discount, quantity, revision, import_id, line
           FROM c360_pos_sales WHERE invoice_number LIKE '${p}%' ORDER BY line`
        )
        expect(stored.map((r) => [r.invoice_number, r.sales_date, r.season, r.shop_group, num(r.sales_amount), num(r.line)])).toEqual([
          [`${p}1`, "2026-06-30", "SS2026", "HN", 1_234_000, 2],
          [`${p}2`, "2026-07-01", "AW2026", "HN", 1_234_000, 3],
          [`${p}3`, "2026-07-01", "AW2026", "SG", 1_234_000, 4],
          [`${p}4`, "2026-07-01", "AW2026", "SG", 1_234_000, 5],
          [`${p}12`, "2026-07-01", "AW2026", "SG", -100, 14]
        ])
        expect(num(stored[0]!.sales_at)).toBe(Date.UTC(2026, 5, 30, 16, 30))
        expect(num(stored[2]!.sales_at)).toBe(Date.UTC(2026, 5, 30, 17)) // the day's start in Hanoi
        expect(num(stored[2]!.discount)).toBe(-5000)
        expect(stored.every((r) => num(r.revision) === 1 && r.import_id === report.id)).toBe(true)
        // the stored report is the same
        const again = yield* Effect.flatMap(Imports, (i) => i.get(report.id))
        expect({ ...again, startedAt: null, finishedAt: null }).toEqual({ ...report, startedAt: null, finishedAt: null })
      }))

    it.effect("a re-import of the same file is a no-op (unchanged = every row, nothing written); an edited row is updated; the newest import wins", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const p = fresh("R")
        const file = [SALES_HEADER, sale(`${p}1`), sale(`${p}2`), sale(`${p}3`, { amount: "300.000" })]
        const first = yield* run({ kind: "sales", stream: csv(file) })
        expect(first).toMatchObject({ lines: 3, created: 3, updated: 0, unchanged: 0, failedCount: 0 })
        const before = yield* rows(`SELECT invoice_number, revision, updated_at, import_id FROM c360_pos_sales WHERE invoice_number LIKE '${p}%' ORDER BY invoice_number`)
        yield* TestClock.setTime(NOW + 60_000)
        const second = yield* run({ kind: "sales", stream: csv(file) })
        expect(second).toMatchObject({ lines: 3, created: 0, updated: 0, unchanged: 3, failedCount: 0, status: "completed" })
        const after = yield* rows(`SELECT invoice_number, revision, updated_at, import_id FROM c360_pos_sales WHERE invoice_number LIKE '${p}%' ORDER BY invoice_number`)
        expect(after).toEqual(before)
        yield* TestClock.setTime(NOW + 120_000)
        const third = yield* run({ kind: "sales", stream: csv([SALES_HEADER, sale(`${p}1`), sale(`${p}2`, { amount: "250.000" }), sale(`${p}4`)]) })
        expect(third).toMatchObject({ lines: 3, created: 1, updated: 1, unchanged: 1 })
        const edited = yield* rows(`SELECT sales_amount, revision, updated_at, import_id FROM c360_pos_sales WHERE invoice_number = '${p}2'`)
        expect(edited.map((r) => [num(r.sales_amount), num(r.revision), num(r.updated_at), r.import_id])).toEqual([[250_000, 2, NOW + 120_000, third.id]])
      }))

    it.effect("customers: linked to the library's customer of the phone (created with source import), a bad phone stored without a link, VIPs kept (the latest row of a vip id wins), a bad grade or month reported", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const [a, b, c] = [freshPhone(), freshPhone(), freshPhone()]
        const [va, vb] = [freshVip(), freshVip()]
        const existing = yield* Effect.flatMap(Customers, (cs) => cs.create({ phone: c, name: "Đã có" }))
        const report = yield* run({
          kind: "customers",
          stream: csv([
            CUSTOMERS_HEADER,
            `${va},ID1,2,vip1,Nguyễn An,+84 ${a.slice(1)},Kinh,F,1990-02-01,HN,100000,VN,a@x.vn,Addr,HN01,2025-01-15,"1.200"`,
            `${va},ID1,2,VIP2,Nguyễn An,${b},Kinh,F,1990-02-01,HN,100000,VN,a@x.vn,Addr,HN01,2025-03-15,0`,
            `${vb},ID2,13,VIP1,Lê Bình,${c},Kinh,M,,HN,,VN,,,HN01,2025-02-01,0`,
            `${vb},ID2,3,GOLD,Lê Bình,${c},Kinh,M,,HN,,VN,,,HN01,2025-02-01,0`,
            `${vb},ID2,3,DIAMOND,Lê Bình,${c},Kinh,M,,HN,,VN,,,HN01,02/02/2025,0`,
            `0,,,,Vãng lai,12345,,,,,,,,,,,`,
            `${va},,,,,,,,,,,,,,,,`
          ])
        })
        expect(report).toMatchObject({ lines: 7, created: 4, updated: 0, unchanged: 0, failedCount: 3 })
        expect(report.failed.map((f) => [f.line, f.column, f.value, f.reason])).toEqual([
          [4, "birthday_month", "13", "must be at most 12"],
          [5, "vip_grade", "GOLD", "is not a VIP grade (VIP0, VIP1, VIP2, VIP3, DIAMOND)"],
          [8, "phone", "", "is required"]
        ])
        const stored = yield* rows(`SELECT vip_id, phone_key, phone, phone_raw, vip_grade, points, customer_id, registration_date
          FROM c360_pos_customers WHERE vip_id IN (${va}, ${vb}, 0) AND (vip_id <> 0 OR phone_raw = '12345') ORDER BY vip_id, line`)
        const byPhone = (phone: string) => Effect.flatMap(Customers, (cs) => cs.getByPhone(phone))
        const A = yield* byPhone(a)
        const B = yield* byPhone(b)
        expect(A.source).toBe("import")
        expect(A.name).toBe("Nguyễn An")
        expect(stored.map((r) => [num(r.vip_id), r.phone_key, r.phone, r.vip_grade, num(r.points), r.customer_id, r.registration_date])).toEqual([
          [0, "12345", null, null, null, null, null],
          [va, a, a, "VIP1", 1200, A.id, "2025-01-15"],
          [va, b, b, "VIP2", 0, B.id, "2025-03-15"],
          [vb, c, c, "DIAMOND", 0, existing.id, "2025-02-02"]
        ].sort((x, y) => Number(x[0]) - Number(y[0])))
        expect(stored.find((r) => r.phone_raw === `+84 ${a.slice(1)}`)).toBeDefined()
        const vips = yield* rows(`SELECT vip_id, vip_grade, registration_date, phone, customer_id FROM c360_pos_vips WHERE vip_id IN (${va}, ${vb}) ORDER BY vip_id`)
        expect(vips.map((r) => [num(r.vip_id), r.vip_grade, r.registration_date, r.phone, r.customer_id])).toEqual([
          [va, "VIP2", "2025-03-15", b, B.id],
          [vb, "DIAMOND", "2025-02-02", c, existing.id]
        ].sort((x, y) => Number(x[0]) - Number(y[0])))
        // the same file again: nothing written, no customer created
        const again = yield* run({
          kind: "customers",
          stream: csv([
            CUSTOMERS_HEADER,
            `${va},ID1,2,vip1,Nguyễn An,+84 ${a.slice(1)},Kinh,F,1990-02-01,HN,100000,VN,a@x.vn,Addr,HN01,2025-01-15,"1.200"`,
            `${va},ID1,2,VIP2,Nguyễn An,${b},Kinh,F,1990-02-01,HN,100000,VN,a@x.vn,Addr,HN01,2025-03-15,0`
          ])
        })
        expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 2 })
      }))

    it.effect("sales of a linked VIP are purchases pos:<invoice> (membership and totals see them, recorded once); vip id 0 is not linked; a blacklisted customer's sale is kept without a purchase", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const [a, k] = [freshPhone(), freshPhone()]
        const [va, vk] = [freshVip(), freshVip()]
        yield* run({
          kind: "customers",
          stream: csv([CUSTOMERS_HEADER, `${va},,,VIP1,An,${a},,,,,,,,,,2025-01-01,`, `${vk},,,VIP2,Khoa,${k},,,,,,,,,,2025-01-01,`])
        })
        const K = yield* Effect.flatMap(Customers, (cs) => cs.getByPhone(k))
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE c360_customers SET tier = 'blacklist' WHERE id = ${K.id}`).pipe(Effect.orDie)
        const p = fresh("P")
        const file = [
          SALES_HEADER,
          sale(`${p}1`, { vip: va, amount: "1.500.000", day: "2026-06-30 23:30" }),
          sale(`${p}2`, { vip: va, amount: "500.000", day: "2026-07-02" }),
          sale(`${p}3`, { vip: 0, amount: "700.000" }),
          sale(`${p}4`, { vip: vk, amount: "900.000" }),
          sale(`${p}5`, { vip: va, amount: "-200.000" })
        ]
        const report = yield* run({ kind: "sales", stream: csv(file) })
        expect(report).toMatchObject({ created: 5, failedCount: 0 })
        const stored = yield* rows(`SELECT invoice_number, customer_id, purchase_reference FROM c360_pos_sales WHERE invoice_number LIKE '${p}%' ORDER BY invoice_number`)
        const A = yield* Effect.flatMap(Customers, (cs) => cs.getByPhone(a))
        expect(stored.map((r) => [r.invoice_number, r.customer_id, r.purchase_reference])).toEqual([
          [`${p}1`, A.id, `pos:${p}1`],
          [`${p}2`, A.id, `pos:${p}2`],
          [`${p}3`, null, null],
          [`${p}4`, K.id, null],
          [`${p}5`, A.id, null]
        ])
        const purchases = yield* Purchases
        const first = yield* purchases.get(`pos:${p}1`)
        expect(first.purchase).toMatchObject({ customerId: A.id, amount: 1_500_000, shopId: "HN01" })
        expect(first.purchase.at.getTime()).toBe(Date.UTC(2026, 5, 30, 16, 30))
        const membership = yield* purchases.membership(a)
        expect(membership.totalSpent).toBe(2_000_000)
        expect((yield* Effect.flatMap(Customers, (cs) => cs.getByPhone(a))).totalOrders).toBe(2)
        // re-imported with another amount: the sale is updated, the purchase stays as recorded
        const again = yield* run({ kind: "sales", stream: csv([SALES_HEADER, sale(`${p}1`, { vip: va, amount: "1.600.000", day: "2026-06-30 23:30" }), ...file.slice(2)]) })
        expect(again).toMatchObject({ created: 0, updated: 1, unchanged: 4 })
        expect((yield* purchases.get(`pos:${p}1`)).purchase.amount).toBe(1_500_000)
        expect((yield* purchases.membership(a)).totalSpent).toBe(2_000_000)
      }))

    // D1 (small): the deferred-SQLite runner has its semantics; these two run there
    it.effect.skipIf(options.small === true)("a sale imported before its VIP's customer is linked when the sales are imported again", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const a = freshPhone()
        const va = freshVip()
        const p = fresh("L")
        const file = [SALES_HEADER, sale(`${p}1`, { vip: va, amount: "400.000" })]
        expect(yield* run({ kind: "sales", stream: csv(file) })).toMatchObject({ created: 1 })
        yield* run({ kind: "customers", stream: csv([CUSTOMERS_HEADER, `${va},,,VIP0,An,${a},,,,,,,,,,2025-01-01,`]) })
        expect(yield* run({ kind: "sales", stream: csv(file) })).toMatchObject({ created: 0, updated: 1, unchanged: 0 })
        expect((yield* Effect.flatMap(Purchases, (ps) => ps.membership(a))).totalSpent).toBe(400_000)
        expect(yield* run({ kind: "sales", stream: csv(file) })).toMatchObject({ created: 0, updated: 0, unchanged: 1 })
      }))

    it.effect.skipIf(options.small === true)("coupons: face value, used, dates, season and shop group, member phone kept raw and canonical; a negative face value or a used that is not 0/1 reported", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const p = fresh("C")
        const m = freshPhone()
        const report = yield* run({
          kind: "coupons",
          stream: csv([
            COUPONS_HEADER,
            `D1,me,DOC1,${p}1,"50.000",1,2026-07-01,2026-07-31,HN01,05/07/2026,push,123,Mai,${m.slice(0, 4)} ${m.slice(4)},K1`,
            `D1,me,DOC1,${p}2,50000,0,2026-01-01,,,,,,,not a phone,`,
            `D1,me,DOC1,${p}3,-1,0,2026-01-01,,,,,,,,`,
            `D1,me,DOC1,${p}4,1,2,2026-01-01,,,,,,,,`
          ])
        })
        expect(report).toMatchObject({ created: 2, failedCount: 2 })
        expect(report.failed.map((f) => [f.line, f.column, f.reason])).toEqual([
          [4, "face_value", "must not be negative"],
          [5, "used", "is not 0 or 1"]
        ])
        const stored = yield* rows(`SELECT coupon_id, face_value, used, season, shop_group, using_date, member_id, member_phone_raw, member_phone
          FROM c360_pos_coupons WHERE coupon_id LIKE '${p}%' ORDER BY coupon_id`)
        expect(stored.map((r) => [r.coupon_id, num(r.face_value), num(r.used), r.season, r.shop_group, r.using_date, num(r.member_id), r.member_phone_raw, r.member_phone])).toEqual([
          [`${p}1`, 50_000, 1, "AW2026", "HN", "2026-07-05", 123, `${m.slice(0, 4)} ${m.slice(4)}`, m],
          [`${p}2`, 50_000, 0, "SS2026", null, null, null, "not a phone", null]
        ])
      }))

    it.effect("a header without a required column fails the import before anything is written; a mapping names the file's headers (trimmed, any case)", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const before = yield* rows("SELECT count(*) AS n FROM c360_imports")
        const p = fresh("H")
        const error = yield* Effect.flip(run({ kind: "sales", stream: csv(["invoice_number,shop_id,sales_date,vip_id", `${p}1,HN01,2026-01-01,0`]) }))
        expect(error).toMatchObject({ _tag: "ImportHeaderInvalid", missing: ["sales_amount"] })
        expect(yield* rows("SELECT count(*) AS n FROM c360_imports")).toEqual(before)
        expect(yield* rows(`SELECT count(*) AS n FROM c360_pos_sales WHERE invoice_number LIKE '${p}%'`)).toEqual([{ n: expect.anything() }])
        const mapped = yield* run({
          kind: "sales",
          stream: csv([" Số HĐ ;SHOP_ID;Ngày;vip_id;Doanh thu", `${p}1;HN01;2026-01-01;0;"10.000"`]),
          mapping: { invoice_number: "số hđ", sales_date: "NGÀY", sales_amount: "doanh thu" }
        })
        expect(mapped).toMatchObject({ created: 1, failedCount: 0 })
        const bad = yield* Effect.flip(run({ kind: "sales", stream: csv([SALES_HEADER]), mapping: { nope: "x" } }))
        expect(bad._tag).toBe("ImportHeaderInvalid")
        const badKind = yield* Effect.flip(run({ kind: "orders", stream: csv([SALES_HEADER]) }))
        expect(badKind._tag).toBe("ValidationError")
      }))

    it.effect("progress is reported after each batch; a crash mid-import leaves whole batches, the run failed, and a re-run completes it with every row once", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const p = fresh("X")
        const n = options.small === true ? 12 : 50
        const file = [SALES_HEADER, ...Array.from({ length: n }, (_, i) => sale(`${p}${i}`, { amount: String((i + 1) * 1000) }))]
        const seen: Array<number> = []
        const crash = yield* Effect.flip(run({
          kind: "sales",
          stream: csv(file),
          batchSize: 5,
          onProgress: (progress) => {
            seen.push(progress.lines)
            if (seen.length === 2) throw new Error("the machine went down")
          }
        }))
        expect(crash).toMatchObject({ _tag: "ImportAborted" })
        expect(seen).toEqual([5, 10])
        const written = yield* rows(`SELECT count(*) AS n FROM c360_pos_sales WHERE invoice_number LIKE '${p}%'`)
        expect(num(written[0]!.n)).toBe(10)
        const failedRun = yield* rows(`SELECT status, error, lines, created FROM c360_imports WHERE id = (SELECT import_id FROM c360_pos_sales WHERE invoice_number = '${p}0')`)
        expect(failedRun.map((r) => [r.status, num(r.lines), num(r.created)])).toEqual([["failed", 10, 10]])
        expect(String(failedRun[0]!.error)).toContain("the machine went down")
        const progress: Array<number> = []
        const rerun = yield* run({ kind: "sales", stream: csv(file), batchSize: 5, onProgress: (x) => void progress.push(x.lines) })
        expect(rerun).toMatchObject({ status: "completed", lines: n, created: n - 10, updated: 0, unchanged: 10, failedCount: 0 })
        expect(progress).toEqual(Array.from({ length: n / 5 }, (_, i) => (i + 1) * 5).concat(n % 5 === 0 ? [] : [n]))
        const all = yield* rows(`SELECT count(*) AS n, sum(sales_amount) AS s FROM c360_pos_sales WHERE invoice_number LIKE '${p}%'`)
        expect([num(all[0]!.n), num(all[0]!.s)]).toEqual([n, (n * (n + 1) / 2) * 1000])
      }))

    it.effect("XLSX input: dates as Excel serials, money and vip ids as numbers, a phone stored as a number; the format from the first bytes", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const p = fresh("W")
        const a = freshPhone()
        const va = freshVip()
        const customers = yield* Effect.promise(() =>
          workbook(["vip_id", "phone", "vip_grade", "registration_date", "points"], [[va, Number(a), "VIP2", 45658, 1200]])
        )
        const linked = yield* run({ kind: "customers", stream: fromBytes(customers, 100) })
        expect(linked).toMatchObject({ format: "xlsx", created: 1, failedCount: 0 })
        const stored = yield* rows(`SELECT phone, phone_raw, registration_date, points FROM c360_pos_customers WHERE vip_id = ${va}`)
        expect(stored.map((r) => [r.phone, r.phone_raw, r.registration_date, num(r.points)])).toEqual([[a, a, "2025-01-01", 1200]])
        const sales = yield* Effect.promise(() =>
          workbook(["invoice_number", "shop_id", "sales_date", "vip_id", "sales_amount", "discount"], [
            [`${p}1`, "HN01", 46203.979166666664, va, 1_234_000, -5000],
            [`${p}2`, "SG02", "2026-07-01", 0, "1.000", null],
            [`${p}3`, "SG02", 46204, 0, 1234.5, null]
          ])
        )
        const report = yield* run({ kind: "sales", stream: fromBytes(sales, 64) })
        expect(report).toMatchObject({ format: "xlsx", lines: 3, created: 2, failedCount: 1 })
        expect(report.failed).toEqual([{ line: 4, column: "sales_amount", value: "1234.5", reason: "has a fraction of a đồng" }])
        const written = yield* rows(`SELECT invoice_number, sales_date, sales_at, season, sales_amount, discount, purchase_reference
          FROM c360_pos_sales WHERE invoice_number LIKE '${p}%' ORDER BY invoice_number`)
        expect(written.map((r) => [r.invoice_number, r.sales_date, num(r.sales_at), r.season, num(r.sales_amount), num(r.discount), r.purchase_reference])).toEqual([
          [`${p}1`, "2026-06-30", Date.UTC(2026, 5, 30, 16, 30), "SS2026", 1_234_000, -5000, `pos:${p}1`],
          [`${p}2`, "2026-07-01", Date.UTC(2026, 5, 30, 17), "AW2026", 1000, null, null]
        ])
      }))

    it.effect("a batch that fails at the database is retried row by row: the failing row is reported (nothing of it written), the others are written", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const p = fresh("F")
        const sql = yield* SqlClient.SqlClient
        // the database refuses one invoice (a trigger stands for any failure validation cannot see)
        yield* sql.onDialectOrElse({
          pg: () =>
            Effect.zipRight(
              sql.unsafe(`CREATE FUNCTION c360_test_refuse_${p.toLowerCase()}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'refused by the database'; END $$`),
              sql.unsafe(`CREATE TRIGGER c360_test_refuse_${p.toLowerCase()} BEFORE INSERT ON c360_pos_sales FOR EACH ROW
                WHEN (NEW.invoice_number = '${p}2') EXECUTE FUNCTION c360_test_refuse_${p.toLowerCase()}()`)
            ),
          orElse: () =>
            sql.unsafe(`CREATE TRIGGER c360_test_refuse_${p.toLowerCase()} BEFORE INSERT ON c360_pos_sales
              WHEN NEW.invoice_number = '${p}2' BEGIN SELECT RAISE(ABORT, 'refused by the database'); END`)
        }).pipe(Effect.orDie)
        const report = yield* run({ kind: "sales", stream: csv([SALES_HEADER, sale(`${p}1`), sale(`${p}2`), sale(`${p}3`)]) })
        expect(report).toMatchObject({ lines: 3, created: 2, updated: 0, unchanged: 0, failedCount: 1 })
        expect(report.failed).toEqual([{ line: 3, column: null, value: null, reason: expect.any(String) }])
        const stored = yield* rows(`SELECT invoice_number FROM c360_pos_sales WHERE invoice_number LIKE '${p}%' ORDER BY invoice_number`)
        expect(stored.map((r) => r.invoice_number)).toEqual([`${p}1`, `${p}3`])
        yield* sql.unsafe(`DROP TRIGGER c360_test_refuse_${p.toLowerCase()}${sql.onDialectOrElse({ pg: () => " ON c360_pos_sales", orElse: () => "" })}`).pipe(Effect.orDie)
      }))

    it.effect("a merge moves the merged profile's POS customers, VIPs and sales to the survivor, journaled", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW)
        const [a, b] = [freshPhone(), freshPhone()]
        const va = freshVip()
        yield* run({ kind: "customers", stream: csv([CUSTOMERS_HEADER, `${va},,,VIP1,An,${a},,,,,,,,,,2025-01-01,`]) })
        const p = fresh("M")
        yield* run({ kind: "sales", stream: csv([SALES_HEADER, sale(`${p}1`, { vip: va, amount: "100.000" })]) })
        const customers = yield* Customers
        const merged = yield* customers.getByPhone(a)
        const survivor = yield* customers.create({ phone: b, name: "Survivor" })
        const result = yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false })
        expect(result.moved[0]!.parts.imports).toEqual({ posCustomers: 1, vips: 1, sales: 1 })
        const linked = yield* rows(`SELECT
          (SELECT customer_id FROM c360_pos_customers WHERE vip_id = ${va}) AS c,
          (SELECT customer_id FROM c360_pos_vips WHERE vip_id = ${va}) AS v,
          (SELECT customer_id FROM c360_pos_sales WHERE invoice_number = '${p}1') AS s`)
        expect(linked).toEqual([{ c: survivor.id, v: survivor.id, s: survivor.id }])
        const journal = yield* rows(`SELECT table_name, row_id FROM c360_merge_rows WHERE part = 'imports' AND from_customer = '${merged.id}' ORDER BY table_name`)
        expect(journal.map((r) => [r.table_name, r.row_id])).toEqual([
          ["c360_pos_customers", `${va}:${a}`],
          ["c360_pos_sales", `${p}1`],
          ["c360_pos_vips", String(va)]
        ])
        // re-importing after the merge is still a no-op
        expect(yield* run({ kind: "customers", stream: csv([CUSTOMERS_HEADER, `${va},,,VIP1,An,${a},,,,,,,,,,2025-01-01,`]) })).toMatchObject({ unchanged: 1 })
        expect(yield* run({ kind: "sales", stream: csv([SALES_HEADER, sale(`${p}1`, { vip: va, amount: "100.000" })]) })).toMatchObject({ unchanged: 1 })
      }))
  })
