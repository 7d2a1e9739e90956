/**
 * Fraud rules (DOMAIN §8): the model and its pure parts — rules as data (id, version, kind,
 * parameters, severity, action), the three rules of §8 as defaults, their validation, how far each
 * rule's windows reach, and how the rows an evaluator returns become hits with their evidence.
 *
 * - **high-return-rate** (v1): for each purchase or return `t` of a customer, the window
 *   `(t − windowDays, t]` holds `P` purchases and `R` returns; it fires when `P ≥ minPurchases` and
 *   `100·R > rateAbovePercent·P` (by default: at least 2 purchases and more than 50 % returns, i.e.
 *   `2·R > P`). Action `blacklist`, severity high.
 * - **wallet-abuse** (v1): for each wallet transaction `t` above `minAmount` (strictly: 5,000,001
 *   đồng and more by default), the window `[t, t + windowMinutes)`; it fires when it holds at least
 *   `minCount` such transactions (6: "more than 5"). Flag `suspicious`, severity medium.
 * - **self-dealing** (v1): a cycle is a deposit `d` followed by a withdrawal `w` of the same customer
 *   with `d.at < w.at ≤ d.at + windowMinutes` and `100·w ≥ minRatio·d` (90 %), where `d` is the
 *   latest deposit before `w`; each deposit counts once (its first such withdrawal). For each cycle
 *   start `c`, the window `[c, c + cycleWindowHours)`; it fires when at least `minCycles` cycles
 *   start in it. Flag `self-dealing`, severity medium.
 *
 * A wallet transaction is the ledger entries sharing a transaction id among kinds `deposit`,
 * `withdrawal` and `credit_spent`: its amount is the sum of their absolute amounts (a withdrawal
 * paid partly from credits counts whole), its time their `created_at`; it is a deposit when its
 * entry is one, else a withdrawal.
 *
 * Windows slide over instants (milliseconds), never clock hours. Overlapping firing windows of one
 * customer and rule are one **episode**; a decision records the earliest firing window of each
 * episode (see docs/fraud.md#episodes), so the same history always gives the same decisions.
 *
 * The rules, in full: docs/fraud.md.
 *
 * @since 0.3.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { ValidationError, ValidationIssue } from "../kernel/Errors.js"
import { Text } from "../kernel/Text.js"

/** @since 0.3.0 */
export const MINUTE_MS = 60_000
/** @since 0.3.0 */
export const HOUR_MS = 60 * MINUTE_MS
/** @since 0.3.0 */
export const DAY_MS = 24 * HOUR_MS

/** The evaluators a rule may use. @since 0.3.0 */
export const RuleKind = Schema.Literal("high-return-rate", "wallet-abuse", "self-dealing")
/** @since 0.3.0 */
export type RuleKind = typeof RuleKind.Type

/** @since 0.3.0 */
export const Severity = Schema.Literal("low", "medium", "high")
/** @since 0.3.0 */
export type Severity = typeof Severity.Type

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/

/** A rule id or flag name: lower-case letters, digits and single dashes, 1–64 characters. @since 0.3.0 */
export const Name = Schema.String.pipe(
  Schema.maxLength(64),
  Schema.pattern(NAME, { message: () => "must be lower-case letters, digits and single dashes (e.g. wallet-abuse)" })
)

/**
 * What a decision of the rule does: `blacklist` (the customer's tier becomes `blacklist`; no new
 * purchase) or the name of a flag to raise on the customer.
 *
 * @since 0.3.0
 */
export const Action = Name
/** @since 0.3.0 */
export type Action = typeof Action.Type

/** The action that blacklists. @since 0.3.0 */
export const BLACKLIST = "blacklist"

const int = (min: number, max: number) =>
  Schema.Int.pipe(Schema.between(min, max, { message: () => `must be a whole number from ${min} to ${max}` }))

/** @since 0.3.0 */
export const HighReturnRateParameters = Schema.Struct({
  windowDays: int(1, 366),
  minPurchases: int(1, 1_000_000),
  /** Fires when returns are strictly more than this percentage of purchases. */
  rateAbovePercent: int(0, 99)
})

/** @since 0.3.0 */
export const WalletAbuseParameters = Schema.Struct({
  /** Only transactions strictly above this amount count. */
  minAmount: int(0, Number.MAX_SAFE_INTEGER),
  windowMinutes: int(1, 7 * 24 * 60),
  minCount: int(1, 1_000_000)
})

