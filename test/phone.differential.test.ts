/**
 * Differential test of the phone normaliser against libphonenumber-js (full "max" metadata).
 *
 * Decided semantics (DOMAIN §1 and the doc comment of Phone.ts): a number is accepted iff
 * libphonenumber says it is valid for VN and its type is MOBILE or FIXED_LINE; the canonical value
 * is then "0" + libphonenumber's national number. Toll-free, premium, UAN and VoIP numbers are
 * rejected on purpose. Old 11-digit mobiles (before the 2018 renumbering) are not valid for
 * libphonenumber; we convert them, so for those the expectation is the new number, computed here
 * from DOMAIN §1 independently of Phone.ts, and libphonenumber must accept that new number as a mobile.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import { parsePhoneNumberFromString } from "libphonenumber-js/max"
import * as Phone from "../src/kernel/Phone.js"

/** DOMAIN §1, 2018 conversion: old 3-digit national prefix (after the 0) → new 2-digit prefix. */
const RENUMBERED: Readonly<Record<string, string>> = {
  // Viettel 0162–0169 → 032–039
  "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37", "168": "38", "169": "39",
  // MobiFone
  "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
  // Vinaphone
  "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
  // Vietnamobile
  "186": "56", "188": "58",
  // Gmobile
  "199": "59"
}

/** The new number of an old 10-digit national significant number, or undefined if `nsn` is not one. */
const renumbered = (nsn: string): string | undefined => {
  if (nsn.length !== 10) return undefined
  const to = RENUMBERED[nsn.slice(0, 3)]
  return to === undefined ? undefined : "0" + to + nsn.slice(3)
}

/** libphonenumber's verdict under our semantics: the canonical phone, or undefined when rejected. */
const oracle = (input: string): string | undefined => {
  const parsed = parsePhoneNumberFromString(input, "VN")
  if (parsed === undefined || parsed.country !== "VN" || !parsed.isValid()) return undefined
  const type = parsed.getType()
  return type === "MOBILE" || type === "FIXED_LINE" ? "0" + parsed.nationalNumber : undefined
}

const ours = (input: string): string | undefined => {
  const r = Phone.normalize(input)
  return Either.isRight(r) ? r.right : undefined
}

interface Tally {
  compared: number
  accepted: number
  renumbered: number
  mismatches: Array<string>
}

const tally = (): Tally => ({ compared: 0, accepted: 0, renumbered: 0, mismatches: [] })

/**
 * Compares one input whose national significant number (the digits after the country code or the
 * trunk 0) is `nsn`. For an old 11-digit mobile the expectation is its new number, and the oracle
 * must reject the old form and accept the new one.
 */
const compare = (t: Tally, input: string, nsn: string): void => {
  t.compared++
  const got = ours(input)
  const converted = renumbered(nsn)
  let expected: string | undefined
  if (converted !== undefined) {
    t.renumbered++
    expected = converted
    const oldVerdict = oracle(input)
    if (oldVerdict !== undefined) t.mismatches.push(`${input}: libphonenumber accepts the old number as ${oldVerdict}`)
    if (oracle(converted) !== converted) t.mismatches.push(`${input}: libphonenumber rejects the new number ${converted}`)
  } else {
    expected = oracle(input)
  }
  if (got !== undefined) t.accepted++
  if (got !== expected) t.mismatches.push(`${JSON.stringify(input)}: ours ${got ?? "Left"}, expected ${expected ?? "Left"}`)
}

const expectAgreement = (t: Tally, compared: number): void => {
  expect(t.mismatches.slice(0, 25)).toEqual([])
  expect(t.mismatches.length).toBe(0)
  expect(t.compared).toBe(compared)
}

/** Deterministic PRNG (mulberry32) for the exhaustive sweep's suffixes. */
const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296
}

const SUFFIXES_PER_CELL = 8
const LENGTHS = [8, 9, 10, 11] as const // national significant digits, i.e. inputs of 9–12 digits with the 0

/** Suffixes of `length` digits: all zeros, all nines, then random ones. */
const suffixes = (next: () => number, length: number): Array<string> => {
  const out = ["0".repeat(length), "9".repeat(length)]
  while (out.length < SUFFIXES_PER_CELL) {
    let s = ""
    for (let i = 0; i < length; i++) s += Math.floor(next() * 10)
    out.push(s)
  }
  return out
}

