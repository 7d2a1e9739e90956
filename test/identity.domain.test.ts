/**
 * The identity module's pure rules, by property (DOMAIN §9, docs/identity.md): the sliding window of
 * every limit (`Throttle.decide`) against a brute-force model, the stored hash format's round trip
 * and the rehash decision, the link code's format, a code's wrong tries, e-mail keys and password
 * normalisation. The real KDF runs with small parameters in a few cases.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import { decide, retrySeconds, type Window } from "../src/identity/Throttle.js"
import { formatHash, hashPassword, type KdfParams, needsRehash, parseHash, verifyPassword } from "../src/identity/Password.js"
import { afterWrongTry, canonicalCode, emailKey, formatCode, MAX_WRONG_PER_CODE, normalizePassword, passwordLengthOk } from "../src/identity/User.js"

const HOUR = 3_600_000

const windowArb: fc.Arbitrary<Window> = fc.record({ limit: fc.integer({ min: 1, max: 20 }), windowMs: fc.integer({ min: 1, max: 10 * HOUR }) })

/** The model: count the attempts inside each window, refuse when one is full. */
const modelAllowed = (earlier: ReadonlyArray<number>, now: number, windows: ReadonlyArray<Window>) =>
  windows.every((w) => earlier.filter((at) => at > now - w.windowMs).length < w.limit)

describe("the sliding window (Throttle.decide)", () => {
  it("allows one more attempt exactly when every window holds fewer than its limit", () =>
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 20 * HOUR }), { maxLength: 60 }),
      fc.integer({ min: 0, max: 21 * HOUR }),
      fc.array(windowArb, { minLength: 1, maxLength: 3 }),
      (earlier, now, windows) => {
        const past = earlier.filter((at) => at <= now)
        expect(decide(past, now, windows).allowed).toBe(modelAllowed(past, now, windows))
      }
    )))

  it("a refusal's wait is the least: allowed at now + wait, still refused a millisecond before", () =>
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 20 * HOUR }), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 0, max: 21 * HOUR }),
      fc.array(windowArb, { minLength: 1, maxLength: 3 }),
      (earlier, now, windows) => {
        const past = earlier.filter((at) => at <= now)
        const verdict = decide(past, now, windows)
        if (verdict.allowed) return
        expect(verdict.retryAfterMs).toBeGreaterThan(0)
        expect(modelAllowed(past, now + verdict.retryAfterMs, windows)).toBe(true)
        expect(modelAllowed(past, now + verdict.retryAfterMs - 1, windows)).toBe(false)
        expect(retrySeconds(verdict.retryAfterMs) * 1000).toBeGreaterThanOrEqual(verdict.retryAfterMs)
      }
    )))

  it("an attacker who retries whenever allowed never has more than `limit` attempts in any window of the limit's length", () =>
    fc.assert(fc.property(
      windowArb,
      fc.array(fc.integer({ min: 0, max: 5 * 60_000 }), { minLength: 1, maxLength: 300 }),
      (w, gaps) => {
        const accepted: Array<number> = []
        let now = 0
        for (const gap of gaps) {
          now += gap
          if (decide(accepted, now, [w]).allowed) accepted.push(now)
        }
        for (const start of accepted) {
          expect(accepted.filter((at) => at >= start && at < start + w.windowMs).length).toBeLessThanOrEqual(w.limit)
        }
      }
    )))

  it("with 10 wrong codes an hour, a year of guessing has under 9 % chance against 10^6 codes", () => {
    // the bound the limits give: 10 guesses per sliding hour per phone, whatever the number of codes sent
    const perYear = 10 * 24 * 365
    expect(perYear / 1_000_000).toBeLessThan(0.09)
  })
})

const paramsArb: fc.Arbitrary<KdfParams> = fc.record({
  ln: fc.integer({ min: 1, max: 24 }),
  r: fc.integer({ min: 1, max: 32 }),
  p: fc.integer({ min: 1, max: 16 })
})
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })

