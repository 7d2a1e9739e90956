/**
 * Pure RFM rules (DOMAIN §6): the R, F and M scores at their edges and as monotonic functions, the
 * exact integer least sums of the tiers, the tier rules, the segment table (complete, first match
 * wins, the package's segment for every code the package names), the quantile tie policy and the
 * explanation — against references written independently of the implementation.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { defaultRfmConfig, makeRfmConfig, type RfmConfig } from "../src/kernel/Config.js"
import {
  explain,
  frequencyScore,
  monetaryScore,
  quantileScore,
  recencyScore,
  type RfmInputs,
  type Score,
  scoreCustomer,
  SEGMENT_NAMES,
  SEGMENT_RULES,
  type SegmentName,
  segmentOf,
  tierMinSums
} from "../src/purchases/Rfm.js"

const RUNS = { numRuns: 300 } as const
const DAY = 86_400_000
const D = defaultRfmConfig
const SCORES: ReadonlyArray<Score> = [1, 2, 3, 4, 5]
const TODAY = 20_000
const NOW = TODAY * DAY + 12 * 3_600_000
/** Created long ago: the new-customer rule never applies. */
const OLD = NOW - 1_000 * DAY

/** References: a score is 1 plus the number of bounds the value satisfies (the bounds are ordered). */
const refR = (days: number | null, c: RfmConfig): number => days === null ? 1 : 1 + c.recencyDays.filter((b) => days <= b).length
const refF = (count: number, c: RfmConfig): number => 1 + c.frequency.filter((b) => count >= b).length
const refM = (total: number, c: RfmConfig): number => 1 + c.monetary.filter((b) => total >= b).length

const TIER_RANK = { new: 0, silver: 1, gold: 2, platinum: 3 } as const

/** Four distinct non-negative integers, sorted ascending. */
const arbAscending = (min: number, max: number) =>
  fc.uniqueArray(fc.integer({ min, max }), { minLength: 4, maxLength: 4 }).map((xs) => [...xs].sort((a, b) => a - b) as unknown as readonly [number, number, number, number])
const arbDescending = (min: number, max: number) =>
  arbAscending(min, max).map((xs) => [xs[3], xs[2], xs[1], xs[0]] as const)
/** A threshold with two decimals in [1, 5]. */
const arbTwoDecimals = fc.integer({ min: 100, max: 500 })

/** A configuration that makeRfmConfig accepts. */
const arbConfig: fc.Arbitrary<RfmConfig> = fc
  .record({
    recencyDays: arbAscending(0, 400),
    frequency: arbDescending(1, 60),
    monetary: arbDescending(1, 50_000_000),
    tiers: fc.uniqueArray(arbTwoDecimals, { minLength: 3, maxLength: 3 }).map((xs) => {
      const [silver, gold, platinum] = [...xs].sort((a, b) => a - b).map((k) => k / 100) as [number, number, number]
      return { platinum, gold, silver }
    }),
    newCustomerDays: fc.integer({ min: 0, max: 365 }),
    frequencyWindowDays: fc.integer({ min: 1, max: 365 })
  })
  .map((raw) => Effect.runSync(makeRfmConfig(raw)))

const arbInputs: fc.Arbitrary<RfmInputs> = fc.record({
  lastPurchaseDay: fc.option(fc.integer({ min: TODAY - 500, max: TODAY }), { nil: null }),
  frequency: fc.integer({ min: 0, max: 40 }),
  monetary: fc.integer({ min: 0, max: 30_000_000 }),
  createdAt: fc.integer({ min: NOW - 400 * DAY, max: NOW }),
  blacklisted: fc.boolean()
})

