/**
 * The fraud use cases of DOMAIN §8: a run evaluates the rules over the customers with activity in
 * its range and records each decision once; a backtest replays chosen rule versions over history
 * and writes nothing; staff read a customer's decisions and flags and clear a flag, with a reason.
 *
 * **A run** (`run({ at })`, the daily `fraud` job at 02:00 business time) evaluates the windows
 * anchored in `(last run's at − the longest rule reach, at]` — a first run: the last 7 days and the
 * longest reach — so that a window still open at the last run is evaluated again once complete. It
 * works in batches of customers (5000 by default, by id), each evaluated in SQL and recorded in one
 * unit of work (see `FraudRepository.ts`). Re-running over the same history, at the same `at` or a
 * later one, records nothing: every decision has a unique key (customer, rule, version, firing
 * window) and the windows are the same. A blacklist decision sets the tier to `blacklist` (one
 * `customer.tier_changed`, reason `fraud: <rule> v<version>`); every decision raises its flag (a
 * blacklist decision the flag `blacklist`) unless the customer has that flag active, emits
 * `customer.flagged` and records an activity.
 *
 * The configured rules (`fraud.rules`, else the three of §8) are validated when the service is
 * built; invalid rules fail every operation that uses them with the `ValidationError` (and a
 * warning is logged at start). A run records the rule versions it uses; a configured rule whose
 * `(id, version)` was recorded with another definition is refused: a changed rule is a new version.
 *
 * The rules, in full: docs/fraud.md.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type CustomerNotFound, Customers } from "../customers/index.js"
import { Rfm } from "../purchases/index.js"
import { Customer360Config } from "../kernel/Config.js"
import { type StorageError, ValidationError } from "../kernel/Errors.js"
import type { CustomerFlagCleared, CustomerFlagged, CustomerTierChanged, DomainEvent } from "../kernel/Events.js"
import { encodeId } from "../kernel/Ids.js"
import { decoder } from "../kernel/Input.js"
import type * as Phone from "../kernel/Phone.js"
import { randomBytes } from "../kernel/Random.js"
import { withSpans } from "../kernel/Spans.js"
import { Text } from "../kernel/Text.js"
import { ActivityLog, SYSTEM_ACTOR } from "../platform/ActivityLog.js"
import { EventPublisher } from "../platform/EventPublisher.js"
import { Transactions } from "../platform/Transactions.js"
import {
  BLACKLIST,
  DAY_MS,
  DEFAULT_RULES,
  FIRST_RUN_DAYS,
  type FraudDecision,
  FraudFlag,
  FraudFlagNotFound,
  type FraudRule,
  hitsOf,
  longestReach,
  Name,
  ruleDefinition,
  type RuleHit,
  type RuleKind,
  validateRule,
  validateRules
} from "./Fraud.js"
import { type EvaluationScope, FraudRepository, type PlannedDecision, TIER_PLACEHOLDER } from "./FraudRepository.js"

/** Customers per batch of a run or backtest, by default. @since 0.3.0 */
export const DEFAULT_BATCH_SIZE = 5000

/** Who runs the daily job, in activities. @since 0.3.0 */
export const JOB_ACTOR = "job:fraud"

/**
 * What a run did: its id, the instant it evaluated up to (`at`), the first anchor after which it
 * evaluated (`from`), the customers with activity in that range (`evaluated`), the decisions it
 * recorded, the flags they raised, the customers they blacklisted, and its batches.
 *
 * @since 0.3.0
 */
export interface RunReport {
  readonly runId: string
  readonly at: Date
  readonly from: Date
  readonly evaluated: number
  readonly decisions: number
  readonly flags: number
  readonly blacklisted: number
  readonly batches: number
}

/** Who would have been flagged: a rule version's firing window on a customer, with the evidence. @since 0.3.0 */
export interface BacktestHit {
  readonly customerId: string
  readonly phone: string | null
  readonly ruleId: string
  readonly ruleVersion: number
  readonly severity: string
  readonly action: string
  readonly window: { readonly from: Date; readonly to: Date }
  readonly evidence: unknown
}

/**
 * What a backtest found: the hits (by customer, then rule, then window; at most `limit`,
 * `truncated` when there were more), the customers with activity in the range (`evaluated`), and
 * the rule versions replayed.
 *
 * @since 0.3.0
 */
export interface BacktestResult {
  readonly hits: ReadonlyArray<BacktestHit>
  readonly evaluated: number
  readonly truncated: boolean
  readonly rules: ReadonlyArray<{ readonly id: string; readonly version: number }>
}

