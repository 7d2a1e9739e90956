/**
 * The keys an import has seen, in bounded memory (docs/imports.md "Memory"): a hash set of 64-bit
 * hashes of the keys, with the line each was first seen on, in typed arrays — 12 bytes a slot, at
 * most half the slots used: about 24 MB for a million keys, where a `Map` of a million short
 * strings costs about 100 MB. Two different keys with the same 64-bit hash (odds about 3 in 10⁸
 * for a million keys) would make the second reported a duplicate of the first.
 *
 * @since 0.5.0
 */

/**
 * A 64-bit hash of a string (two 32-bit FNV-1a lanes, with different offsets and a final mix), as
 * two unsigned 32-bit halves.
 *
 * @since 0.5.0
 */
export const hash64 = (s: string): readonly [number, number] => {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15)
  }
  h1 ^= h1 >>> 16
  h1 = Math.imul(h1, 0x85ebca6b)
  h1 ^= h1 >>> 13
  h1 = Math.imul(h1, 0xc2b2ae35)
  h1 ^= h1 >>> 16
  h2 ^= h2 >>> 16
  h2 = Math.imul(h2, 0x7feb352d)
  h2 ^= h2 >>> 15
  h2 = Math.imul(h2, 0x846ca68b)
  h2 ^= h2 >>> 16
  return [h1 >>> 0, h2 >>> 0]
}

/**
 * The 64-bit hash of a string as 16 hex digits (a row's fingerprint).
 *
 * @since 0.5.0
 */
export const fingerprintOf = (s: string): string => {
  const [a, b] = hash64(s)
  return a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0")
}

/**
 * A set of keys with the line each was first added on.
 *
 * @since 0.5.0
 */
export class KeySet {
  private hi: Uint32Array
  private lo: Uint32Array
  private lines: Int32Array
  private used = 0

  constructor(capacity = 1 << 14) {
    this.hi = new Uint32Array(capacity)
    this.lo = new Uint32Array(capacity)
    this.lines = new Int32Array(capacity)
  }

  /** How many keys it holds. */
  get size(): number {
    return this.used
  }

  /** Adds the key first seen on `line` (≥ 1): `0` when it is new, else the line it was first seen on. */
  add(key: string, line: number): number {
    const [a, b] = hash64(key)
    const found = this.probe(a, b)
    if (this.lines[found]! !== 0) return this.lines[found]!
    this.hi[found] = a
    this.lo[found] = b
    this.lines[found] = line
    this.used += 1
    if (this.used * 2 > this.lines.length) this.grow()
    return 0
  }

  private probe(a: number, b: number): number {
    const mask = this.lines.length - 1
    let i = (a ^ Math.imul(b, 0x9e3779b1)) & mask
    while (this.lines[i]! !== 0 && !(this.hi[i] === a && this.lo[i] === b)) i = (i + 1) & mask
    return i
  }

  private grow(): void {
    const { hi, lo, lines } = this
    this.hi = new Uint32Array(lines.length * 2)
    this.lo = new Uint32Array(lines.length * 2)
    this.lines = new Int32Array(lines.length * 2)
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]! === 0) continue
      const j = this.probe(hi[i]!, lo[i]!)
      this.hi[j] = hi[i]!
      this.lo[j] = lo[i]!
      this.lines[j] = lines[i]!
    }
  }
}
