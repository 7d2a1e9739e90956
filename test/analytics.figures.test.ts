/**
 * The analytics' pure rules (src/analytics/Figures.ts, Analytics.ts's report builders): the floored
 * average toward −∞, the two-decimal percent from the exact quotient, the chronological order of
 * seasons, the day and period checks, and the report builders' line orders and zero lines.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { couponReport, salesReport } from "../src/analytics/Analytics.js"
import {
  compareSeasons,
  Day,
  floorAverage,
  fullName,
  percent2,
  periodDays,
  PeriodQuery,
  salesMetrics,
  SalesReport
} from "../src/analytics/Figures.js"
import { GRADES, seasonOf } from "../src/imports/Retail.js"

describe("analytics figures", () => {
  it("floorAverage is ⌊sum ÷ count⌋ toward −∞, exactly, for any safe sums: count × q ≤ sum < count × (q + 1); 0 without a count", () => {
    fc.assert(fc.property(
      fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: 1, max: 10_000_000 }),
      (sum, count) => {
        const q = BigInt(floorAverage(sum, count))
        expect(BigInt(count) * q <= BigInt(sum)).toBe(true)
        expect(BigInt(sum) < BigInt(count) * (q + 1n)).toBe(true)
      }
    ))
    expect([floorAverage(7, 2), floorAverage(-7, 2), floorAverage(-6, 2), floorAverage(5, 0)]).toEqual([3, -4, -3, 0])
  })

  it("percent2 is part ÷ whole × 100 rounded half up to two decimals from the exact quotient: |percent2 × whole − 100 × part| ≤ whole ÷ 200, never a float drift", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 1, max: 10_000_000 }), (part, whole) => {
      const p = percent2(part, whole)
      expect(Number.isInteger(Math.round(p * 100))).toBe(true)
      // in hundredths of a percent: exact integers
      const hundredths = BigInt(Math.round(p * 100))
      const exact = BigInt(part) * 10_000n
      const err = hundredths * BigInt(whole) - exact
      expect(2n * err <= BigInt(whole) && 2n * err > -BigInt(whole)).toBe(true)
    }))
    expect([percent2(1, 3), percent2(2, 3), percent2(1, 8), percent2(7, 9), percent2(1, 0), percent2(3, 2)]).toEqual([
      33.33,
      66.67,
      12.5,
      77.78,
      0,
      150
    ])
  })

  it("seasons sort chronologically (SS before AW of the same year), whatever their labels sort as text", () => {
    fc.assert(fc.property(fc.array(fc.date({ min: new Date("2000-01-01"), max: new Date("2099-12-31"), noInvalidDate: true })), (dates) => {
      const days = dates.map((d) => d.toISOString().slice(0, 10)).sort()
      const seasons = [...new Set(days.map(seasonOf))]
      expect([...seasons].reverse().sort(compareSeasons)).toEqual(seasons)
    }))
    expect(["AW2026", "SS2027", "SS2026", "AW2025"].sort(compareSeasons)).toEqual(["AW2025", "SS2026", "AW2026", "SS2027"])
  })

  it("a Day is a real calendar day YYYY-MM-DD; a period is from ≤ to and at most 3,660 days, both ends counted", () => {
    const isDay = Schema.is(Day)
    expect(["2026-02-28", "2024-02-29", "1999-12-31"].every(isDay)).toBe(true)
    expect(["2026-02-29", "2026-13-01", "2026-1-01", " 2026-01-01", "20260101", "2026-00-10"].some(isDay)).toBe(false)
    expect(periodDays("2026-01-01", "2026-01-01")).toBe(1)
    expect(periodDays("2024-01-01", "2024-12-31")).toBe(366)
    const ok = Schema.is(PeriodQuery)
    expect(ok({ from: "2026-01-02", to: "2026-01-01" })).toBe(false)
    expect(ok({ from: "2026-01-01", to: "2026-01-01", shopGroup: "HN" })).toBe(true)
  })

  it("the loyalty name is last name then first name, trimmed, without the missing part", () => {
    expect(fullName(" Nguyễn Thị ", "Linh")).toBe("Nguyễn Thị Linh")
    expect(fullName(null, "Linh")).toBe("Linh")
    expect(fullName("", "  ")).toBeNull()
  })

  it("property: the sales report's lines — the five grades in order then the null line only when it has sales or a base; seasons chronological; shop groups by code units; every line decodes as its Schema; grade lines add up to the sums given", () => {
    const sums = fc.record({
      salesAmount: fc.integer({ min: -1_000_000, max: 1_000_000_000 }),
      invoices: fc.integer({ min: 1, max: 1000 }),
      customers: fc.integer({ min: 1, max: 100 })
    })
    const grade = fc.constantFrom(...GRADES, null)
    fc.assert(fc.property(
      fc.uniqueArray(fc.record({ key: grade, sums }), { selector: (l) => l.key }),
      fc.uniqueArray(fc.record({ key: fc.constantFrom("SS2026", "AW2025", "AW2026", "SS2025"), sums }), { selector: (l) => l.key }),
      fc.uniqueArray(fc.record({ key: fc.constantFrom("HN", "SG", "DN", "Hà", "a"), sums }), { selector: (l) => l.key }),
      fc.uniqueArray(fc.record({ key: grade, sums: fc.integer({ min: 0, max: 50 }) }), { selector: (l) => l.key }),
      (byGrade, bySeason, byShopGroup, base) => {
        const report = salesReport({ from: "2026-01-01", to: "2026-12-31", shopGroup: null }, {
          totals: { vip: { salesAmount: 0, invoices: 0, customers: 0 }, nonVip: { salesAmount: 0, invoices: 0 } },
          byGrade,
          bySeason,
          byShopGroup,
          byGradeSeason: [],
          base
        })
        expect(Schema.is(SalesReport)(report)).toBe(true)
        const hasNull = byGrade.some((l) => l.key === null) || base.some((b) => b.key === null)
        expect(report.byGrade.map((l) => l.grade)).toEqual([...GRADES, ...(hasNull ? [null] : [])])
        expect(report.bySeason.map((l) => l.season)).toEqual([...bySeason.map((l) => l.key)].sort(compareSeasons))
        expect(report.byShopGroup.map((l) => l.shopGroup)).toEqual(byShopGroup.map((l) => l.key).sort())
        const baseTotal = base.reduce((n, b) => n + b.sums, 0)
        expect(report.vipBase.total).toBe(baseTotal)
        for (const l of byGrade) {
          const { grade: _, ...figures } = report.byGrade.find((x) => x.grade === l.key)!
          expect(figures).toEqual(salesMetrics(l.sums, base.find((b) => b.key === l.key)?.sums ?? 0))
        }
      }
    ))
  })

  it("the coupon report lists the five grades always and the null line when it has coupons; unused coupons (shop group null) last", () => {
    const c = (issued: number) => ({ issued, used: 1, faceValue: issued * 10, usedValue: 10 })
    const report = couponReport({ from: "2026-01-01", to: "2026-01-31", shopGroup: null }, {
      totals: c(6),
      byGrade: [{ key: "VIP2", sums: c(2) }],
      bySeason: [{ key: "SS2026", sums: c(6) }],
      byShopGroup: [{ key: null, sums: c(3) }, { key: "SG", sums: c(2) }, { key: "HN", sums: c(1) }]
    })
    expect(report.byGrade.map((l) => [l.grade, l.issued])).toEqual([["VIP0", 0], ["VIP1", 0], ["VIP2", 2], ["VIP3", 0], ["DIAMOND", 0]])
    expect(report.byShopGroup.map((l) => l.shopGroup)).toEqual(["HN", "SG", null])
    expect(report.total).toEqual({ issued: 6, used: 1, usageRate: 16.67, faceValue: 60, usedValue: 10 })
  })
})
