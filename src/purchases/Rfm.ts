/**
 * RFM scoring and tiers (DOMAIN §6): the pure rules — the R, F and M scores, the tier, the segment,
 * a plain-language explanation, and the tie policy of the optional quantile mode.
 *
 * Every rule is an integer comparison: days, counts and đồng are whole numbers, and a tier compares
 * the whole sum `R + F + M` with a whole least sum ({@link tierMinSums}), never `(R + F + M) / 3`
 * with a fractional threshold. A SQL version of these rules therefore gives identical results on
 * every engine.
 *
 * @since 0.3.0
 */
import { type RfmConfig } from "../kernel/Config.js"

const DAY_MS = 86_400_000

/**
 * One RFM score: 5 is best, 1 worst.
 *
 * @since 0.3.0
 */
export type Score = 1 | 2 | 3 | 4 | 5

const SCORES_HIGH_FIRST: readonly [5, 4, 3, 2] = [5, 4, 3, 2]

/**
 * The R score of `days` since the last purchase: `days ≤ c.recencyDays[0]` → 5, `≤ [1]` → 4,
 * `≤ [2]` → 3, `≤ [3]` → 2, else 1; `null` (never bought) → 1. Non-increasing in `days`.
 *
 * @since 0.3.0
 */
export const recencyScore = (days: number | null, c: RfmConfig): Score => {
  if (days === null) return 1
  for (let i = 0; i < 4; i++) if (days <= c.recencyDays[i]!) return SCORES_HIGH_FIRST[i]!
  return 1
}

/**
 * The F score of `count` purchases in the frequency window: `count ≥ c.frequency[0]` → 5, `≥ [1]` → 4,
 * `≥ [2]` → 3, `≥ [3]` → 2, else 1. Non-decreasing in `count`.
 *
 * @since 0.3.0
 */
export const frequencyScore = (count: number, c: RfmConfig): Score => {
  for (let i = 0; i < 4; i++) if (count >= c.frequency[i]!) return SCORES_HIGH_FIRST[i]!
  return 1
}

/**
 * The M score of `total` đồng (purchases less returns, may be 0): `total ≥ c.monetary[0]` → 5, …,
 * `≥ [3]` → 2, else 1. Non-decreasing in `total`.
 *
 * @since 0.3.0
 */
export const monetaryScore = (total: number, c: RfmConfig): Score => {
  for (let i = 0; i < 4; i++) if (total >= c.monetary[i]!) return SCORES_HIGH_FIRST[i]!
  return 1
}

/** Thresholds are read as exact multiples of 1/THRESHOLD_SCALE (six decimals). */
const THRESHOLD_SCALE = 1_000_000

/** ⌈n / d⌉ for an integer `n` and a positive integer `d`, in integers. */
const ceilDiv = (n: number, d: number): number => {
  const r = n % d
  const q = (n - r) / d
  return r > 0 ? q + 1 : q
}

/** The least integer sum `s` with `s / 3 ≥ t`, `t` read to six decimals. */
const minSumFor = (threshold: number): number => ceilDiv(3 * Math.round(threshold * THRESHOLD_SCALE), THRESHOLD_SCALE)

/**
 * For each tier, the least whole sum `R + F + M` whose score `sum / 3` reaches its threshold —
 * computed exactly, in integers, on the threshold read to six decimals (`round(t · 10⁶)`): the
 * least `s` with `s · 10⁶ ≥ 3 · round(t · 10⁶)`. So 4.5 → 14, 3.5 → 11, 2.5 → 8, 3.7 → 12, 4 → 12
 * (never `ceil(3 · t)` on floats, where 3 · 3.7 is 11.100000000000001). `sum ≥ minSum` is then
 * exactly `sum / 3 ≥ t`.
 *
 * @since 0.3.0
 */
export const tierMinSums = (c: RfmConfig): { readonly platinum: number; readonly gold: number; readonly silver: number } => ({
  platinum: minSumFor(c.tiers.platinum),
  gold: minSumFor(c.tiers.gold),
  silver: minSumFor(c.tiers.silver)
})

/**
 * What a customer's scores are computed from. Days are business days (`kernel/BusinessDay`), counts
 * and đồng whole numbers.
 *
 * - `lastPurchaseDay`: the business day of the last purchase, `null` if none.
 * - `frequency`: purchases in the frequency window (counted elsewhere).
 * - `monetary`: purchases less returns, in đồng, ≥ 0.
 * - `createdAt`: the customer's creation instant, epoch ms.
 * - `blacklisted`: a fraud rule blacklisted the customer.
 *
 * @since 0.3.0
 */
