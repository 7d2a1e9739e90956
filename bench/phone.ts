/**
 * Phone normaliser benchmark: `Phone.normalize` against libphonenumber-js (max metadata) on the same
 * 100,000 mixed-format inputs, in the same process.
 *
 * 1. Builds the inputs deterministically (seeded PRNG): national, `+84` spaced, `0084` dashed,
 *    `(+84)(0)`, dotted, full-width, old 11-digit mobiles, lost leading zeros and ~10 % invalid ones.
 * 2. Checks agreement on every input first: our verdict must equal libphonenumber's (valid for VN,
 *    type MOBILE or FIXED_LINE → `"0" + nationalNumber`, else rejected). Old 11-digit mobiles, which
 *    libphonenumber no longer knows, are compared on the converted number: ours must be the new
 *    number (2018 table of DOMAIN §1, written out here) and libphonenumber must accept that number.
 *    Any disagreement is printed and sets `process.exitCode = 1`.
 * 3. Times both sides: a warm-up round each, then 7 rounds each, alternating which side goes first;
 *    prints the median ops/s of each side and the median of the per-round ratios ours/theirs.
 *
 * Run with `npm run bench -- phone`.
 */
import * as Either from "effect/Either"
import { parsePhoneNumberFromString } from "libphonenumber-js/max"
import * as Phone from "../src/kernel/Phone.js"

const N = 100_000
const ROUNDS = 7
const SEED = 0x0c360

/** mulberry32: a small deterministic PRNG, so every run measures the same inputs. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296
}

/** 2018 renumbering (DOMAIN §1): old 3-digit national prefix → new 2-digit prefix. */
const RENUMBERED: Readonly<Record<string, string>> = {
  "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37", "168": "38", "169": "39",
  "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
  "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
  "186": "56", "188": "58", "199": "59"
}
const OLD_PREFIXES = Object.keys(RENUMBERED)

const MOBILE_2 = ["32", "33", "34", "35", "36", "37", "38", "39", "56", "58", "59", "70", "76", "77", "78", "79",
  "81", "82", "83", "84", "85", "86", "87", "88", "90", "91", "92", "93", "94", "96", "97", "98"]
const LANDLINE_3 = ["243", "246", "283", "287", "225", "236", "292", "234", "258", "251", "274", "203", "263",
  "210", "211", "220", "221", "226", "227", "228", "229", "232", "233", "235", "237", "238", "239", "252", "254",
  "255", "256", "257", "259", "260", "261", "262", "269", "270", "271", "272", "273", "275", "276", "277", "290",
  "291", "293", "294", "296", "297", "299"]

interface Input {
  readonly text: string
  /** For an old 11-digit mobile: the new number it must become. */
  readonly renumbered?: string
}

const buildInputs = (): ReadonlyArray<Input> => {
  const next = prng(SEED)
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(next() * xs.length)]!
  const digits = (n: number): string => {
    let s = ""
    for (let i = 0; i < n; i++) s += Math.floor(next() * 10)
    return s
  }
  /** A valid national significant number: 85 % mobile (9 digits), 15 % landline (10 digits). */
  const nsn = (): string => (next() < 0.85 ? pick(MOBILE_2) + digits(7) : pick(LANDLINE_3) + digits(7))
  /** Groups a digit string 3-3-3, 2-4-4 or 3-3-4 with `sep`. */
  const group = (s: string, sep: string): string =>
    s.length === 9
      ? `${s.slice(0, 2)}${sep}${s.slice(2, 5)}${sep}${s.slice(5)}`
      : `${s.slice(0, 3)}${sep}${s.slice(3, 6)}${sep}${s.slice(6)}`
  const wide = (s: string): string =>
    s.replace(/[0-9+]/g, (c) => (c === "+" ? "\uff0b" : String.fromCharCode(c.charCodeAt(0) + 0xff10 - 48)))

  const invalid = (): string => {
    switch (Math.floor(next() * 8)) {
      case 0:
        return "0" + pick(MOBILE_2) + digits(6) // one digit short
      case 1:
        return "0" + pick(MOBILE_2) + digits(8) // one digit too many
      case 2:
        return "0" + pick(["11", "40", "41", "60", "61", "50", "80", "89", "99"]) + "2" + digits(6) // unassigned
      case 3:
        return pick(["1800 ", "1900 "]) + digits(4) // toll-free, premium: not a customer's phone
      case 4:
        return pick(["0000000000", "0123456789", "000 000 0000", "+84 000 000 000"])
      case 5:
        return "0" + pick(MOBILE_2) + pick(["abc", "xyz", "o0o"]) + digits(4) // letters
      case 6:
        return pick(["+1 415 555 ", "+65 9123 ", "+44 20 7946 "]) + digits(4) // foreign
      default:
        return "0" + pick(["130", "135", "140", "150", "170", "175", "190"]) + digits(7) // 11 digits, never renumbered
    }
  }

  const out: Array<Input> = []
  for (let i = 0; i < N; i++) {
    const r = next()
    if (r < 0.1) {
      out.push({ text: invalid() })
    } else if (r < 0.2) {
      const old = pick(OLD_PREFIXES)
      const rest = digits(7)
      const text = next() < 0.5
        ? `0${old} ${rest.slice(0, 3)} ${rest.slice(3)}`
        : `+84 ${old} ${rest.slice(0, 3)} ${rest.slice(3)}`
      out.push({ text, renumbered: "0" + RENUMBERED[old]! + rest })
    } else {
      const n = nsn()
      let text: string
      if (r < 0.35) text = "0" + n
      else if (r < 0.5) text = "+84 " + group(n, " ")
      else if (r < 0.62) text = "0084-" + group(n, "-")
      else if (r < 0.72) text = "(+84)(0)" + group(n, " ")
      else if (r < 0.82) text = "0" + group(n, ".")
      else if (r < 0.92) text = wide("0" + group(n, " "))
      else if (r < 0.96) text = "84" + n
      else text = n.length === 9 ? n : "0" + group(n, "\u00a0") // lost leading zero, or non-breaking spaces
      out.push({ text })
    }
  }
  return out
}

