/**
 * The statistics through the Promise facade (SQLite): `c360.stats.overview()` and
 * `c360.stats.customer(phone)`, with the facade's clock, and their typed rejections.
 */
import { describe, expect, it } from "@effect/vitest"
import { createCustomer360 } from "../src/index.js"
import { freshPhone } from "./contract/customers.js"

describe("statistics through the Promise facade", () => {
  it("overview() and customer(phone) answer the figures at the facade's clock; an unknown phone rejects CustomerNotFound, a bad one InvalidPhone, bad options ValidationError", async () => {
    let now = new Date("2031-01-31T23:30:00Z") // 06:30 on 1 February in Hanoi
    const c360 = await createCustomer360({ database: { sqlite: { filename: ":memory:" } }, now: () => now })
    try {
      const phone = freshPhone()
      await c360.customers.create({ phone, name: "Thống Kê", type: "vip" })
      await c360.purchases.record({
        phone,
        amount: 2_500_000,
        reference: "facade-stats-1",
        items: [{ productId: "SKU-1", name: "Áo dài", quantity: 2, unitPrice: 1_250_000 }]
      })
      now = new Date("2031-02-01T03:00:00Z")
      await c360.purchases.record({ phone, amount: 100_001, reference: "facade-stats-2" })
      await c360.purchases.recordReturn({ purchaseReference: "facade-stats-2", amount: 1, reference: "facade-stats-r" })

      const overview = await c360.stats.overview()
      expect(overview).toMatchObject({
        month: "2031-02",
        customers: 1,
        vip: 1,
        newThisMonth: 1,
        buyers: 1,
        orders: 2,
        revenue: 2_600_000,
        averageLifetimeValue: 2_600_000,
        averagePurchases: 2,
        byLevel: { bronze: 0, silver: 1, gold: 0, platinum: 0 }
      })
      expect(overview.asOf).toEqual(now)
      expect(overview.topCustomers.map((s) => s.phone)).toEqual([phone])
      expect((await c360.stats.overview({ top: 1, recent: 1 })).recentCustomers).toHaveLength(1)

      const mine = await c360.stats.customer(phone)
      expect(mine).toMatchObject({ orders: 2, purchased: 2_600_001, returned: 1, totalSpent: 2_600_000, averageOrderValue: 1_300_000 })
      expect(mine.topProducts.map((p) => [p.productId, p.quantity, p.revenue])).toEqual([["SKU-1", 2, 2_500_000]])
      expect(mine.monthly.map((m) => [m.month, m.orders, m.net])).toEqual([["2031-02", 2, 2_600_000]])
      expect((await c360.stats.customer(phone, { products: 1, months: 1 })).monthly).toHaveLength(1)

      await expect(c360.stats.customer(freshPhone())).rejects.toMatchObject({ _tag: "CustomerNotFound" })
      await expect(c360.stats.customer("12345")).rejects.toMatchObject({ _tag: "InvalidPhone" })
      await expect(c360.stats.customer(42 as never)).rejects.toMatchObject({ _tag: "ValidationError" })
      await expect(c360.stats.overview({ top: 0 })).rejects.toMatchObject({ _tag: "ValidationError" })
      await expect(c360.stats.overview("all" as never)).rejects.toMatchObject({ _tag: "ValidationError" })
    } finally {
      await c360.close()
    }
  })
})
