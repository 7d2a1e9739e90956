/**
 * The write inputs' fast decoders: canonical input is taken without running the schema, anything
 * else goes through it. Whatever the input, they must answer exactly as the schema does.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import { isCanonicalText, Text } from "../src/customers/Customer.js"
import * as Schema from "effect/Schema"
import {
  decodeDeposit,
  decodeDepositBySchema,
  decodeWithdraw,
  decodeWithdrawBySchema
} from "../src/wallets/Wallets.js"

/** Strings near every edge of `Text`: blank, padded, control characters, surrogates, long. */
const texts = fc.oneof(
  fc.constantFrom("", " ", "ref-1", " ref-1", "ref-1 ", "a\tb", "a\nb", "\u0000", "\u007f", "x\uD800", "\uDC00y", "ok \uD83D\uDE00", "đơn 42"),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.integer({ min: 195, max: 205 }).map((n) => "r".repeat(n)),
  fc.integer({ min: 495, max: 505 }).map((n) => "n".repeat(n))
)
const values = fc.oneof(texts, fc.integer(), fc.double(), fc.constantFrom(null, undefined, true, [], {}, new Date(0)))
const sources = fc.oneof(fc.constantFrom("bank_transfer", "manual", "refund", "Manual", "cash"), values)

/** An input object: each known key present or not, with a likely or an odd value, sometimes an extra key. */
const input = (withSource: boolean) =>
  fc.record(
    {
      phone: fc.oneof(fc.constantFrom("0912345678", " 0912 345 678"), values),
      amount: fc.oneof(fc.integer({ min: 1, max: 1e9 }), values),
      reference: fc.oneof(fc.constantFrom("ref-1", "bank:TX-42"), texts, values),
      note: fc.oneof(fc.constantFrom(undefined, null, "lunch"), texts, values),
      ...(withSource ? { source: sources } : {}),
      extra: values
    },
    { requiredKeys: [] }
  ).map((o) => {
    // most inputs without the extra key, some with it
    const { extra, ...rest } = o as Record<string, unknown>
    return typeof extra === "number" && extra % 3 === 0 ? { ...rest, extra } : rest
  })

const agrees = <A>(fast: (u: unknown) => Either.Either<A, unknown>, bySchema: (u: unknown) => Either.Either<A, unknown>) => (raw: unknown) => {
  const a = fast(raw)
  const b = bySchema(raw)
  expect(a._tag).toBe(b._tag)
  if (Either.isRight(a) && Either.isRight(b)) expect(a.right).toEqual(b.right)
  if (Either.isLeft(a) && Either.isLeft(b)) expect(String(a.left)).toBe(String(b.left))
  return Either.isRight(b)
}

describe("write input decoding", () => {
  it("property: isCanonicalText holds exactly when Text decodes a string to itself", () => {
    fc.assert(
      fc.property(texts, fc.constantFrom(1, 5, 200, 500), fc.boolean(), (s, max, multiline) => {
        const decoded = Schema.decodeUnknownEither(Text(max, { multiline }))(s)
        expect(isCanonicalText(s, max, { multiline })).toBe(Either.isRight(decoded) && decoded.right === s)
      }),
      { numRuns: 2000 }
    )
  })

  it("property: the withdrawal decoder answers as the schema does, for any input", () => {
    let accepted = 0
    fc.assert(fc.property(fc.oneof(input(false), values), (raw) => void (agrees(decodeWithdraw, decodeWithdrawBySchema)(raw) && accepted++)), {
      numRuns: 3000
    })
    // the property means something only if many inputs were valid
    expect(accepted).toBeGreaterThan(100)
  })

  it("property: the deposit decoder answers as the schema does, for any input", () => {
    let accepted = 0
    fc.assert(fc.property(fc.oneof(input(true), values), (raw) => void (agrees(decodeDeposit, decodeDepositBySchema)(raw) && accepted++)), {
      numRuns: 3000
    })
    expect(accepted).toBeGreaterThan(50)
  })

  it("odd objects go through the schema: inherited keys, symbol keys, class instances, getters read once", () => {
    const base = { phone: "0912345678", amount: 1000, reference: "ref-1" }
    const inherited = Object.assign(Object.create({ note: "from the prototype" }), base)
    const symbol = { ...base, [Symbol("x")]: 1 }
    class Input {
      phone = "0912345678"
      amount = 1000
      reference = "ref-1"
    }
    for (const raw of [inherited, symbol, new Input(), Object.assign(Object.create(null), base)]) {
      agrees(decodeWithdraw, decodeWithdrawBySchema)(raw)
    }
    let reads = 0
    const getter = { phone: "0912345678", amount: 1000, get reference() { reads++; return "ref-1" } }
    expect(Either.isRight(decodeWithdraw(getter))).toBe(true)
    expect(reads).toBe(1)
  })
})