describe("R, F and M scores", () => {
  it("the default thresholds at their exact edges (DOMAIN §6)", () => {
    const r: Array<[number | null, Score]> = [[0, 5], [7, 5], [8, 4], [14, 4], [15, 3], [30, 3], [31, 2], [60, 2], [61, 1], [10_000, 1], [null, 1]]
    for (const [days, score] of r) expect(recencyScore(days, D), `R of ${days} days`).toBe(score)
    const f: Array<[number, Score]> = [[40, 5], [11, 5], [10, 4], [6, 4], [5, 3], [3, 3], [2, 2], [1, 1], [0, 1]]
    for (const [count, score] of f) expect(frequencyScore(count, D), `F of ${count}`).toBe(score)
    const m: Array<[number, Score]> = [
      [99_000_000, 5],
      [10_000_001, 5],
      [10_000_000, 4],
      [5_000_000, 4],
      [4_999_999, 3],
      [2_000_000, 3],
      [1_999_999, 2],
      [500_000, 2],
      [499_999, 1],
      [0, 1]
    ]
    for (const [total, score] of m) expect(monetaryScore(total, D), `M of ${total}`).toBe(score)
  })

  it("property: random valid configs — the value at each bound gets its score, one past it the next lower", () => {
    fc.assert(
      fc.property(arbConfig, (c) => {
        for (let i = 0; i < 4; i++) {
          const score = 5 - i
          expect(recencyScore(c.recencyDays[i]!, c)).toBe(score)
          expect(recencyScore(c.recencyDays[i]! + 1, c)).toBe(score - 1)
          expect(frequencyScore(c.frequency[i]!, c)).toBe(score)
          expect(frequencyScore(c.frequency[i]! - 1, c)).toBe(score - 1)
          expect(monetaryScore(c.monetary[i]!, c)).toBe(score)
          expect(monetaryScore(c.monetary[i]! - 1, c)).toBe(score - 1)
        }
        expect(recencyScore(null, c)).toBe(1)
      }),
      RUNS
    )
  })

  it("property: each score equals the reference (1 + the bounds it meets) for any value and config", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(D), arbConfig),
        fc.option(fc.integer({ min: 0, max: 500 }), { nil: null }),
        fc.integer({ min: 0, max: 80 }),
        fc.integer({ min: 0, max: 60_000_000 }),
        (c, days, count, total) => {
          expect(recencyScore(days, c)).toBe(refR(days, c))
          expect(frequencyScore(count, c)).toBe(refF(count, c))
          expect(monetaryScore(total, c)).toBe(refM(total, c))
        }
      ),
      RUNS
    )
  })

  it("property: R is non-increasing in days, F and M non-decreasing in their inputs", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(D), arbConfig),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 60_000_000 }),
        fc.integer({ min: 0, max: 60_000_000 }),
        (c, a, b, x, y) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a]
          const [small, large] = x <= y ? [x, y] : [y, x]
          expect(recencyScore(hi, c)).toBeLessThanOrEqual(recencyScore(lo, c))
          expect(recencyScore(null, c)).toBeLessThanOrEqual(recencyScore(hi, c))
          expect(frequencyScore(hi, c)).toBeGreaterThanOrEqual(frequencyScore(lo, c))
          expect(monetaryScore(large, c)).toBeGreaterThanOrEqual(monetaryScore(small, c))
        }
      ),
      RUNS
    )
  })
})

