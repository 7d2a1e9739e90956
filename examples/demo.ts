/**
 * `npm run demo`: creates a few customers on an embedded SQLite file through the Promise facade
 * and prints them. Run it twice: the second run finds the customers the first one created.
 */
import { mkdirSync } from "node:fs"
import { createCustomer360, normalizePhone } from "../src/index.js"

const filename = process.env.C360_DEMO_DB ?? ".data/demo.sqlite"
if (filename !== ":memory:") mkdirSync(filename.replace(/\/[^/]*$/, "") || ".", { recursive: true })

const c360 = await createCustomer360({ database: { sqlite: { filename } } })
try {
  c360.events.subscribe(["customers"], (e) => console.log(`  event ${e.type} ${e.subject}`))

  console.log(`customer360 demo on SQLite file ${filename}\n`)
  console.log("Phone numbers, as typed → canonical:")
  for (const input of ["+84 912 345 678", "0084-28-3812-3456", "(+84) (0) 162 123 4567", "９１２３４５６７８"]) {
    console.log(`  ${input.padEnd(26)} → ${normalizePhone(input)}`)
  }

  console.log("\nCustomers (getOrCreate: exactly one per phone):")
  const people = [
    { phone: "0912 345 678", name: "Nguyễn Văn An" },
    { phone: "+84 98 888 8888", name: "Trần Thị Bích" },
    { phone: "0283 812 3456", name: "Cửa hàng Lê Đức" },
    { phone: "0162 123 4567", name: "Phạm Ngọc Ánh" }
  ]
  for (const p of people) {
    const { customer, created } = await c360.customers.getOrCreate({ ...p, source: "customer_hub" })
    console.log(`  ${created ? "created" : "found  "} ${customer.id}  ${customer.phone}  ${customer.name}`)
  }

  const search = await c360.customers.search({ q: "nguyen" })
  console.log(`\nSearch "nguyen" (accent-insensitive): ${search.items.map((c) => c.name).join(", ")}`)
  const byPhone = await c360.customers.findByPhone("84 912-345-678")
  console.log(`findByPhone("84 912-345-678"): ${byPhone?.name}`)
  try {
    await c360.customers.create({ phone: "0912345678", name: "Someone else" })
  } catch (e) {
    console.log(`create on a taken phone: ${(e as { _tag: string })._tag}: ${(e as Error).message}`)
  }
  try {
    await c360.customers.create({ phone: "0111 234 567", name: "Typo" })
  } catch (e) {
    console.log(`create with a bad phone: ${(e as { _tag: string })._tag}: ${(e as Error).message}`)
  }
  const all = await c360.customers.search({ limit: 10 })
  console.log(`\n${all.total} customer(s) in ${filename}`)
} finally {
  await c360.close()
}
