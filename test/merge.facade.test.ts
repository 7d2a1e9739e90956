/**
 * `c360.customers.merge` through the Promise facade on SQLite: a dry run by default, a real merge
 * with `dryRun: false`, a repeat, and refusals rejecting with their typed errors.
 */
import { describe, expect, it } from "@effect/vitest"
import { createCustomer360 } from "../src/index.js"
import { makeCustomerId } from "../src/customers/Customer.js"
import { freshPhone } from "./contract/customers.js"

describe("c360.customers.merge", () => {
  it("dry run by default, then the merge; a repeat changes nothing; refusals reject typed", async () => {
    const c = await createCustomer360({ database: { sqlite: { filename: ":memory:" } } })
    try {
      const survivor = await c.customers.create({ phone: freshPhone(), name: "Nguyễn Văn An" })
      const dup = await c.customers.create({ phone: freshPhone(), name: "An", email: "an@example.com" })
      const plan = await c.customers.merge({ survivorId: survivor.id, mergedIds: [dup.id] })
      expect(plan).toMatchObject({ dryRun: true, mergeId: null, repeated: false, mergedIds: [dup.id] })
      expect(plan.survivor.email).toBe("an@example.com")
      expect((await c.customers.get(dup.id)).status).toBe("active")
      expect((await c.customers.get(survivor.id)).email).toBeNull()

      const done = await c.customers.merge({ survivorId: survivor.id, mergedIds: [dup.id], dryRun: false, actor: "lan.nguyen" })
      expect(done).toMatchObject({ dryRun: false, repeated: false, mergedIds: [dup.id] })
      expect(done.mergeId).toEqual(expect.any(String))
      expect(await c.customers.get(dup.id)).toMatchObject({ status: "merged", mergedInto: survivor.id })
      expect((await c.customers.get(survivor.id)).email).toBe("an@example.com")

      expect(await c.customers.merge({ survivorId: survivor.id, mergedIds: [dup.id], dryRun: false }))
        .toMatchObject({ repeated: true, mergeId: null, alreadyMerged: [dup.id] })
      await expect(c.customers.merge({ survivorId: survivor.id, mergedIds: [survivor.id] }))
        .rejects.toMatchObject({ _tag: "MergeRefused" })
      await expect(c.customers.merge({ survivorId: survivor.id, mergedIds: [makeCustomerId(Date.now(), new Uint8Array(10))] }))
        .rejects.toMatchObject({ _tag: "CustomerNotFound" })
    } finally {
      await c.close()
    }
  })
})