export interface RfmInputs {
  readonly lastPurchaseDay: number | null
  readonly frequency: number
  readonly monetary: number
  readonly createdAt: number
  readonly blacklisted: boolean
}

/**
 * A customer's RFM result.
 *
 * - `recencyDays`: `today − lastPurchaseDay`, never below 0; `null` if no purchase.
 * - `frequency`, `monetary`: the inputs, as scored.
 * - `r`, `f`, `m`: the scores; `sum = r + f + m`.
 * - `score`: `sum / 3` rounded to 2 decimals — for display only; the tier is decided on `sum`.
 * - `tier`, `segment`: see {@link scoreCustomer} and {@link SEGMENT_RULES}.
 *
 * @since 0.3.0
 */
export interface RfmResult {
  readonly recencyDays: number | null
  readonly frequency: number
  readonly monetary: number
  readonly r: Score
  readonly f: Score
  readonly m: Score
  readonly sum: number
  readonly score: number
  readonly tier: "new" | "silver" | "gold" | "platinum" | "blacklist"
  readonly segment: SegmentName
}

/**
 * Scores one customer on `at.today` (a business day) and `at.now` (epoch ms).
 *
 * R, F and M come from the thresholds of `c` — or, in quantile mode, are given as `scores` (then only
 * the sum, tier and segment are derived here). The tier, first rule that applies:
 * blacklisted → `blacklist`; no purchase → `new`; `now − createdAt < newCustomerDays × 86,400,000`
 * → `new`; `sum ≥` the platinum least sum → `platinum`, `≥` gold → `gold`, `≥` silver → `silver`;
 * else `new` ({@link tierMinSums}: integer comparisons only). Improving any input never lowers the
 * sum, so never lowers the tier but by the blacklist and new-customer rules.
 *
 * @since 0.3.0
 */
export const scoreCustomer = (
  inputs: RfmInputs,
  at: { readonly today: number; readonly now: number },
  c: RfmConfig,
  scores?: { readonly r: Score; readonly f: Score; readonly m: Score }
): RfmResult => {
  const recencyDays = inputs.lastPurchaseDay === null ? null : Math.max(0, at.today - inputs.lastPurchaseDay)
  const r = scores?.r ?? recencyScore(recencyDays, c)
  const f = scores?.f ?? frequencyScore(inputs.frequency, c)
  const m = scores?.m ?? monetaryScore(inputs.monetary, c)
  const sum = r + f + m
  const score = Math.round((sum * 100) / 3) / 100
  const min = tierMinSums(c)
  const tier: RfmResult["tier"] = inputs.blacklisted
    ? "blacklist"
    : inputs.lastPurchaseDay === null
    ? "new"
    : at.now - inputs.createdAt < c.newCustomerDays * DAY_MS
    ? "new"
    : sum >= min.platinum
    ? "platinum"
    : sum >= min.gold
    ? "gold"
    : sum >= min.silver
    ? "silver"
    : "new"
  return { recencyDays, frequency: inputs.frequency, monetary: inputs.monetary, r, f, m, sum, score, tier, segment: segmentOf(r, f, m) }
}

/**
 * The ten segment names of the R `rfm` package, in its order. There is no "Others": every code has
 * one of these ({@link SEGMENT_RULES}).
 *
 * @since 0.3.0
 */
export const SEGMENT_NAMES = [
  "Champions",
  "Potential Loyalist",
  "Loyal",
  "Promising",
  "New",
  "Can't Lose Them",
  "At Risk",
  "Need Attention",
  "About To Sleep",
  "Lost"
] as const

/** One of the ten segment names. @since 0.3.0 */
export type SegmentName = (typeof SEGMENT_NAMES)[number]

/**
 * A segment rule: the code `(r, f, m)` matches when each score lies in its inclusive range `[low, high]`.
 *
 * @since 0.3.0
 */
export interface SegmentRule {
  readonly name: SegmentName
  readonly r: readonly [number, number]
  readonly f: readonly [number, number]
  readonly m: readonly [number, number]
}