describe("tiers", () => {
  it("tierMinSums of the defaults and of thresholds whose floats misbehave", () => {
    expect(tierMinSums(D)).toEqual({ platinum: 14, gold: 11, silver: 8 })
    const c = (platinum: number, gold: number, silver: number): RfmConfig => ({ ...D, tiers: { platinum, gold, silver } })
    expect(tierMinSums(c(4, 3.7, 1))).toEqual({ platinum: 12, gold: 12, silver: 3 })
    // In floats 3 · 3.7 is 11.100000000000001, 3 · 2.3 is 6.8999999999999995, 3 · 1.1 is 3.3000000000000003.
    expect(tierMinSums(c(5, 2.3, 1.1))).toEqual({ platinum: 15, gold: 7, silver: 4 })
    expect(tierMinSums(c(4.67, 3.33, 2.34))).toEqual({ platinum: 15, gold: 10, silver: 8 })
    // Thresholds are read to six decimals: 11 / 3 is 3.666667 (ceil(3 · t) on floats gives 11), 3.0000001 is 3 (floats give 10).
    expect(tierMinSums(c(4.9, 11 / 3, 3.0000001))).toEqual({ platinum: 15, gold: 12, silver: 9 })
  })

  it("property: for thresholds with two decimals in [1, 5], sum ≥ minSum ⇔ 100·sum ≥ 3·(100·threshold)", () => {
    fc.assert(
      fc.property(arbTwoDecimals, arbTwoDecimals, arbTwoDecimals, (a, b, k) => {
        const t = k / 100
        const min = tierMinSums({ ...D, tiers: { platinum: t, gold: a / 100, silver: b / 100 } })
        for (let sum = 0; sum <= 16; sum++) expect(sum >= min.platinum, `sum ${sum}, threshold ${t}`).toBe(sum * 100 >= 3 * k)
        expect(Number.isInteger(min.gold) && Number.isInteger(min.silver)).toBe(true)
        expect(min.gold * 100 >= 3 * a && (min.gold - 1) * 100 < 3 * a).toBe(true)
      }),
      RUNS
    )
  })

  const old = (inputs: Partial<RfmInputs>): RfmInputs => ({ lastPurchaseDay: TODAY, frequency: 1, monetary: 0, createdAt: OLD, blacklisted: false, ...inputs })

  it("the tier rules in order: blacklist, no purchase, young customer, then the least sums", () => {
    const champion = old({ lastPurchaseDay: TODAY - 2, frequency: 20, monetary: 20_000_000 })
    expect(scoreCustomer(champion, { today: TODAY, now: NOW }, D).tier).toBe("platinum")
    expect(scoreCustomer({ ...champion, blacklisted: true }, { today: TODAY, now: NOW }, D).tier).toBe("blacklist")
    expect(scoreCustomer({ ...champion, lastPurchaseDay: null }, { today: TODAY, now: NOW }, D).tier).toBe("new")
    expect(scoreCustomer({ ...champion, lastPurchaseDay: null, blacklisted: true }, { today: TODAY, now: NOW }, D).tier).toBe("blacklist")
    // Younger than 30 days by one millisecond: new; exactly 30 days: scored.
    expect(scoreCustomer({ ...champion, createdAt: NOW - 30 * DAY + 1 }, { today: TODAY, now: NOW }, D).tier).toBe("new")
    expect(scoreCustomer({ ...champion, createdAt: NOW - 30 * DAY }, { today: TODAY, now: NOW }, D).tier).toBe("platinum")
    // Sums 14 / 13 / 11 / 10 / 8 / 7 around the least sums 14, 11, 8.
    const bySum: Array<[Partial<RfmInputs>, number, string]> = [
      [{ lastPurchaseDay: TODAY - 7, frequency: 11, monetary: 5_000_000 }, 14, "platinum"],
      [{ lastPurchaseDay: TODAY - 8, frequency: 11, monetary: 5_000_000 }, 13, "gold"],
      [{ lastPurchaseDay: TODAY - 15, frequency: 6, monetary: 5_000_000 }, 11, "gold"],
      [{ lastPurchaseDay: TODAY - 15, frequency: 6, monetary: 4_999_999 }, 10, "silver"],
      [{ lastPurchaseDay: TODAY - 31, frequency: 3, monetary: 2_000_000 }, 8, "silver"],
      [{ lastPurchaseDay: TODAY - 31, frequency: 2, monetary: 2_000_000 }, 7, "new"],
      [{ lastPurchaseDay: TODAY - 61, frequency: 0, monetary: 0 }, 3, "new"]
    ]
    for (const [inputs, sum, tier] of bySum) {
      const result = scoreCustomer(old(inputs), { today: TODAY, now: NOW }, D)
      expect(result.sum, JSON.stringify(inputs)).toBe(sum)
      expect(result.tier, JSON.stringify(inputs)).toBe(tier)
    }
  })

  it("the result: recency days never below 0, null without a purchase; score is sum / 3 to 2 decimals", () => {
    const r = scoreCustomer(old({ lastPurchaseDay: TODAY - 9, frequency: 6, monetary: 2_500_000 }), { today: TODAY, now: NOW }, D)
    expect(r).toEqual({ recencyDays: 9, frequency: 6, monetary: 2_500_000, r: 4, f: 4, m: 3, sum: 11, score: 3.67, tier: "gold", segment: "Potential Loyalist" })
    expect(scoreCustomer(old({ lastPurchaseDay: TODAY + 1 }), { today: TODAY, now: NOW }, D).recencyDays).toBe(0)
    const none = scoreCustomer(old({ lastPurchaseDay: null }), { today: TODAY, now: NOW }, D)
    expect([none.recencyDays, none.r, none.tier]).toEqual([null, 1, "new"])
    // Reference display: sum / 3 to two decimals, from the remainder (x.00, x.33, x.67).
    for (const [r, f, m] of SCORES.flatMap((a) => SCORES.flatMap((b) => SCORES.map((c) => [a, b, c] as const)))) {
      const result = scoreCustomer(old({}), { today: TODAY, now: NOW }, D, { r, f, m })
      const sum = r + f + m
      expect(result.sum).toBe(sum)
      expect(result.score.toFixed(2)).toBe(`${Math.floor(sum / 3)}.${["00", "33", "67"][sum % 3]}`)
    }
  })

  it("property: the result agrees with the references for any inputs and config", () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(D), arbConfig), arbInputs, (c, inputs) => {
        const result = scoreCustomer(inputs, { today: TODAY, now: NOW }, c)
        const days = inputs.lastPurchaseDay === null ? null : TODAY - inputs.lastPurchaseDay
        expect(result.recencyDays).toBe(days)
        expect([result.r, result.f, result.m]).toEqual([refR(days, c), refF(inputs.frequency, c), refM(inputs.monetary, c)])
        expect(result.sum).toBe(result.r + result.f + result.m)
        expect(result.segment).toBe(segmentOf(result.r, result.f, result.m))
        // Reference tier: compare in integers, 100·sum against 3·(100·threshold) (thresholds have two decimals).
        const reaches = (t: number) => result.sum * 100 >= 3 * Math.round(t * 100)
        const expected = inputs.blacklisted
          ? "blacklist"
          : inputs.lastPurchaseDay === null || NOW - inputs.createdAt < c.newCustomerDays * DAY
          ? "new"
          : reaches(c.tiers.platinum)
          ? "platinum"
          : reaches(c.tiers.gold)
          ? "gold"
          : reaches(c.tiers.silver)
          ? "silver"
          : "new"
        expect(result.tier).toBe(expected)
      }),
      RUNS
    )
  })

  it("property: improving any input never lowers the sum nor the tier (blacklist and new-customer rules aside)", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(D), arbConfig),
        arbInputs,
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 20_000_000 }),
        (c, raw, fewerDays, moreCount, moreSpent) => {
          const before: RfmInputs = { ...raw, lastPurchaseDay: raw.lastPurchaseDay ?? TODAY - 300, createdAt: OLD, blacklisted: false }
          const after: RfmInputs = {
            ...before,
            lastPurchaseDay: Math.min(TODAY, before.lastPurchaseDay! + fewerDays),
            frequency: before.frequency + moreCount,
            monetary: before.monetary + moreSpent
          }
          const a = scoreCustomer(before, { today: TODAY, now: NOW }, c)
          const b = scoreCustomer(after, { today: TODAY, now: NOW }, c)
          expect(b.sum).toBeGreaterThanOrEqual(a.sum)
          expect(a.tier).not.toBe("blacklist")
          expect(TIER_RANK[b.tier as keyof typeof TIER_RANK]).toBeGreaterThanOrEqual(TIER_RANK[a.tier as keyof typeof TIER_RANK])
        }
      ),
      RUNS
    )
  })

  it("quantile mode: the given scores are used as they are; only sum, tier and segment are derived", () => {
    const inputs: RfmInputs = { lastPurchaseDay: TODAY - 200, frequency: 0, monetary: 0, createdAt: OLD, blacklisted: false }
    const result = scoreCustomer(inputs, { today: TODAY, now: NOW }, { ...D, mode: "quantile" }, { r: 5, f: 4, m: 5 })
    expect(result).toMatchObject({ recencyDays: 200, frequency: 0, monetary: 0, r: 5, f: 4, m: 5, sum: 14, tier: "platinum", segment: "Potential Loyalist" })
  })
})

