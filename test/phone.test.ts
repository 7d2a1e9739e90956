/**
 * The phone normaliser (DOMAIN §1): a hand-written table of inputs and verdicts, then properties
 * checked with fast-check on generated numbers in random formats and on arbitrary strings.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import * as Phone from "../src/kernel/Phone.js"

type Reason = Phone.InvalidPhoneReason

const REASONS: ReadonlyArray<Reason> = ["empty", "not_digits", "wrong_length", "unknown_prefix", "placeholder", "foreign"]

const isReason = (s: string): s is Reason => (REASONS as ReadonlyArray<string>).includes(s)

/** Either the canonical output or the rejection reason, as a plain value that `expect` can compare. */
const verdict = (input: string, policy?: Phone.PhonePolicy): string =>
  Either.match(Phone.normalize(input, policy), { onLeft: (e) => e.reason, onRight: (p) => p })

/** `[input, expected canonical phone or rejection reason, policy?]` */
type Case = readonly [input: string, expected: string, policy?: Phone.PhonePolicy]

const HOTLINE: Phone.PhonePolicy = { blocked: new Set(["02838123456"]) }
const E164: Phone.PhonePolicy = { foreign: "e164" }

const inputForms: ReadonlyArray<Case> = [
  ["0912345678", "0912345678"],
  ["+84912345678", "0912345678"],
  ["+84 91 234 5678", "0912345678"],
  ["+84 912 345 678", "0912345678"],
  ["84912345678", "0912345678"],
  ["84 912 345 678", "0912345678"],
  ["0084912345678", "0912345678"],
  ["0084-91-234-5678", "0912345678"],
  ["0084 912 345 678", "0912345678"],
  ["(+84) 912 345 678", "0912345678"],
  ["(+84)912345678", "0912345678"],
  ["(+84) (0) 912.345.678", "0912345678"],
  ["(+84)(0)912345678", "0912345678"],
  ["+84 (0) 912 345 678", "0912345678"],
  ["+84 0912345678", "0912345678"],
  ["0084 (0) 912 345 678", "0912345678"],
  ["84 (0) 912 345 678", "0912345678"],
  ["0912 345 678", "0912345678"],
  ["0912.345.678", "0912345678"],
  ["0912-345-678", "0912345678"],
  ["(091) 234-5678", "0912345678"],
  ["(0912) 345 678", "0912345678"],
  ["0912\u00a0345\u00a0678", "0912345678"],
  ["+84\u00a091\u00a0234\u00a05678", "0912345678"],
  ["  0912345678\t", "0912345678"],
  ["\uff10\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", "0912345678"], // ０９１２３４５６７８
  ["\uff0b\uff18\uff14\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", "0912345678"], // ＋８４９１２３４５６７８
  ["\uff10\uff19\uff11\uff12 \uff13\uff14\uff15 \uff16\uff17\uff18", "0912345678"],
  ["912345678", "0912345678"], // a spreadsheet cell that lost the leading zero
  ["912 345 678", "0912345678"],
  ["981234567", "0981234567"],
  ["2838123456", "02838123456"], // a landline that lost its leading zero
  ["0383 456 789", "0383456789"],
  ["070.123.4567", "0701234567"],
  ["+84 56 123 4567", "0561234567"],
  ["0121 012 345", "0121012345"] // 121[0-3] is a current 9-digit mobile range, not an old prefix
]

