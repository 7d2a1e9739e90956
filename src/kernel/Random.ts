/**
 * Random bytes for ids, drawn from the platform's cryptographic generator in 4 KiB refills
 * (one `getRandomValues` call per 400 ids instead of one per id).
 *
 * @since 0.1.0
 */
const POOL = 4096
let pool = new Uint8Array(0)
let offset = POOL

/**
 * `n` (≤ 4096) fresh random bytes. Impure by nature; kept out of the pure rules, which take the
 * bytes as an argument.
 *
 * @since 0.1.0
 */
export const randomBytes = (n: number): Uint8Array => {
  if (offset + n > pool.length) {
    pool = globalThis.crypto.getRandomValues(new Uint8Array(POOL))
    offset = 0
  }
  const out = pool.subarray(offset, offset + n)
  offset += n
  return out
}
