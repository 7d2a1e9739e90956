/**
 * The statistics' pure rules: the two ratios of exact integer sums, and the business-zone month.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import { floorRatio, ratio2 } from "../src/stats/Figures.js"
import { businessMonth } from "../src/stats/Stats.js"

const HANOI = "Asia/Ho_Chi_Minh"

describe("statistics' ratios and months", () => {
  it("floorRatio and ratio2 of a zero count are 0; a few values by hand", () => {
    expect([floorRatio(0, 0), floorRatio(5, 0), ratio2(0, 0), ratio2(7, 0)]).toEqual([0, 0, 0, 0])
    expect([floorRatio(7_933_336, 3), floorRatio(9_007_199_254_740_991, 2), floorRatio(2, 3)]).toEqual([
      2_644_445,
      4_503_599_627_370_495,
      0
    ])
    expect([ratio2(4, 3), ratio2(5, 8), ratio2(1, 8), ratio2(2, 3), ratio2(10, 4), ratio2(1, 200)]).toEqual([
      1.33,
      0.63,
      0.13,
      0.67,
      2.5,
      0.01
    ])
  })

  it.prop("floorRatio(s, n) is the largest q with q·n ≤ s, exactly, for every safe s and n", [
    fc.maxSafeNat(),
    fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })
  ], ([s, n]) => {
    const q = BigInt(floorRatio(s, n))
    expect(q * BigInt(n) <= BigInt(s) && (q + 1n) * BigInt(n) > BigInt(s)).toBe(true)
  })

  it.prop("ratio2(s, n)·100 is the whole number of hundredths nearest s ÷ n, a half rounded up", [
    fc.integer({ min: 0, max: 1e12 }),
    fc.integer({ min: 1, max: 1e9 })
  ], ([s, n]) => {
    const h = BigInt(Math.round(ratio2(s, n) * 100))
    // |h − 100s/n| ≤ 1/2, and exactly 1/2 only upwards: 2hn − 200s ∈ (−n, n]
    const twice = 2n * h * BigInt(n) - 200n * BigInt(s)
    expect(twice > -BigInt(n) && twice <= BigInt(n)).toBe(true)
  })

  it("businessMonth: the Hanoi calendar month, from its first midnight there to the next month's", () => {
    expect(businessMonth(Date.UTC(2031, 0, 31, 16, 59, 59, 999), HANOI)).toEqual({
      month: "2031-01",
      from: Date.UTC(2030, 11, 31, 17),
      to: Date.UTC(2031, 0, 31, 17)
    })
    expect(businessMonth(Date.UTC(2031, 0, 31, 23, 30), HANOI)).toEqual({
      month: "2031-02",
      from: Date.UTC(2031, 0, 31, 17),
      to: Date.UTC(2031, 1, 28, 17)
    })
    expect(businessMonth(Date.UTC(2032, 1, 29, 12), HANOI).month).toBe("2032-02") // a leap day
    expect(businessMonth(Date.UTC(2026, 11, 31, 17), HANOI)).toMatchObject({ month: "2027-01", to: Date.UTC(2027, 0, 31, 17) })
    expect(businessMonth(Date.UTC(2031, 0, 31, 23, 30), "UTC").month).toBe("2031-01")
  })
})
