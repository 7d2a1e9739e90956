/**
 * The transfer matcher (DOMAIN §5) and customer codes: properties checked with fast-check on random
 * valid phones in every §1 format embedded in bank-style transfer text, on long digit runs, on the
 * shop's own numbers and on codes written in every way a bank mangles them; then `decide` and
 * `explain` case by case.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import * as Phone from "../src/kernel/Phone.js"
import { type Candidate, decide, explain, type MatchDecision, type MatcherConfig, scan } from "../src/transfers/Matcher.js"
import { CODE_ALPHABET, isCode, makeCode, normalizeCode } from "../src/kernel/PaymentCode.js"

const RUNS = { numRuns: 400 } as const
const NO_SHOP: MatcherConfig = { shopPhones: new Set(), shopAccounts: new Set() }
const p = (s: string): Phone.Phone => Phone.unsafeMake(s)

// --- generators ------------------------------------------------------------------------------------

const digitString = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((ds) => ds.join(""))

/** Assigned mobile ranges (DOMAIN §1): 2-digit NSN prefix + 7 digits. */
const MOBILE_2 = ["32", "33", "34", "35", "36", "37", "38", "39", "56", "58", "59", "70", "76", "77", "78", "79",
  "81", "82", "83", "84", "85", "86", "87", "88", "90", "91", "92", "93", "94", "96", "97", "98"]
/** Landline areas: the first 3 digits of a 10-digit NSN. */
const LANDLINE_3 = ["243", "246", "283", "287", "225", "236", "292", "234", "258", "251", "274", "203", "263",
  "210", "211", "220", "221", "226", "227", "228", "229", "232", "233", "235", "237", "238", "239", "252", "254",
  "255", "256", "257", "259", "260", "261", "262", "269", "270", "271", "272", "273", "275", "276", "277", "290"]
/** 2018 renumbering: old 3-digit prefix → new 2-digit prefix. */
const OLD: Readonly<Record<string, string>> = {
  "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37", "168": "38", "169": "39",
  "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
  "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
  "186": "56", "188": "58", "199": "59"
}

/** A valid number: `written` is its national form as a person writes it, `canonical` what the matcher must return. */
interface Generated {
  readonly written: string
  readonly canonical: string
}

const arbPhone: fc.Arbitrary<Generated> = fc.oneof(
  fc.tuple(fc.constantFrom(...MOBILE_2), digitString(7, 7)).map(([pre, rest]) => {
    const canonical = `0${pre}${rest}`
    return { written: canonical, canonical }
  }),
  fc.tuple(fc.constantFrom(...LANDLINE_3), digitString(7, 7)).map(([pre, rest]) => {
    const canonical = `0${pre}${rest}`
    return { written: canonical, canonical }
  }),
  fc.tuple(fc.constantFrom(...Object.keys(OLD)), digitString(7, 7)).map(([old, rest]) => ({
    written: `0${old}${rest}`,
    canonical: `0${OLD[old]}${rest}`
  }))
)

/** The DOMAIN §1 formats a payer types into a transfer's content. */
const FORMATS: ReadonlyArray<readonly [string, (national: string) => string]> = [
  ["plain", (n) => n],
  ["spaced", (n) => `${n.slice(0, 4)} ${n.slice(4, 7)} ${n.slice(7)}`],
  ["dotted", (n) => `${n.slice(0, 4)}.${n.slice(4, 7)}.${n.slice(7)}`],
  ["dashed", (n) => `${n.slice(0, 4)}-${n.slice(4, 7)}-${n.slice(7)}`],
  ["84", (n) => `84${n.slice(1)}`],
  ["+84 spaced", (n) => `+84 ${n.slice(1, 4)} ${n.slice(4, 7)} ${n.slice(7)}`],
  ["+84 dotted", (n) => `+84.${n.slice(1, 4)}.${n.slice(4, 7)}.${n.slice(7)}`],
  ["(+84)", (n) => `(+84) ${n.slice(1)}`],
  ["0084", (n) => `0084${n.slice(1)}`],
  ["+84 (0)", (n) => `+84 (0) ${n.slice(1, 4)} ${n.slice(4, 7)} ${n.slice(7)}`],
  ["nbsp", (n) => `${n.slice(0, 4)}\u00a0${n.slice(4, 7)}\u00a0${n.slice(7)}`]
]