/**
 * The segment table, in order; the first rule that matches a code wins. It is complete: each of the
 * 125 codes in 1..5³ matches at least one rule, so each has exactly one segment.
 *
 * It is the R `rfm` package's table, in its order, with two ranges widened:
 *
 * | segment            | R   | F   | M   | package            |
 * |--------------------|-----|-----|-----|--------------------|
 * | Champions          | 5   | 5   | 5   | same               |
 * | Potential Loyalist | 3–5 | 3–5 | 2–5 | same               |
 * | Loyal              | 2–4 | 2–4 | 2–4 | same               |
 * | Promising          | 3–4 | 1–3 | 3–5 | same               |
 * | New                | 4–5 | 1–5 | 1–5 | R4–5 **F1–3** M1–5 |
 * | Can't Lose Them    | 1–2 | 3–4 | 4–5 | same               |
 * | At Risk            | 1–2 | 2–5 | 4–5 | same               |
 * | Need Attention     | 1–3 | 3–5 | 3–5 | same               |
 * | About To Sleep     | 2–3 | 1–5 | 1–5 | R2–3 **F1–3 M1–4** |
 * | Lost               | 1   | 1–5 | 1–5 | same               |
 *
 * Why: the package leaves ten codes to "Others" — 215, 241, 251, 252, 341, 351, 441, 451, 541, 551
 * (R F M). We have no "Others", so two rules become the catch-all of their R levels:
 *
 * - **New** takes F4–5 at R4–5, which adds exactly 441, 451, 541 and 551 (every other R4–5 F4–5 code is
 *   taken earlier by Champions or Potential Loyalist). Recent, frequent buyers who spent under the
 *   M2 bound: the package never names an R4–5 M1 code anything but New (411–431, 511–531), and
 *   Potential Loyalist's own floor is M2.
 * - **About To Sleep** takes F4–5 and M5 at R2–3, which adds exactly 215, 241, 251, 252, 341 and 351
 *   (every other code of those ranges is taken earlier by Potential Loyalist, Loyal, Promising,
 *   Can't Lose Them, At Risk or Need Attention). The package names every R2–3 M1 code About To Sleep
 *   (211–231, 311–331); 215 (one large purchase 15–60 days ago) joins 211–214; 252 is what is left of
 *   R2 when Loyal stops at F4 and Need Attention starts at M3.
 *
 * Both widened rules come after every rule that took a code before, so every code the package names
 * keeps the package's segment; only the ten "Others" get one. Lost stays last: an R1 code is Lost
 * only if Can't Lose Them, At Risk and Need Attention did not take it.
 *
 * @since 0.3.0
 */
export const SEGMENT_RULES: ReadonlyArray<SegmentRule> = [
  { name: "Champions", r: [5, 5], f: [5, 5], m: [5, 5] },
  { name: "Potential Loyalist", r: [3, 5], f: [3, 5], m: [2, 5] },
  { name: "Loyal", r: [2, 4], f: [2, 4], m: [2, 4] },
  { name: "Promising", r: [3, 4], f: [1, 3], m: [3, 5] },
  { name: "New", r: [4, 5], f: [1, 5], m: [1, 5] },
  { name: "Can't Lose Them", r: [1, 2], f: [3, 4], m: [4, 5] },
  { name: "At Risk", r: [1, 2], f: [2, 5], m: [4, 5] },
  { name: "Need Attention", r: [1, 3], f: [3, 5], m: [3, 5] },
  { name: "About To Sleep", r: [2, 3], f: [1, 5], m: [1, 5] },
  { name: "Lost", r: [1, 1], f: [1, 5], m: [1, 5] }
]

const within = (v: number, range: readonly [number, number]): boolean => v >= range[0] && v <= range[1]

const ruleOf = (r: number, f: number, m: number): SegmentRule | undefined =>
  SEGMENT_RULES.find((rule) => within(r, rule.r) && within(f, rule.f) && within(m, rule.m))

/**
 * The segment of a code: the name of the first rule of {@link SEGMENT_RULES} that matches it. The
 * table is complete, so every code has one.
 *
 * @since 0.3.0
 */
export const segmentOf = (r: Score, f: Score, m: Score): SegmentName => ruleOf(r, f, m)?.name ?? "Lost"

const numberFormat = new Intl.NumberFormat("en-US", { useGrouping: true, maximumFractionDigits: 0 })
const n = (v: number): string => numberFormat.format(v)
const plural = (v: number, one: string, many: string): string => `${n(v)} ${v === 1 ? one : many}`
const range = (x: readonly [number, number]): string => (x[0] === x[1] ? `${x[0]}` : `${x[0]}–${x[1]}`)
const QUANTILE = "(quantile mode: its place among all customers)"
const TOP = "(the highest score)"

