/**
 * The Promise facade on SQLite, and its options.
 */
import { describe, expect, it } from "@effect/vitest"
import { createCustomer360 } from "../src/index.js"
import { freshPhone } from "./contract/customers.js"
import { facadeSuite } from "./contract/facade.js"

facadeSuite("Promise facade on SQLite", async () => ({
  database: { sqlite: { filename: ":memory:" } },
  cleanup: async () => {}
}))

describe("createCustomer360 options", () => {
  it("uses the given clock for every timestamp", async () => {
    let now = new Date("2026-03-01T00:00:00Z")
    const c = await createCustomer360({ database: { sqlite: { filename: ":memory:" } }, now: () => now })
    try {
      const created = await c.customers.create({ phone: freshPhone(), name: "Clocked" })
      now = new Date("2026-03-02T00:00:00Z")
      const updated = await c.customers.update(created.id, { name: "Clocked again" })
      expect([created.createdAt.toISOString(), updated.updatedAt.toISOString()]).toEqual([
        "2026-03-01T00:00:00.000Z",
        "2026-03-02T00:00:00.000Z"
      ])
    } finally {
      await c.close()
    }
  })

  it("refuses bad options with ValidationError and an unreachable database with StorageError", async () => {
    await expect(createCustomer360({ database: { sqlite: { filename: ":memory:" } }, timeZone: "Mars/Base" }))
      .rejects.toMatchObject({ _tag: "ValidationError" })
    await expect(createCustomer360({ database: {} as any })).rejects.toMatchObject({ _tag: "ValidationError" })
    await expect(createCustomer360({ database: { sqlite: { filename: "/nonexistent-dir/x/y.db" } } }))
      .rejects.toMatchObject({ _tag: "StorageError", reason: "unavailable" })
    await expect(
      createCustomer360({ database: { postgres: { url: "postgres://nobody@127.0.0.1:1/none", connectTimeoutMs: 500 } } })
    ).rejects.toMatchObject({ _tag: "StorageError", reason: "unavailable" })
  })

  it("applies the phone block list in any format, and rejects calls after close", async () => {
    const c = await createCustomer360({
      database: { sqlite: { filename: ":memory:" } },
      phone: { blocked: ["028 3812 3456", "+84 900 000 009"] }
    })
    await expect(c.customers.create({ phone: "02838123456", name: "Hotline" })).rejects.toMatchObject({
      _tag: "InvalidPhone",
      reason: "placeholder"
    })
    await expect(c.customers.getOrCreate({ phone: "0900000009", source: "import" })).rejects.toMatchObject({
      reason: "placeholder"
    })
    await c.close()
    await c.close()
    await expect(c.customers.findByPhone("0912345678")).rejects.toMatchObject({ _tag: "StorageError" })
  })
})