const arbFormat = fc.constantFrom(...FORMATS)
const arbWritten = fc.tuple(arbPhone, arbFormat).map(([ph, [name, render]]) => ({ ...ph, format: name, text: render(ph.written) }))

/** What banks put around the payer's words (diacritics stripped, upper case). */
const PREFIXES = ["", "MBVCB.3278907687.", "IBFT ", "CT DEN:", "TKThe :0071000123456, tai VCB. ",
  "REM Tfr Ac: 19035123456789 ", "MOMO-CASHIN-", "ZP240806000123456 ", "Vietinbank; 102870123456; ",
  "ACB;", "NHAN TU 21510001234567 TRACE 123456 ND "]
const WORDS = ["CHUYEN TIEN", "NAP VI", "THANH TOAN", "NGUYEN VAN AN", "TRAN THI BICH NGOC", "DON HANG 1234",
  "500000", "1.000.000", "CK", "SDT", "GUI SHOP", "LE HOANG", "COC", "SO 45"]
const TAILS = ["", " FT25308710231543", " GD 464434-080625 10:55:18", " Trace 123456", "- Ma GD ACSP/ hG123456",
  " 09.06.2025 10:55", " 500000"]
/** One character or a few between the payer's phone and the words around it. */
const GAPS = [" ", " - ", ", ", " SDT ", " : ", "; ", " ("]

const arbText = fc.array(fc.constantFrom(...WORDS), { maxLength: 3 }).map((ws) => ws.join(" "))

const embed = (phoneText: string) =>
  fc.tuple(fc.constantFrom(...PREFIXES), arbText, fc.constantFrom(...GAPS), arbText, fc.constantFrom(...TAILS))
    .map(([prefix, before, gap, after, tail]) => `${prefix}${before}${gap}${phoneText} ${after}${tail}`)

/**
 * What the matcher reads from one digit token (with an optional leading `+`) standing alone: the
 * `Phone.normalize` verdict when the token is in a form the matcher reads (national `0…`, `+84…`,
 * `0084…` or a bare `84…` of 11+ digits, no trunk zero glued after a bare country code), else nothing.
 */
const wholeToken = (token: string): ReadonlyArray<string> => {
  const digits = token.replace("+", "")
  const form = token.startsWith("+")
    ? digits.startsWith("84")
    : digits.startsWith("0084")
    ? digits[4] !== "0"
    : digits.startsWith("0")
    ? digits[1] !== "0"
    : digits.startsWith("84") && digits[2] !== "0" && digits.length >= 11 // shorter: a lost leading zero
  const verdict = Either.getOrUndefined(Phone.normalize(token))
  return form && verdict !== undefined ? [verdict] : []
}

const phonesOf = (content: string, config: MatcherConfig = NO_SHOP): ReadonlyArray<string> => scan(content, config).phones

// --- phones --------------------------------------------------------------------------------------------