describe("the stored password hash", () => {
  it("formatHash and parseHash are inverse, and the text names its parameters", () =>
    fc.assert(fc.property(paramsArb, bytes(16), bytes(32), (params, salt, key) => {
      const text = formatHash({ params, salt, key })
      expect(text).toMatch(new RegExp(`^scrypt\\$ln=${params.ln},r=${params.r},p=${params.p}\\$[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+$`))
      const parsed = parseHash(text)
      expect(Option.isSome(parsed)).toBe(true)
      const h = Option.getOrThrow(parsed)
      expect(h.params).toEqual(params)
      expect([...h.salt]).toEqual([...salt])
      expect([...h.key]).toEqual([...key])
    })))

  it("a rehash is due exactly when the stored parameters differ from the configured ones", () =>
    fc.assert(fc.property(paramsArb, paramsArb, bytes(16), bytes(32), (stored, configured, salt, key) => {
      const text = formatHash({ params: stored, salt, key })
      const same = stored.ln === configured.ln && stored.r === configured.r && stored.p === configured.p
      expect(needsRehash(text, configured)).toBe(!same)
    })))

  it("anything that is not a hash this module writes parses to none and is due for a rehash", () =>
    fc.assert(fc.property(fc.string(), (text) => {
      fc.pre(!text.startsWith("scrypt$"))
      expect(Option.isNone(parseHash(text))).toBe(true)
      expect(needsRehash(text, { ln: 10, r: 8, p: 1 })).toBe(true)
    })))

  it.effect("a real hash verifies its password only, under small parameters; a salt makes two hashes of one password differ", () =>
    Effect.gen(function*() {
      const params = { ln: 8, r: 8, p: 1 }
      const a = yield* hashPassword("mật khẩu 12345", params)
      const b = yield* hashPassword("mật khẩu 12345", params)
      expect(a).not.toBe(b)
      expect(a).not.toContain("mật khẩu")
      expect(yield* verifyPassword("mật khẩu 12345", a, params)).toBe(true)
      expect(yield* verifyPassword("mật khẩu 12346", a, params)).toBe(false)
      expect(yield* verifyPassword("mật khẩu 12345", "garbage", params)).toBe(false)
      expect(needsRehash(a, params)).toBe(false)
      expect(needsRehash(a, { ...params, ln: 9 })).toBe(true)
    }))
})

describe("link codes", () => {
  it("formatCode gives 6 ASCII digits for every number of the range, and reads back as the number", () =>
    fc.assert(fc.property(fc.integer({ min: 0, max: 999_999 }), (n) => {
      const code = formatCode(n)
      expect(code).toMatch(/^\d{6}$/)
      expect(Number(code)).toBe(n)
      expect(canonicalCode(code)).toBe(code)
    })))

  it("formatCode refuses numbers outside 0–999999", () =>
    fc.assert(fc.property(fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: 1_000_000 }), fc.double({ noInteger: true })), (n) => {
      expect(() => formatCode(n)).toThrow(RangeError)
    })))

  it("a code typed with spaces, dashes or full-width digits is the same code", () =>
    fc.assert(fc.property(fc.integer({ min: 0, max: 999_999 }), (n) => {
      const code = formatCode(n)
      const fullWidth = [...code].map((d) => String.fromCharCode(0xff10 + Number(d))).join("")
      expect(canonicalCode(`${code.slice(0, 3)} ${code.slice(3)}`)).toBe(code)
      expect(canonicalCode(`${code.slice(0, 3)}-${code.slice(3)}`)).toBe(code)
      expect(canonicalCode(fullWidth)).toBe(code)
    })))

  it("a challenge dies at its fifth wrong try, never before", () => {
    let state = { attempts: 0, status: "active" as string }
    const statuses: Array<string> = []
    for (let i = 0; i < MAX_WRONG_PER_CODE; i++) {
      state = afterWrongTry(state.attempts)
      statuses.push(state.status)
    }
    expect(statuses).toEqual(["active", "active", "active", "active", "dead"])
  })
})

describe("e-mail keys and passwords", () => {
  it("an address is one key whatever its case and surrounding spaces", () =>
    fc.assert(fc.property(fc.emailAddress(), (email) => {
      expect(emailKey(`  ${email.toUpperCase()} `)).toBe(emailKey(email))
      expect(emailKey(emailKey(email))).toBe(emailKey(email))
    })))

  it("a password's length counts code points after NFKC: 8 to 128", () =>
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 140 }), (p) => {
      const n = normalizePassword(p)
      expect(passwordLengthOk(n)).toBe([...n].length >= 8 && [...n].length <= 128)
    })))

  it("full-width and composed forms of a password are one password", () => {
    expect(normalizePassword("ｐａｓｓ１２３４")).toBe("pass1234")
    expect(normalizePassword("Nguye\u0302\u0303n")).toBe(normalizePassword("Nguyễn"))
  })
})
