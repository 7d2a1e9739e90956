/**
 * Time-ordered ids: a prefix, 10 Crockford base-32 characters of UTC milliseconds and 16 of
 * randomness (80 bits). Pure: the caller brings the time and the random bytes.
 *
 * @since 0.1.0
 */

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/**
 * `prefix_` + 26 characters that sort by `millis` first. `random` must hold at least 10 bytes.
 *
 * @since 0.1.0
 */
export const encodeId = (prefix: string, millis: number, random: Uint8Array): string => {
  let time = ""
  let t = Math.max(0, Math.floor(millis))
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time
    t = Math.floor(t / 32)
  }
  let bits = 0
  let value = 0
  let rand = ""
  for (let i = 0; i < 10; i++) {
    value = (value << 8) | (random[i] ?? 0)
    bits += 8
    while (bits >= 5) {
      rand += CROCKFORD[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  return `${prefix}_${time}${rand}`
}

/**
 * The pattern of an id with this prefix.
 *
 * @since 0.1.0
 */
export const idPattern = (prefix: string): RegExp => new RegExp(`^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`)