/** libphonenumber's verdict under our semantics (valid VN mobile or fixed line), as our canonical form. */
const theirs = (input: string): string | undefined => {
  const parsed = parsePhoneNumberFromString(input, "VN")
  if (parsed === undefined || parsed.country !== "VN" || !parsed.isValid()) return undefined
  const type = parsed.getType()
  return type === "MOBILE" || type === "FIXED_LINE" ? "0" + parsed.nationalNumber : undefined
}

const ours = (input: string): string | undefined => {
  const r = Phone.normalize(input)
  return Either.isRight(r) ? r.right : undefined
}

const checkAgreement = (inputs: ReadonlyArray<Input>): boolean => {
  let agreed = 0
  let accepted = 0
  let renumbered = 0
  const disagreements: Array<string> = []
  for (const { text, renumbered: expected } of inputs) {
    const got = ours(text)
    let want: string | undefined
    let ok: boolean
    if (expected !== undefined) {
      renumbered++
      want = expected
      ok = got === expected && theirs(expected) === expected && theirs(text) === undefined
    } else {
      want = theirs(text)
      ok = got === want
    }
    if (got !== undefined) accepted++
    if (ok) agreed++
    else if (disagreements.length < 20) {
      disagreements.push(`  ${JSON.stringify(text)}: normalize ${got ?? "rejects"}, expected ${want ?? "rejected"}`)
    }
  }
  console.log(
    `phone: agreement ${agreed}/${inputs.length} inputs with libphonenumber-js (${accepted} accepted, ` +
      `${inputs.length - accepted} rejected; ${renumbered} old 11-digit mobiles compared on the converted number)`
  )
  if (agreed !== inputs.length) {
    console.error(`phone: ${inputs.length - agreed} disagreements, first ones:\n${disagreements.join("\n")}`)
    return false
  }
  return true
}

let sink = 0

/** Milliseconds for one pass of `normalize` over every input. */
const timeOurs = (texts: ReadonlyArray<string>): number => {
  let accepted = 0
  const start = performance.now()
  for (let i = 0; i < texts.length; i++) if (Either.isRight(Phone.normalize(texts[i]!))) accepted++
  const ms = performance.now() - start
  sink += accepted
  return ms
}

/** Milliseconds for one pass of parse + isValid + getType + "0" + nationalNumber over every input. */
const timeTheirs = (texts: ReadonlyArray<string>): number => {
  let accepted = 0
  const start = performance.now()
  for (let i = 0; i < texts.length; i++) if (theirs(texts[i]!) !== undefined) accepted++
  const ms = performance.now() - start
  sink += accepted
  return ms
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const rate = (opsPerSec: number): string =>
  opsPerSec >= 1e6 ? `${(opsPerSec / 1e6).toFixed(1)}M` : opsPerSec >= 1e3 ? `${Math.round(opsPerSec / 1e3)}k` : `${Math.round(opsPerSec)}`

export async function run(): Promise<void> {
  const inputs = buildInputs()
  if (!checkAgreement(inputs)) {
    process.exitCode = 1
    return
  }
  const texts = inputs.map((i) => i.text)

  // warm-up: let both sides reach their optimised code
  timeOurs(texts)
  timeTheirs(texts)

  const oursOps: Array<number> = []
  const theirsOps: Array<number> = []
  const ratios: Array<number> = []
  for (let round = 0; round < ROUNDS; round++) {
    let a: number
    let b: number
    if (round % 2 === 0) {
      a = timeOurs(texts)
      b = timeTheirs(texts)
    } else {
      b = timeTheirs(texts)
      a = timeOurs(texts)
    }
    oursOps.push((texts.length / a) * 1000)
    theirsOps.push((texts.length / b) * 1000)
    ratios.push(b / a)
  }
  console.log(
    `phone: normalize ${rate(median(oursOps))} ops/s, libphonenumber-js ${rate(median(theirsOps))} ops/s, ` +
      `ratio ${median(ratios).toFixed(1)}x (median of ${ROUNDS})`
  )
  if (sink === 0) console.error("phone: nothing was accepted")
}

export default run