/**
 * Explains a result in five sentences, in this order: R, F, M (each with its number and, below 5,
 * what the next score needs — or, in quantile mode (`c.mode === "quantile"`), that the score is the
 * customer's place among all customers), the tier, and the segment with its ranges. Numbers use
 * en-US thousands separators. E.g.
 *
 * - `R = 4: last purchase 9 days ago; 7 days or fewer are needed for 5`; `R = 1: no purchase yet`
 * - `F = 2: 2 purchases in the last 90 days; 3 are needed for 3`
 * - `M = 3: 2,500,000 đồng spent, less returns; 5,000,000 are needed for 4`
 * - `Tier gold: score 3.67 (R + F + M = 11) is at least 3.5; 4.5 is needed for platinum`
 * - `Segment Loyal: R 2–4, F 2–4, M 2–4`
 *
 * Every sentence is true of the result: a `new` tier with a sum reaching silver can only come from
 * the new-customer rule, and one below silver is explained by its sum (true whatever its age).
 *
 * @since 0.3.0
 */
export const explain = (result: RfmResult, c: RfmConfig): ReadonlyArray<string> => {
  const quantile = c.mode === "quantile"
  const hint = (score: Score, need: (next: 5 | 4 | 3 | 2) => string): string =>
    quantile ? ` ${QUANTILE}` : score === 5 ? ` ${TOP}` : `; ${need((score + 1) as 5 | 4 | 3 | 2)}`
  const bound = (next: 5 | 4 | 3 | 2): number => 5 - next

  const rDays = result.recencyDays
  const rSentence = rDays === null
    ? `R = ${result.r}: no purchase yet`
    : `R = ${result.r}: last purchase ${rDays === 0 ? "today" : `${plural(rDays, "day", "days")} ago`}` +
      hint(result.r, (next) => {
        const most = c.recencyDays[bound(next)]!
        return `${plural(most, "day", "days")} or fewer ${most === 1 ? "is" : "are"} needed for ${next}`
      })

  const window = c.frequencyWindowDays === 1 ? "today" : `in the last ${n(c.frequencyWindowDays)} days`
  const fSentence = `F = ${result.f}: ${plural(result.frequency, "purchase", "purchases")} ${window}` +
    hint(result.f, (next) => {
      const least = c.frequency[bound(next)]!
      return `${n(least)} ${least === 1 ? "is" : "are"} needed for ${next}`
    })

  const mSentence = `M = ${result.m}: ${n(result.monetary)} đồng spent, less returns` +
    hint(result.m, (next) => `${n(c.monetary[bound(next)]!)} are needed for ${next}`)

  const min = tierMinSums(c)
  const t = c.tiers
  const scored = `score ${result.score.toFixed(2)} (R + F + M = ${result.sum})`
  const tierSentence = result.tier === "blacklist"
    ? "Tier blacklist: a fraud rule blacklisted the customer"
    : result.tier === "platinum"
    ? `Tier platinum: ${scored} is at least ${t.platinum} (the highest tier)`
    : result.tier === "gold"
    ? `Tier gold: ${scored} is at least ${t.gold}; ${t.platinum} is needed for platinum`
    : result.tier === "silver"
    ? `Tier silver: ${scored} is at least ${t.silver}; ${t.gold} is needed for gold`
    : rDays === null
    ? "Tier new: no purchase yet"
    : result.sum >= min.silver
    ? `Tier new: the customer is younger than ${plural(c.newCustomerDays, "day", "days")}`
    : `Tier new: ${scored} is below ${t.silver}, the least for silver`

  const rule = ruleOf(result.r, result.f, result.m)
  const segmentSentence = rule === undefined
    ? `Segment ${result.segment}`
    : `Segment ${rule.name}: R ${range(rule.r)}, F ${range(rule.f)}, M ${range(rule.m)}`

  return [rSentence, fSentence, mSentence, tierSentence, segmentSentence]
}

/**
 * The quantile mode's score of one customer's value: its mid-quantile `q = (below + equal / 2) /
 * population`, scored `min(5, 1 + floor(5q))` — computed in integers as
 * `min(5, 1 + floor((10·below + 5·equal) / (2·population)))`. `below` counts the customers with a
 * strictly worse value, `equal` those with the same value (this one included), `population` all of
 * them. Always 1..5 (1 when `population` is not positive); non-decreasing as the value improves.
 *
 * The score depends on the value only through (`below`, `equal`), so **equal values always get equal
 * scores**. The R `rfm` package's quantile breaks collapse when many customers share a value
 * (rfm#17: frequency scored only 1 and 5, most customers having exactly one order), and SQL
 * `NTILE` splits equal customers across scores by id; we do neither — a value held by 80 % of the
 * customers gets one score, 3 or 4, wherever it lies.
 *
 * @since 0.3.0
 */
export const quantileScore = (below: number, equal: number, population: number): Score => {
  if (!(population > 0)) return 1
  const s = 1 + Math.floor((10 * below + 5 * equal) / (2 * population))
  return (s >= 5 ? 5 : s <= 1 ? 1 : s) as Score
}