/** The R `rfm` package's table as published (ANCHORS "RFM"): first match wins, the rest "Others". */
const PACKAGE: ReadonlyArray<readonly [SegmentName, number, number, number, number, number, number]> = [
  ["Champions", 5, 5, 5, 5, 5, 5],
  ["Potential Loyalist", 3, 5, 3, 5, 2, 5],
  ["Loyal", 2, 4, 2, 4, 2, 4],
  ["Promising", 3, 4, 1, 3, 3, 5],
  ["New", 4, 5, 1, 3, 1, 5],
  ["Can't Lose Them", 1, 2, 3, 4, 4, 5],
  ["At Risk", 1, 2, 2, 5, 4, 5],
  ["Need Attention", 1, 3, 3, 5, 3, 5],
  ["About To Sleep", 2, 3, 1, 3, 1, 4],
  ["Lost", 1, 1, 1, 5, 1, 5]
]
const packageSegment = (r: number, f: number, m: number): SegmentName | "Others" =>
  PACKAGE.find(([, r0, r1, f0, f1, m0, m1]) => r >= r0 && r <= r1 && f >= f0 && f <= f1 && m >= m0 && m <= m1)?.[0] ?? "Others"
/** Our decisions for the package's "Others". */
const HOLES: Readonly<Record<string, SegmentName>> = {
  "215": "About To Sleep",
  "241": "About To Sleep",
  "251": "About To Sleep",
  "252": "About To Sleep",
  "341": "About To Sleep",
  "351": "About To Sleep",
  "441": "New",
  "451": "New",
  "541": "New",
  "551": "New"
}
const CODES: ReadonlyArray<readonly [Score, Score, Score]> = SCORES.flatMap((r) => SCORES.flatMap((f) => SCORES.map((m) => [r, f, m] as const)))
const matches = (rule: (typeof SEGMENT_RULES)[number], r: number, f: number, m: number) =>
  r >= rule.r[0] && r <= rule.r[1] && f >= rule.f[0] && f <= rule.f[1] && m >= rule.m[0] && m <= rule.m[1]

