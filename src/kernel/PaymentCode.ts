/**
 * A customer's payment code (DOMAIN §5): `N2` followed by 8 characters from an alphabet without
 * `0`/`O` and `1`/`I`, so that it survives being read aloud, typed into a banking app, or printed
 * small. The customer's VietQR payload carries it as the transfer content, and a transfer whose
 * content holds it is matched to the customer. Generated once per customer; unique (a database key).
 *
 * @since 0.2.0
 */

/** The 32 characters of a code after `N2`: `A–Z` and `2–9`, without `O` and `I`. @since 0.2.0 */
export const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

/** The prefix of every code. @since 0.2.0 */
export const CODE_PREFIX = "N2"

/**
 * A code from 8 random bytes (the low 5 bits of each: 32 divides 256, so every character is equally
 * likely).
 *
 * @since 0.2.0
 */
export const makeCode = (bytes: Uint8Array): string => {
  let code = CODE_PREFIX
  for (let i = 0; i < 8; i++) code += CODE_ALPHABET[(bytes[i] ?? 0) & 31]
  return code
}

/** What a customer's code may look like: `N2` and 8–10 letters or digits (upper case). @since 0.2.0 */
export const isCode = (s: string): boolean => /^N2[A-Z0-9]{8,10}$/.test(s)

/**
 * A code as typed by a person (any case, with spaces, dots or dashes) in canonical form, or
 * `undefined` when it is not one.
 *
 * @since 0.2.0
 */
export const normalizeCode = (s: string): string | undefined => {
  if (typeof s !== "string") return undefined
  const c = s.toUpperCase().replace(/[\s.\-_]/g, "")
  return isCode(c) ? c : undefined
}
