/**
 * The imports' value rules (src/imports/Values.ts), with properties: money in whole đồng written
 * with either thousands separator and a zero fraction reads back the integer; a non-zero fraction
 * is refused; dates in every accepted form, Excel serials, Hanoi day edges; phones; grades; flags;
 * the header matching and the compact key set.
 */
import { describe, expect, it } from "vitest"
import * as fc from "effect/FastCheck"
import { KeySet } from "../src/imports/KeySet.js"
import { ImportHeaderInvalid, resolveHeader } from "../src/imports/Kinds.js"
import * as V from "../src/imports/Values.js"

const HANOI = "Asia/Ho_Chi_Minh"
const group = (n: number, sep: string) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, sep)

describe("money in whole đồng", () => {
  it("property: every written form of a safe integer reads back the integer", () => {
    fc.assert(fc.property(fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 5 }), (n, form) => {
      const abs = Math.abs(n)
      const sign = n < 0 ? "-" : ""
      const written = [
        `${sign}${abs}`,
        `${sign}${group(abs, ".")}`,
        `${sign}${group(abs, ",")}`,
        `${sign}${abs}.00`,
        `${sign}${group(abs, ".")},00`,
        `${sign}${group(abs, ",")}.00`
      ][form]!
      expect(V.money(written, { signed: true })).toBe(n === 0 ? 0 : n)
      expect(V.money(n, { signed: true })).toBe(n === 0 ? 0 : n)
    }))
  })

  it("property: a non-zero fraction is refused", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000_000_000 }), fc.integer({ min: 1, max: 99 }), (n, cents) => {
      const fraction = String(cents).padStart(2, "0")
      expect(V.money(`${n}.${fraction}`, { signed: true })).toBeInstanceOf(V.Invalid)
      expect(V.money(`${group(n, ".")},${fraction}`, { signed: true })).toBeInstanceOf(V.Invalid)
      expect(V.money(n + cents / 100, { signed: true })).toBeInstanceOf(V.Invalid)
    }))
  })

  it("the examples and the ambiguous cases, as documented", () => {
    expect(V.money("1.234.000", { signed: false })).toBe(1_234_000)
    expect(V.money("1,234,000", { signed: false })).toBe(1_234_000)
    expect(V.money("1234000.00", { signed: false })).toBe(1_234_000)
    expect(V.money("1.234.000,00", { signed: false })).toBe(1_234_000)
    expect(V.money(" 1 234 000 ₫ ", { signed: false })).toBe(1_234_000)
    expect(V.money("1.234", { signed: false })).toBe(1234) // one separator, three digits: thousands
    expect(V.money("1,234", { signed: false })).toBe(1234)
    expect(V.money("1234.000", { signed: false })).toBe(1234) // not a grouping: a zero fraction
    expect(V.money("0.500", { signed: false })).toBeInstanceOf(V.Invalid) // half a đồng
    expect(V.money("1.5", { signed: false })).toBeInstanceOf(V.Invalid)
    expect(V.money("1.23.456", { signed: false })).toBeInstanceOf(V.Invalid)
    expect(V.money("1,234.567,00", { signed: false })).toBeInstanceOf(V.Invalid)
    expect(V.money("-5", { signed: false })).toMatchObject({ reason: "must not be negative" })
    expect(V.money("-0", { signed: false })).toBe(0)
    expect(V.money("-5.000", { signed: true })).toBe(-5000)
    expect(V.money("9007199254740993", { signed: true })).toMatchObject({ reason: "is too large" })
    expect(V.money("abc", { signed: true })).toBeInstanceOf(V.Invalid)
    expect(V.money("", { signed: true })).toMatchObject({ reason: "is empty" })
    expect(V.integer("13", { max: 12 })).toMatchObject({ reason: "must be at most 12" })
    expect(V.id("12a")).toBeInstanceOf(V.Invalid)
    expect(V.id(-1)).toBeInstanceOf(V.Invalid)
  })
})

