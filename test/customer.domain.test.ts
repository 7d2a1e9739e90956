/**
 * Pure rules of the customer model: search folding, ids, input schemas.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fc from "effect/FastCheck"
import { BirthDate, CreateCustomerInput, CustomerId, emailKey, foldText, makeCustomerId, Text } from "../src/customers/Customer.js"

describe("foldText", () => {
  it("folds Vietnamese accents, đ and case: 'Nguyễn  Văn Đức' → 'nguyen van duc'", () => {
    expect(foldText("Nguyễn  Văn Đức")).toBe("nguyen van duc")
    expect(foldText("  TRẦN THỊ HỒNG  ")).toBe("tran thi hong")
    expect(foldText("Phạm Ngọc Ánh")).toBe("pham ngoc anh")
    expect(foldText("Lê\u00a0Hoà")).toBe("le hoa")
    // decomposed input (as some keyboards send it) folds the same as precomposed
    expect(foldText("Nguye\u0302\u0303n")).toBe("nguyen")
  })

  it.prop("is idempotent", [fc.string({ unit: "binary", maxLength: 30 })], ([s]) => {
    expect(foldText(foldText(s))).toBe(foldText(s))
  }, { fastCheck: { numRuns: 2000 } })

  it.prop("leaves no combining mark, no upper case and no double blank", [fc.string({ unit: "grapheme", maxLength: 30 })], ([s]) => {
    const f = foldText(s)
    expect(/\p{M}/u.test(f.normalize("NFD"))).toBe(false)
    expect(f).toBe(f.toLowerCase())
    expect(/\s\s/.test(f)).toBe(false)
    expect(f).toBe(f.trim())
  }, { fastCheck: { numRuns: 2000 } })

  it.prop("a folded name contains the folded form of each of its words", [
    fc.array(fc.constantFrom("Nguyễn", "Văn", "Đức", "Trần", "Thị", "Hồng", "Lê", "Ánh", "Phạm", "Ngọc"), { minLength: 1, maxLength: 4 })
  ], ([words]) => {
    const name = words.join(" ")
    for (const w of words) expect(foldText(name)).toContain(foldText(w))
  })
})

describe("customer ids", () => {
  it.prop("match the CustomerId schema", [fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.uint8Array({ minLength: 10, maxLength: 10 })], ([t, r]) => {
    expect(Schema.is(CustomerId)(makeCustomerId(t, r))).toBe(true)
  })

  it.prop("sort by creation time", [
    fc.integer({ min: 0, max: 2 ** 47 }),
    fc.integer({ min: 1, max: 2 ** 46 }),
    fc.uint8Array({ minLength: 10, maxLength: 10 }),
    fc.uint8Array({ minLength: 10, maxLength: 10 })
  ], ([t, dt, r1, r2]) => {
    expect(makeCustomerId(t, r1) < makeCustomerId(t + dt, r2)).toBe(true)
  })

  it.prop("differ when the random bytes differ", [
    fc.uint8Array({ minLength: 10, maxLength: 10 }),
    fc.uint8Array({ minLength: 10, maxLength: 10 })
  ], ([a, b]) => {
    fc.pre(a.some((x, i) => x !== b[i]))
    expect(makeCustomerId(0, a)).not.toBe(makeCustomerId(0, b))
  })
})

describe("input schemas", () => {
  const decode = Schema.decodeUnknownEither(CreateCustomerInput, { onExcessProperty: "error" })

  it("trims text and accepts optional nulls", () => {
    const r = decode({ phone: "0912345678", name: "  An  ", email: null, notes: "a\nb" })
    expect(Either.getOrThrow(r)).toMatchObject({ name: "An", email: null, notes: "a\nb" })
  })

  it("rejects control characters, lone surrogates, over-long and empty text", () => {
    const text = Schema.decodeUnknownEither(Text(10))
    for (const bad of ["", "   ", "a\u0000", "a\nb", "\uDC00", "x".repeat(11), 5, null]) {
      expect(Either.isLeft(text(bad)), JSON.stringify(bad)).toBe(true)
    }
    expect(Either.isRight(Schema.decodeUnknownEither(Text(10, { multiline: true }))("a\nb"))).toBe(true)
  })

  it.prop("BirthDate accepts exactly the real calendar dates of 1900–2100", [
    fc.integer({ min: 1890, max: 2110 }),
    fc.integer({ min: 0, max: 13 }),
    fc.integer({ min: 0, max: 32 })
  ], ([y, m, d]) => {
    const s = `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`
    const date = new Date(Date.UTC(y, m - 1, d))
    const real = m >= 1 && m <= 12 && d >= 1 && date.getUTCMonth() === m - 1 && date.getUTCDate() === d
    expect(Either.isRight(Schema.decodeUnknownEither(BirthDate)(s))).toBe(real && y >= 1900 && y <= 2100)
  }, { fastCheck: { numRuns: 3000 } })

  it.prop("emailKey is case-insensitive and trims", [fc.emailAddress()], ([e]) => {
    expect(emailKey(` ${e.toUpperCase()} `)).toBe(emailKey(e))
  })
})
