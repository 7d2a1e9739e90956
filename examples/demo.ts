/**
 * `npm run demo`: starts the Express host on an embedded SQLite file with a few demo customers —
 * money in their wallets, a ticket with its BOOM credit, a note, a bank transfer matched by the
 * customer's payment code, purchases (points, membership, RFM) and a return — and prints the URL, a development token per role, the SePay webhook
 * key, and `curl` lines to try every module: the 360 view, a deposit, a ticket, a webhook delivery,
 * the timeline, the customer's payment QR, a purchase, a return, the RFM scores, statistics, the
 * fraud rules, a login linked to its walk-in profile by an SMS code, a merged duplicate, POS imports
 * (customers, sales, coupons), the sales, coupon and comparison analytics and a workbook, a loyalty
 * sync, live events.
 *
 * - `PORT` (default 3000; `0` picks a free port), `C360_DEMO_DB` (default `.data/demo.sqlite`).
 * - The tokens and the webhook key are random per run unless `C360_TOKENS` / `C360_SEPAY_API_KEY`
 *   are set. They are for development only.
 * Stop it with Ctrl-C: requests in flight finish, the database is closed.
 */
import { randomBytes } from "node:crypto"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { createCustomer360, Loyalty, type Loyalty as LoyaltyTypes } from "../src/index.js"
import { createApp } from "./express/app.js"

const filename = process.env.C360_DEMO_DB ?? ".data/demo.sqlite"
if (filename !== ":memory:") mkdirSync(dirname(filename), { recursive: true })
const token = (role: string) => `dev-${role}-${randomBytes(9).toString("base64url")}`
const tokens = process.env.C360_TOKENS ?? `${token("manager")}:manager,${token("staff")}:staff,${token("viewer")}:viewer`
const transfers = {
  sepayApiKey: process.env.C360_SEPAY_API_KEY ?? `dev-sepay-${randomBytes(12).toString("base64url")}`,
  bankBin: process.env.C360_BANK_BIN ?? "970422",
  bankAccount: process.env.C360_BANK_ACCOUNT ?? "0001234567890",
  shopPhones: (process.env.C360_SHOP_PHONES ?? "028 3812 0000").split(",")
}