describe("Matcher.scan: phones", () => {
  it("finds a valid phone written in any DOMAIN §1 format inside bank-style content, as exactly its canonical number", () => {
    fc.assert(
      fc.property(arbWritten.chain((w) => embed(w.text).map((content) => ({ ...w, content }))), (w) => {
        expect(phonesOf(w.content)).toEqual([w.canonical])
        expect(decide([], scan(w.content, NO_SHOP).phones)).toEqual({ by: "phone", phone: w.canonical })
      }),
      { numRuns: 1_000 }
    )
  })

  it("finds a phone with letters glued before or after it (CK0912345678, 0912345678CHUYEN)", () => {
    fc.assert(
      fc.property(arbWritten, fc.constantFrom("CK", "SDT", "MB", "ND"), fc.constantFrom("", "CHUYEN", "THANHTOAN"), (w, pre, post) => {
        expect(phonesOf(`${pre}${w.text}${post} FT25308710231543`)).toEqual([w.canonical])
      }),
      RUNS
    )
  })

  it("reads one phone written twice in two formats as one phone", () => {
    fc.assert(
      fc.property(arbPhone, arbFormat, arbFormat, (ph, [, a], [, b]) => {
        expect(phonesOf(`${a(ph.written)} ${"HOAC"} ${b(ph.written)} CHUYEN TIEN`)).toEqual([ph.canonical])
      }),
      RUNS
    )
  })

  it("two different phones in one content → several_phones with both, in order of appearance", () => {
    fc.assert(
      fc.property(arbWritten, arbWritten, fc.constantFrom(" ", " HOAC ", " / ", " VA "), (a, b, gap) => {
        fc.pre(a.canonical !== b.canonical)
        const content = `CK ${a.text}${gap}${b.text} NAP TIEN`
        expect(phonesOf(content)).toEqual([a.canonical, b.canonical])
        const d = decide([], scan(content, NO_SHOP).phones)
        expect(d).toEqual({
          by: null,
          reason: "several_phones",
          candidates: [{ kind: "phone", phone: a.canonical }, { kind: "phone", phone: b.canonical }]
        })
      }),
      RUNS
    )
  })

  it("a digit run longer than a phone never yields the phone inside it (at most the run read whole)", () => {
    fc.assert(
      fc.property(arbPhone, digitString(0, 10), digitString(0, 10), fc.constantFrom(...PREFIXES), (ph, left, right, prefix) => {
        const run = `${left}${ph.written}${right}`
        fc.pre(run.length > ph.written.length && run.length >= 11 && run.length <= 20)
        const found = phonesOf(`${prefix}${run} CHUYEN TIEN`)
        // A whole run can itself be a number (an 11-digit landline, an old mobile after 0084): then it is that one.
        expect(found).toEqual(wholeToken(run))
      }),
      { numRuns: 1_000 }
    )
  })

  it("a slice of a chunk is never read: digits glued on either side hide the phone", () => {
    fc.assert(
      fc.property(arbPhone, fc.integer({ min: 1, max: 9 }), fc.boolean(), (ph, d, before) => {
        const glued = before ? `${d}${ph.written}` : `${ph.written}${d}`
        expect(phonesOf(`GD ${glued} FT25308710231543`)).toEqual([])
        expect(phonesOf(`GD ${glued.slice(0, 4)} ${glued.slice(4, 7)} ${glued.slice(7)} CK`)).toEqual([])
      }),
      RUNS
    )
  })

  it("never reads a number that lost its leading zero, nor one with another first digit", () => {
    fc.assert(
      fc.property(arbPhone, embed(""), (ph, content) => {
        const lost = ph.written.slice(1)
        expect(phonesOf(`${content} ${lost}`)).toEqual([])
        expect(phonesOf(`${content} ${lost.slice(0, 3)} ${lost.slice(3, 6)} ${lost.slice(6)}`)).toEqual([])
      }),
      RUNS
    )
  })

  it("the shop's own phones and account numbers never match, in any format", () => {
    fc.assert(
      fc.property(arbWritten, arbWritten, digitString(8, 14), (shop, customer, account) => {
        fc.pre(shop.canonical !== customer.canonical)
        const config: MatcherConfig = { shopPhones: new Set([shop.canonical]), shopAccounts: new Set([account]) }
        expect(phonesOf(`CK ${shop.text} TK ${account} ND THANH TOAN`, config)).toEqual([])
        expect(phonesOf(`CK ${shop.text} TU ${customer.text} ND THANH TOAN`, config)).toEqual([customer.canonical])
        // An account that is a phone number (banks allow it) is the shop's too.
        const asAccount: MatcherConfig = { shopPhones: new Set(), shopAccounts: new Set([customer.canonical]) }
        expect(phonesOf(`CK DEN ${customer.text} ND THANH TOAN`, asAccount)).toEqual([])
      }),
      RUNS
    )
  })

  it("reads a whole token as Phone.normalize does, within the national and +84/84/0084 forms", () => {
    const arbNsn = fc.oneof(arbPhone.map((ph) => ph.written.slice(1)), digitString(7, 12))
    const arbToken = fc.tuple(fc.constantFrom("", "0", "84", "+84", "0084", "+", "00", "840", "+840", "00840"), arbNsn)
      .map(([prefix, nsn]) => prefix + nsn)
    fc.assert(
      fc.property(arbToken, fc.constantFrom(" ", "CK", "SDT "), (token, before) => {
        expect(phonesOf(`${before}${token} FT25308710231543`)).toEqual(wholeToken(token))
      }),
      { numRuns: 3_000 }
    )
  })

  it("reads a long content (beyond the reused buffers) as it reads a short one, and a short one after it", () => {
    const long = `${"THANH TOAN DON HANG 1234 ".repeat(400)}CK 0912 345 678 N2ABCDEFGH ${"FT25308710231543 ".repeat(300)}0987654321`
    expect(scan(long, NO_SHOP)).toEqual({ codes: ["N2ABCDEFGH", "N2ABCDEFGHF", "N2ABCDEFGHFT"], phones: ["0912345678", "0987654321"] })
    expect(scan("SDT 0356789012", NO_SHOP)).toEqual({ codes: [], phones: ["0356789012"] })
  })

  it("honours the phone policy's block list", () => {
    const config: MatcherConfig = { ...NO_SHOP, phone: { blocked: new Set(["0912345678"]) } }
    expect(phonesOf("CK 0912345678 0987654321", config)).toEqual(["0987654321"])
  })

  it("returns canonical phones and valid code readings for any string, and never throws", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: "binary", maxLength: 80 }),
        fc.array(fc.constantFrom("0", "9", "8", "4", "+", "(", ")", " ", ".", "-", "N", "2", "A"), { maxLength: 40 }).map((cs) => cs.join(""))), (s) => {
        const r = scan(s, NO_SHOP)
        for (const ph of r.phones) expect(Phone.isCanonical(ph)).toBe(true)
        for (const c of r.codes) expect(isCode(c)).toBe(true)
        expect(new Set(r.phones).size).toBe(r.phones.length)
        expect(new Set(r.codes).size).toBe(r.codes.length)
      }),
      { numRuns: 2_000 }
    )
  })

  describe("written forms, one by one", () => {
    const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
      ["MBVCB.3278907687.0912345678.CT tu 0071000123456 NGUYEN VAN A", ["0912345678"]],
      ["SDT0912345678 FT25308710231543", ["0912345678"]],
      ["(+84) 912345678", ["0912345678"]],
      ["(+84)(0)912345678", ["0912345678"]],
      ["+84 (0) 912 345 678", ["0912345678"]],
      ["84 (0) 912 345 678", ["0912345678"]],
      ["0084 (0) 28 3812 3456", ["02838123456"]],
      ["+840912345678", ["0912345678"]],
      ["840912345678", []], // a 12-digit run: the trunk zero is read only as "(0)" or after a "+"
      ["0912 345 678 0987 654 321", ["0912345678", "0987654321"]],
      ["0168 246 8135", ["0382468135"]],
      ["028 3812 3456", ["02838123456"]],
      ["\uff10\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", ["0912345678"]],
      ["GD 464434-080625 10:55:18", []],
      ["09.06.2025 10:55", []], // dots then a space: a date and a time, not "0906202510"
      ["0912.345 678", []], // mixed separators are two numbers
      ["5+0912345678", ["0912345678"]], // a "+" after a digit is not the number's
      ["5+912345678", []],
      ["912345678", []],
      ["(091) 234 5678", ["0912345678"]],
      ["(028) 3812 3456", ["02838123456"]],
      ["(0236) 3822 123", ["02363822123"]],
      ["123 (456) 789 0123", []],
      ["0912345678+0987654321", ["0912345678", "0987654321"]],
      ["CK 0912  345  678", []] // two spaces: not one written number
    ]
    for (const [content, expected] of cases) {
      it(`${JSON.stringify(content)} → ${JSON.stringify(expected)}`, () => {
        expect(phonesOf(content)).toEqual(expected)
      })
    }
  })
})

