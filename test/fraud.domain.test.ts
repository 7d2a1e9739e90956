/**
 * Pure fraud rules (DOMAIN §8): the defaults as §8 states them, rule validation (every field, every
 * bound, unknown keys, duplicate ids), the canonical definition of a rule version, the reach and
 * context of each kind, the rate's display, and how evaluator rows become hits — as examples and
 * fast-check properties against references written here.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import {
  contextOf,
  DAY_MS,
  DEFAULT_RULES,
  type EvaluatorRow,
  formatRate,
  type FraudRule,
  hitsOf,
  HOUR_MS,
  longestReach,
  MINUTE_MS,
  reachOf,
  ruleDefinition,
  validateRule,
  validateRules
} from "../src/fraud/Fraud.js"

const RUNS = { numRuns: 500 } as const
const [returnRate, walletAbuse, selfDealing] = DEFAULT_RULES as readonly [FraudRule, FraudRule, FraudRule]

const issuesOf = (e: Either.Either<unknown, { readonly issues: ReadonlyArray<{ readonly path: string }> }>) =>
  Either.isLeft(e) ? e.left.issues.map((i) => i.path) : []

describe("the default rules", () => {
  it("are DOMAIN §8's: high-return-rate v1 (7 days, 2 purchases, above 50 %, blacklist, high), wallet-abuse v1 (above 5,000,000, 60 min, 6, suspicious, medium), self-dealing v1 (60 min, 90 %, 3 cycles, 24 h, self-dealing, medium)", () => {
    expect(DEFAULT_RULES.map((r) => [r.id, r.version, r.kind, r.parameters, r.severity, r.action])).toEqual([
      ["high-return-rate", 1, "high-return-rate", { windowDays: 7, minPurchases: 2, rateAbovePercent: 50 }, "high", "blacklist"],
      ["wallet-abuse", 1, "wallet-abuse", { minAmount: 5_000_000, windowMinutes: 60, minCount: 6 }, "medium", "suspicious"],
      ["self-dealing", 1, "self-dealing", { windowMinutes: 60, minRatio: 90, minCycles: 3, cycleWindowHours: 24 }, "medium", "self-dealing"]
    ])
  })

  it("are what an absent configuration gives, and each validates as it is", () => {
    expect(Either.getOrThrow(validateRules(undefined))).toBe(DEFAULT_RULES)
    for (const rule of DEFAULT_RULES) expect(Either.getOrThrow(validateRule(rule, "r"))).toEqual(rule)
    expect(Either.getOrThrow(validateRules([]))).toEqual([])
  })
})

describe("rule validation", () => {
  it("refuses, under the rule's path, a missing or unknown field, an unknown kind, a version below 1, a bad severity, action or id, parameters of another kind, out-of-range and fractional parameters", () => {
    const base = { ...walletAbuse }
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ ...base, id: undefined }, "fraud.rules.0"],
      [{ ...base, id: "Wallet Abuse" }, "fraud.rules.0.id"],
      [{ ...base, id: "wallet--abuse" }, "fraud.rules.0.id"],
      [{ ...base, id: "a".repeat(65) }, "fraud.rules.0.id"],
      [{ ...base, version: 0 }, "fraud.rules.0.version"],
      [{ ...base, version: 1.5 }, "fraud.rules.0.version"],
      [{ ...base, kind: "velocity" }, "fraud.rules.0.kind"],
      [{ ...base, severity: "critical" }, "fraud.rules.0.severity"],
      [{ ...base, action: "" }, "fraud.rules.0.action"],
      [{ ...base, action: "Block!" }, "fraud.rules.0.action"],
      [{ ...base, extra: true }, "fraud.rules.0.extra"],
      [{ ...base, parameters: { ...walletAbuse.parameters, minCount: 0 } }, "fraud.rules.0.parameters.minCount"],
      [{ ...base, parameters: { ...walletAbuse.parameters, minAmount: -1 } }, "fraud.rules.0.parameters.minAmount"],
      [{ ...base, parameters: { ...walletAbuse.parameters, windowMinutes: 60.5 } }, "fraud.rules.0.parameters.windowMinutes"],
      [{ ...base, parameters: { ...walletAbuse.parameters, typo: 1 } }, "fraud.rules.0.parameters.typo"],
      [{ ...base, parameters: returnRate.parameters }, "fraud.rules.0.parameters"],
      [{ ...returnRate, parameters: { ...returnRate.parameters, rateAbovePercent: 100 } }, "fraud.rules.0.parameters.rateAbovePercent"],
      [{ ...selfDealing, parameters: { ...selfDealing.parameters, minRatio: 101 } }, "fraud.rules.0.parameters.minRatio"],
      ["wallet-abuse", "fraud.rules.0"],
      [null, "fraud.rules.0"]
    ]
    for (const [raw, path] of cases) {
      const result = validateRules([raw])
      expect(Either.isLeft(result), JSON.stringify(raw)).toBe(true)
      expect(issuesOf(result).some((p) => p.startsWith(path)), `${JSON.stringify(raw)}: ${issuesOf(result)}`).toBe(true)
    }
  })

  it("refuses a rule id listed twice (one version of each rule is in force) and a list that is not one", () => {
    expect(issuesOf(validateRules([walletAbuse, { ...walletAbuse, version: 2 }]))).toEqual(["fraud.rules.1.id"])
    expect(issuesOf(validateRules("rules" as never))).toEqual(["fraud.rules"])
    // the same kind under two ids is fine: two rules
    expect(Either.getOrThrow(validateRules([walletAbuse, { ...walletAbuse, id: "wallet-abuse-large", parameters: { ...walletAbuse.parameters, minAmount: 50_000_000, minCount: 2 } }]))).toHaveLength(2)
  })

  it("trims the description and accepts any flag name as the action", () => {
    const rule = Either.getOrThrow(validateRule({ ...walletAbuse, action: "review-2", description: "  large top-ups  " }, "r"))
    expect(rule).toMatchObject({ action: "review-2", description: "large top-ups" })
  })

  const arbWalletRule = fc.record({
    id: fc.stringMatching(/^[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,5}){0,2}$/),
    version: fc.integer({ min: 1, max: 1_000_000 }),
    kind: fc.constant("wallet-abuse" as const),
    parameters: fc.record({
      minAmount: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      windowMinutes: fc.integer({ min: 1, max: 7 * 24 * 60 }),
      minCount: fc.integer({ min: 1, max: 1_000_000 })
    }),
    severity: fc.constantFrom("low" as const, "medium" as const, "high" as const),
    action: fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/)
  })

  it("property: every well-formed rule validates to itself, and its definition ignores key order and id/version", () => {
    fc.assert(
      fc.property(arbWalletRule, (rule) => {
        expect(Either.getOrThrow(validateRule(rule, "r"))).toEqual(rule)
        const p = rule.parameters
        const reordered = { ...rule, parameters: { minCount: p.minCount, windowMinutes: p.windowMinutes, minAmount: p.minAmount } }
        expect(ruleDefinition(reordered)).toBe(ruleDefinition(rule))
        expect(ruleDefinition({ ...rule, id: "other", version: rule.version + 1 })).toBe(ruleDefinition(rule))
      }),
      RUNS
    )
  })

  it("property: a definition changes with any parameter, the severity or the action", () => {
    fc.assert(
      fc.property(arbWalletRule, fc.integer({ min: 1, max: 1000 }), (rule, d) => {
        const p = rule.parameters
        expect(ruleDefinition({ ...rule, parameters: { ...p, minCount: p.minCount === 1 ? 2 : p.minCount - 1 } })).not.toBe(ruleDefinition(rule))
        expect(ruleDefinition({ ...rule, parameters: { ...p, minAmount: Math.max(0, p.minAmount - d) === p.minAmount ? p.minAmount + d : p.minAmount - d } })).not.toBe(ruleDefinition(rule))
        expect(ruleDefinition({ ...rule, severity: rule.severity === "low" ? "high" : "low" })).not.toBe(ruleDefinition(rule))
        expect(ruleDefinition({ ...rule, action: `${rule.action}x` })).not.toBe(ruleDefinition(rule))
      }),
      RUNS
    )
  })
})

describe("windows", () => {
  it("each kind's reach (how far a window goes from its anchor) and context (history needed before the first anchor)", () => {
    expect([reachOf(returnRate), contextOf(returnRate)]).toEqual([7 * DAY_MS, 14 * DAY_MS])
    expect([reachOf(walletAbuse), contextOf(walletAbuse)]).toEqual([60 * MINUTE_MS, 60 * MINUTE_MS])
    expect([reachOf(selfDealing), contextOf(selfDealing)]).toEqual([24 * HOUR_MS + 60 * MINUTE_MS, 24 * HOUR_MS])
    expect(longestReach(DEFAULT_RULES)).toBe(7 * DAY_MS)
    expect(longestReach([walletAbuse, selfDealing])).toBe(25 * HOUR_MS)
    expect(longestReach([])).toBe(0)
  })
})

describe("the rate", () => {
  it("shows at most one decimal, rounded down: 2 of 3 is 66.6 %, 51 of 101 is 50.4 %", () => {
    expect(formatRate(2, 2)).toBe("100%")
    expect(formatRate(2, 3)).toBe("66.6%")
    expect(formatRate(3, 5)).toBe("60%")
    expect(formatRate(51, 101)).toBe("50.4%")
    expect(formatRate(0, 4)).toBe("0%")
    expect(formatRate(5, 2)).toBe("250%")
  })

  it("property: the shown rate is the exact rate rounded down to a tenth of a percent (so never above it, never a tenth below it)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 0, max: 200_000 }), (whole, part) => {
        const shown = Number(formatRate(part, whole).slice(0, -1))
        expect(shown * 10).toBe(Math.floor((1000 * part) / whole))
        expect(shown).toBeLessThanOrEqual((100 * part) / whole)
        expect((100 * part) / whole - shown).toBeLessThan(0.1 + 1e-9)
        if (2 * part > whole) expect(shown).toBeGreaterThanOrEqual(50)
      }),
      RUNS
    )
  })
})

describe("hits from evaluator rows", () => {
  const row = (customerId: string, windowFrom: number, over: Partial<EvaluatorRow>): EvaluatorRow => ({
    customerId,
    phone: `09${customerId}`,
    windowFrom,
    windowTo: windowFrom + HOUR_MS,
    itemKind: "transaction",
    id: "x",
    amount: 0,
    pairId: null,
    pairAmount: null,
    ...over
  })

  it("group rows by customer and window, in order; the features are counted from exactly the rows listed", () => {
    const rows = [
      row("a", 0, { id: "t1", amount: 6_000_000 }),
      row("a", 0, { id: "t2", amount: 7_000_000 }),
      row("a", 5 * HOUR_MS, { id: "t3", amount: 8_000_000 }),
      row("b", 0, { id: "t4", amount: 9_000_000 })
    ]
    const hits = hitsOf(walletAbuse, rows)
    expect(hits.map((h) => [h.customerId, h.window.from.getTime(), h.evidence])).toEqual([
      ["a", 0, { window: { from: new Date(0).toISOString(), to: new Date(HOUR_MS).toISOString() }, count: 2, minAmount: 5_000_000, total: 13_000_000, transactionIds: ["t1", "t2"] }],
      ["a", 5 * HOUR_MS, expect.objectContaining({ count: 1, transactionIds: ["t3"] })],
      ["b", 0, expect.objectContaining({ count: 1, transactionIds: ["t4"] })]
    ])
    expect(hits[0]).toMatchObject({ ruleId: "wallet-abuse", ruleVersion: 1, severity: "medium", action: "suspicious", phone: "09a" })
  })

  it("return rate: purchases and returns apart, with the rate; self-dealing: the pairs, deposit then withdrawal", () => {
    const [rate] = hitsOf(returnRate, [
      row("a", 0, { itemKind: "purchase", id: "p1" }),
      row("a", 0, { itemKind: "purchase", id: "p2" }),
      row("a", 0, { itemKind: "return", id: "r1" }),
      row("a", 0, { itemKind: "purchase", id: "p3" }),
      row("a", 0, { itemKind: "return", id: "r2" })
    ])
    expect(rate!.evidence).toMatchObject({ purchases: 3, returns: 2, rate: "66.6%", purchaseIds: ["p1", "p2", "p3"], returnIds: ["r1", "r2"] })
    const [cycles] = hitsOf(selfDealing, [
      row("a", 0, { itemKind: "cycle", id: "d1", amount: 10, pairId: "w1", pairAmount: 9 }),
      row("a", 0, { itemKind: "cycle", id: "d2", amount: 20, pairId: "w2", pairAmount: 20 })
    ])
    expect(cycles!.evidence).toMatchObject({
      cycles: 2,
      pairs: [{ depositId: "d1", deposit: 10, withdrawalId: "w1", withdrawal: 9 }, { depositId: "d2", deposit: 20, withdrawalId: "w2", withdrawal: 20 }],
      transactionIds: ["d1", "w1", "d2", "w2"]
    })
  })

  it("property: as many hits as distinct consecutive (customer, window) runs, and every row's id in exactly its hit", () => {
    const arbRows = fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), fc.integer({ min: 0, max: 3 })), { maxLength: 40 })
      .map((keys) => keys.sort().map(([c, w], i) => row(c, w * HOUR_MS, { id: `t${i}`, amount: i })))
    fc.assert(
      fc.property(arbRows, (rows) => {
        const hits = hitsOf(walletAbuse, rows)
        const groups = new Set(rows.map((r) => `${r.customerId}/${r.windowFrom}`))
        expect(hits).toHaveLength(groups.size)
        const ids = hits.flatMap((h) => (h.evidence as { transactionIds: ReadonlyArray<string> }).transactionIds)
        expect(ids).toEqual(rows.map((r) => r.id))
        for (const h of hits) {
          const evidence = h.evidence as { count: number; transactionIds: ReadonlyArray<string> }
          expect(evidence.count).toBe(evidence.transactionIds.length)
        }
      }),
      RUNS
    )
  })
})
