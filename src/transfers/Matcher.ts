/**
 * Matching an incoming bank transfer to a customer from its content (DOMAIN §5). Pure and
 * synchronous; the database lookup of code candidates is the caller's.
 *
 * Transfer content arrives mangled by the banks: diacritics stripped, upper-cased, prefixes and
 * tails added (`MBVCB.3278907687.…`, `… FT25308710231543`, `GD 464434-080625 10:55:18`), the
 * sender's account number inside, words glued together. {@link scan} reads two kinds of
 * candidates out of it, {@link decide} picks the customer (or says why none), {@link explain} says
 * so in a sentence for the transfer's record.
 *
 * Customer codes (`N2` + 8–10 letters or digits): read after folding the content (upper case,
 * diacritics removed, `Đ` → `D`, every character other than `A`–`Z` and `0`–`9` dropped), so
 * `n2ab cd.ef-gh` is `N2ABCDEFGH`. A code glued to the next word has no visible end, so each `N2`
 * gives its 10-, 11- and 12-character readings; only a code some customer holds matches.
 *
 * Phone numbers: a phone is a whole written number, never a slice of a longer digit run. The
 * content is cut into chunks, maximal runs of digits (ASCII or full-width); chunks joined by exactly
 * one space (or non-breaking space), `.` or `-` may be one written number, and a candidate is 1 to
 * 5 consecutive whole chunks. Decided here:
 * - One number, one separator: the single-character joins inside a candidate are all of one kind
 *   (`0912 345 678`, `0912.345.678`), so a date and a time (`09.06.2025 10:55`) never read as one
 *   number.
 * - `+` right before the first chunk belongs to the number, as do `(+84)`, a `(0)` trunk right
 *   after the country code and a national prefix in parentheses at the start (`(028) 3812 3456`),
 *   with at most one separator around each parenthesis. No other parentheses join chunks.
 * - A candidate's digits start with `0` (national, 10 or 11 digits), `84`, `+84` or `0084`. Any
 *   other first digit is not a phone here, even though `Phone.normalize` accepts a number that lost
 *   its leading zero in a spreadsheet: in transfer text such a run is an amount, an account or a
 *   reference. A `0` trunk after the country code is read only when written `(0)` or after a `+`
 *   (`840912345678` is a 12-digit run, not a phone).
 * - Letters glued to the number are accepted on either side (`CK0912345678`, `SDT0912345678`,
 *   `0912345678CHUYEN`): banks glue words, as they glue codes. Digits glued never are: the chunk
 *   would be longer. A `+` glued after a digit joins two numbers and belongs to neither
 *   (`0912345678+0987654321` is two phones).
 * - Reading starts again after a found number, so one written number gives one phone; the same
 *   phone written twice in two forms is one phone.
 * - The shop's own phones and account numbers (configuration) never match: a candidate is dropped
 *   when its phone is one of `shopPhones`, or its digits or its phone equal one of `shopAccounts`
 *   (some banks use the owner's phone number as the account number).
 *
 * Cost: one pass over the content's characters without regular expressions or splitting;
 * `Phone.normalize` runs only on candidates whose prefix and length can be a phone.
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import { normalize, type Phone, type PhonePolicy } from "../kernel/Phone.js"

/**
 * What the matcher must never take for a customer's: the shop's own numbers.
 *
 * @since 0.2.0
 */
export interface MatcherConfig {
  /** The shop's phone numbers, canonical (`0912345678`). */
  readonly shopPhones: ReadonlySet<string>
  /** The shop's bank account numbers, digits only. */
  readonly shopAccounts: ReadonlySet<string>
  /**
   * The shop's phone policy: a number on its `blocked` list never matches. Its `foreign` plays no
   * part, since only Vietnamese numbers are read from transfer text.
   */
  readonly phone?: PhonePolicy | undefined
}

/**
 * What {@link scan} reads out of a transfer's content: code readings to look up (in order of
 * appearance, distinct) and the distinct phones written in it (canonical, in order of appearance).
 *
 * @since 0.2.0
 */
export interface Scanned {
  readonly codes: ReadonlyArray<string>
  readonly phones: ReadonlyArray<Phone>
}

/**
 * One customer a transfer could belong to.
 *
 * @since 0.2.0
 */
export type Candidate =
  | { readonly kind: "code"; readonly code: string; readonly customerId: string }
  | { readonly kind: "phone"; readonly phone: Phone }

/**
 * How a transfer is matched: by a customer code, by a phone, or not (`by: null`) with the reason
 * and the candidates staff choose from.
 *
 * @since 0.2.0
 */
