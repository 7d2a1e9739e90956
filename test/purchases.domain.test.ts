/**
 * The pure rules of purchases (DOMAIN §7, §7a; src/purchases/Purchase.ts): points earned, points a
 * return takes back, the membership level and discount of a total spent, and the membership with
 * its next level — as examples at every boundary and fast-check properties, against references
 * written here independently of the implementation.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { discountFor, type Level, LEVELS, levelFor, membershipOf, POINT_VALUE, pointsFor, pointsTakenBack } from "../src/purchases/Purchase.js"

const RUNS = { numRuns: 1_000 } as const
const amountArb = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })

/** The reference: DOMAIN §7 written out, highest level first. */
const referenceLevel = (spent: number): Level =>
  spent >= 10_000_000 ? "platinum" : spent >= 5_000_000 ? "gold" : spent >= 2_000_000 ? "silver" : "bronze"
const DISCOUNT: Record<Level, number> = { bronze: 5, silver: 10, gold: 15, platinum: 20 }
const ORDER: ReadonlyArray<Level> = ["bronze", "silver", "gold", "platinum"]

/** An amount and returns of it that never add up to more than it (the last one, if any, all that is left). */
const purchaseWithReturns = amountArb.chain((amount) =>
  fc.tuple(
    fc.constant(amount),
    fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
    fc.boolean()
  ).map(([a, fractions, toTheEnd]) => {
    const returns: Array<number> = []
    let left = a
    for (const f of fractions) {
      const r = Math.min(left, Math.max(1, Math.floor(f * left)))
      if (r <= 0) break
      returns.push(r)
      left -= r
    }
    if (toTheEnd && left > 0) returns.push(left)
    return { amount: a, returns }
  })
)

describe("points", () => {
  it("a purchase earns floor(amount / 10,000): 9,999 → 0, 10,000 → 1, 19,999 → 1, 20,000 → 2, 1,255,000 → 125", () => {
    expect(POINT_VALUE).toBe(10_000)
    expect([1, 9_999, 10_000, 19_999, 20_000, 1_255_000, 99_999_999].map(pointsFor)).toEqual([0, 0, 1, 1, 2, 125, 9_999])
    expect(pointsFor(Number.MAX_SAFE_INTEGER)).toBe(900_719_925_474)
  })

  it("property: points are a whole number ≥ 0 with points · 10,000 ≤ amount < (points + 1) · 10,000", () => {
    fc.assert(
      fc.property(amountArb, (amount) => {
        const p = pointsFor(amount)
        expect(Number.isSafeInteger(p)).toBe(true)
        expect(p).toBeGreaterThanOrEqual(0)
        expect(p * 10_000).toBeLessThanOrEqual(amount)
        expect((p + 1) * 10_000).toBeGreaterThan(amount)
      }),
      RUNS
    )
  })

  it("a return takes back what the purchase's returns take in all after it, less before: 5,000 then 6,000 of 95,000 take 0 then 1; the rest 8", () => {
    expect(pointsTakenBack(0, 5_000)).toBe(0)
    expect(pointsTakenBack(5_000, 11_000)).toBe(1)
    expect(pointsTakenBack(11_000, 95_000)).toBe(8)
    expect(pointsTakenBack(0, 95_000)).toBe(9)
    expect(pointsTakenBack(9_999, 10_000)).toBe(1)
    expect(pointsTakenBack(10_000, 19_999)).toBe(0)
    expect(pointsTakenBack(0, 0)).toBe(0)
  })

  it("property: over any returns of a purchase, each takes back ≥ 0 and at most floor(its amount / 10,000) + 1; in all they take floor(returned / 10,000), so the purchase keeps floor(amount / 10,000) − floor(returned / 10,000) ≥ 0 points, and 0 once returned in full", () => {
    fc.assert(
      fc.property(purchaseWithReturns, ({ amount, returns }) => {
        let returned = 0
        let taken = 0
        for (const r of returns) {
          const t = pointsTakenBack(returned, returned + r)
          expect(Number.isSafeInteger(t)).toBe(true)
          expect(t).toBeGreaterThanOrEqual(0)
          expect(t).toBeLessThanOrEqual(Math.floor(r / 10_000) + 1)
          returned += r
          taken += t
          const kept = pointsFor(amount) - taken
          expect(kept).toBe(Math.floor(amount / 10_000) - Math.floor(returned / 10_000))
          expect(kept).toBeGreaterThanOrEqual(0)
        }
        expect(returned).toBeLessThanOrEqual(amount)
        if (returned === amount) expect(pointsFor(amount) - taken).toBe(0)
      }),
      RUNS
    )
  })

  it("property: what the returns take back in all depends on what they return in all, not on how it is split", () => {
    fc.assert(
      fc.property(purchaseWithReturns, ({ returns }) => {
        const total = returns.reduce((s, r) => s + r, 0)
        let before = 0
        let split = 0
        for (const r of returns) {
          split += pointsTakenBack(before, before + r)
          before += r
        }
        expect(split).toBe(pointsTakenBack(0, total))
        // and in the reverse order
        let reversed = 0
        before = 0
        for (const r of [...returns].reverse()) {
          reversed += pointsTakenBack(before, before + r)
          before += r
        }
        expect(reversed).toBe(split)
      }),
      RUNS
    )
  })
})

