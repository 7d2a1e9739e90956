/**
 * Vietnamese phone numbers: the key a customer is known by.
 *
 * `normalize` turns any of the forms a shop meets (`+84 91 234 5678`, `0084-91-234-5678`,
 * `(+84) (0) 912.345.678`, full-width digits, a spreadsheet cell that lost its leading zero, an
 * old 11-digit mobile from before the 2018 renumbering) into one canonical string, or says exactly
 * why it cannot. Pure and synchronous: no I/O, no allocation beyond the result.
 *
 * Validity follows libphonenumber's VN metadata for mobile and fixed-line numbers. Decided here:
 * toll-free (1800), premium (1900), UAN (1x99, 69x) and VoIP (0672) numbers are not a customer's
 * phone (none of them can receive a text), so they are rejected with `unknown_prefix`.
 *
 * The rules, in full: docs/phones.md.
 *
 * @since 0.1.0
 */
import * as Brand from "effect/Brand"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * A canonical Vietnamese phone number: `0` followed by the national significant number, so it
 * always matches `^0\d{9,10}$` (10 digits for a mobile, 11 for a landline). When a
 * {@link PhonePolicy} accepts foreign numbers, a foreign number is a `Phone` in E.164 form
 * (`+` and 8 to 15 digits).
 *
 * @since 0.1.0
 */
export type Phone = string & Brand.Brand<"Phone">

/**
 * Why an input is not a phone number.
 *
 * - `empty`: nothing but blanks and separators.
 * - `not_digits`: a letter or a symbol that is not phone punctuation, or a `+` inside the number.
 * - `wrong_length`: too few or too many digits for a number of that prefix.
 * - `unknown_prefix`: the right length, but no operator or area has that prefix.
 * - `placeholder`: all zeros, `0123456789`, or a number on the configured block list.
 * - `foreign`: another country code, and the policy does not accept foreign numbers.
 *
 * @since 0.1.0
 */
export type InvalidPhoneReason = "empty" | "not_digits" | "wrong_length" | "unknown_prefix" | "placeholder" | "foreign"

/** @since 0.1.0 */
export const InvalidPhoneReason = Schema.Literal(
  "empty",
  "not_digits",
  "wrong_length",
  "unknown_prefix",
  "placeholder",
  "foreign"
)

const reasonText: Record<InvalidPhoneReason, string> = {
  empty: "is empty",
  not_digits: "contains characters that are not digits or phone punctuation",
  wrong_length: "has the wrong number of digits",
  unknown_prefix: "has a prefix no Vietnamese mobile operator or area code uses",
  placeholder: "is a placeholder, not a customer's number",
  foreign: "is not a Vietnamese number"
}

/**
 * The input is not a phone number this library accepts; `reason` says why, `input` echoes what was
 * given (cut to 64 characters).
 *
 * @since 0.1.0
 */
export class InvalidPhone extends Schema.TaggedError<InvalidPhone>()("InvalidPhone", {
  reason: InvalidPhoneReason,
  input: Schema.String
}) {
  override get message(): string {
    return `Phone number ${JSON.stringify(this.input)} ${reasonText[this.reason]} (${this.reason})`
  }
}

/**
 * What the shop accepts beyond the rules of DOMAIN §1.
 *
 * @since 0.1.0
 */
export interface PhonePolicy {
  /** Canonical numbers that are never a customer's (the shop's own hotline, a till's test number). */
  readonly blocked?: ReadonlySet<string> | undefined
  /** `"reject"` (default) refuses other country codes; `"e164"` keeps them as `+CCNNN…`. */
  readonly foreign?: "reject" | "e164" | undefined
}

/** 2018 renumbering of 11-digit mobiles: old 3-digit national prefix → new 2-digit prefix. */
const OLD_MOBILE_PREFIXES: Readonly<Record<string, string>> = {
  "162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37", "168": "38", "169": "39",
  "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
  "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
  "186": "56", "188": "58",
  "199": "59"
}

/** Expands a tiny pattern language (`[0-36]`, `\d`, digits) into every 3-digit string it matches. */
const expand = (pattern: string): Array<string> => {
  const classes: Array<string> = []
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === "\\") {
      classes.push("0123456789")
      i++
    } else if (c === "[") {
      const end = pattern.indexOf("]", i)
      const body = pattern.slice(i + 1, end)
      let set = ""
      for (let j = 0; j < body.length; j++) {
        if (body[j + 1] === "-") {
          for (let d = body.charCodeAt(j); d <= body.charCodeAt(j + 2); d++) set += String.fromCharCode(d)
          j += 2
        } else set += body[j]
      }
      classes.push(set)
      i = end
    } else classes.push(c)
  }
  let out = [""]
  for (const set of classes) out = out.flatMap((p) => [...set].map((d) => p + d))
  return out
}

const table = (patterns: ReadonlyArray<string>): Uint8Array => {
  const t = new Uint8Array(1000)
  for (const p of patterns) for (const s of expand(p)) t[Number(s)] = 1
  return t
}