describe("segments", () => {
  it("the ten names of the package, in its order; every rule uses one of them and every name has a rule", () => {
    expect(SEGMENT_NAMES).toEqual([
      "Champions",
      "Potential Loyalist",
      "Loyal",
      "Promising",
      "New",
      "Can't Lose Them",
      "At Risk",
      "Need Attention",
      "About To Sleep",
      "Lost"
    ])
    for (const rule of SEGMENT_RULES) {
      expect(SEGMENT_NAMES).toContain(rule.name)
      for (const x of [rule.r, rule.f, rule.m]) expect(1 <= x[0] && x[0] <= x[1] && x[1] <= 5, `${rule.name} ${x}`).toBe(true)
    }
    expect(new Set(SEGMENT_RULES.map((rule) => rule.name))).toEqual(new Set(SEGMENT_NAMES))
  })

  it("complete and disjoint: every one of the 125 codes matches a rule, segmentOf is its first match, the segments partition the codes", () => {
    expect(CODES.length).toBe(125)
    const bySegment = new Map<SegmentName, Set<string>>()
    for (const [r, f, m] of CODES) {
      const first = SEGMENT_RULES.find((rule) => matches(rule, r, f, m))
      expect(first, `${r}${f}${m} matches a rule`).toBeDefined()
      const segment = segmentOf(r, f, m)
      expect(segment, `${r}${f}${m}`).toBe(first!.name)
      const set = bySegment.get(segment) ?? new Set<string>()
      set.add(`${r}${f}${m}`)
      bySegment.set(segment, set)
    }
    const all = [...bySegment.values()].flatMap((s) => [...s])
    expect(all.length).toBe(125)
    expect(new Set(all).size).toBe(125)
    for (const name of SEGMENT_NAMES) expect(bySegment.get(name)?.size ?? 0, `${name} has codes`).toBeGreaterThan(0)
  })

  it("every code the package names keeps the package's segment; the package's ten Others get our decisions", () => {
    const others: Array<string> = []
    for (const [r, f, m] of CODES) {
      const code = `${r}${f}${m}`
      const theirs = packageSegment(r, f, m)
      if (theirs === "Others") {
        others.push(code)
        expect(segmentOf(r, f, m), code).toBe(HOLES[code])
      } else {
        expect(segmentOf(r, f, m), code).toBe(theirs)
      }
    }
    expect(others).toEqual(Object.keys(HOLES))
  })

  it("fixed codes", () => {
    expect(segmentOf(5, 5, 5)).toBe("Champions")
    expect(segmentOf(1, 1, 1)).toBe("Lost")
    expect(segmentOf(5, 4, 1)).toBe("New")
    expect(segmentOf(3, 5, 1)).toBe("About To Sleep")
    expect(segmentOf(2, 1, 5)).toBe("About To Sleep")
    expect(segmentOf(1, 3, 5)).toBe("Can't Lose Them")
    expect(segmentOf(1, 5, 5)).toBe("At Risk")
    expect(segmentOf(1, 5, 3)).toBe("Need Attention")
    expect(segmentOf(1, 5, 2)).toBe("Lost")
    expect(segmentOf(4, 2, 3)).toBe("Loyal")
    // Lost holds only R1 codes.
    for (const [r, f, m] of CODES) if (segmentOf(r, f, m) === "Lost") expect(r).toBe(1)
  })
})