/** @since 0.3.0 */
export const SelfDealingParameters = Schema.Struct({
  /** The longest gap from a deposit to its withdrawal. */
  windowMinutes: int(1, 7 * 24 * 60),
  /** The withdrawal is at least this percentage of the deposit. */
  minRatio: int(1, 100),
  minCycles: int(1, 1_000_000),
  cycleWindowHours: int(1, 31 * 24)
})

const common = {
  id: Name,
  version: int(1, 1_000_000),
  severity: Severity,
  action: Action,
  description: Schema.optional(Text(500))
}

/** @since 0.3.0 */
export const HighReturnRateRule = Schema.Struct({
  ...common,
  kind: Schema.Literal("high-return-rate"),
  parameters: HighReturnRateParameters
})
/** @since 0.3.0 */
export const WalletAbuseRule = Schema.Struct({
  ...common,
  kind: Schema.Literal("wallet-abuse"),
  parameters: WalletAbuseParameters
})
/** @since 0.3.0 */
export const SelfDealingRule = Schema.Struct({
  ...common,
  kind: Schema.Literal("self-dealing"),
  parameters: SelfDealingParameters
})

/**
 * A fraud rule as data. `(id, version)` names it for good: a recorded version is never changed (a
 * changed rule is a new version), and every decision names the version that made it.
 *
 * @since 0.3.0
 */
export const FraudRule = Schema.Union(HighReturnRateRule, WalletAbuseRule, SelfDealingRule)
/** @since 0.3.0 */
export type FraudRule = typeof FraudRule.Type

/**
 * The three rules of DOMAIN §8, used when the configuration gives none (`fraud.rules`).
 *
 * @since 0.3.0
 */
export const DEFAULT_RULES: ReadonlyArray<FraudRule> = [
  {
    id: "high-return-rate",
    version: 1,
    kind: "high-return-rate",
    parameters: { windowDays: 7, minPurchases: 2, rateAbovePercent: 50 },
    severity: "high",
    action: BLACKLIST,
    description: "More than 50% returns among at least 2 purchases within 7 days"
  },
  {
    id: "wallet-abuse",
    version: 1,
    kind: "wallet-abuse",
    parameters: { minAmount: 5_000_000, windowMinutes: 60, minCount: 6 },
    severity: "medium",
    action: "suspicious",
    description: "More than 5 wallet transactions above 5,000,000 đồng within 60 minutes"
  },
  {
    id: "self-dealing",
    version: 1,
    kind: "self-dealing",
    parameters: { windowMinutes: 60, minRatio: 90, minCycles: 3, cycleWindowHours: 24 },
    severity: "medium",
    action: "self-dealing",
    description: "3 or more deposits withdrawn (at least 90%) within 60 minutes, within 24 hours"
  }
]

const decodeRule = Schema.decodeUnknownEither(FraudRule, { errors: "all", onExcessProperty: "error" })

/**
 * One rule, validated; issues are reported under `path` (e.g. `fraud.rules.1`).
 *
 * @since 0.3.0
 */
export const validateRule = (raw: unknown, path: string): Either.Either<FraudRule, ValidationError> =>
  Either.mapLeft(decodeRule(raw), (error) => {
    const inner = ValidationError.fromParseError("fraud rule", error)
    const issues = inner.issues.map((i) => new ValidationIssue({ path: i.path === "" ? path : `${path}.${i.path}`, message: i.message }))
    const first = issues[0]!
    return new ValidationError({ message: `Invalid fraud rule: ${first.path}: ${first.message}`, issues })
  })

/**
 * The rules of the configuration (`config.fraud.rules`), validated: `undefined` gives
 * {@link DEFAULT_RULES}; a list replaces them (an empty list: no rule runs). Each rule id appears
 * once: the list holds the version in force of each rule.
 *
 * @since 0.3.0
 */
export const validateRules = (
  raw: ReadonlyArray<unknown> | undefined,
  path = "fraud.rules"
): Either.Either<ReadonlyArray<FraudRule>, ValidationError> => {
  if (raw === undefined) return Either.right(DEFAULT_RULES)
  if (!Array.isArray(raw)) return Either.left(ValidationError.single(path, "must be a list of rules"))
  const rules: Array<FraudRule> = []
  for (let i = 0; i < raw.length; i++) {
    const rule = validateRule(raw[i], `${path}.${i}`)
    if (Either.isLeft(rule)) return Either.left(rule.left)
    if (rules.some((r) => r.id === rule.right.id)) {
      return Either.left(ValidationError.single(`${path}.${i}.id`, `${rule.right.id} appears twice: list one version of each rule`))
    }
    rules.push(rule.right)
  }
  return Either.right(rules)
}