/** Every 2018 renumbering, national and +84 form; the last 7 digits never change. */
const oldPrefixes: ReadonlyArray<Case> = [
  // Viettel 0162–0169 → 032–039
  ["01621234567", "0321234567"],
  ["+84 162 123 4567", "0321234567"],
  ["0163 765 4321", "0337654321"],
  ["+84163 765 4321", "0337654321"],
  ["0164.987.6543", "0349876543"],
  ["+84 164 987 6543", "0349876543"],
  ["0165 555 0123", "0355550123"],
  ["+84-165-555-0123", "0355550123"],
  ["0166 000 1234", "0360001234"],
  ["+841660001234", "0360001234"],
  ["0167 888 8888", "0378888888"],
  ["+84 167 888 8888", "0378888888"],
  ["0168 246 8135", "0382468135"],
  ["+84 168 246 8135", "0382468135"],
  ["0169 135 7924", "0391357924"],
  ["+84 169 135 7924", "0391357924"],
  // MobiFone 0120→070, 0121→079, 0122→077, 0126→076, 0128→078
  ["0120 123 4567", "0701234567"],
  ["+84 120 123 4567", "0701234567"],
  ["0121 765 4321", "0797654321"],
  ["+84 121 765 4321", "0797654321"],
  ["0122 987 6543", "0779876543"],
  ["+84 122 987 6543", "0779876543"],
  ["0126 555 0123", "0765550123"],
  ["+84 126 555 0123", "0765550123"],
  ["0128 000 1234", "0780001234"],
  ["+84 128 000 1234", "0780001234"],
  // Vinaphone 0123→083, 0124→084, 0125→085, 0127→081, 0129→082
  ["0123 888 8888", "0838888888"],
  ["+84 123 888 8888", "0838888888"],
  ["0124 246 8135", "0842468135"],
  ["+84 124 246 8135", "0842468135"],
  ["0125 135 7924", "0851357924"],
  ["+84 125 135 7924", "0851357924"],
  ["0127 111 2222", "0811112222"],
  ["+84 127 111 2222", "0811112222"],
  ["0129 333 4444", "0823334444"],
  ["+84 129 333 4444", "0823334444"],
  // Vietnamobile 0186→056, 0188→058
  ["0186 555 6666", "0565556666"],
  ["+84 186 555 6666", "0565556666"],
  ["0188 777 8888", "0587778888"],
  ["+84 188 777 8888", "0587778888"],
  // Gmobile 0199→059
  ["0199 987 6543", "0599876543"],
  ["+84 199 987 6543", "0599876543"],
  // other noise on old numbers
  ["0084-162-123-4567", "0321234567"],
  ["(+84) (0) 162 123 4567", "0321234567"],
  ["1621234567", "0321234567"], // old number that lost its leading zero
  ["841621234567", "0321234567"],
  ["\uff10\uff11\uff16\uff12\uff11\uff12\uff13\uff14\uff15\uff16\uff17", "0321234567"] // ０１６２１２３４５６７
]

const landlines: ReadonlyArray<Case> = [
  ["024 3825 1234", "02438251234"], // Hanoi
  ["+84 24 3825 1234", "02438251234"],
  ["028 3812 3456", "02838123456"], // Ho Chi Minh City
  ["0084 28 3812 3456", "02838123456"],
  ["(028) 3812-3456", "02838123456"],
  ["0225 381 2345", "02253812345"], // Hai Phong
  ["0236 382 1234", "02363821234"], // Da Nang
  ["+84 236 382 1234", "02363821234"],
  ["0292 373 1234", "02923731234"], // Can Tho
  ["0234 382 1234", "02343821234"], // Thua Thien Hue
  ["0258 352 1234", "02583521234"], // Khanh Hoa
  ["0251 382 1234", "02513821234"], // Dong Nai
  ["0274 382 1234", "02743821234"], // Binh Duong
  ["0203 382 1234", "02033821234"], // Quang Ninh
  ["0263 382 1234", "02633821234"], // Lam Dong
  ["+84 (0) 28 3812 3456", "02838123456"],
  ["0240 123 4567", "unknown_prefix"], // 24 needs a subscriber digit 2–8
  ["0201 234 5678", "unknown_prefix"],
  ["0224 123 4567", "unknown_prefix"],
  ["024 3825 123", "wrong_length"],
  ["028 3812 34567", "wrong_length"]
]

const eightyFour: ReadonlyArray<Case> = [
  ["0841234567", "0841234567"], // a mobile in the 084 range: the 84 is never a country code here
  ["084 123 4567", "0841234567"],
  ["+84 84 123 4567", "0841234567"],
  ["0084 84 123 4567", "0841234567"],
  ["841234567", "0841234567"], // 9 digits: the 084 mobile that lost its zero
  ["0848484848", "0848484848"]
]

const beautiful: ReadonlyArray<Case> = [
  ["0988 888 888", "0988888888"],
  ["0999999999", "0999999999"],
  ["0909 090 909", "0909090909"],
  ["0868 686 868", "0868686868"],
  ["0333 333 333", "0333333333"],
  ["0977 777 777", "0977777777"]
]