describe("membership level and discount", () => {
  it("levels at their boundaries: 1,999,999 bronze, 2,000,000 silver, 4,999,999 silver, 5,000,000 gold, 9,999,999 gold, 10,000,000 platinum; discounts 5/10/15/20 %", () => {
    const cases: ReadonlyArray<readonly [number, Level]> = [
      [0, "bronze"],
      [1, "bronze"],
      [1_999_999, "bronze"],
      [2_000_000, "silver"],
      [4_999_999, "silver"],
      [5_000_000, "gold"],
      [9_999_999, "gold"],
      [10_000_000, "platinum"],
      [Number.MAX_SAFE_INTEGER, "platinum"]
    ]
    for (const [spent, level] of cases) expect(levelFor(spent), String(spent)).toBe(level)
    expect(ORDER.map(discountFor)).toEqual([5, 10, 15, 20])
    expect(LEVELS.map((l) => [l.level, l.minSpent, l.discount])).toEqual([
      ["platinum", 10_000_000, 20],
      ["gold", 5_000_000, 15],
      ["silver", 2_000_000, 10],
      ["bronze", 0, 5]
    ])
  })

  it("property: levelFor is the reference, never lower for a larger total", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.nat(), (spent, more) => {
        expect(levelFor(spent)).toBe(referenceLevel(spent))
        expect(discountFor(levelFor(spent))).toBe(DISCOUNT[referenceLevel(spent)])
        const larger = Math.min(Number.MAX_SAFE_INTEGER, spent + more)
        expect(ORDER.indexOf(levelFor(larger))).toBeGreaterThanOrEqual(ORDER.indexOf(levelFor(spent)))
      }),
      RUNS
    )
  })

  it("membershipOf: level, discount, total and points as given; the next level and exactly how far it is (null at platinum)", () => {
    expect(membershipOf(0, 0)).toEqual({ level: "bronze", discount: 5, totalSpent: 0, points: 0, nextLevel: "silver", toNextLevel: 2_000_000 })
    expect(membershipOf(2_000_000, 17)).toEqual({ level: "silver", discount: 10, totalSpent: 2_000_000, points: 17, nextLevel: "gold", toNextLevel: 3_000_000 })
    expect(membershipOf(9_999_999, 1)).toEqual({ level: "gold", discount: 15, totalSpent: 9_999_999, points: 1, nextLevel: "platinum", toNextLevel: 1 })
    expect(membershipOf(10_000_000, 0)).toEqual({ level: "platinum", discount: 20, totalSpent: 10_000_000, points: 0, nextLevel: null, toNextLevel: null })
  })

  it("property: below platinum, spending toNextLevel more reaches nextLevel and one đồng less does not; the next level is the one above", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20_000_000 }), fc.nat({ max: 1_000_000 }), (spent, points) => {
        const m = membershipOf(spent, points)
        expect(m).toMatchObject({ level: referenceLevel(spent), discount: DISCOUNT[referenceLevel(spent)], totalSpent: spent, points })
        if (m.level === "platinum") {
          expect([m.nextLevel, m.toNextLevel]).toEqual([null, null])
        } else {
          expect(m.nextLevel).toBe(ORDER[ORDER.indexOf(m.level) + 1])
          expect(m.toNextLevel).toBeGreaterThan(0)
          expect(levelFor(spent + m.toNextLevel!)).toBe(m.nextLevel)
          expect(levelFor(spent + m.toNextLevel! - 1)).toBe(m.level)
        }
      }),
      RUNS
    )
  })
})
