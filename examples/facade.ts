/**
 * `npm run demo:facade`: creates a few customers and moves money through a wallet on an embedded SQLite
 * file through the Promise facade, and prints what happened, events included. Run it twice: the
 * second run finds the customers the first one created, and replays the same references.
 */
import { mkdirSync } from "node:fs"
import { createCustomer360, normalizePhone } from "../src/index.js"

const filename = process.env.C360_DEMO_DB ?? ".data/demo.sqlite"
if (filename !== ":memory:") mkdirSync(filename.replace(/\/[^/]*$/, "") || ".", { recursive: true })

const c360 = await createCustomer360({ database: { sqlite: { filename } } })
try {
  c360.events.subscribe(["customers", "wallets"], (e) => console.log(`  event ${e.type} ${e.subject}`))

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
  console.log("\nWallet of 0912 345 678 (references make every write idempotent):")
  const phone = "0912 345 678"
  const deposit = await c360.wallets.deposit({ phone, amount: 200_000, reference: "demo-bank-1", source: "bank_transfer" })
  console.log(`  deposit 200,000 → balance ${deposit.wallet.balance}`)
  const credit = await c360.wallets.issueVirtualCredit({ phone, amount: 50_000, reason: "BOOM refund", reference: "demo-credit-1" })
  console.log(`  virtual credit 50,000 until ${credit.credit.expiresAt.toISOString()} → available ${credit.wallet.available}`)
  const paid = await c360.wallets.withdraw({ phone, amount: 80_000, reference: "demo-order-1" })
  console.log(`  withdraw 80,000 → ${paid.fromCredits.map((p) => `${p.amount} from credit`).join(", ") || "nothing from credits"}, ${paid.fromReal} from real money`)
  const again = await c360.wallets.withdraw({ phone, amount: 80_000, reference: "demo-order-1" })
  console.log(`  the same withdrawal again (same reference) → the same transaction ${again.transactionId === paid.transactionId ? "(replayed, nothing written)" : "(new)"}`)
  try {
    await c360.wallets.withdraw({ phone, amount: 10_000_000, reference: "demo-order-2" })
  } catch (e) {
    console.log(`  withdraw 10,000,000 → ${(e as { _tag: string })._tag}: ${(e as Error).message}`)
  }
  const wallet = await c360.wallets.get(phone)
  console.log(`  now: balance ${wallet.balance}, virtual ${wallet.virtualBalance}, available ${wallet.available}`)

  const view = await c360.customers.view(phone)
  console.log(`\nThe 360 view of ${view.customer.name}: available ${view.wallet.available}, ` +
    `latest entries ${view.transactions.items.slice(0, 4).map((e) => e.kind).join(", ")}`)

  await new Promise((resolve) => setTimeout(resolve, 500)) // let the relay deliver from the outbox
  const all = await c360.customers.search({ limit: 10 })
  console.log(`\n${all.total} customer(s) in ${filename}`)
} finally {
  await c360.close()
}