const rejections: ReadonlyArray<Case> = [
  ["", "empty"],
  ["   ", "empty"],
  ["\u00a0\t\n", "empty"],
  ["-.() ", "empty"],
  ["abc", "not_digits"],
  ["0912abc678", "not_digits"],
  ["O912345678", "not_digits"], // a capital O for the zero
  ["0912 345 678 ext 12", "not_digits"],
  ["091+2345678", "not_digits"],
  ["0912345678+", "not_digits"],
  ["+84+912345678", "not_digits"],
  ["++84912345678", "not_digits"],
  ["0912#345678", "not_digits"],
  ["0912/345/678", "not_digits"],
  ["09", "wrong_length"],
  ["091234567", "wrong_length"], // one digit short
  ["09123456789", "wrong_length"], // one digit too many
  ["091234567890", "wrong_length"],
  ["12345", "wrong_length"],
  ["+84 91234567", "wrong_length"],
  ["+84 9123456789", "wrong_length"],
  ["+84", "wrong_length"],
  ["0111234567", "unknown_prefix"],
  ["0401234567", "unknown_prefix"],
  ["0601234567", "unknown_prefix"],
  ["0191234567", "unknown_prefix"],
  ["0521234567", "unknown_prefix"],
  ["0992123456", "unknown_prefix"],
  ["0121 4123 45", "unknown_prefix"], // 121 needs a fourth digit 0–3
  ["01701234567", "unknown_prefix"], // 11 digits with a prefix that was never renumbered
  ["01301234567", "unknown_prefix"],
  ["1800 1234", "unknown_prefix"], // toll-free: decided in Phone.ts, not a customer's phone
  ["1800 123 456", "unknown_prefix"],
  ["1800123456", "unknown_prefix"],
  ["+84 1800 1234", "unknown_prefix"],
  ["1900 1234", "unknown_prefix"], // premium rate
  ["1900 123 456", "unknown_prefix"],
  ["0672 123 456", "unknown_prefix"], // VoIP
  ["+84 672 123 456", "unknown_prefix"],
  ["0000000000", "placeholder"],
  ["000 000 0000", "placeholder"],
  ["+84 000 000 000", "placeholder"],
  ["0123456789", "placeholder"],
  ["0123 456 789", "placeholder"],
  ["028 3812 3456", "placeholder", HOTLINE],
  ["+84 28 3812 3456", "placeholder", HOTLINE],
  ["0912 345 678", "0912345678", HOTLINE], // the block list blocks only what it lists
  ["+1 415 555 2671", "foreign"],
  ["+65 9123 4567", "foreign"],
  ["0065 9123 4567", "foreign"],
  ["001 415 555 2671", "foreign"],
  ["+1 415 555 2671", "+14155552671", E164],
  ["+65 9123 4567", "+6591234567", E164],
  ["001-415-555-2671", "+14155552671", E164],
  ["+84 912 345 678", "0912345678", E164], // Vietnamese numbers stay national under e164
  ["+1 234", "wrong_length", E164],
  ["+6591234567", "placeholder", { foreign: "e164", blocked: new Set(["+6591234567"]) }]
]

const groups: ReadonlyArray<readonly [string, ReadonlyArray<Case>]> = [
  ["input forms of DOMAIN §1", inputForms],
  ["2018 renumbering of 11-digit mobiles", oldPrefixes],
  ["landlines", landlines],
  ["numbers that start with 084", eightyFour],
  ["beautiful numbers", beautiful],
  ["rejections", rejections]
]

describe("Phone.normalize: table", () => {
  it("has at least 70 hand-written cases and covers every reason", () => {
    const all = groups.flatMap(([, cases]) => cases)
    expect(all.length).toBeGreaterThanOrEqual(70)
    for (const reason of REASONS) expect(all.some(([, expected]) => expected === reason)).toBe(true)
  })

  it("covers all 21 old prefixes of the 2018 renumbering in national and +84 form", () => {
    const old = ["162", "163", "164", "165", "166", "167", "168", "169", "120", "121", "122", "126", "128", "123", "124",
      "125", "127", "129", "186", "188", "199"]
    const digitsOf = (s: string) => s.replace(/\D/g, "")
    for (const p of old) {
      expect(oldPrefixes.some(([input]) => input.startsWith("0") && digitsOf(input).startsWith("0" + p))).toBe(true)
      expect(oldPrefixes.some(([input]) => input.startsWith("+84") && digitsOf(input).startsWith("84" + p))).toBe(true)
    }
  })

  for (const [group, cases] of groups) {
    describe(group, () => {
      cases.forEach(([input, expected, policy], i) => {
        const title = `${i + 1}. ${JSON.stringify(input)} → ${expected}${policy === undefined ? "" : " (with policy)"}`
        it(title, () => {
          const result = Phone.normalize(input, policy)
          if (isReason(expected)) {
            expect(Either.isLeft(result)).toBe(true)
            if (Either.isLeft(result)) {
              expect(result.left._tag).toBe("InvalidPhone")
              expect(result.left.reason).toBe(expected)
              expect(result.left.input).toBe(input)
              expect(result.left.message).toContain(`(${expected})`)
            }
          } else {
            expect(verdict(input, policy)).toBe(expected)
          }
        })
      })
    })
  }

  it("echoes at most 64 characters of a long input", () => {
    const long = "x".repeat(500)
    const result = Phone.normalize(long)
    expect(Either.isLeft(result) && result.left.input).toBe("x".repeat(64))
  })

  it("returns not_digits for a value that is not a string, even one that cannot be printed", () => {
    for (const value of [undefined, null, 912345678, {}, Symbol("x"), Object.create(null) as object]) {
      const result = Phone.normalize(value as unknown as string)
      expect(Either.isLeft(result) && result.left.reason).toBe("not_digits")
    }
  })

  it("formats mobiles and landlines for people", () => {
    expect(Phone.format(Phone.unsafeMake("0912345678"))).toBe("0912 345 678")
    expect(Phone.format(Phone.unsafeMake("02838123456"))).toBe("028 3812 3456")
    expect(Phone.format(Phone.unsafeMake("02438251234"))).toBe("024 3825 1234")
    expect(Phone.format(Phone.unsafeMake("02253812345"))).toBe("0225 381 2345")
  })
})