export type MatchDecision =
  | { readonly by: "code"; readonly customerId: string; readonly code: string }
  | { readonly by: "phone"; readonly phone: Phone }
  | {
    readonly by: null
    readonly reason: "no_candidate" | "several_codes" | "several_phones"
    readonly candidates: ReadonlyArray<Candidate>
  }

// --- folding for codes -------------------------------------------------------------------------

const UNKNOWN = 255
/** Char code → its folded ASCII letter or digit, 0 to drop it, {@link UNKNOWN} until first seen. */
const FOLD = new Uint8Array(65536).fill(UNKNOWN)
for (let c = 0; c < 128; c++) {
  FOLD[c] = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) ? c : c >= 97 && c <= 122 ? c - 32 : 0
}

const learn = (c: number): number => {
  let f = 0
  if (c === 0x110 || c === 0x111) f = 68 // Đ đ
  else if (c >= 0xff10 && c <= 0xff19) f = c - 0xff10 + 48 // full-width digits
  else if (c >= 0xff21 && c <= 0xff3a) f = c - 0xff21 + 65 // full-width capitals
  else if (c >= 0xff41 && c <= 0xff5a) f = c - 0xff41 + 65 // full-width small letters
  else if (c < 0xd800 || c > 0xdfff) {
    const d = String.fromCharCode(c).normalize("NFD")
    const base = FOLD[d.charCodeAt(0)]!
    let marks = true
    for (let i = 1; i < d.length; i++) {
      const m = d.charCodeAt(i)
      if (m < 0x300 || m > 0x36f) marks = false
    }
    if (base !== UNKNOWN && marks) f = base // Ế → E, ư → U; letters of other scripts are dropped
  }
  FOLD[c] = f
  return f
}

// --- reusable buffers (scan is synchronous, so one set serves every call) -----------------------

/** Contents up to this length reuse the module's buffers; a longer one gets its own, dropped after. */
const KEPT_LENGTH = 4096
const folded = new Uint8Array(KEPT_LENGTH)
const chunkStart = new Int32Array((KEPT_LENGTH >> 1) + 2)
const chunkEnd = new Int32Array((KEPT_LENGTH >> 1) + 2)

const isDigitCode = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 0xff10 && c <= 0xff19)
const digitValue = (c: number): number => (c >= 0xff10 ? c - 0xff10 : c - 48)

/** The kind of a one-character join: 1 space or non-breaking space, 2 `.`, 3 `-`, 0 not a join. */
const joinKind = (c: number): number => (c === 32 || c === 0xa0 ? 1 : c === 46 ? 2 : c === 45 ? 3 : 0)
/** The join of two chunks through a `(+84)` or `(0)` parenthesis: it does not set the number's separator. */
const PAREN = 4

const PHONE_CHARS = 15 // the most digits a candidate can have: 0084 (0) + a 10-digit landline NSN

// --- scan ----------------------------------------------------------------------------------------

/**
 * Reads the customer-code readings and the phone numbers out of a transfer's content, as the module
 * comment describes. Never throws; the result's arrays are fresh.
 *
 * @since 0.2.0
 */
export const scan = (content: string, config: MatcherConfig): Scanned => {
  const n = content.length
  const kept = n <= KEPT_LENGTH
  const fold = kept ? folded : new Uint8Array(n)
  const startOf = kept ? chunkStart : new Int32Array((n >> 1) + 2)
  const endOf = kept ? chunkEnd : new Int32Array((n >> 1) + 2)
  let foldedLength = 0
  let n2: Array<number> | undefined
  let chunks = 0
  let inChunk = false
  for (let i = 0; i < n; i++) {
    const c = content.charCodeAt(i)
    if ((c >= 48 && c <= 57) || (c >= 0xff10 && c <= 0xff19)) {
      if (!inChunk) {
        startOf[chunks] = i
        inChunk = true
      }
    } else if (inChunk) {
      endOf[chunks++] = i
      inChunk = false
    }
    let f = FOLD[c]!
    if (f === UNKNOWN) f = learn(c)
    if (f !== 0) {
      if (f === 50 && foldedLength > 0 && fold[foldedLength - 1] === 78) (n2 ??= []).push(foldedLength - 1)
      fold[foldedLength++] = f
    }
  }
  if (inChunk) endOf[chunks++] = n

  const codes: Array<string> = []
  if (n2 !== undefined) {
    for (const p of n2) {
      for (let length = 10; length <= 12 && p + length <= foldedLength; length++) {
        let code = ""
        for (let j = p; j < p + length; j++) code += String.fromCharCode(fold[j]!)
        if (!codes.includes(code)) codes.push(code)
      }
    }
  }
  return { codes, phones: chunks === 0 ? [] : phonesIn(content, chunks, startOf, endOf, config) }
}