/**
 * First three digits of a 9-digit mobile NSN, transcribed from libphonenumber's VN mobile pattern
 * `121[0-3]\d{5}|(?:1[46]0|(?:3\d|7[06-9])\d|5(?:[1689]\d|2[238]|59)|8(?:[1-8]\d|9[6-9])|9(?:[0-8]\d|9[013-9]))\d{6}`.
 * `121` also needs a fourth digit 0–3 (checked in `validNsn`).
 */
const MOBILE = table([
  "121", "1[46]0", "3\\d\\d", "7[06-9]\\d", "5[1689]\\d", "52[238]", "559", "8[1-8]\\d", "89[6-9]", "9[0-8]\\d", "99[013-9]"
])

/**
 * First three digits of a 10-digit fixed-line NSN, from libphonenumber's VN fixed-line pattern
 * `2(?:0[3-9]|1[0-689]|2[0-25-9]|[38][2-9]|4[2-8]|5[124-9]|6[0-39]|7[0-7]|9[0-4679])\d{7}`.
 */
const FIXED = table([
  "20[3-9]", "21[0-689]", "22[0-25-9]", "23[2-9]", "28[2-9]", "24[2-8]", "25[124-9]", "26[0-39]", "27[0-7]", "29[0-4679]"
])

const prefix3 = (nsn: string): number =>
  (nsn.charCodeAt(0) - 48) * 100 + (nsn.charCodeAt(1) - 48) * 10 + (nsn.charCodeAt(2) - 48)

/** `String(u)` for the error's echo, without throwing on objects that cannot be converted. */
const show = (u: unknown): string => {
  try {
    return String(u)
  } catch {
    return typeof u
  }
}

const fail = (reason: InvalidPhoneReason, input: string) =>
  Either.left(new InvalidPhone({ reason, input: input.length > 64 ? input.slice(0, 64) : input }))

/** Blanks and phone punctuation that carry no meaning: ASCII and Unicode spaces, dots, dashes, parentheses. */
const isSeparator = (c: number): boolean =>
  c === 32 || c === 46 || c === 45 || c === 40 || c === 41 || (c >= 9 && c <= 13) ||
  c === 0xa0 || (c >= 0x2000 && c <= 0x200b) || (c >= 0x2010 && c <= 0x2015) || c === 0x2212 ||
  c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff ||
  c === 0xff08 || c === 0xff09 || c === 0xff0d || c === 0xff0e

/**
 * libphonenumber's other VN types (toll-free, premium, UAN, VoIP): real numbers of the right length
 * for their prefix, refused as `unknown_prefix` (see the module comment), not as `wrong_length`.
 */
const SERVICE = /^(?:1[89]00\d{4,6}|12(?:0[13]|28)\d{4}|[17]99\d{4}|69\d{5,6}|672\d{6})$/

const wrongLength = (nsn: string): InvalidPhoneReason => SERVICE.test(nsn) ? "unknown_prefix" : "wrong_length"

/** The validity of a national significant number of a known first digit, once its length fits. */
const validNsn = (nsn: string): InvalidPhoneReason | undefined => {
  const first = nsn.charCodeAt(0)
  if (first === 50 /* 2 */) {
    if (nsn.length !== 10) return "wrong_length"
    return FIXED[prefix3(nsn)] === 1 ? undefined : "unknown_prefix"
  }
  if (first === 49 /* 1 */ || first === 51 || first === 53 || first === 55 || first === 56 || first === 57) {
    if (nsn.length !== 9) return wrongLength(nsn)
    const p = prefix3(nsn)
    if (MOBILE[p] !== 1) return "unknown_prefix"
    if (p === 121 && nsn.charCodeAt(3) > 51 /* 3 */) return "unknown_prefix"
    return undefined
  }
  return "unknown_prefix"
}

/**
 * Normalises any accepted input form to the canonical {@link Phone}, or returns why it is not one.
 *
 * Guarantees: never throws (for any string, and for a non-string it returns `not_digits`);
 * idempotent (`normalize(normalize(x)) = normalize(x)`); a Vietnamese result always matches
 * `^0\d{9,10}$`; verdicts agree with libphonenumber's VN mobile and fixed-line metadata; an old
 * 11-digit mobile is converted to its 2018 number. An input that starts with `0` is national:
 * `0841234567` is the mobile 084 123 4567, never `+84 1234567`.
 *
 * @since 0.1.0
 */
