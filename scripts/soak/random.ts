/**
 * A seeded pseudo-random source (mulberry32) for the soak run. The seed fixes the sequence of
 * random draws; which loop draws next still depends on timing, so a seed does not replay a run.
 */

/** Random draws from one seeded sequence. */
export interface Random {
  /** The seed the sequence started from. */
  readonly seed: number
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [min, max], both included. */
  readonly int: (min: number, max: number) => number
  /** One element of a non-empty array. */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  /** True with probability `p`. */
  readonly chance: (p: number) => boolean
}

/** A random source starting at `seed` (any 32-bit integer). */
export const makeRandom = (seed: number): Random => {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  return {
    seed,
    next,
    int,
    pick: (items) => {
      if (items.length === 0) throw new Error("pick from an empty array")
      return items[int(0, items.length - 1)]!
    },
    chance: (p) => next() < p
  }
}

/** Resolves after `ms` milliseconds (at once for `ms <= 0`). */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