// The state of the current scan, shared by the helpers below (scan is synchronous).
let text = ""
let starts: Int32Array = chunkStart
let ends: Int32Array = chunkEnd
/** The first digits of the current candidate: country code, trunk and the NSN's first digit. */
const lead = new Int8Array(6)

const at = (i: number): number => text.charCodeAt(i)
const lengthOf = (i: number): number => ends[i]! - starts[i]!

/** Chunk `i` is the `0` of a `(0)` trunk. */
const isParenTrunk = (i: number): boolean =>
  lengthOf(i) === 1 && digitValue(at(starts[i]!)) === 0 && at(starts[i]! - 1) === 40 && at(ends[i]!) === 41

/** Chunk `i` is `84` or `0084`. */
const isCountryCode = (i: number): boolean => {
  const s = starts[i]!
  const l = lengthOf(i)
  if (l === 2) return digitValue(at(s)) === 8 && digitValue(at(s + 1)) === 4
  return l === 4 && digitValue(at(s)) === 0 && digitValue(at(s + 1)) === 0 &&
    digitValue(at(s + 2)) === 8 && digitValue(at(s + 3)) === 4
}

/** Chunk `i` ends a parenthesis opened right before it: `(0)`, `(+84)`, or a national prefix `(028)`. */
const closesParen = (i: number): boolean => {
  const s = starts[i]!
  const before = at(s - 1)
  if (before === 40) return lengthOf(i) <= 5 && digitValue(at(s)) === 0 // "(0)", "(028)", "(0912)"
  return lengthOf(i) === 2 && (before === 43 || before === 0xff0b) && at(s - 2) === 40 && isCountryCode(i)
}

/** How chunks `i` and `i + 1` join: a {@link joinKind}, {@link PAREN}, or 0 when they are two numbers. */
const join = (i: number): number => {
  const a = ends[i]!
  const b = starts[i + 1]!
  const gap = b - a
  if (gap === 1) {
    const kind = joinKind(at(a))
    if (kind !== 0) return kind
  }
  if (gap > 3) return 0
  let p = a
  let paren = false
  if (at(p) === 41) {
    if (!closesParen(i)) return 0
    p++
    paren = true
  }
  if (p < b && joinKind(at(p)) !== 0) p++
  if (p < b && at(p) === 40) {
    if (!(isParenTrunk(i + 1) && isCountryCode(i))) return 0
    p++
    paren = true
  }
  return p === b && paren ? PAREN : 0
}

/**
 * The cheap checks before `Phone.normalize`, on the candidate of chunks `s..e` with `digits`
 * digits: a national (`0`) or Vietnamese international (`84`, `+84`, `0084`) prefix, the trunk
 * rule of the module comment, and a national significant number of a length its first digit allows
 * (9 digits for a mobile, 10 for a landline `2…` or an old mobile `1…`; DOMAIN §1). What passes is
 * almost always a phone, so a rejection (a typed error, costly to build) is rare.
 */
const mayBePhone = (digits: number, plus: boolean, s: number, e: number): boolean => {
  if (digits < 10) return false
  const d0 = lead[0]
  const d1 = lead[1]
  let skip: number // the digits before the national significant number
  if (plus) {
    if (d0 !== 8 || d1 !== 4) return false
    skip = 2
  } else if (d0 === 0) {
    if (d1 !== 0) skip = 1
    else if (lead[2] === 8 && lead[3] === 4) skip = 4
    else return false
  } else if (d0 === 8 && d1 === 4) {
    skip = 2
  } else {
    return false
  }
  let first = lead[skip]!
  if (skip !== 1 && first === 0) {
    // the trunk 0 is read after a "+", or when written "(0)" right after a bare country code
    if (!plus && !(e > s && lengthOf(s) === skip && isParenTrunk(s + 1))) return false
    skip++
    first = lead[skip]!
  }
  const nsn = digits - skip
  return nsn === 9 ? first === 1 || first === 3 || first === 5 || first >= 7 : nsn === 10 && (first === 1 || first === 2)
}