// A few demo customers, created once (getOrCreate: a second run finds them), with some money.
// The seed's e-mails and text messages are kept here (the demo reads the verification token and the
// link code back); the server's go to the console.
const mails: Array<{ readonly token: string }> = []
const texts: Array<{ readonly code: string }> = []
// The shop's loyalty program, in process (a real host passes `loyalty: { cnv: { token } }`): three
// members — one also a POS customer, one only in the program, one with a phone that is not one.
const member = (id: number, lastName: string, phone: string, createdAt: string): LoyaltyTypes.LoyaltyCustomerRecord => ({
  id, lastName, firstName: null, phone, email: null, gender: null, birthdayDay: null, birthdayMonth: null,
  birthdayYear: null, tags: null, physicalCardCode: null, points: 1200, expPoints: 0, totalSpending: 0,
  totalPoints: 1200, createdAt: Date.parse(createdAt), updatedAt: Date.parse(createdAt)
})
const loyaltyProgram: LoyaltyTypes.LoyaltySourcePromises = {
  customersUpdatedSince: async ({ since }) => ({
    customers: [
      member(35_577_245, "Phạm Thu Hà", "0338 336 011", "2026-06-23T08:51:26Z"),
      member(35_577_301, "Võ Minh Khang", "0977 000 123", "2026-07-02T03:00:00Z"),
      member(35_577_302, "Khách lỗi số", "12345", "2026-07-03T03:00:00Z")
    ].filter((c) => c.updatedAt >= since),
    hasMore: false
  }),
  membership: async () => ({ levelName: "Gold", totalPoints: 1200, points: 1200, usedPoints: 0 })
}
const seed = await createCustomer360({
  database: { sqlite: { filename } },
  loyalty: { source: loyaltyProgram },
  transfers,
  mailer: { send: async (m) => void mails.push(m) },
  sms: { send: async (m) => void texts.push(m) }
})
const people = [
  { phone: "0912 345 678", name: "Nguyễn Văn An", deposit: 500_000 },
  { phone: "+84 98 888 8888", name: "Trần Thị Bích", deposit: 1_200_000 },
  { phone: "0283 812 3456", name: "Cửa hàng Lê Đức", deposit: 0 }
]
for (const p of people) {
  const { customer } = await seed.customers.getOrCreate({ phone: p.phone, name: p.name, source: "customer_hub" })
  if (p.deposit > 0) {
    await seed.wallets.deposit({ phone: customer.phone!, amount: p.deposit, reference: `demo-seed-${customer.phone}`, source: "manual" })
  }
}
// A BOOM ticket for An, approved (a 15-day credit), a note, and a transfer carrying An's payment code:
// each once, whatever the number of runs (references and SePay ids are idempotency keys).
const an = (await seed.customers.findByPhone("0912345678"))!
const open = await seed.tickets.list({ phone: "0912345678", type: "BOOM" })
const boom = open.items[0] ?? (await seed.tickets.create({
  phone: "0912345678",
  type: "BOOM",
  amount: 150_000,
  orderReference: "DH-1001",
  carrier: "GHN",
  note: "Khách không nhận hàng COD"
})).ticket
await seed.tickets.act(boom.code, { action: "approve_boom" })
if ((await seed.notes.list("0912345678")).items.length === 0) {
  await seed.notes.add("0912345678", { author: "demo", text: "Khách quen, thích gọi điện buổi sáng" })
}
await seed.transfers.receiveSepay({
  id: 900_001,
  gateway: "MBBank",
  transactionDate: "2026-12-01 09:30:00",
  accountNumber: transfers.bankAccount,
  content: `MBVCB.3278907687.${an.paymentCode} chuyen tien`,
  transferType: "in",
  transferAmount: 250_000,
  referenceCode: "FT25308710231543"
}, `Apikey ${transfers.sepayApiKey}`)
// Purchases over the last weeks (points, level, RFM) and a return; references make them once.
const day = 86_400_000
const purchases = [
  { phone: "0912345678", amount: 1_850_000, daysAgo: 40, items: [{ productId: "AO-01", name: "Áo sơ mi", quantity: 2, unitPrice: 925_000 }] },
  { phone: "0912345678", amount: 2_400_000, daysAgo: 12, items: [{ productId: "QU-07", name: "Quần tây", quantity: 3, unitPrice: 800_000 }] },
  { phone: "0912345678", amount: 3_200_000, daysAgo: 2, items: [{ productId: "GI-02", name: "Giày da", quantity: 1, unitPrice: 3_200_000 }] },
  { phone: "0988888888", amount: 650_000, daysAgo: 75, items: [{ productId: "AO-01", name: "Áo sơ mi", quantity: 1, unitPrice: 650_000 }] }
]
for (const [i, p] of purchases.entries()) {
  const reference = `demo-order-${i + 1}`
  const existing = await seed.purchases.get(reference).catch(() => null)
  if (existing === null) {
    await seed.purchases.record({ phone: p.phone, amount: p.amount, reference, at: new Date(Date.now() - p.daysAgo * day), shopId: "HN01", items: p.items })
  }
}
await seed.purchases.recordReturn({ purchaseReference: "demo-order-2", amount: 800_000, reference: "demo-return-1" })
// Identity: Bích registers online, verifies her e-mail, logs in, and claims her walk-in profile by
// the code sent to her phone: her empty online profile is merged into the walk-in one (once: a
// second run finds the e-mail taken).
const email = "bich@example.vn"
const password = "demo-password-2026"
const registered = await seed.identity.register({ email, password }).catch((e: { _tag?: string }) =>
  e._tag === "EmailTaken" ? null : Promise.reject(e)
)
if (registered !== null) {
  await seed.identity.verifyEmail(mails.at(-1)!.token)
  const user = await seed.identity.login(email, password)
  await seed.identity.requestLink(user.id, { phone: "0988888888" })
  await seed.identity.confirmLink(user.id, { phone: "0988888888", code: texts.at(-1)!.code })
}
// A duplicate: the shop Lê Đức also paid from a mobile number, which made a second profile with
// money in its wallet. A dry run shows what a merge would do; the merge folds it into the shop's.
const shop = (await seed.customers.findByPhone("02838123456"))!
const duplicate = (await seed.customers.getOrCreate({ phone: "0905 111 222", name: "Lê Đức (di động)", source: "bank_transfer" })).customer
if (duplicate.id !== shop.id) {
  await seed.wallets.deposit({ phone: "0905111222", amount: 300_000, reference: "demo-duplicate-deposit", source: "bank_transfer" })
  const preview = await seed.customers.merge({ survivorId: shop.id, mergedIds: [duplicate.id] })
  console.log(`merge preview: ${preview.fields.length} field changes, wallet ${JSON.stringify(preview.moved[0]?.parts.wallets)}`)
  await seed.customers.merge({ survivorId: shop.id, mergedIds: [duplicate.id], dryRun: false, actor: "demo" })
}
const merged = (await seed.customers.search({ q: "0905111222", status: "merged" })).items[0]!
// Retail analytics: the POS's weekly exports — VIP customers, sales, coupons — imported from CSV
// (a second run finds every row unchanged), the loyalty program synced, the views and a workbook.
const files = dirname(filename === ":memory:" ? ".data/x" : filename)
mkdirSync(files, { recursive: true })
const csv = (name: string, rows: ReadonlyArray<string>) => {
  const path = `${files}/demo-${name}.csv`
  writeFileSync(path, rows.join("\n") + "\n")
  return path
}
const posCustomers = csv("customers", [
  "vip_id,name,phone,vip_grade,email,registration_date,registration_store,points",
  "1001,Nguyễn Văn An,0912 345 678,VIP2,an@example.vn,2025-03-14,HN01,5400",
  "1002,Phạm Thu Hà,0338336011,DIAMOND,,2025-11-02,SG01,12800",
  "1003,Đỗ Quang Huy,0903 777 888,VIP0,,2026-06-30,HN02,0",
  "0,Khách lẻ,0987 654 321,,,2026-07-01,HN01,0"
])
const posSales = csv("sales", [
  "invoice_number;shop_id;shop_name;sales_date;vip_id;vip_name;quantity;sales_amount;discount",
  "HN01-260628-01;HN01;Semir Hoàn Kiếm;2026-06-28;1001;Nguyễn Văn An;2;1.250.000;0",
  "HN02-260630-07;HN02;Semir Cầu Giấy;2026-06-30 23:30;1003;Đỗ Quang Huy;1;450.000;50.000",
  "SG01-260701-03;SG01;Semir Quận 1;2026-06-30T17:10:00Z;1002;Phạm Thu Hà;3;3.900.000;0",
  "HN01-260715-11;HN01;Semir Hoàn Kiếm;2026-07-15;1001;Nguyễn Văn An;1;890.000;0",
  "HN01-260716-02;HN01;Semir Hoàn Kiếm;2026-07-16;0;Khách lẻ;1;320.000;0",
  "SG01-260720-05;SG01;Semir Quận 1;2026-07-20;1002;Phạm Thu Hà;1;1,150,000;0"
])
const posCoupons = csv("coupons", [
  "coupon_id,face_value,used,begin_date,end_date,using_shop,using_date,member_id,member_phone",
  "CP-0001,200.000,1,2026-06-01,2026-08-31,HN01,2026-06-28,1001,0912345678",
  "CP-0002,200.000,0,2026-06-01,2026-08-31,,,1003,0903777888",
  "CP-0003,500.000,1,2026-07-01,2026-09-30,SG01,2026-07-20,1002,0338336011"
])
for (const [kind, path] of [["customers", posCustomers], ["sales", posSales], ["coupons", posCoupons]] as const) {
  const r = await seed.imports.run({ kind, path, actor: "demo" })
  console.log(`import ${kind}: ${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged, ${r.failedCount} failed`)
}
const sync = await seed.loyalty.sync()
console.log(`loyalty sync: ${sync.status}, ${sync.created} created, ${sync.updated} updated, ${sync.failed} failed`)
const period = { from: "2026-06-01", to: "2026-07-31" }
const sales = await seed.analytics.sales(period)
console.log(`VIP sales ${period.from}…${period.to}: ${sales.total.salesAmount} đồng, ${sales.total.invoices} invoices, ` +
  `conversion ${sales.total.conversion} %; by season ${sales.bySeason.map((l) => `${l.season} ${l.salesAmount}`).join(", ")}`)
