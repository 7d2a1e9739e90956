/**
 * The pure field rule of a merge (DOMAIN §9a, `mergeFields`), by property: the survivor keeps every
 * value it has; each empty field is taken from the first merged profile that has one; a unique value
 * (phone, e-mail, login) is never held twice afterwards; the changes listed are exactly the
 * differences between before and after; a survivor with a login is at least a member.
 */
import { describe, expect, it } from "vitest"
import * as fc from "fast-check"
import { Customer, makeCustomerId } from "../src/customers/Customer.js"
import { MERGE_FIELDS, mergeFields } from "../src/customers/Merge.js"

const maybe = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: null, freq: 2 })

const customer = (seed: number) =>
  fc.record({
    name: maybe(fc.constantFrom("An", "Bình", "Chi")),
    phone: maybe(fc.constantFrom("0912000001", "0912000002", "0912000003", "0912000004")),
    email: maybe(fc.constantFrom("a@x.vn", "b@x.vn", "c@x.vn")),
    address: maybe(fc.constantFrom("1 Lê Lợi", "2 Trần Phú")),
    city: maybe(fc.constantFrom("Huế", "Hà Nội")),
    province: maybe(fc.constant("Thừa Thiên Huế")),
    birthDate: maybe(fc.constant("1990-01-02")),
    gender: maybe(fc.constantFrom("male" as const, "female" as const)),
    notes: maybe(fc.constant("note")),
    userId: maybe(fc.constantFrom("usr_1", "usr_2")),
    type: fc.constantFrom("walk-in" as const, "member" as const, "vip" as const)
  }).map((f) =>
    new Customer({
      ...f,
      id: makeCustomerId(1_700_000_000_000 + seed, new Uint8Array(10).fill(seed)),
      phone: f.phone as Customer["phone"],
      status: "active",
      tier: "new",
      membershipLevel: "bronze",
      points: 0,
      totalOrders: 0,
      totalSpent: 0,
      lastPurchaseAt: null,
      source: "customer_hub",
      paymentCode: `N2AAAAAAA${seed}`,
      mergedInto: null,
      createdAt: new Date(0),
      updatedAt: new Date(0)
    })
  )

/** Profiles as a shop would hold them: unique values held by one profile at most. */
const profiles = fc.tuple(customer(1), fc.array(customer(0), { minLength: 1, maxLength: 4 })).map(([survivor, merged]) => {
  const all = [survivor, ...merged.map((m, i) => new Customer({ ...m, id: makeCustomerId(1_700_000_000_100 + i, new Uint8Array(10).fill(i + 2)) }))]
  const seen = new Set<string>()
  const unique = all.map((c) => {
    const patch: Record<string, null> = {}
    for (const f of ["phone", "email", "userId"] as const) {
      const v = c[f]
      if (v !== null && seen.has(`${f}:${v}`)) patch[f] = null
      else if (v !== null) seen.add(`${f}:${v}`)
    }
    return new Customer({ ...c, ...patch })
  })
  return { survivor: unique[0]!, merged: unique.slice(1) }
})

describe("mergeFields", () => {
  it("property: kept values, first donor, unique values held once, changes = differences, login ⇒ member", () =>
    fc.assert(fc.property(profiles, ({ survivor, merged }) => {
      const result = mergeFields(survivor, merged)
      const after = { ...survivor, ...result.survivor } as Record<string, unknown>
      for (const field of MERGE_FIELDS) {
        if (survivor[field] !== null) expect(after[field]).toBe(survivor[field])
        else expect(after[field]).toBe(merged.find((m) => m[field] !== null)?.[field] ?? null)
      }
      const mergedAfter = merged.map((m) => ({ ...m, ...result.merged.find((r) => r.id === m.id)!.values }) as Record<string, unknown>)
      for (const m of mergedAfter) expect(m).toMatchObject({ status: "merged", mergedInto: survivor.id })
      for (const field of ["phone", "email", "userId"] as const) {
        const held = [after, ...mergedAfter].map((c) => c[field]).filter((v) => v !== null)
        expect(new Set(held).size).toBe(held.length)
      }
      if (after.userId !== null) expect(["member", "vip"]).toContain(after.type)
      else expect(after.type).toBe(survivor.type)
      const expected: Array<string> = []
      for (const [id, before, now] of [[survivor.id, survivor, after] as const, ...merged.map((m, i) => [m.id, m, mergedAfter[i]!] as const)]) {
        for (const key of Object.keys(now)) {
          if ((before as unknown as Record<string, unknown>)[key] !== now[key]) expected.push(`${id}.${key}`)
        }
      }
      expect(result.changes.map((c) => `${c.customerId}.${c.field}`).sort()).toEqual(expected.sort())
      for (const c of result.changes) {
        const source = c.customerId === survivor.id ? survivor : merged.find((m) => m.id === c.customerId)!
        expect(c.before).toBe((source as unknown as Record<string, unknown>)[c.field])
      }
    }), { numRuns: 300 }))
})