/** A customer's fraud record: active flags and decisions, newest first. @since 0.3.0 */
export interface CustomerFraud {
  readonly customerId: string
  readonly phone: string | null
  readonly tier: string
  readonly flags: ReadonlyArray<FraudFlag>
  readonly decisions: ReadonlyArray<FraudDecision>
}

/** What clearing a flag did: the flag as cleared, and the customer's tier after it. @since 0.3.0 */
export interface ClearFlagResult {
  readonly flag: FraudFlag
  readonly tier: string
}

/**
 * Input of `run`: `at` (default: the clock's now; never later), `batchSize` (customers per batch,
 * default 5000), `actor` (of the activities; default `system`, the job's `job:fraud`).
 *
 * @since 0.3.0
 */
export interface RunOptions {
  readonly at?: Date | string | undefined
  readonly batchSize?: number | undefined
  readonly actor?: string | undefined
}

/**
 * Input of `backtest`: the rule versions to replay (`{ id, version }` of a configured, recorded or
 * default rule, or a whole rule; default: the configured rules), the range of window anchors
 * `[from, to]`, `batchSize` and `limit` (hits returned, default 10,000).
 *
 * @since 0.3.0
 */
export interface BacktestInput {
  readonly rules?: ReadonlyArray<unknown> | undefined
  readonly from: Date | string
  readonly to: Date | string
  readonly batchSize?: number | undefined
  readonly limit?: number | undefined
}

/** Input of `clearFlag`: the customer's phone, the flag, why, and who (default `system`). @since 0.3.0 */
export interface ClearFlagInput {
  readonly phone: string
  readonly flag: string
  readonly reason: string
  readonly actor?: string | undefined
}

type InputError = Phone.InvalidPhone | ValidationError | StorageError

/**
 * The fraud service. Every method takes `unknown` input and validates it; a refusal writes nothing.
 *
 * @since 0.3.0
 */
export interface FraudShape {
  /** One run (see the module documentation). Safe to run concurrently with itself and with writes. */
  readonly run: (options?: RunOptions) => Effect.Effect<RunReport, ValidationError | StorageError>
  /** Replays rule versions over `[from, to]` with the run's evaluators; writes nothing. */
  readonly backtest: (input: BacktestInput) => Effect.Effect<BacktestResult, ValidationError | StorageError>
  /** The customer's active flags and decisions (newest first, at most `limit`, default 50). */
  readonly decisions: (
    phone: string,
    options?: { readonly limit?: number | undefined }
  ) => Effect.Effect<CustomerFraud, CustomerNotFound | InputError>
  /**
   * Clears the customer's active flag, with a reason: recorded (who, when, why), a
   * `customer.flag_cleared` event and an activity. Clearing `blacklist` sets the tier back to `new`
   * (`customer.tier_changed`), then RFM scores the customer again (`Rfm.refresh`; its tier from the
   * scores, with its own `customer.tier_changed`).
   */
  readonly clearFlag: (input: ClearFlagInput) => Effect.Effect<ClearFlagResult, FraudFlagNotFound | CustomerNotFound | InputError>
  /** The customer's active flags and 5 latest decisions (for the 360 view). */
  readonly forCustomer: (customerId: string) => Effect.Effect<
    { readonly flags: ReadonlyArray<FraudFlag>; readonly decisions: ReadonlyArray<FraudDecision> },
    StorageError
  >
}

/** The Fraud service. @since 0.3.0 */
export class Fraud extends Context.Tag("customer360/Fraud")<Fraud, FraudShape>() {}

const Instant = Schema.Union(Schema.ValidDateFromSelf, Schema.Date)
const BatchSize = Schema.Int.pipe(Schema.between(1, 100_000))
const decodeRun = decoder(
  Schema.Struct({ at: Schema.optional(Instant), batchSize: Schema.optional(BatchSize), actor: Schema.optional(Text(100)) }),
  "fraud run options"
)
const decodeBacktest = decoder(
  Schema.Struct({
    rules: Schema.optional(Schema.Array(Schema.Unknown).pipe(Schema.maxItems(100))),
    from: Instant,
    to: Instant,
    batchSize: Schema.optional(BatchSize),
    limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100_000)))
  }),
  "fraud backtest"
)
const decodeClear = decoder(
  Schema.Struct({ phone: Schema.String, flag: Name, reason: Text(500), actor: Schema.optional(Text(100)) }),
  "flag clearing"
)
const decodeLimit = decoder(Schema.Struct({ limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 500))) }), "options")
const decodeRecorded = Schema.decodeUnknownEither(Schema.parseJson(Schema.Struct({
  kind: Schema.String,
  parameters: Schema.Unknown,
  severity: Schema.String,
  action: Schema.String
})))