// ---------------------------------------------------------------------------------------------
// Generators

const digitString = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((ds) => ds.join(""))

/** Mobile ranges of DOMAIN §1 (subset known assigned): 2-digit NSN prefix + 7 digits. */
const MOBILE_2 = ["32", "33", "34", "35", "36", "37", "38", "39", "56", "58", "59", "70", "76", "77", "78", "79",
  "81", "82", "83", "84", "85", "86", "87", "88", "90", "91", "92", "93", "94", "96", "97", "98"]
/** Landline area codes: first 3 digits of a 10-digit NSN + 7 digits. */
const LANDLINE_3 = ["243", "246", "283", "287", "225", "236", "292", "234", "258", "251", "274", "203", "263",
  "204", "205", "206", "207", "208", "209", "210", "211", "212", "213", "214", "215", "216", "218", "219", "220",
  "221", "222", "226", "227", "228", "229", "232", "233", "235", "237", "238", "239", "252", "254", "255", "256",
  "257", "259", "260", "261", "262", "269", "270", "271", "272", "273", "275", "276", "277", "290", "291", "293",
  "294", "296", "297", "299"]
const OLD: Readonly<Record<string, string>> = {
  "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37", "168": "38", "169": "39",
  "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
  "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
  "186": "56", "188": "58", "199": "59"
}

/** A national significant number (no leading 0) that is valid, and the canonical phone it stands for. */
const validNsn: fc.Arbitrary<{ nsn: string; canonical: string }> = fc.oneof(
  fc.tuple(fc.constantFrom(...MOBILE_2), digitString(7, 7)).map(([p, s]) => ({ nsn: p + s, canonical: "0" + p + s })),
  fc.tuple(fc.constantFrom(...LANDLINE_3), digitString(7, 7)).map(([p, s]) => ({ nsn: p + s, canonical: "0" + p + s })),
  fc.tuple(fc.constantFrom(...Object.keys(OLD)), digitString(7, 7)).map(([p, s]) => ({
    nsn: p + s,
    canonical: "0" + OLD[p]! + s
  }))
).filter(({ canonical }) => canonical !== "0123456789")

const SEPARATORS = ["", "", "", " ", " ", ".", "-", "\u00a0", "(", ")", "\u3000", "\uff0d"]
const LEADS = ["0", "0", "+84", "+84 ", "84", "0084", "00 84 ", "+84 (0) ", "(+84) (0)", "(+84) ", "+840", "0084-0-", "84 (0) ", ""]

const toWide = (c: string): string =>
  c >= "0" && c <= "9" ? String.fromCharCode(c.charCodeAt(0) + 0xff10 - 48) : c === "+" ? "\uff0b" : c

/** Renders a national significant number in a random accepted form: prefix, separators, full-width digits. */
const render = (nsn: string): fc.Arbitrary<string> =>
  fc.record({
    lead: fc.constantFrom(...LEADS),
    seps: fc.array(fc.constantFrom(...SEPARATORS), { minLength: nsn.length, maxLength: nsn.length }),
    wide: fc.constantFrom("none", "none", "all", "some"),
    wideMask: fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
    pad: fc.constantFrom("", " ", "\u00a0", "\t")
  }).map(({ lead, seps, wide, wideMask, pad }) => {
    let s = lead
    for (let i = 0; i < nsn.length; i++) s += nsn[i]! + (i < nsn.length - 1 ? seps[i]! : "")
    if (wide !== "none") s = [...s].map((c, i) => (wide === "all" || wideMask[i % 20] ? toWide(c) : c)).join("")
    return pad + s + pad
  })