const phonesIn = (
  content: string,
  chunks: number,
  startOf: Int32Array,
  endOf: Int32Array,
  config: MatcherConfig
): Array<Phone> => {
  text = content
  starts = startOf
  ends = endOf
  const phones: Array<Phone> = []
  const blocked = config.phone?.blocked
  for (let s = 0; s < chunks; s++) {
    const first = starts[s]!
    let from = first
    let plus = false
    const before = first > 0 ? at(first - 1) : 0
    if ((before === 43 || before === 0xff0b) && !(first > 1 && isDigitCode(at(first - 2)))) {
      // a "+" glued after a digit ("0912345678+0987654321") joins two numbers: it is neither's
      plus = true
      from = first - 1
      if (from > 0 && at(from - 1) === 40) from--
    } else if (before === 40 && isParenTrunk(s)) {
      continue // a "(0)" trunk belongs to the country code before it
    }
    let digits = 0
    let leadCount = 0
    let separator = 0
    for (let e = s; e < s + 5 && e < chunks; e++) {
      if (e > s) {
        const kind = join(e - 1)
        if (kind === 0) break
        if (kind !== PAREN) {
          if (separator === 0) separator = kind
          else if (separator !== kind) break
        }
      }
      const start = starts[e]!
      const end = ends[e]!
      for (let j = start; j < end && leadCount < 6; j++) lead[leadCount++] = digitValue(at(j))
      digits += end - start
      if (digits > PHONE_CHARS) break
      if (!mayBePhone(digits, plus, s, e)) continue
      // Only Vietnamese candidates reach here, so the policy's `foreign` cannot change the verdict;
      // its block list is checked on the result (what normalize would do) without building an error.
      const parsed = normalize(content.slice(from, end))
      if (Either.isLeft(parsed)) continue
      const phone = parsed.right
      if (blocked?.has(phone) !== true && !isShops(phone, s, e, config) && !phones.includes(phone)) phones.push(phone)
      s = e // one written number, one phone: read on after it
      break
    }
  }
  text = ""
  starts = chunkStart
  ends = chunkEnd
  return phones
}

const isShops = (phone: Phone, s: number, e: number, config: MatcherConfig): boolean => {
  if (config.shopPhones.has(phone)) return true
  const accounts = config.shopAccounts
  if (accounts.size === 0) return false
  if (accounts.has(phone)) return true
  let digits = ""
  for (let i = s; i <= e; i++) {
    for (let j = starts[i]!; j < ends[i]!; j++) digits += String.fromCharCode(48 + digitValue(at(j)))
  }
  return accounts.has(digits)
}

// --- decide and explain ----------------------------------------------------------------------------

/**
 * Picks the customer of a transfer. `held` are the code readings of {@link scan} that some customer
 * holds (the caller's lookup), `phones` the phones {@link scan} found.
 *
 * - Codes of exactly one customer (however many times written) → matched by code; a code wins
 *   over any phone.
 * - Codes of several customers → not matched, `several_codes`, those codes as candidates.
 * - Else exactly one phone → matched by phone; several → `several_phones` with them as candidates;
 *   none → `no_candidate`.
 *
 * @since 0.2.0
 */
export const decide = (
  held: ReadonlyArray<{ readonly code: string; readonly customerId: string }>,
  phones: ReadonlyArray<Phone>
): MatchDecision => {
  const first = held[0]
  if (first !== undefined) {
    if (held.every((h) => h.customerId === first.customerId)) {
      return { by: "code", customerId: first.customerId, code: first.code }
    }
    const candidates: Array<Candidate> = []
    for (const h of held) {
      if (!candidates.some((c) => c.kind === "code" && c.code === h.code)) {
        candidates.push({ kind: "code", code: h.code, customerId: h.customerId })
      }
    }
    return { by: null, reason: "several_codes", candidates }
  }
  const distinct: Array<Phone> = []
  for (const p of phones) if (!distinct.includes(p)) distinct.push(p)
  if (distinct.length === 1) return { by: "phone", phone: distinct[0]! }
  if (distinct.length > 1) {
    return { by: null, reason: "several_phones", candidates: distinct.map((phone) => ({ kind: "phone", phone })) }
  }
  return { by: null, reason: "no_candidate", candidates: [] }
}

const describe = (c: Candidate): string => (c.kind === "code" ? `${c.code} (${c.customerId})` : c.phone)

/**
 * One English sentence saying how a transfer was matched or why not, for its record and for staff:
 * `matched by the customer code N2ABCDEFGH`, `matched by the phone number 0912345678 in the
 * content`, `2 phone numbers in the content: 0912345678, 0987654321 — waiting for staff`,
 * `no customer code or phone number in the content`.
 *
 * @since 0.2.0
 */
export const explain = (d: MatchDecision): string => {
  switch (d.by) {
    case "code":
      return `matched by the customer code ${d.code}`
    case "phone":
      return `matched by the phone number ${d.phone} in the content`
    case null: {
      const list = d.candidates.map(describe).join(", ")
      switch (d.reason) {
        case "several_codes":
          return `${d.candidates.length} customer codes of different customers in the content: ${list} — waiting for staff`
        case "several_phones":
          return `${d.candidates.length} phone numbers in the content: ${list} — waiting for staff`
        case "no_candidate":
          return "no customer code or phone number in the content"
      }
    }
  }
}