/**
 * A rule as canonical JSON (kind, parameters in a fixed order, severity, action): two definitions
 * of one `(id, version)` must have the same.
 *
 * @since 0.3.0
 */
export const ruleDefinition = (rule: FraudRule): string => {
  const p = rule.parameters as Record<string, number>
  const keys = Object.keys(p).sort()
  return JSON.stringify({
    kind: rule.kind,
    parameters: Object.fromEntries(keys.map((k) => [k, p[k]])),
    severity: rule.severity,
    action: rule.action
  })
}

/**
 * How far a rule's window reaches from its anchor, in milliseconds: a run evaluates again the
 * anchors of the last reach of the range before it (a window still open then may fire since).
 *
 * @since 0.3.0
 */
export const reachOf = (rule: FraudRule): number => {
  switch (rule.kind) {
    case "high-return-rate":
      return rule.parameters.windowDays * DAY_MS
    case "wallet-abuse":
      return rule.parameters.windowMinutes * MINUTE_MS
    case "self-dealing":
      return rule.parameters.cycleWindowHours * HOUR_MS + rule.parameters.windowMinutes * MINUTE_MS
  }
}

/**
 * How much history before the first anchor an evaluation reads, so that each anchor's window and
 * the windows that overlap it before it (which decide whether it starts an episode) are complete.
 *
 * @since 0.3.0
 */
export const contextOf = (rule: FraudRule): number => {
  switch (rule.kind) {
    case "high-return-rate":
      return 2 * rule.parameters.windowDays * DAY_MS
    case "wallet-abuse":
      return rule.parameters.windowMinutes * MINUTE_MS
    case "self-dealing":
      return rule.parameters.cycleWindowHours * HOUR_MS
  }
}

/** The longest reach of the rules (0 for none). @since 0.3.0 */
export const longestReach = (rules: ReadonlyArray<FraudRule>): number => rules.reduce((m, r) => Math.max(m, reachOf(r)), 0)

/**
 * What a first run looks back over, beyond the longest reach: 7 days (DOMAIN §8's longest window).
 *
 * @since 0.3.0
 */
export const FIRST_RUN_DAYS = 7

// ---------------------------------------------------------------------------------------------
// Evidence

/** A window as instants; each rule's bounds are given in docs/fraud.md. @since 0.3.0 */
export interface Window {
  readonly from: Date
  readonly to: Date
}

/**
 * What a decision rests on: the window, the feature values, and the ids of exactly the rows behind
 * them.
 *
 * @since 0.3.0
 */
export type Evidence =
  | {
    readonly window: { readonly from: string; readonly to: string }
    readonly purchases: number
    readonly returns: number
    readonly rate: string
    readonly purchaseIds: ReadonlyArray<string>
    readonly returnIds: ReadonlyArray<string>
  }
  | {
    readonly window: { readonly from: string; readonly to: string }
    readonly count: number
    readonly minAmount: number
    readonly total: number
    readonly transactionIds: ReadonlyArray<string>
  }
  | {
    readonly window: { readonly from: string; readonly to: string }
    readonly cycles: number
    readonly pairs: ReadonlyArray<{
      readonly depositId: string
      readonly deposit: number
      readonly withdrawalId: string
      readonly withdrawal: number
    }>
    readonly transactionIds: ReadonlyArray<string>
  }

/**
 * One row of an evaluator: a firing window of a customer (the earliest of its episode) and one row
 * behind it — a purchase or return (`high-return-rate`), a transaction (`wallet-abuse`), a cycle's
 * deposit and withdrawal (`self-dealing`: `id`/`amount` the deposit's, `pairId`/`pairAmount` the
 * withdrawal's).
 *
 * @since 0.3.0
 */
export interface EvaluatorRow {
  readonly customerId: string
  readonly phone: string | null
  readonly windowFrom: number
  readonly windowTo: number
  readonly itemKind: "purchase" | "return" | "transaction" | "cycle"
  readonly id: string
  readonly amount: number
  readonly pairId: string | null
  readonly pairAmount: number | null
}

/**
 * A rule that fired on a customer: the firing window and its evidence.
 *
 * @since 0.3.0
 */
export interface RuleHit {
  readonly customerId: string
  readonly phone: string | null
  readonly ruleId: string
  readonly ruleVersion: number
  readonly kind: RuleKind
  readonly severity: Severity
  readonly action: Action
  readonly window: Window
  readonly evidence: Evidence
}

/**
 * A rate as a percentage with at most one decimal, rounded down: 2 of 2 is `"100%"`, 2 of 3
 * `"66.6%"`, 51 of 101 `"50.4%"`. For display: the counts beside it in the evidence are exact.
 *
 * @since 0.3.0
 */