describe("quantile scores", () => {
  /** Scores every customer of a population of values (higher is better) by its below/equal counts. */
  const scoreAll = (values: ReadonlyArray<number>): Array<Score> =>
    values.map((v) => quantileScore(values.filter((w) => w < v).length, values.filter((w) => w === v).length, values.length))

  it("property: equal values get equal scores, always 1..5, monotonic in value", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 200 }), (values) => {
        const scores = scoreAll(values)
        for (let i = 0; i < values.length; i++) {
          expect(SCORES).toContain(scores[i])
          for (let j = 0; j < values.length; j++) {
            if (values[i] === values[j]) expect(scores[i]).toBe(scores[j])
            if (values[i]! < values[j]!) expect(scores[i]).toBeLessThanOrEqual(scores[j]!)
          }
        }
      }),
      { numRuns: 200 }
    )
  })

  it("property: the integer formula is the mid-quantile min(5, 1 + floor(5q)), q = (below + equal / 2) / population", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.nat(), fc.nat(), (population, x, y) => {
        const below = x % population
        const equal = 1 + (y % (population - below))
        const score = quantileScore(below, equal, population)
        // floor(5q) = k ⇔ k ≤ 5q < k + 1 ⇔ 2·k·population ≤ 10·below + 5·equal < 2·(k + 1)·population.
        const k = score - 1
        const twice5q = 10 * below + 5 * equal
        expect(2 * k * population <= twice5q).toBe(true)
        if (score < 5) expect(twice5q < 2 * (k + 1) * population).toBe(true)
      }),
      RUNS
    )
  })

  it("a population where 80% share one value gives that value one score, neither 1 nor 5", () => {
    for (const rest of [[0, 20], [10, 10], [20, 0]] as const) {
      const [lower, higher] = rest
      const values = [...Array(lower).fill(0), ...Array(80).fill(1), ...Array(higher).fill(2)]
      const scores = scoreAll(values)
      const shared = new Set(scores.filter((_, i) => values[i] === 1))
      expect(shared.size).toBe(1)
      const [s] = [...shared]
      expect(s).toBeGreaterThanOrEqual(2)
      expect(s).toBeLessThanOrEqual(4)
    }
    // Everyone equal: everyone 3 (the middle), not everyone 1 or 5.
    expect(quantileScore(0, 10, 10)).toBe(3)
    expect(quantileScore(0, 1, 1)).toBe(3)
    expect(quantileScore(99, 1, 100)).toBe(5)
    expect(quantileScore(0, 1, 100)).toBe(1)
  })
})

