/**
 * VietQR payloads (NAPAS 247, EMVCo merchant-presented mode): the string a banking app scans to
 * prefill a transfer to the shop's account, with the customer's code as its content (DOMAIN §5).
 * Pure.
 *
 * Layout written (tag, 2-digit decimal length, value; nested templates the same way):
 *
 * ```
 * 00 "01"                      payload format
 * 01 "11" | "12"               static (no amount) or dynamic (with an amount)
 * 38 { 00 "A000000727"         NAPAS's application id
 *      01 { 00 bank BIN, 01 account number }
 *      02 "QRIBFTTA" }          transfer to an account
 * 53 "704"                     đồng
 * 54 amount                    only when given
 * 58 "VN"
 * 62 { 08 content }            only when the content is not empty
 * 63 CRC                       CRC-16/CCITT-FALSE of everything before it, "6304" included
 * ```
 *
 * Decided here: the content is made safe to scan (diacritics removed, `Đ` → `D`, every character
 * other than ASCII letters, digits and spaces dropped, runs of spaces collapsed, trimmed); a content
 * still longer than 25 characters is refused, never cut, since a cut content would no longer carry
 * the code it was made for. A content that is not blank but leaves nothing after cleaning is
 * refused too; an empty (or blank) content writes no tag 62. An amount is a positive whole number of đồng of at
 * most 13 digits (the EMVCo limit of tag 54).
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/**
 * What a VietQR is made of.
 *
 * @since 0.2.0
 */
export interface VietQrInput {
  /** The receiving bank's 6-digit NAPAS BIN (`970436` Vietcombank, `970422` MB, …). */
  readonly bankBin: string
  /** The receiving account: 1–19 ASCII letters or digits. */
  readonly accountNumber: string
  /** Đồng, a positive safe integer of at most 13 digits; absent for a static QR (the payer types it). */
  readonly amount?: number | undefined
  /** The transfer content (the customer's code); cleaned as the module comment says, at most 25 characters. */
  readonly content: string
}

/**
 * A VietQR read back by {@link parseVietQr}.
 *
 * @since 0.2.0
 */
export interface VietQrFields {
  readonly bankBin: string
  readonly accountNumber: string
  readonly amount?: number
  /** Tag 62.08 as written; `""` when the payload has none. */
  readonly content: string
}

/**
 * Which part of a VietQR is wrong: an input field, or (`payload`) the structure or checksum of a
 * payload being read.
 *
 * @since 0.2.0
 */
export const VietQrField = Schema.Literal("bankBin", "accountNumber", "amount", "content", "payload")

/** @since 0.2.0 */
export type VietQrField = typeof VietQrField.Type

/**
 * A VietQR cannot be built from these inputs, or a payload is not a VietQR transfer to an account;
 * `field` says where, `message` says why.
 *
 * @since 0.2.0
 */
export class VietQrError extends Schema.TaggedError<VietQrError>()("InvalidVietQr", {
  field: VietQrField,
  message: Schema.String
}) {}

/**
 * The most characters of content tag 62.08 carries.
 *
 * @since 0.2.0
 */
export const MAX_CONTENT_LENGTH = 25

const NAPAS_GUID = "A000000727"
const TO_ACCOUNT = "QRIBFTTA"
const MAX_AMOUNT = 9_999_999_999_999

const fail = (field: VietQrField, message: string) => Either.left(new VietQrError({ field, message }))

const CRC_TABLE = (() => {
  const t = new Uint16Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n << 8
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff
    t[n] = c
  }
  return t
})()

/**
 * CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection, no final xor) of the UTF-8
 * bytes of `s`, as 4 upper-case hex digits: `crc16("123456789") === "29B1"`.
 *
 * @since 0.2.0
 */
export const crc16 = (s: string): string => {
  const bytes = new TextEncoder().encode(s)
  let crc = 0xffff
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!
  return crc.toString(16).toUpperCase().padStart(4, "0")
}

const field = (tag: string, value: string): string => tag + String(value.length).padStart(2, "0") + value

const isDigits = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return s.length > 0
}

const isAlnum = (s: string): boolean => /^[A-Za-z0-9]+$/.test(s)

/**
 * The content as a VietQR carries it: diacritics removed (`Đ` → `D`), only ASCII letters, digits
 * and single spaces kept, trimmed. `"Thanh toán đơn #12"` → `"Thanh toan don 12"`.
 *
 * @since 0.2.0
 */
export const cleanContent = (content: string): string => {
  const folded = content.normalize("NFD")
  let out = ""
  let space = false
  for (let i = 0; i < folded.length; i++) {
    let c = folded.charCodeAt(i)
    if (c === 0x110) c = 68 // Đ
    else if (c === 0x111) c = 100 // đ
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      if (space && out.length > 0) out += " "
      space = false
      out += String.fromCharCode(c)
    } else if (c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200a)) {
      space = true
    }
  }
  return out
}

/**
 * The VietQR payload for a transfer to `accountNumber` at the bank `bankBin`, or which field is
 * wrong. Same inputs, same payload; `parseVietQr(vietQr(x))` gives the inputs back (content
 * cleaned).
 *
 * @since 0.2.0
 */