// --- codes -----------------------------------------------------------------------------------------------

const arbCode = fc.uint8Array({ minLength: 8, maxLength: 8 }).map(makeCode)

/** A code as banks and payers write it: spaced, dotted, dashed, lower case, glued to the next word. */
const arbCodeWritten = fc.tuple(arbCode, fc.array(fc.constantFrom("", "", "", " ", ".", "-", "_", "/"), { minLength: 10, maxLength: 10 }), fc.boolean())
  .map(([code, seps, lower]) => {
    let s = ""
    for (let i = 0; i < code.length; i++) s += code[i] + seps[i]!
    return { code, text: lower ? s.toLowerCase() : s }
  })

describe("Matcher.scan: codes", () => {
  it("finds a held code written spaced, dotted, dashed, in lower case, or glued to the next word", () => {
    fc.assert(
      fc.property(arbCodeWritten, fc.constantFrom(...PREFIXES), fc.constantFrom("", "THANHTOAN", " CHUYEN TIEN", "0912345678"), fc.constantFrom(...TAILS),
        (w, prefix, next, tail) => {
          const content = `${prefix}${w.text}${next}${tail}`
          const { codes, phones } = scan(content, NO_SHOP)
          expect(codes).toContain(w.code)
          const customers = new Map([[w.code, "cus_A"]])
          const held = codes.flatMap((code) => {
            const customerId = customers.get(code)
            return customerId === undefined ? [] : [{ code, customerId }]
          })
          expect(decide(held, phones)).toEqual({ by: "code", customerId: "cus_A", code: w.code })
        }),
      RUNS
    )
  })

  it("gives the 10-, 11- and 12-character readings of each N2 that fit, distinct, in order", () => {
    expect(scan("N2ABCDEFGHTHANHTOAN", NO_SHOP).codes).toEqual(["N2ABCDEFGH", "N2ABCDEFGHT", "N2ABCDEFGHTH"])
    expect(scan("n2ab cd.ef-gh", NO_SHOP).codes).toEqual(["N2ABCDEFGH"])
    expect(scan("ma n2abcdefgh1", NO_SHOP).codes).toEqual(["N2ABCDEFGH", "N2ABCDEFGH1"])
    expect(scan("N2ABCDEFGH N2ABCDEFGH", NO_SHOP).codes.slice(0, 3)).toEqual(["N2ABCDEFGH", "N2ABCDEFGHN", "N2ABCDEFGHN2"])
    expect(scan("N2ABC", NO_SHOP).codes).toEqual([])
    expect(scan("THANH TOAN DON HANG", NO_SHOP).codes).toEqual([])
  })

  it("folds diacritics and full-width letters before reading (Đ → D)", () => {
    expect(scan("N2ĐẾĐẾĐẾĐẾ", NO_SHOP).codes).toEqual(["N2DEDEDEDE"])
    expect(scan("Ｎ２ＡＢＣＤＥＦＧＨ", NO_SHOP).codes).toEqual(["N2ABCDEFGH"])
  })

  it("a code of the 32-character alphabet never reads as a phone", () => {
    fc.assert(
      fc.property(arbCode, (code) => {
        expect(scan(code, NO_SHOP).phones).toEqual([])
      }),
      RUNS
    )
  })
})

