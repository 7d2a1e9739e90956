/**
 * `npm run demo`: starts the Express host on an embedded SQLite file with a few demo customers,
 * and prints the URL, a development token per role and three `curl` lines to try.
 *
 * - `PORT` (default 3000; `0` picks a free port), `C360_DEMO_DB` (default `.data/demo.sqlite`).
 * - The tokens are random per run unless `C360_TOKENS` is set. They are for development only.
 * Stop it with Ctrl-C: requests in flight finish, the database is closed.
 */
import { randomBytes } from "node:crypto"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { createCustomer360 } from "../src/index.js"
import { createApp } from "./express/app.js"

const filename = process.env.C360_DEMO_DB ?? ".data/demo.sqlite"
if (filename !== ":memory:") mkdirSync(dirname(filename), { recursive: true })
const token = (role: string) => `dev-${role}-${randomBytes(9).toString("base64url")}`
const tokens = process.env.C360_TOKENS ?? `${token("manager")}:manager,${token("staff")}:staff,${token("viewer")}:viewer`

// A few demo customers, created once (getOrCreate: a second run finds them), with some money.
const seed = await createCustomer360({ database: { sqlite: { filename } } })
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
await seed.close()

const app = await createApp({ database: { sqlite: filename }, tokens })
const { url, close } = await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1")
const byRole = Object.fromEntries(tokens.split(",").map((entry) => entry.split(":")).map(([t, role]) => [role, t]))

console.log(`customer360 demo: the HTTP API on SQLite file ${filename}
  listening on ${url}   (OpenAPI: ${url}/api/openapi.json)

Development tokens (new on every run):
  manager  ${byRole.manager}
  staff    ${byRole.staff}
  viewer   ${byRole.viewer}

Try:
  curl -s ${url}/api/customer/0912345678 -H 'authorization: Bearer ${byRole.viewer}'
  curl -s -X POST ${url}/api/wallet/0912345678/deposit -H 'authorization: Bearer ${byRole.staff}' -H 'content-type: application/json' -d '{"amount":100000,"reference":"demo-${Date.now().toString(36)}","source":"manual"}'
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
