/**
 * The transfer matcher on a hand-written corpus (test/fixtures/transfer-contents.json) of contents
 * as Vietnamese banks deliver them (DOMAIN §5): MB, VCB, TCB, ACB, BIDV, Vietinbank, MoMo and
 * ZaloPay prefixes and tails, the sender's account inside, glued and spaced codes, one phone in two
 * formats, two phones, old 11-digit mobiles, landlines, the shop's own numbers, and nothing at all.
 * Each entry states the decision a careful matcher makes; every disagreement is listed with its
 * content.
 */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { decide, type MatchDecision, type MatcherConfig, scan } from "../src/transfers/Matcher.js"

interface Entry {
  readonly content: string
  readonly expect: {
    readonly by: "code" | "phone" | null
    readonly code?: string
    readonly phone?: string
    readonly reason?: "no_candidate" | "several_codes" | "several_phones"
  }
}

const corpus: ReadonlyArray<Entry> = JSON.parse(
  readFileSync(new URL("./fixtures/transfer-contents.json", import.meta.url), "utf8")
)

/** The codes customers hold in this test's database. */
const HELD = new Map<string, string>([
  ["N2ABCDEFGH", "cus_A"],
  ["N2K7M3P9QX", "cus_B"],
  ["N2HX4T8WZR", "cus_C"],
  ["N2ZZ9YW8V7", "cus_D"],
  ["N2Q5RS2TUV", "cus_E"],
  ["N2LEGACY123", "cus_F"], // 9 characters after N2: issued by an older system
  ["N2MNPQRSTUVW", "cus_G"] // 10 characters after N2
])

/** The shop: its hotline and landline, and its accounts (one of them a phone number, as MB allows). */
const SHOP: MatcherConfig = {
  shopPhones: new Set(["0901234567", "02838123456"]),
  shopAccounts: new Set(["1903512345678", "0071000654321", "0988777666"])
}

/** scan + the database lookup + decide, as the transfer service runs them. */
const match = (content: string): MatchDecision => {
  const { codes, phones } = scan(content, SHOP)
  const held = codes.flatMap((code) => {
    const customerId = HELD.get(code)
    return customerId === undefined ? [] : [{ code, customerId }]
  })
  return decide(held, phones)
}

/** The decision reduced to what an entry states. */
const verdict = (d: MatchDecision): Entry["expect"] =>
  d.by === "code"
    ? { by: "code", code: d.code }
    : d.by === "phone"
    ? { by: "phone", phone: d.phone }
    : { by: null, reason: d.reason }

describe("Matcher on the transfer corpus", () => {
  it("has at least 220 entries, distinct, covering every outcome", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(220)
    expect(new Set(corpus.map((e) => e.content)).size).toBe(corpus.length)
    for (const outcome of ["code", "phone", "no_candidate", "several_codes", "several_phones"]) {
      expect(corpus.some((e) => (e.expect.by ?? e.expect.reason) === outcome)).toBe(true)
    }
  })

  it("decides every entry as it states", () => {
    const failures = corpus.flatMap((entry) => {
      const got = verdict(match(entry.content))
      return JSON.stringify(got) === JSON.stringify(entry.expect)
        ? []
        : [`${JSON.stringify(entry.content)}: expected ${JSON.stringify(entry.expect)}, got ${JSON.stringify(got)}`]
    })
    expect(failures).toEqual([])
  })

  it("matches a code to the customer who holds it", () => {
    for (const entry of corpus) {
      const d = match(entry.content)
      if (d.by === "code") expect(d.customerId).toBe(HELD.get(d.code))
    }
  })
})