describe("explain", () => {
  const at = { today: TODAY, now: NOW }
  const of = (inputs: Partial<RfmInputs>, c: RfmConfig = D) =>
    explain(scoreCustomer({ lastPurchaseDay: TODAY, frequency: 1, monetary: 0, createdAt: OLD, blacklisted: false, ...inputs }, at, c), c)

  it("one sentence per dimension, then tier and segment, with the numbers and what the next score needs", () => {
    expect(of({ lastPurchaseDay: TODAY - 9, frequency: 2, monetary: 2_500_000 })).toEqual([
      "R = 4: last purchase 9 days ago; 7 days or fewer are needed for 5",
      "F = 2: 2 purchases in the last 90 days; 3 are needed for 3",
      "M = 3: 2,500,000 đồng spent, less returns; 5,000,000 are needed for 4",
      "Tier silver: score 3.00 (R + F + M = 9) is at least 2.5; 3.5 is needed for gold",
      "Segment Loyal: R 2–4, F 2–4, M 2–4"
    ])
    expect(of({ lastPurchaseDay: TODAY - 9, frequency: 6, monetary: 2_500_000 })[3]).toBe(
      "Tier gold: score 3.67 (R + F + M = 11) is at least 3.5; 4.5 is needed for platinum"
    )
    const top = of({ lastPurchaseDay: TODAY - 1, frequency: 12, monetary: 12_000_000 })
    expect(top).toEqual([
      "R = 5: last purchase 1 day ago (the highest score)",
      "F = 5: 12 purchases in the last 90 days (the highest score)",
      "M = 5: 12,000,000 đồng spent, less returns (the highest score)",
      "Tier platinum: score 5.00 (R + F + M = 15) is at least 4.5 (the highest tier)",
      "Segment Champions: R 5, F 5, M 5"
    ])
    const never = of({ lastPurchaseDay: null, frequency: 0 })
    expect(never[0]).toBe("R = 1: no purchase yet")
    expect(never[1]).toBe("F = 1: 0 purchases in the last 90 days; 2 are needed for 2")
    expect(never[2]).toBe("M = 1: 0 đồng spent, less returns; 500,000 are needed for 2")
    expect(never[3]).toBe("Tier new: no purchase yet")
    expect(never[4]).toBe("Segment Lost: R 1, F 1–5, M 1–5")
    expect(of({ lastPurchaseDay: TODAY - 100 })[0]).toBe("R = 1: last purchase 100 days ago; 60 days or fewer are needed for 2")
    expect(of({ frequency: 12, monetary: 20_000_000, createdAt: NOW - DAY })[3]).toBe("Tier new: the customer is younger than 30 days")
    expect(of({ lastPurchaseDay: TODAY - 61, frequency: 1, createdAt: NOW - DAY })[3]).toBe("Tier new: score 1.00 (R + F + M = 3) is below 2.5, the least for silver")
    expect(of({ frequency: 12, blacklisted: true })[3]).toBe("Tier blacklist: a fraud rule blacklisted the customer")
  })

  it("quantile mode: the R, F and M sentences name the customer's place instead of a threshold", () => {
    const c: RfmConfig = { ...D, mode: "quantile" }
    const result = scoreCustomer({ lastPurchaseDay: TODAY - 9, frequency: 2, monetary: 2_500_000, createdAt: OLD, blacklisted: false }, at, c, { r: 2, f: 5, m: 3 })
    const lines = explain(result, c)
    expect(lines.slice(0, 3)).toEqual([
      "R = 2: last purchase 9 days ago (quantile mode: its place among all customers)",
      "F = 5: 2 purchases in the last 90 days (quantile mode: its place among all customers)",
      "M = 3: 2,500,000 đồng spent, less returns (quantile mode: its place among all customers)"
    ])
    expect(lines[4]).toBe("Segment Need Attention: R 1–3, F 3–5, M 3–5")
  })

  it("property: five sentences naming r, f, m, the tier and the segment; below 5, the hint names the next score's bound", () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(D), arbConfig), arbInputs, (c, inputs) => {
        const result = scoreCustomer(inputs, at, c)
        const lines = explain(result, c)
        expect(lines.length).toBe(5)
        expect(lines[0]!.startsWith(`R = ${result.r}: `)).toBe(true)
        expect(lines[1]!.startsWith(`F = ${result.f}: `)).toBe(true)
        expect(lines[2]!.startsWith(`M = ${result.m}: `)).toBe(true)
        expect(lines[3]!.startsWith(`Tier ${result.tier}: `)).toBe(true)
        expect(lines[4]!.startsWith(`Segment ${result.segment}: `)).toBe(true)
        const fmt = (v: number) => v.toLocaleString("en-US")
        expect(lines[1]).toContain(`${fmt(result.frequency)} purchase`)
        expect(lines[2]).toContain(`${fmt(result.monetary)} đồng`)
        if (result.f < 5) expect(lines[1]!.endsWith(`${fmt(c.frequency[4 - result.f]!)} ${c.frequency[4 - result.f] === 1 ? "is" : "are"} needed for ${result.f + 1}`)).toBe(true)
        else expect(lines[1]!.endsWith("(the highest score)")).toBe(true)
        if (result.m < 5) expect(lines[2]!.endsWith(`; ${fmt(c.monetary[4 - result.m]!)} are needed for ${result.m + 1}`)).toBe(true)
        if (result.r < 5 && result.recencyDays !== null) {
          const most = c.recencyDays[4 - result.r]!
          const bound = most === 1 ? "1 day or fewer is" : `${fmt(most)} days or fewer are`
          expect(lines[0]!.endsWith(`; ${bound} needed for ${result.r + 1}`), lines[0]).toBe(true)
        }
        if (result.recencyDays !== null && result.recencyDays > 1) expect(lines[0]).toContain(`last purchase ${fmt(result.recencyDays)} days ago`)
      }),
      RUNS
    )
  })
})