const newId = (prefix: string, at: number) => encodeId(prefix, at, randomBytes(10))

/** The rows a decision writes when it is new (see `PlannedDecision`). */
const plan = (hit: RuleHit, at: number): PlannedDecision => {
  const id = newId("frd", at)
  const rule = `${hit.ruleId} v${hit.ruleVersion}`
  const window = { from: hit.window.from.toISOString(), to: hit.window.to.toISOString() }
  const flagged: CustomerFlagged["data"] = {
    decisionId: id,
    ruleId: hit.ruleId,
    ruleVersion: hit.ruleVersion,
    action: hit.action,
    severity: hit.severity
  }
  const tier: CustomerTierChanged["data"] = {
    from: TIER_PLACEHOLDER,
    to: BLACKLIST,
    r: null,
    f: null,
    m: null,
    reason: `fraud: ${rule}`
  }
  return {
    id,
    customerId: hit.customerId,
    ruleId: hit.ruleId,
    ruleVersion: hit.ruleVersion,
    severity: hit.severity,
    action: hit.action,
    windowFrom: hit.window.from.getTime(),
    windowTo: hit.window.to.getTime(),
    evidence: JSON.stringify(hit.evidence),
    flagId: newId("flg", at),
    eventId: newId("evt", at),
    eventPayload: JSON.stringify(flagged),
    tierEventId: newId("evt", at),
    tierPayload: JSON.stringify(tier),
    activityId: newId("act", at),
    activityData: JSON.stringify({ ...flagged, window }),
    summary: hit.action === BLACKLIST
      ? `fraud rule ${rule} fired: blacklist (the customer was already blacklisted)`
      : `fraud rule ${rule} fired: flagged ${hit.action}`,
    blacklistSummary: `blacklisted by fraud rule ${rule} (the tier was ${TIER_PLACEHOLDER})`
  }
}