export const normalize = (input: string, policy?: PhonePolicy): Either.Either<Phone, InvalidPhone> => {
  if (typeof input !== "string") return fail("not_digits", show(input))
  let digits = ""
  let plus = false
  let zeros = true
  for (let i = 0; i < input.length; i++) {
    let c = input.charCodeAt(i)
    if (c >= 0xff10 && c <= 0xff19) c -= 0xff10 - 48 // full-width digits
    if (c >= 48 && c <= 57) {
      digits += String.fromCharCode(c)
      if (c !== 48) zeros = false
    } else if (c === 43 || c === 0xff0b) {
      if (plus || digits.length > 0) return fail("not_digits", input)
      plus = true
    } else if (!isSeparator(c)) {
      return fail("not_digits", input)
    }
  }
  const n = digits.length
  if (n === 0) return fail("empty", input)
  if (zeros) return fail("placeholder", input)

  let nsn: string
  if (plus || (n > 2 && digits.charCodeAt(0) === 48 && digits.charCodeAt(1) === 48)) {
    const international = plus ? digits : digits.slice(2)
    if (!international.startsWith("84")) return foreign(international, input, policy)
    nsn = international.slice(2)
    if (nsn.charCodeAt(0) === 48) nsn = nsn.slice(1) // "+84 (0) 912…": the trunk zero
  } else if (digits.charCodeAt(0) === 48) {
    nsn = digits.slice(1)
  } else if (
    digits.charCodeAt(0) === 56 && digits.charCodeAt(1) === 52 &&
    (n === 11 || n === 12 || (n === 13 && digits.charCodeAt(2) === 48))
  ) {
    nsn = digits.slice(2) // "84 912 345 678": the country code without its plus
    if (n > 11 && nsn.charCodeAt(0) === 48) nsn = nsn.slice(1) // "84 (0) 912 345 678"
  } else {
    nsn = digits // a spreadsheet cell that lost its leading zero
  }

  if (nsn.charCodeAt(0) === 48 && /^0+$/.test(nsn)) return fail("placeholder", input) // "+84 000 000 000"
  if (nsn.length < 3) return fail("wrong_length", input)
  if (nsn === "123456789") return fail("placeholder", input)
  if (nsn.length === 10 && nsn.charCodeAt(0) === 49) {
    const renamed = OLD_MOBILE_PREFIXES[nsn.slice(0, 3)]
    if (renamed === undefined) return fail("unknown_prefix", input)
    nsn = renamed + nsn.slice(3)
  }
  const invalid = validNsn(nsn)
  if (invalid !== undefined) return fail(invalid, input)
  const canonical = "0" + nsn
  if (policy?.blocked?.has(canonical)) return fail("placeholder", input)
  return Either.right(canonical as Phone)
}

const foreign = (international: string, input: string, policy: PhonePolicy | undefined) => {
  if (international.length === 0 || international.charCodeAt(0) === 48) return fail("unknown_prefix", input)
  if (policy?.foreign !== "e164") return fail("foreign", input)
  if (international.length < 8 || international.length > 15) return fail("wrong_length", input)
  const e164 = "+" + international
  if (policy.blocked?.has(e164)) return fail("placeholder", input)
  return Either.right(e164 as Phone)
}

const CANONICAL = /^0\d{9,10}$/
const E164 = /^\+[1-9]\d{7,14}$/

/**
 * True when `s` is already a canonical Vietnamese {@link Phone} (or an E.164 foreign one accepted
 * by `policy`), i.e. `normalize(s, policy)` would return `s` itself.
 *
 * @since 0.1.0
 */
export const isCanonical = (s: string, policy?: PhonePolicy): s is Phone => {
  if (!(CANONICAL.test(s) || (policy?.foreign === "e164" && E164.test(s)))) return false
  const r = normalize(s, policy)
  return Either.isRight(r) && r.right === s
}

/**
 * Schema of a stored canonical phone: a string that {@link isCanonical} accepts, in Vietnamese
 * or E.164 form, branded `Phone`.
 *
 * @since 0.1.0
 */
export const Phone: Schema.brand<Schema.filter<typeof Schema.String>, "Phone"> = Schema.String.pipe(
  Schema.filter((s) => CANONICAL.test(s) || E164.test(s), { message: () => "a canonical phone number" }),
  Schema.brand("Phone")
)

/**
 * Schema that accepts any input form and decodes it to the canonical {@link Phone}; its failure
 * message is the {@link InvalidPhone} message.
 *
 * @since 0.1.0
 */
export const FromInput = (policy?: PhonePolicy): Schema.transformOrFail<typeof Schema.String, typeof Phone> =>
  Schema.transformOrFail(Schema.String, Phone, {
    strict: true,
    decode: (s, _, ast) =>
      Either.mapLeft(normalize(s, policy), (e) => new ParseResult.Type(ast, s, e.message)),
    encode: (p) => Either.right(p)
  })

/**
 * Renders a canonical phone for people: `0912 345 678`, `028 3812 3456`, `0225 381 2345`.
 *
 * @since 0.1.0
 */
export const format = (phone: Phone): string => {
  if (phone.length === 10) return `${phone.slice(0, 4)} ${phone.slice(4, 7)} ${phone.slice(7)}`
  if (phone.length === 11) {
    return phone.startsWith("024") || phone.startsWith("028")
      ? `${phone.slice(0, 3)} ${phone.slice(3, 7)} ${phone.slice(7)}`
      : `${phone.slice(0, 4)} ${phone.slice(4, 7)} ${phone.slice(7)}`
  }
  return phone
}

/** @internal brand constructor for values already proven canonical (rows read back from storage). */
export const unsafeMake: Brand.Brand.Constructor<Phone> = Brand.nominal<Phone>()