export const vietQr = (input: VietQrInput): Either.Either<string, VietQrError> => {
  // untyped callers (the facade) may pass anything
  if (typeof input !== "object" || input === null) return fail("bankBin", "The bank BIN must be 6 digits")
  const { accountNumber, amount, bankBin } = input
  if (typeof bankBin !== "string" || bankBin.length !== 6 || !isDigits(bankBin)) {
    return fail("bankBin", "The bank BIN must be 6 digits")
  }
  if (typeof accountNumber !== "string" || accountNumber.length > 19 || !isAlnum(accountNumber)) {
    return fail("accountNumber", "The account number must be 1 to 19 letters or digits")
  }
  if (amount !== undefined && !(Number.isSafeInteger(amount) && amount > 0 && amount <= MAX_AMOUNT)) {
    return fail("amount", "The amount must be a whole number of đồng between 1 and 9,999,999,999,999")
  }
  if (typeof input.content !== "string") return fail("content", "The content must be a string")
  const content = cleanContent(input.content)
  if (content.length > MAX_CONTENT_LENGTH) {
    return fail("content", `The content has ${content.length} characters once cleaned; a VietQR carries at most ${MAX_CONTENT_LENGTH}`)
  }
  if (content.length === 0 && input.content.trim().length > 0) {
    return fail("content", "The content has no letter or digit once diacritics and symbols are removed")
  }
  const account = field("00", bankBin) + field("01", accountNumber)
  const merchant = field("00", NAPAS_GUID) + field("01", account) + field("02", TO_ACCOUNT)
  const body = field("00", "01") +
    field("01", amount === undefined ? "11" : "12") +
    field("38", merchant) +
    field("53", "704") +
    (amount === undefined ? "" : field("54", String(amount))) +
    field("58", "VN") +
    (content.length === 0 ? "" : field("62", field("08", content))) +
    "6304"
  return Either.right(body + crc16(body))
}

/** Tag → value of one template level, or a message saying why it does not parse. */
const tlv = (s: string): Map<string, string> | string => {
  const out = new Map<string, string>()
  let i = 0
  while (i < s.length) {
    if (i + 4 > s.length) return `a field at position ${i} is cut short`
    const tag = s.slice(i, i + 2)
    const len = s.slice(i + 2, i + 4)
    if (!isDigits(tag) || !isDigits(len)) return `position ${i} holds no tag and length`
    const n = Number(len)
    if (i + 4 + n > s.length) return `field ${tag} is longer than the payload`
    if (out.has(tag)) return `field ${tag} appears twice`
    out.set(tag, s.slice(i + 4, i + 4 + n))
    i += 4 + n
  }
  return out
}

/**
 * Reads a VietQR payload back: checks its CRC (tag 63, last), its structure, that it is NAPAS's
 * transfer to an account (`A000000727`, `QRIBFTTA`) in đồng to Vietnam, and returns the bank BIN,
 * the account, the amount (when the payload has one) and the content (tag 62.08, `""` when absent).
 * Tags it does not need (62.05 reference, 80–99 unreserved, …) are ignored.
 *
 * @since 0.2.0
 */
export const parseVietQr = (payload: string): Either.Either<VietQrFields, VietQrError> => {
  if (typeof payload !== "string" || payload.length < 8 || payload.slice(-8, -4) !== "6304") {
    return fail("payload", "The payload does not end with its CRC (tag 63)")
  }
  const expected = crc16(payload.slice(0, -4))
  if (payload.slice(-4).toUpperCase() !== expected) return fail("payload", "The payload's CRC does not match its content")
  const root = tlv(payload.slice(0, -8))
  if (typeof root === "string") return fail("payload", `The payload is malformed: ${root}`)
  if (root.get("00") !== "01") return fail("payload", "The payload format (tag 00) is not 01")
  const method = root.get("01")
  if (method !== undefined && method !== "11" && method !== "12") {
    return fail("payload", "The initiation method (tag 01) is neither 11 nor 12")
  }
  const merchantText = root.get("38")
  if (merchantText === undefined) return fail("payload", "The payload has no VietQR account (tag 38)")
  const merchant = tlv(merchantText)
  if (typeof merchant === "string") return fail("payload", `Tag 38 is malformed: ${merchant}`)
  if (merchant.get("00") !== NAPAS_GUID) return fail("payload", "Tag 38 is not NAPAS's (A000000727)")
  if (merchant.get("02") !== TO_ACCOUNT) return fail("payload", "Tag 38 is not a transfer to an account (QRIBFTTA)")
  const accountText = merchant.get("01")
  const account = accountText === undefined ? "no account (tag 38.01)" : tlv(accountText)
  if (typeof account === "string") return fail("payload", `Tag 38.01 is malformed: ${account}`)
  const bankBin = account.get("00")
  const accountNumber = account.get("01")
  if (bankBin === undefined || bankBin.length !== 6 || !isDigits(bankBin)) {
    return fail("bankBin", "The bank BIN (tag 38.01.00) is not 6 digits")
  }
  if (accountNumber === undefined || accountNumber.length > 19 || !isAlnum(accountNumber)) {
    return fail("accountNumber", "The account number (tag 38.01.01) is not 1 to 19 letters or digits")
  }
  if (root.get("53") !== "704") return fail("payload", "The currency (tag 53) is not đồng (704)")
  if (root.get("58") !== "VN") return fail("payload", "The country (tag 58) is not VN")
  const amountText = root.get("54")
  let amount: number | undefined
  if (amountText !== undefined) {
    amount = Number(amountText)
    if (!isDigits(amountText) || !(amount > 0 && amount <= MAX_AMOUNT)) {
      return fail("amount", "The amount (tag 54) is not a positive whole number of đồng")
    }
  }
  let content = ""
  const additionalText = root.get("62")
  if (additionalText !== undefined) {
    const additional = tlv(additionalText)
    if (typeof additional === "string") return fail("payload", `Tag 62 is malformed: ${additional}`)
    content = additional.get("08") ?? ""
  }
  return Either.right(amount === undefined ? { bankBin, accountNumber, content } : { bankBin, accountNumber, amount, content })
}
