/**
 * The purchases and RFM namespaces of the Promise facade on SQLite, and the `rfm` option.
 */
import { describe, expect, it } from "@effect/vitest"
import { createCustomer360 } from "../src/index.js"
import { freshPhone } from "./contract/customers.js"

describe("c360.purchases and c360.rfm", () => {
  it("record, return, points, membership and the RFM as of now, as Promises; typed failures reject", async () => {
    let now = new Date("2026-06-15T03:00:00Z")
    const c = await createCustomer360({ database: { sqlite: { filename: ":memory:" } }, now: () => now })
    try {
      const phone = freshPhone()
      const first = await c.purchases.record({ phone, amount: 2_345_678, reference: "f-1", items: [{ productId: "P", name: "Áo", quantity: 1, unitPrice: 2_345_678 }] })
      expect([first.purchase.points, first.customer.totalSpent, first.levelChanged]).toEqual([234, 2_345_678, { from: "bronze", to: "silver" }])
      expect((await c.purchases.record({ phone, amount: 2_345_678, reference: "f-1", items: [{ productId: "P", name: "Áo", quantity: 1, unitPrice: 2_345_678 }] })).repeated).toBe(true)
      await expect(c.purchases.record({ phone, amount: 1, reference: "f-1" })).rejects.toMatchObject({ _tag: "IdempotencyConflict" })
      await expect(c.purchases.record({ phone, amount: 1.5, reference: "f-2" })).rejects.toMatchObject({ _tag: "InvalidAmount" })
      const ret = await c.purchases.recordReturn({ purchaseReference: "f-1", amount: 345_678, reference: "f-r1" })
      expect([ret.return.points, ret.customer.points, ret.customer.totalSpent]).toEqual([34, 200, 2_000_000])
      await expect(c.purchases.recordReturn({ purchaseReference: "f-1", amount: 2_000_001, reference: "f-r2" }))
        .rejects.toMatchObject({ _tag: "ReturnExceedsPurchase", returnable: 2_000_000 })
      expect(await c.purchases.points(phone)).toMatchObject({ balance: 200, history: [{ kind: "taken_back", points: 34 }, { kind: "earned", points: 234 }] })
      expect(await c.purchases.membership(phone)).toEqual({
        level: "silver",
        discount: 10,
        totalSpent: 2_000_000,
        points: 200,
        nextLevel: "gold",
        toNextLevel: 3_000_000
      })
      now = new Date("2026-06-25T03:00:00Z")
      const rfm = await c.rfm.get(phone)
      expect([rfm.recencyDays, rfm.frequency, rfm.monetary, rfm.r, rfm.f, rfm.m]).toEqual([10, 1, 2_000_000, 4, 1, 3])
      expect(rfm.explanation).toContain("F = 1: 1 purchase in the last 90 days; 2 are needed for 2")
      expect(await c.rfm.recompute()).toEqual({ customers: 1, changed: 0, batches: 1 })
      expect("refresh" in c.rfm).toBe(false)
    } finally {
      await c.close()
    }
  })

  it("takes the RFM thresholds from the options and refuses bad ones", async () => {
    const c = await createCustomer360({ database: { sqlite: { filename: ":memory:" } }, rfm: { monetary: [4, 3, 2, 1] } })
    try {
      const phone = freshPhone()
      await c.purchases.record({ phone, amount: 3, reference: "t-1" })
      expect((await c.rfm.get(phone)).m).toBe(4)
    } finally {
      await c.close()
    }
    await expect(createCustomer360({ database: { sqlite: { filename: ":memory:" } }, rfm: { monetary: [1, 2, 3, 4] } }))
      .rejects.toMatchObject({ _tag: "ValidationError" })
  })
})