describe("QrCode", () => {
  it("the alphabet has 32 distinct characters of A–Z0–9, without 0, O, 1 and I", () => {
    expect(CODE_ALPHABET).toHaveLength(32)
    expect(new Set(CODE_ALPHABET).size).toBe(32)
    for (const c of "0O1I") expect(CODE_ALPHABET).not.toContain(c)
    expect(/^[A-Z0-9]+$/.test(CODE_ALPHABET)).toBe(true)
  })

  it("makeCode always gives a code: N2 + 8 alphabet characters", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 16 }), (bytes) => {
        const code = makeCode(bytes)
        expect(isCode(code)).toBe(true)
        expect(code).toHaveLength(10)
        for (const c of code.slice(2)) expect(CODE_ALPHABET).toContain(c)
        expect(makeCode(bytes)).toBe(code)
      }),
      RUNS
    )
  })

  it("makeCode reads the low 5 bits of each byte: every character is reached, each from 8 byte values", () => {
    const counts = new Map<string, number>()
    for (let b = 0; b < 256; b++) {
      const c = makeCode(new Uint8Array(8).fill(b))[2]!
      counts.set(c, (counts.get(c) ?? 0) + 1)
    }
    expect(counts.size).toBe(32)
    for (const n of counts.values()) expect(n).toBe(8)
    expect(() => makeCode(new Uint8Array(7))).toThrow(RangeError)
  })

  it("normalizeCode reads back any written form of a code, and the matcher agrees", () => {
    fc.assert(
      fc.property(arbCodeWritten, (w) => {
        expect(normalizeCode(w.text)).toBe(w.code)
        expect(normalizeCode(w.code)).toBe(w.code)
        expect(scan(w.text, NO_SHOP).codes[0]).toBe(w.code)
      }),
      RUNS
    )
  })

  it("isCode and normalizeCode refuse what is not a code", () => {
    for (const s of ["", "N2", "N2ABCDEFG", "N2ABCDEFGHJKL", "M2ABCDEFGH", "n2abcdefgh", "N2 ABCDEFGH", "N2ABCDÉFGH"]) {
      expect(isCode(s)).toBe(false)
    }
    expect(isCode("N2ABCDEFGH")).toBe(true)
    expect(isCode("N2ABCDEFGHJK")).toBe(true)
    expect(normalizeCode("n2-ab cd.ef/gh")).toBe("N2ABCDEFGH")
    expect(normalizeCode("N2 ABCD ÉFGH")).toBe("N2ABCDEFGH")
    expect(normalizeCode("N2ABCDEFGHJKL")).toBeUndefined()
    expect(normalizeCode("THANH TOAN")).toBeUndefined()
  })
})

