/**
 * Throughput of the transfer matcher: `scan` + the held-code lookup + `decide`, the work the
 * transfer service does per incoming transfer before touching the database, on one core.
 */
import { decide, type MatcherConfig, scan } from "../../src/transfers/Matcher.js"

const ROUNDS = 5

export interface MatcherThroughputOptions {
  /** Code → customer id, the database's answer; by default the first code reading of each content is held. */
  readonly held?: ReadonlyMap<string, string>
  /** The shop's numbers; by default one hotline and two accounts. */
  readonly config?: MatcherConfig
}

const DEFAULT_CONFIG: MatcherConfig = {
  shopPhones: new Set(["0901234567", "02838123456"]),
  shopAccounts: new Set(["1903512345678", "0071000654321"])
}

/**
 * Warms up, then runs the corpus repeatedly in 5 rounds of about `seconds / 5` each and returns
 * the median contents per second with every round's figure. The decisions are folded into a
 * checksum so that no round can be optimised away.
 */
export const matcherThroughput = (
  contents: ReadonlyArray<string>,
  seconds = 2,
  options: MatcherThroughputOptions = {}
): { perSecond: number; runs: Array<number> } => {
  if (contents.length === 0) throw new RangeError("matcherThroughput needs at least one content")
  const config = options.config ?? DEFAULT_CONFIG
  const held = options.held ?? new Map(contents.flatMap((c, i) => {
    const first = scan(c, config).codes[0]
    return first === undefined ? [] : [[first, `cus_${i}`] as const]
  }))
  let checksum = 0
  const pass = (): void => {
    for (let i = 0; i < contents.length; i++) {
      const { codes, phones } = scan(contents[i]!, config)
      const found: Array<{ code: string; customerId: string }> = []
      for (const code of codes) {
        const customerId = held.get(code)
        if (customerId !== undefined) found.push({ code, customerId })
      }
      const d = decide(found, phones)
      checksum += d.by === "code" ? 1 : d.by === "phone" ? 2 : 3
    }
  }
  const warmUntil = performance.now() + Math.min(500, seconds * 250)
  while (performance.now() < warmUntil) pass()

  const runs: Array<number> = []
  const roundMillis = (seconds * 1000) / ROUNDS
  for (let r = 0; r < ROUNDS; r++) {
    let done = 0
    const start = performance.now()
    let elapsed = 0
    while (elapsed < roundMillis) {
      pass()
      done += contents.length
      elapsed = performance.now() - start
    }
    runs.push(Math.round((done / elapsed) * 1000))
  }
  if (checksum === 0) throw new Error("unreachable: every pass decides")
  const sorted = [...runs].sort((a, b) => a - b)
  return { perSecond: sorted[Math.floor(ROUNDS / 2)]!, runs }
}
