/**
 * Customer QR codes (DOMAIN §5): the `N2…` code a customer's VietQR carries as its transfer content,
 * so that an incoming transfer names its customer. Pure: the caller draws the random bytes
 * (`randomBytes(8)` from the kernel) and checks uniqueness against the database.
 *
 * A generated code is `N2` + 8 characters of {@link CODE_ALPHABET} (no `0`/`O`, no `1`/`I`, so a
 * code read aloud or retyped from a screen cannot be misspelt into another). Codes of 8 to 10
 * characters after `N2`, of any letter or digit, are accepted when read back, so that codes issued
 * by an older system stay valid.
 *
 * @since 0.2.0
 */

/**
 * The 32 characters of a generated code: `A`–`Z` and `2`–`9` without `0`, `O`, `1` and `I`.
 *
 * @since 0.2.0
 */
export const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

/**
 * The prefix of every customer code.
 *
 * @since 0.2.0
 */
export const CODE_PREFIX = "N2"

/**
 * A new code from 8 random bytes: `N2` + one {@link CODE_ALPHABET} character per byte, taken from
 * the byte's low 5 bits. Unbiased, since 32 divides 256: each of the 32^8 (about 1.1 × 10^12) codes
 * is equally likely. Only the first 8 bytes are read.
 *
 * @throws RangeError when fewer than 8 bytes are given (a programming error, not an input error).
 * @since 0.2.0
 */
export const makeCode = (bytes: Uint8Array): string => {
  if (bytes.length < 8) throw new RangeError(`makeCode needs 8 random bytes, got ${bytes.length}`)
  let code = CODE_PREFIX
  for (let i = 0; i < 8; i++) code += CODE_ALPHABET[bytes[i]! & 31]
  return code
}

const CODE = /^N2[A-Z0-9]{8,10}$/

/**
 * True when `s` is a code exactly as stored: `^N2[A-Z0-9]{8,10}$` (upper case, no separators).
 *
 * @since 0.2.0
 */
export const isCode = (s: string): boolean => CODE.test(s)

/**
 * A code as a person or a bank wrote it (`n2ab cd-ef.gh`, `N2 ABCD EFGH`) read back in its stored
 * form, or `undefined` when it is not one. Upper-cased, diacritics removed (`Đ` → `D`), every
 * character that is not a letter or a digit dropped, then checked with {@link isCode}.
 *
 * @since 0.2.0
 */
export const normalizeCode = (s: string): string | undefined => {
  let out = ""
  const folded = s.normalize("NFD")
  for (let i = 0; i < folded.length && out.length <= 12; i++) {
    let c = folded.charCodeAt(i)
    if (c === 0x110 || c === 0x111) c = 68 // Đ đ
    else if (c >= 97 && c <= 122) c -= 32
    if ((c >= 65 && c <= 90) || (c >= 48 && c <= 57)) out += String.fromCharCode(c)
  }
  return isCode(out) ? out : undefined
}