describe("business days", () => {
  it("every form; Hanoi edges: 30 June 23:30 local is SS, 30 June 17:10 UTC is 1 July in Hanoi", () => {
    const start = Date.UTC(2026, 5, 29, 17) // 30 June 00:00 in Hanoi
    expect(V.when("2026-06-30", HANOI)).toEqual({ day: "2026-06-30", at: start })
    expect(V.when("30/06/2026", HANOI)).toEqual({ day: "2026-06-30", at: start })
    expect(V.when("1/7/2026", HANOI)).toEqual({ day: "2026-07-01", at: start + 86_400_000 })
    expect(V.when("2026-06-30 23:30", HANOI)).toEqual({ day: "2026-06-30", at: Date.UTC(2026, 5, 30, 16, 30) })
    expect(V.when("30/06/2026 23:30:15", HANOI)).toEqual({ day: "2026-06-30", at: Date.UTC(2026, 5, 30, 16, 30, 15) })
    expect(V.when("2026-06-30T17:10:00Z", HANOI)).toEqual({ day: "2026-07-01", at: Date.UTC(2026, 5, 30, 17, 10) })
    expect(V.when("2026-07-01T00:10:00+07:00", HANOI)).toEqual({ day: "2026-07-01", at: Date.UTC(2026, 5, 30, 17, 10) })
    expect(V.when("2026-06-30T10:00:00.5-0500", HANOI)).toEqual({ day: "2026-06-30", at: Date.UTC(2026, 5, 30, 15, 0, 0, 500) })
    expect(V.when(46203, HANOI)).toEqual({ day: "2026-06-30", at: start }) // Excel serial
    expect(V.when(46203.5, HANOI)).toEqual({ day: "2026-06-30", at: start + 12 * 3_600_000 })
    for (const bad of ["2026-02-29", "31/04/2026", "2026-13-01", "2026/06/30", "tomorrow", "2026-06-30 24:00", "1899-12-31"]) {
      expect(V.when(bad, HANOI)).toBeInstanceOf(V.Invalid)
    }
    expect(V.when("2024-02-29", HANOI)).toMatchObject({ day: "2024-02-29" })
    expect(V.when(0, HANOI)).toBeInstanceOf(V.Invalid)
  })

  it("property: a date written either way is the same day, its start in Hanoi (UTC+7 since 1975)", () => {
    fc.assert(fc.property(fc.date({ min: new Date("1976-01-01"), max: new Date("2090-12-31"), noInvalidDate: true }), (d) => {
      const iso = d.toISOString().slice(0, 10)
      const [y, m, day] = iso.split("-")
      const a = V.when(iso, HANOI)
      const b = V.when(`${day}/${m}/${y}`, HANOI)
      expect(a).toEqual(b)
      expect(a).toMatchObject({ day: iso })
      const at = (a as V.When).at
      expect(new Date(at + 7 * 3_600_000).toISOString().slice(0, 10)).toBe(iso)
    }))
  })
})

describe("phones, grades, flags", () => {
  it("phones normalised by DOMAIN §1, the raw value kept; a number cell gets its leading zero back", () => {
    expect(V.phone("+84 912 345 678")).toEqual({ raw: "+84 912 345 678", canonical: "0912345678", problem: null })
    expect(V.phone(912345678)).toMatchObject({ raw: "0912345678", canonical: "0912345678" })
    expect(V.phone("12345")).toMatchObject({ raw: "12345", canonical: null, problem: expect.any(String) })
    expect(V.grade(" vip1 ")).toBe("VIP1")
    expect(V.grade("Diamond")).toBe("DIAMOND")
    expect(V.grade("GOLD")).toBeInstanceOf(V.Invalid)
    expect([V.flag("1"), V.flag("0"), V.flag(true), V.flag(0), V.flag("yes")]).toEqual([1, 0, 1, 0, 1])
    expect(V.flag("2")).toBeInstanceOf(V.Invalid)
  })
})

describe("header and keys", () => {
  it("headers are matched trimmed and case-insensitively, through the mapping; a missing required column is named", () => {
    expect(resolveHeader("coupons", [" COUPON_ID ", "Face_Value", "used"])).toEqual([-1, -1, -1, 0, 1, 2, -1, -1, -1, -1, -1, -1, -1, -1, -1])
    const missing = resolveHeader("coupons", ["coupon_id", "used"])
    expect(missing).toBeInstanceOf(ImportHeaderInvalid)
    expect((missing as ImportHeaderInvalid).missing).toEqual(["face_value"])
    expect(resolveHeader("coupons", ["Mã", "Giá trị", "used"], { coupon_id: "mã", face_value: "giá trị" })).toMatchObject({ 3: 0, 4: 1, 5: 2 })
  })

  it("property: the key set finds exactly the keys added before, with their first line", () => {
    fc.assert(fc.property(fc.array(fc.string({ maxLength: 6 }), { maxLength: 3000 }), (keys) => {
      const set = new KeySet(16)
      const first = new Map<string, number>()
      keys.forEach((k, i) => {
        const line = i + 2
        expect(set.add(k, line)).toBe(first.get(k) ?? 0)
        if (!first.has(k)) first.set(k, line)
      })
      expect(set.size).toBe(first.size)
    }), { numRuns: 30 })
  })
})