/** @since 0.3.0 */
export const make = Effect.gen(function*() {
  const repo = yield* FraudRepository
  const customers = yield* Customers
  const tx = yield* Transactions
  const events = yield* EventPublisher
  const activities = yield* ActivityLog
  const config = yield* Customer360Config
  const rfm = yield* Rfm

  const configured = validateRules(config.fraud.rules)
  if (Either.isLeft(configured)) yield* Effect.logWarning(`customer360 fraud: ${configured.left.message}; every fraud operation will fail`)

  /** Every rule's hits in the scope, in rule order. */
  const evaluate = (rules: ReadonlyArray<FraudRule>, scope: EvaluationScope) =>
    Effect.map(Effect.forEach(rules, (rule) => Effect.map(repo.evaluate(rule, scope), (rows) => hitsOf(rule, rows))), (all) => all.flat())

  /**
   * Walks every customer in batches of `size`, by id: for each, the count of customers with
   * activity and the hits, handed to `step`. Returns the total count and the number of batches.
   */
  const batches = (
    rules: ReadonlyArray<FraudRule>,
    range: { readonly anchorFrom: number; readonly to: number },
    size: number,
    step: (hits: ReadonlyArray<RuleHit>) => Effect.Effect<void, StorageError>
  ) =>
    Effect.gen(function*() {
      const kinds = new Set<RuleKind>(rules.map((r) => r.kind))
      let after = ""
      let evaluated = 0
      let count = 0
      if (rules.length === 0) return { evaluated, batches: count }
      for (;;) {
        const upTo = yield* repo.batchEnd(after, size)
        const scope: EvaluationScope = { after, upTo, anchorFrom: range.anchorFrom, to: range.to, timeZone: config.timeZone }
        evaluated += yield* repo.countActive(kinds, scope)
        const hits = yield* evaluate(rules, scope)
        if (hits.length > 0) yield* step(hits)
        count += 1
        if (upTo === null) break
        after = upTo
      }
      return { evaluated, batches: count }
    })

  /** Refuses configured rules whose `(id, version)` was recorded with another definition. */
  const checkRecorded = (rules: ReadonlyArray<FraudRule>) =>
    Effect.flatMap(repo.recordedRules(rules.map((r) => r.id)), (recorded) => {
      for (const [i, rule] of rules.entries()) {
        const stored = recorded.find((r) => r.id === rule.id && r.version === rule.version)
        if (stored !== undefined && stored.definition !== ruleDefinition(rule)) {
          return ValidationError.single(
            `fraud.rules.${i}`,
            `${rule.id} v${rule.version} was recorded with another definition; give the changed rule a new version`
          )
        }
      }
      return Effect.void
    })

  const run: FraudShape["run"] = (raw) =>
    Effect.gen(function*() {
      const options = yield* decodeRun(raw ?? {})
      const rules = yield* configured
      const now = yield* Clock.currentTimeMillis
      const at = options.at === undefined ? now : options.at.getTime()
      if (at > now) return yield* ValidationError.single("at", "must not be after the clock's now")
      const actor = options.actor ?? SYSTEM_ACTOR
      yield* checkRecorded(rules)
      yield* repo.recordRules(rules, now)
      const last = yield* repo.lastRunAt(at)
      const reach = longestReach(rules)
      const anchorFrom = last === null ? at - FIRST_RUN_DAYS * DAY_MS - reach : last - reach
      const runId = newId("frr", now)
      yield* repo.startRun({
        id: runId,
        at,
        anchorFrom,
        actor,
        rules: JSON.stringify(rules.map((r) => ({ id: r.id, version: r.version }))),
        startedAt: now
      })
      const walked = yield* batches(rules, { anchorFrom, to: at }, options.batchSize ?? DEFAULT_BATCH_SIZE, (hits) =>
        Effect.flatMap(Clock.currentTimeMillis, (decidedAt) =>
          repo.recordDecisions(runId, hits.map((h) => plan(h, decidedAt)), { actor, at: decidedAt })))
      const stored = yield* repo.finishRun(runId, yield* Clock.currentTimeMillis, walked.evaluated)
      return {
        runId,
        at: new Date(at),
        from: new Date(anchorFrom),
        evaluated: stored.evaluated,
        decisions: stored.decisions,
        flags: stored.flags,
        blacklisted: stored.blacklisted,
        batches: walked.batches
      }
    })

  /** A rule version to replay: a whole rule, or `{ id, version }` of a configured, recorded or default one. */
  const resolve = (raw: unknown, i: number, rules: ReadonlyArray<FraudRule>) =>
    Effect.gen(function*() {
      const path = `rules.${i}`
      const isRef = typeof raw === "object" && raw !== null && !Array.isArray(raw) &&
        Object.keys(raw).every((k) => k === "id" || k === "version")
      if (!isRef) return yield* validateRule(raw, path)
      const ref = raw as { readonly id?: unknown; readonly version?: unknown }
      if (typeof ref.id !== "string" || typeof ref.version !== "number" || !Number.isSafeInteger(ref.version)) {
        return yield* ValidationError.single(path, "must be a rule, or { id, version } of one")
      }
      const known = [...rules, ...DEFAULT_RULES].find((r) => r.id === ref.id && r.version === ref.version)
      if (known !== undefined) return known
      const recorded = (yield* repo.recordedRules([ref.id])).find((r) => r.version === ref.version)
      if (recorded !== undefined) {
        const definition = decodeRecorded(recorded.definition)
        if (Either.isRight(definition)) {
          return yield* validateRule({ id: ref.id, version: ref.version, ...definition.right }, path)
        }
      }
      return yield* ValidationError.single(path, `no rule ${ref.id} v${ref.version} is configured, recorded or a default`)
    })

  const backtest: FraudShape["backtest"] = (raw) =>
    Effect.gen(function*() {
      const input = yield* decodeBacktest(raw)
      const from = input.from.getTime()
      const to = input.to.getTime()
      if (!(from <= to)) return yield* ValidationError.single("to", "must not be before from")
      const configuredRules = input.rules === undefined ? yield* configured : Either.getOrElse(configured, () => [])
      const rules = input.rules === undefined
        ? configuredRules
        : yield* Effect.forEach(input.rules, (r, i) => resolve(r, i, configuredRules))
      for (const [i, rule] of rules.entries()) {
        if (rules.findIndex((r) => r.id === rule.id && r.version === rule.version) !== i) {
          return yield* ValidationError.single(`rules.${i}`, `${rule.id} v${rule.version} is listed twice`)
        }
      }
      const limit = input.limit ?? 10_000
      const hits: Array<BacktestHit> = []
      let truncated = false
      const walked = yield* batches(rules, { anchorFrom: from - 1, to }, input.batchSize ?? DEFAULT_BATCH_SIZE, (found) =>
        Effect.sync(() => {
          for (const h of found) {
            if (hits.length >= limit) {
              truncated = true
              break
            }
            hits.push({
              customerId: h.customerId,
              phone: h.phone,
              ruleId: h.ruleId,
              ruleVersion: h.ruleVersion,
              severity: h.severity,
              action: h.action,
              window: h.window,
              evidence: h.evidence
            })
          }
        }))
      hits.sort((a, b) =>
        a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 :
        a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 :
        a.ruleVersion - b.ruleVersion || a.window.from.getTime() - b.window.from.getTime()
      )
      return { hits, evaluated: walked.evaluated, truncated, rules: rules.map((r) => ({ id: r.id, version: r.version })) }
    })

  const decisions: FraudShape["decisions"] = (phone, raw) =>
    Effect.gen(function*() {
      const options = yield* decodeLimit(raw ?? {})
      const customer = yield* customers.getByPhone(phone)
      const [flags, list] = yield* Effect.all([repo.activeFlags(customer.id), repo.decisionsOf(customer.id, options.limit ?? 50)])
      return { customerId: customer.id, phone: customer.phone, tier: customer.tier, flags, decisions: list }
    })

  const clearFlag: FraudShape["clearFlag"] = (raw) =>
    Effect.gen(function*() {
      const input = yield* decodeClear(raw)
      const actor = input.actor ?? SYSTEM_ACTOR
      const customer = yield* customers.getByPhone(input.phone)
      const result = yield* tx.withTransaction(Effect.gen(function*() {
        const active = yield* repo.activeFlag(customer.id, input.flag)
        if (Option.isNone(active)) return yield* new FraudFlagNotFound({ customerId: customer.id, flag: input.flag })
        const now = yield* Clock.currentTimeMillis
        const at = new Date(now)
        const cleared = new FraudFlag({
          ...active.value,
          clearedAt: at,
          clearedBy: actor,
          clearReason: input.reason,
          version: active.value.version + 1
        })
        yield* repo.clearFlag(cleared)
        const clearedEvent: CustomerFlagCleared = {
          id: newId("evt", now),
          type: "customer.flag_cleared",
          channel: "customers",
          subject: customer.id,
          occurredAt: at,
          data: { flag: input.flag, actor, reason: input.reason }
        }
        const published: Array<DomainEvent> = [clearedEvent]
        let tier: string = (yield* customers.get(customer.id)).tier
        if (input.flag === BLACKLIST && tier === BLACKLIST) {
          yield* repo.setTier(customer.id, { from: BLACKLIST, to: "new", at: now })
          published.push({
            id: newId("evt", now),
            type: "customer.tier_changed",
            channel: "customers",
            subject: customer.id,
            occurredAt: at,
            data: { from: BLACKLIST, to: "new", r: null, f: null, m: null, reason: `fraud: blacklist cleared by ${actor}` }
          })
          tier = "new"
        }
        yield* events.publish(published)
        yield* activities.record([{
          customerId: customer.id,
          actor,
          kind: "fraud.flag_cleared",
          subjectType: "fraud_flag",
          subjectId: cleared.id,
          summary: `cleared the ${input.flag} flag: ${input.reason}`,
          data: { flag: input.flag, decisionId: cleared.decisionId, reason: input.reason, tier },
          at
        }])
        return { flag: cleared, tier }
      }))
      if (input.flag !== BLACKLIST || result.tier !== "new") return result
      // once the clearing committed, RFM scores the customer again (it reads the stored tier); if
      // that fails, the tier stays `new` until the next RFM recomputation scores it
      const scored = yield* Effect.either(rfm.refresh(customer.id))
      if (Either.isLeft(scored)) {
        yield* Effect.logWarning("customer360 fraud: RFM could not score a customer whose blacklist was cleared", scored.left)
        return result
      }
      return { flag: result.flag, tier: (yield* customers.get(customer.id)).tier }
    })

  const forCustomer: FraudShape["forCustomer"] = (customerId) =>
    Effect.map(
      Effect.all([repo.activeFlags(customerId), repo.decisionsOf(customerId, 5)]),
      ([flags, list]) => ({ flags, decisions: list })
    )

  return Fraud.of(withSpans("Fraud", { run, backtest, decisions, clearFlag, forCustomer }))
})

/** @since 0.3.0 */
export const layer: Layer.Layer<
  Fraud,
  never,
  FraudRepository | Customers | Rfm | Transactions | EventPublisher | ActivityLog | Customer360Config
> = Layer.effect(Fraud, make)