const coupons = await seed.analytics.coupons(period)
console.log(`coupons: ${coupons.total.used} of ${coupons.total.issued} used (${coupons.total.usageRate} %)`)
const comparison = await seed.analytics.comparison(period)
console.log(`POS vs loyalty: ${JSON.stringify(comparison.allTime)}`)
const workbook = `${files}/demo-sales.xlsx`
await seed.analytics.exportXlsx({ view: "sales", ...period, path: workbook })
console.log(`the sales workbook: ${workbook}`)
await seed.close()

const app = await createApp({ database: { sqlite: filename }, tokens, transfers, loyalty: Loyalty.fromPromises(loyaltyProgram) })
const { url, close } = await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1")
const byRole = Object.fromEntries(tokens.split(",").map((entry) => entry.split(":")).map(([t, role]) => [role, t]))

console.log(`customer360 demo: the HTTP API on SQLite file ${filename}
  listening on ${url}   (OpenAPI: ${url}/api/openapi.json)

Development tokens (new on every run):
  manager  ${byRole.manager}
  staff    ${byRole.staff}
  viewer   ${byRole.viewer}

SePay webhook key (new on every run): ${transfers.sepayApiKey}

Try:
  curl -s ${url}/api/customer/0912345678 -H 'authorization: Bearer ${byRole.viewer}'      # the 360 view
  curl -s -X POST ${url}/api/wallet/0912345678/deposit -H 'authorization: Bearer ${byRole.staff}' -H 'content-type: application/json' -d '{"amount":100000,"reference":"demo-${Date.now().toString(36)}","source":"manual"}'
  curl -s -X POST ${url}/api/ticket -H 'authorization: Bearer ${byRole.staff}' -H 'content-type: application/json' -d '{"phone":"0987 654 321","type":"HOAN","amount":90000,"note":"Trả hàng"}'
  curl -s -X POST ${url}/api/webhooks/sepay -H 'authorization: Apikey ${transfers.sepayApiKey}' -H 'content-type: application/json' -d '{"id":${Date.now()},"gateway":"Vietcombank","transactionDate":"2026-12-01 10:00:00","accountNumber":"${transfers.bankAccount}","content":"CK TU 0912.345.678 GD 464434-080625","transferType":"in","transferAmount":50000}'
  curl -s ${url}/api/customer/0912345678/timeline -H 'authorization: Bearer ${byRole.viewer}'      # everything, newest first
  curl -s ${url}/api/customer/0912345678/qr -H 'authorization: Bearer ${byRole.viewer}'      # the VietQR that pays with An's code ${an.paymentCode}
  curl -s -X POST ${url}/api/purchases -H 'authorization: Bearer ${byRole.staff}' -H 'content-type: application/json' -d '{"phone":"0912345678","amount":450000,"reference":"demo-${Date.now().toString(36)}","items":[{"productId":"TAT-3","name":"Tất","quantity":3,"unitPrice":150000}]}'
  curl -s -X POST ${url}/api/purchases/demo-order-3/returns -H 'authorization: Bearer ${byRole.staff}' -H 'content-type: application/json' -d '{"amount":200000,"reference":"demo-return-${Date.now().toString(36)}"}'
  curl -s ${url}/api/customer/0912345678/rfm -H 'authorization: Bearer ${byRole.viewer}'      # R, F, M, tier, segment, and why
  curl -s ${url}/api/customer/0912345678/points -H 'authorization: Bearer ${byRole.viewer}'
  curl -s -X POST ${url}/api/jobs/rfm -H 'authorization: Bearer ${byRole.manager}'      # recompute every customer
  curl -s ${url}/api/customers/stats -H 'authorization: Bearer ${byRole.viewer}'      # the shop's overview
  curl -s ${url}/api/customer/0912345678/stats -H 'authorization: Bearer ${byRole.viewer}'      # orders, top products, months
  curl -s -X POST ${url}/api/jobs/fraud -H 'authorization: Bearer ${byRole.manager}'      # run the fraud rules
  curl -s ${url}/api/customer/0988888888 -H 'authorization: Bearer ${byRole.viewer}'      # Bích: linked to her login (userId) by an SMS code
  curl -s ${url}/api/customer/0905111222 -H 'authorization: Bearer ${byRole.viewer}'      # a merged profile's phone finds the survivor (Lê Đức)
  curl -s -X POST ${url}/api/customers/merge -H 'authorization: Bearer ${byRole.manager}' -H 'content-type: application/json' -d '{"survivorId":"${shop.id}","mergedIds":["${merged.id}"]}'      # a dry run: already merged (repeated)
  curl -s ${url}/api/customer/0912345678/fraud -H 'authorization: Bearer ${byRole.viewer}'      # flags and decisions, with evidence
  curl -s -X POST ${url}/api/imports/sales -H 'authorization: Bearer ${byRole.manager}' -H 'content-type: text/csv' --data-binary @${posSales}      # re-import: every row unchanged
  curl -s '${url}/api/analytics/sales?from=2026-06-01&to=2026-07-31' -H 'authorization: Bearer ${byRole.viewer}'      # by grade, season, shop group
  curl -s '${url}/api/analytics/coupons?from=2026-06-01&to=2026-07-31&shopGroup=HN' -H 'authorization: Bearer ${byRole.viewer}'
  curl -s '${url}/api/analytics/comparison?from=2026-06-01&to=2026-07-31' -H 'authorization: Bearer ${byRole.viewer}'      # POS vs loyalty by phone
  curl -s '${url}/api/analytics/comparison.xlsx?from=2026-06-01&to=2026-07-31' -H 'authorization: Bearer ${byRole.viewer}' -o comparison.xlsx
  curl -s -X POST ${url}/api/jobs/loyalty-sync -H 'authorization: Bearer ${byRole.manager}'      # sync the loyalty program
  curl -s ${url}/api/balance-history/pending -H 'authorization: Bearer ${byRole.viewer}'
  curl -sN ${url}/api/events -H 'authorization: Bearer ${byRole.viewer}'      # live events; Ctrl-C to stop

Ctrl-C stops the server.`)

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    close().then(() => process.exit(0), (e) => {
      console.error(e)
      process.exit(1)
    })
  })
}
