/**
 * Comparing secrets (webhook keys, later OTP digests and API keys) without leaking, through the time
 * a comparison takes, how much of a guess was right.
 *
 * @since 0.2.0
 */

/**
 * Whether `given` equals `expected`, in a time that depends only on `expected`'s length: every
 * character of `expected` is compared, whatever `given` is and wherever the first difference lies;
 * a length difference is folded into the same accumulator instead of returning early.
 *
 * @since 0.2.0
 */
export const constantTimeEqual = (given: string, expected: string): boolean => {
  const g = typeof given === "string" ? given : ""
  let diff = g.length ^ expected.length
  for (let i = 0; i < expected.length; i++) {
    // past the end of `given`, compare against a character that cannot match without branching on it
    const c = i < g.length ? g.charCodeAt(i) : expected.charCodeAt(i) ^ 0xffff
    diff |= c ^ expected.charCodeAt(i)
  }
  return diff === 0 && expected.length > 0
}
