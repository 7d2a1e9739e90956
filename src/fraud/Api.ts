/**
 * The fraud module's HTTP endpoints (docs/fraud.md#http), each with the role it requires declared
 * once: anyone may read a customer's fraud record (the 360 view shows it too); clearing a flag, a
 * run and a backtest are the manager's.
 *
 * @since 0.3.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Authentication, Instant, IntFromString, PhoneParam, withRole } from "../platform/http/HttpKit.js"
import { FraudDecision, FraudFlag } from "./Fraud.js"

/** A decision as JSON (instants as ISO strings; `evidence` as recorded). @since 0.3.0 */
export const FraudDecisionJson = Schema.Struct({
  ...FraudDecision.fields,
  windowFrom: Instant,
  windowTo: Instant,
  decidedAt: Instant
}).annotations({ identifier: "FraudDecision" })

/** A flag as JSON. @since 0.3.0 */
export const FraudFlagJson = Schema.Struct({
  ...FraudFlag.fields,
  raisedAt: Instant,
  clearedAt: Schema.NullOr(Instant)
}).annotations({ identifier: "FraudFlag" })

/** A customer's fraud record: active flags and decisions, newest first. @since 0.3.0 */
export const CustomerFraudJson = Schema.Struct({
  customerId: Schema.String,
  phone: Schema.NullOr(Schema.String),
  tier: Schema.String,
  flags: Schema.Array(FraudFlagJson),
  decisions: Schema.Array(FraudDecisionJson)
}).annotations({ identifier: "CustomerFraud" })

/** What a run did. @since 0.3.0 */
export const RunReportJson = Schema.Struct({
  runId: Schema.String,
  at: Instant,
  from: Instant,
  evaluated: Schema.Int,
  decisions: Schema.Int,
  flags: Schema.Int,
  blacklisted: Schema.Int,
  batches: Schema.Int
}).annotations({ identifier: "FraudRunReport" })

/** What a backtest found. @since 0.3.0 */
export const BacktestResultJson = Schema.Struct({
  hits: Schema.Array(Schema.Struct({
    customerId: Schema.String,
    phone: Schema.NullOr(Schema.String),
    ruleId: Schema.String,
    ruleVersion: Schema.Int,
    severity: Schema.String,
    action: Schema.String,
    window: Schema.Struct({ from: Instant, to: Instant }),
    evidence: Schema.Unknown
  })),
  evaluated: Schema.Int,
  truncated: Schema.Boolean,
  rules: Schema.Array(Schema.Struct({ id: Schema.String, version: Schema.Int }))
}).annotations({ identifier: "FraudBacktestResult" })

/** Body of a backtest: rule versions (`{ id, version }` or whole rules), the range of anchors. @since 0.3.0 */
export const BacktestBody = Schema.Struct({
  rules: Schema.optional(Schema.Array(Schema.Unknown)),
  from: Schema.String,
  to: Schema.String,
  limit: Schema.optional(Schema.Number)
}).annotations({ identifier: "FraudBacktestBody" })

/** Body of a flag clearing: why. @since 0.3.0 */
export const ClearFlagBody = Schema.Struct({ reason: Schema.String }).annotations({ identifier: "ClearFlagBody" })

/** A flag name in a path. @since 0.3.0 */
export const FlagParam = HttpApiSchema.param("flag", Schema.String.annotations({ description: "a flag (suspicious, blacklist, …)" }))

/**
 * `/api/customer/:phone/fraud`, `/api/customer/:phone/fraud/flags/:flag/clear`, `/api/jobs/fraud`,
 * `/api/fraud/backtest`.
 *
 * @since 0.3.0
 */
export class FraudGroup extends HttpApiGroup.make("fraud")
  .add(
    HttpApiEndpoint.get("decisions")`/customer/${PhoneParam}/fraud`
      .setUrlParams(Schema.Struct({ limit: Schema.optional(IntFromString) }))
      .addSuccess(CustomerFraudJson)
      .annotate(OpenApi.Summary, "A customer's active fraud flags and decisions (with their evidence), newest first")
  )
  .add(
    HttpApiEndpoint.post("clearFlag")`/customer/${PhoneParam}/fraud/flags/${FlagParam}/clear`
      .setPayload(ClearFlagBody)
      .addSuccess(Schema.Struct({ flag: FraudFlagJson, tier: Schema.String }))
      .pipe(withRole("manager", "Clear a customer's active fraud flag, with a reason (clearing blacklist restores the tier)"))
  )
  .add(
    HttpApiEndpoint.post("run", "/jobs/fraud")
      .addSuccess(RunReportJson)
      .pipe(withRole("manager", "Run the fraud rules now (the daily job's run)"))
  )
  .add(
    HttpApiEndpoint.post("backtest", "/fraud/backtest")
      .setPayload(BacktestBody)
      .addSuccess(BacktestResultJson)
      .pipe(withRole("manager", "Replay rule versions over history: who would have been flagged (writes nothing)"))
  )
  .middleware(Authentication)
  .prefix("/api")
{}