// --- decide and explain ---------------------------------------------------------------------------------

describe("Matcher.decide and explain", () => {
  const A = { code: "N2ABCDEFGH", customerId: "cus_A" }
  const A2 = { code: "N2ABCDEFGHJ", customerId: "cus_A" }
  const B = { code: "N2K7M3P9QX", customerId: "cus_B" }
  const P1 = p("0912345678")
  const P2 = p("0987654321")

  const table: ReadonlyArray<readonly [string, Parameters<typeof decide>, MatchDecision]> = [
    ["one code", [[A], []], { by: "code", ...A }],
    ["one code beats a phone", [[A], [P1]], { by: "code", ...A }],
    ["one code beats several phones", [[A], [P1, P2]], { by: "code", ...A }],
    ["two readings of one customer's code", [[A, A2], []], { by: "code", ...A }],
    ["the same code twice", [[A, A], [P1]], { by: "code", ...A }],
    ["codes of two customers", [[A, B], [P1]], {
      by: null,
      reason: "several_codes",
      candidates: [{ kind: "code", ...A }, { kind: "code", ...B }]
    }],
    ["codes of two customers, one written twice", [[A, B, A], []], {
      by: null,
      reason: "several_codes",
      candidates: [{ kind: "code", ...A }, { kind: "code", ...B }]
    }],
    ["one phone", [[], [P1]], { by: "phone", phone: P1 }],
    ["one phone given twice", [[], [P1, P1]], { by: "phone", phone: P1 }],
    ["two phones", [[], [P1, P2]], {
      by: null,
      reason: "several_phones",
      candidates: [{ kind: "phone", phone: P1 }, { kind: "phone", phone: P2 }]
    }],
    ["nothing", [[], []], { by: null, reason: "no_candidate", candidates: [] }]
  ]
  for (const [title, args, expected] of table) {
    it(`${title} → ${expected.by ?? (expected as { reason: string }).reason}`, () => {
      expect(decide(...args)).toEqual(expected)
    })
  }

  it("explains each outcome in one sentence", () => {
    expect(explain({ by: "code", ...A })).toBe("matched by the customer code N2ABCDEFGH")
    expect(explain({ by: "phone", phone: P1 })).toBe("matched by the phone number 0912345678 in the content")
    const phones: ReadonlyArray<Candidate> = [{ kind: "phone", phone: P1 }, { kind: "phone", phone: P2 }]
    expect(explain({ by: null, reason: "several_phones", candidates: phones }))
      .toBe("2 phone numbers in the content: 0912345678, 0987654321 — waiting for staff")
    const codes: ReadonlyArray<Candidate> = [{ kind: "code", ...A }, { kind: "code", ...B }]
    expect(explain({ by: null, reason: "several_codes", candidates: codes }))
      .toBe("2 customer codes of different customers in the content: N2ABCDEFGH (cus_A), N2K7M3P9QX (cus_B) — waiting for staff")
    expect(explain({ by: null, reason: "no_candidate", candidates: [] })).toBe("no customer code or phone number in the content")
  })
})