export const formatRate = (part: number, whole: number): string => {
  const tenths = Math.floor((1000 * part) / whole)
  return `${Math.floor(tenths / 10)}${tenths % 10 === 0 ? "" : `.${tenths % 10}`}%`
}

/**
 * The hits of a rule from its evaluator's rows (grouped by customer and window, in the order
 * given), each with its evidence: the features are counted from exactly the rows listed.
 *
 * @since 0.3.0
 */
export const hitsOf = (rule: FraudRule, rows: ReadonlyArray<EvaluatorRow>): ReadonlyArray<RuleHit> => {
  const groups: Array<{ readonly head: EvaluatorRow; readonly rows: Array<EvaluatorRow> }> = []
  for (const row of rows) {
    const last = groups[groups.length - 1]
    if (last !== undefined && last.head.customerId === row.customerId && last.head.windowFrom === row.windowFrom) {
      last.rows.push(row)
    } else {
      groups.push({ head: row, rows: [row] })
    }
  }
  return groups.map(({ head, rows }) => {
    const window = { from: new Date(head.windowFrom), to: new Date(head.windowTo) }
    const shown = { from: window.from.toISOString(), to: window.to.toISOString() }
    let evidence: Evidence
    switch (rule.kind) {
      case "high-return-rate": {
        const purchaseIds = rows.filter((r) => r.itemKind === "purchase").map((r) => r.id)
        const returnIds = rows.filter((r) => r.itemKind === "return").map((r) => r.id)
        evidence = {
          window: shown,
          purchases: purchaseIds.length,
          returns: returnIds.length,
          rate: formatRate(returnIds.length, purchaseIds.length),
          purchaseIds,
          returnIds
        }
        break
      }
      case "wallet-abuse":
        evidence = {
          window: shown,
          count: rows.length,
          minAmount: rule.parameters.minAmount,
          total: rows.reduce((sum, r) => sum + r.amount, 0),
          transactionIds: rows.map((r) => r.id)
        }
        break
      case "self-dealing":
        evidence = {
          window: shown,
          cycles: rows.length,
          pairs: rows.map((r) => ({ depositId: r.id, deposit: r.amount, withdrawalId: r.pairId!, withdrawal: r.pairAmount! })),
          transactionIds: rows.flatMap((r) => [r.id, r.pairId!])
        }
        break
    }
    return {
      customerId: head.customerId,
      phone: head.phone,
      ruleId: rule.id,
      ruleVersion: rule.version,
      kind: rule.kind,
      severity: rule.severity,
      action: rule.action,
      window,
      evidence
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Decisions and flags

/**
 * A decision as stored: the rule and version that made it, the firing window (its unique key with
 * the customer and the rule version), the evidence, when it was made and by which run, and — for a
 * blacklist decision that changed the tier — the tier it replaced (`tierBefore`).
 *
 * @since 0.3.0
 */
export class FraudDecision extends Schema.Class<FraudDecision>("FraudDecision")({
  id: Schema.String,
  runId: Schema.NullOr(Schema.String),
  customerId: Schema.String,
  ruleId: Schema.String,
  ruleVersion: Schema.Int,
  severity: Severity,
  action: Schema.String,
  windowFrom: Schema.DateFromSelf,
  windowTo: Schema.DateFromSelf,
  evidence: Schema.Unknown,
  decidedAt: Schema.DateFromSelf,
  tierBefore: Schema.NullOr(Schema.String)
}) {}

/**
 * A flag on a customer, raised by a decision (`blacklist` for a blacklist decision); active until
 * staff clear it, with a reason. A customer has at most one active flag of each name.
 *
 * @since 0.3.0
 */
export class FraudFlag extends Schema.Class<FraudFlag>("FraudFlag")({
  id: Schema.String,
  customerId: Schema.String,
  flag: Schema.String,
  decisionId: Schema.String,
  raisedAt: Schema.DateFromSelf,
  clearedAt: Schema.NullOr(Schema.DateFromSelf),
  clearedBy: Schema.NullOr(Schema.String),
  clearReason: Schema.NullOr(Schema.String),
  version: Schema.Int
}) {}

/**
 * The customer has no active flag of that name; nothing was written.
 *
 * @since 0.3.0
 */
export class FraudFlagNotFound extends Schema.TaggedError<FraudFlagNotFound>()("FraudFlagNotFound", {
  customerId: Schema.String,
  flag: Schema.String
}) {
  override get message(): string {
    return `The customer has no active ${JSON.stringify(this.flag)} flag`
  }
}
