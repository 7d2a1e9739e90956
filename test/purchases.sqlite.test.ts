import { describe, expect, it } from "@effect/vitest"
import { createCustomer360 } from "../src/index.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { freshPhone } from "./contract/customers.js"
import { purchaseContract } from "./contract/purchases.js"

purchaseContract("purchases on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))

describe("the 360 view through the Promise facade", () => {
  it("c360.customers.view(phone) has the rfm, membership and purchases parts", async () => {
    let now = new Date("2026-09-01T03:00:00Z")
    const c360 = await createCustomer360({ database: { sqlite: { filename: ":memory:" } }, now: () => now })
    try {
      const phone = freshPhone()
      await c360.customers.create({ phone, name: "Facade" })
      const empty = await c360.customers.view(phone)
      expect(empty.purchases).toEqual([])
      expect(empty.membership).toMatchObject({ level: "bronze", discount: 5, totalSpent: 0, points: 0 })
      expect(empty.rfm).toMatchObject({ recencyDays: null, r: 1, f: 1, m: 1, tier: "new" })
      for (let i = 0; i < 3; i++) {
        now = new Date(now.getTime() + 60_000)
        await c360.purchases.record({ phone, amount: 2_000_000, reference: `facade-view-${phone}-${i}` })
      }
      now = new Date(now.getTime() + 9 * 86_400_000)
      const view = await c360.customers.view(`+84 ${phone.slice(1)}`)
      expect(view.purchases.map((p) => p.reference)).toEqual([2, 1, 0].map((i) => `facade-view-${phone}-${i}`))
      expect(view.membership).toMatchObject({ level: "gold", discount: 15, totalSpent: 6_000_000, points: 600, nextLevel: "platinum", toNextLevel: 4_000_000 })
      expect(view.rfm).toMatchObject({ recencyDays: 9, frequency: 3, monetary: 6_000_000, r: 4, f: 3, m: 4 })
      expect(view.rfm!.explanation[0]).toBe("R = 4: last purchase 9 days ago; 7 days or fewer are needed for 5")
    } finally {
      await c360.close()
    }
  })
})