const renderedValid = validNsn.chain(({ nsn, canonical }) => render(nsn).map((input) => ({ input, canonical })))

const PHONE_CHARS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "8", "4", "0", " ", ".", "-", "(", ")", "+",
  "\u00a0", "\uff10", "\uff19", "\uff0b"]
/** Strings made of digits, separators and "+", in any order. */
const phoneish = fc.string({ unit: fc.constantFrom(...PHONE_CHARS), maxLength: 20 })

/** Anything a user may paste: arbitrary Unicode (fast-check 4's `unit: "binary"` is v3's fullUnicodeString). */
const anyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string(),
  phoneish,
  renderedValid.map(({ input }) => input)
)

const RUNS = { numRuns: 2_000 } as const

describe("Phone.normalize: properties", () => {
  it("never throws on any string (arbitrary Unicode, digits/separators/+, rendered numbers), under any policy", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const results = [Phone.normalize(s), Phone.normalize(s, E164), Phone.normalize(s, HOTLINE)]
        return results.every(Either.isEither)
      }),
      { numRuns: 5_000 }
    )
  })

  it("never throws on a value that is not a string, and calls it not_digits", () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true }), (v) => {
        fc.pre(typeof v !== "string")
        const r = Phone.normalize(v as unknown as string)
        return Either.isLeft(r) && r.left.reason === "not_digits"
      }),
      RUNS
    )
  })

  it("every Right under the default policy matches /^0\\d{9,10}$/", () => {
    let rights = 0
    fc.assert(
      fc.property(anyString, (s) => {
        const r = Phone.normalize(s)
        if (Either.isLeft(r)) return true
        rights++
        return /^0\d{9,10}$/.test(r.right)
      }),
      { numRuns: 5_000 }
    )
    expect(rights).toBeGreaterThan(500) // the generator must actually reach valid numbers
  })

  it("is idempotent: normalize(normalize(x).right) equals normalize(x)", () => {
    fc.assert(
      fc.property(fc.oneof(renderedValid.map(({ input }) => input), phoneish, fc.string({ unit: "binary" })), (x) => {
        for (const policy of [undefined, E164]) {
          const once = Phone.normalize(x, policy)
          if (Either.isRight(once)) {
            const twice = Phone.normalize(once.right, policy)
            expect(twice).toStrictEqual(once)
          }
        }
      }),
      { numRuns: 3_000 }
    )
  })

  it("is format independent: a valid number rendered with any prefix, separators or full-width digits normalises to itself", () => {
    fc.assert(
      fc.property(renderedValid, ({ input, canonical }) => {
        expect(verdict(input)).toBe(canonical)
        expect(verdict(canonical)).toBe(canonical)
      }),
      { numRuns: 5_000 }
    )
  })

  it("every Left is an InvalidPhone whose reason is one of the 6 reasons", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        for (const policy of [undefined, E164, HOTLINE]) {
          const r = Phone.normalize(s, policy)
          if (Either.isLeft(r)) {
            expect(r.left).toBeInstanceOf(Phone.InvalidPhone)
            expect(r.left._tag).toBe("InvalidPhone")
            expect(REASONS).toContain(r.left.reason)
          }
        }
      }),
      { numRuns: 3_000 }
    )
  })

  it("isCanonical(s) holds exactly when normalize(s) is Right(s)", () => {
    const candidates = fc.oneof(
      validNsn.map(({ canonical }) => canonical),
      validNsn.map(({ nsn }) => "0" + nsn),
      digitString(9, 12).map((d) => "0" + d),
      fc.tuple(fc.constantFrom("+1", "+65", "+84", "+44"), digitString(4, 14)).map(([cc, d]) => cc + d),
      anyString
    )
    fc.assert(
      fc.property(candidates, (s) => {
        for (const policy of [undefined, E164]) {
          const r = Phone.normalize(s, policy)
          expect(Phone.isCanonical(s, policy)).toBe(Either.isRight(r) && r.right === s)
        }
      }),
      { numRuns: 5_000 }
    )
  })

  it("format(p) is grouped by spaces and normalises back to p", () => {
    fc.assert(
      fc.property(validNsn, ({ canonical }) => {
        const p = Phone.unsafeMake(canonical)
        const shown = Phone.format(p)
        expect(shown).toMatch(/^\d{3,4} \d{3,4} \d{3,4}$/)
        expect(verdict(shown)).toBe(canonical)
      }),
      RUNS
    )
  })
})