describe("Phone.normalize agrees with libphonenumber-js (VN, MOBILE or FIXED_LINE)", () => {
  const prefixCount = 1000 * LENGTHS.length * SUFFIXES_PER_CELL
  it(`every 3-digit national prefix 000–999 × national lengths 8–11 × ${SUFFIXES_PER_CELL} suffixes (${prefixCount.toLocaleString("en")} numbers)`, () => {
    const next = mulberry32(0x84)
    const t = tally()
    for (let p = 0; p < 1000; p++) {
      const prefix = String(p).padStart(3, "0")
      for (const length of LENGTHS) {
        for (const suffix of suffixes(next, length - 3)) {
          const nsn = prefix + suffix
          compare(t, "0" + nsn, nsn)
        }
      }
    }
    expectAgreement(t, prefixCount)
    // the sweep must reach every kind of verdict: accepted, renumbered and rejected
    expect(t.renumbered).toBe(21 * SUFFIXES_PER_CELL)
    expect(t.accepted).toBeGreaterThan(3_000)
    expect(t.compared - t.accepted).toBeGreaterThan(20_000)
  })

  const fourCount = 10 * LENGTHS.length * SUFFIXES_PER_CELL
  it(`4-digit national prefixes 1210–1219 × national lengths 8–11 × ${SUFFIXES_PER_CELL} suffixes (${fourCount} numbers)`, () => {
    const next = mulberry32(1210)
    const t = tally()
    for (let p = 1210; p <= 1219; p++) {
      for (const length of LENGTHS) {
        for (const suffix of suffixes(next, length - 4)) {
          const nsn = String(p) + suffix
          compare(t, "0" + nsn, nsn)
        }
      }
    }
    expectAgreement(t, fourCount)
    // 0121[0-3] + 5 digits is a current mobile; 0121 + 7 digits is an old MobiFone number
    expect(t.accepted).toBe(4 * SUFFIXES_PER_CELL + 10 * SUFFIXES_PER_CELL)
  })

  // -------------------------------------------------------------------------------------------
  // fast-check: national significant numbers biased towards real ranges and near misses.

  const digits = (min: number, max: number) =>
    fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((ds) => ds.join(""))

  const nsnArb: fc.Arbitrary<string> = fc.oneof(
    // anything from 7 to 11 digits that does not start with the trunk 0
    fc.tuple(fc.integer({ min: 1, max: 9 }), digits(6, 10)).map(([d, rest]) => d + rest),
    // right length for a mobile or a landline, any prefix
    fc.tuple(fc.integer({ min: 1, max: 9 }), digits(8, 8)).map(([d, rest]) => d + rest),
    fc.tuple(fc.constant("2"), digits(9, 9)).map(([d, rest]) => d + rest),
    // old 11-digit mobiles and their near misses (one digit short or too many)
    fc.tuple(fc.constantFrom(...Object.keys(RENUMBERED)), digits(6, 8)).map(([p, rest]) => p + rest),
    fc.tuple(fc.constantFrom("10", "11", "12", "13", "14", "15", "16", "17", "18", "19"), digits(8, 8)).map(([p, r]) => p + r),
    // 0121x, special services libphonenumber knows and we refuse
    fc.tuple(fc.constant("121"), digits(5, 7)).map(([p, rest]) => p + rest),
    fc.tuple(fc.constantFrom("1800", "1900", "1201", "1203", "1228", "199", "799", "69", "672"), digits(3, 7))
      .map(([p, rest]) => p + rest),
    // numbers starting with 84, where "84" could be mistaken for the country code
    fc.tuple(fc.constant("84"), digits(5, 9)).map(([p, rest]) => p + rest)
  )

  const forms: ReadonlyArray<readonly [string, (nsn: string) => string, number]> = [
    ["national 0…", (nsn) => "0" + nsn, 10_000],
    ["E.164 +84…", (nsn) => "+84" + nsn, 10_000],
    ["0084…", (nsn) => "0084" + nsn, 2_000],
    ["+84 (0) …", (nsn) => "+84 (0) " + nsn, 2_000],
    ["84… without plus (9- and 10-digit numbers)", (nsn) => "84" + nsn, 2_000],
    ["84 (0) … without plus (9- and 10-digit numbers)", (nsn) => "84 (0) " + nsn, 2_000],
    ["a cell that lost its leading 0 (9- and 10-digit numbers)", (nsn) => nsn, 2_000]
  ]

  for (const [form, render, runs] of forms) {
    const needsLength = form.includes("9- and 10-digit")
    it(`fast-check: ${runs.toLocaleString("en")} generated numbers in ${form} form`, () => {
      const t = tally()
      fc.assert(
        fc.property(needsLength ? nsnArb.filter((n) => n.length === 9 || n.length === 10) : nsnArb, (nsn) => {
          const before = t.mismatches.length
          compare(t, render(nsn), nsn)
          return t.mismatches.length === before
        }),
        { numRuns: runs }
      )
      expectAgreement(t, runs)
      expect(t.accepted).toBeGreaterThan(runs / 10)
    })
  }

  it("compares at least 20,000 fast-check numbers in national and +84 form together", () => {
    const total = forms.filter(([form]) => form.startsWith("national") || form.startsWith("E.164"))
      .reduce((n, [, , runs]) => n + runs, 0)
    expect(total).toBeGreaterThanOrEqual(20_000)
  })
})
