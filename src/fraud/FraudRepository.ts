/**
 * Fraud storage: the port and its one SQL implementation, the same on SQLite, PostgreSQL and D1.
 *
 * **Evaluation is set-based, in the database.** Each rule kind is one `SELECT` over a range of
 * customer ids (`after < customer_id <= upTo`, bounded by {@link FraudRepositoryShape.batchEnd}: a
 * few thousand customers at a time) and a range of instants: window functions with `RANGE` frames
 * over milliseconds (PostgreSQL, SQLite ≥ 3.28, D1) count what each sliding window holds, keep the
 * firing windows, keep of those the first of each episode (`lag` over the firing anchors: a window
 * that does not overlap the firing window before it), and join back the rows behind each. Only the
 * hits of one batch, with the ids behind them, ever reach Node. The same statements serve the runs
 * and the backtest (which only reads).
 *
 * The evaluators read the other modules' tables directly — the wallet ledger
 * (`c360_ledger_entries`, through this module's `(customer_id, created_at)` index), purchases and
 * returns (`c360_purchases` by its `(customer_id, business_day)` index, `c360_purchase_returns` by
 * `(customer_id, at)`) — as a set-based job must; they write only this module's tables, the outbox,
 * activities and the customer's tier.
 *
 * **Recording a batch's decisions is one unit of work**, whatever the engine (a D1 batch, one
 * PostgreSQL round trip, one SQLite transaction): the decisions go in with `ON CONFLICT DO NOTHING`
 * on their unique key, and every statement after works only on the decisions that this run inserted
 * (`run_id` is the run's: a decision found again keeps its first run) — their flags, their
 * `customer.flagged` events, their activities, and for a blacklist decision of a customer not yet
 * blacklisted the tier, with one `customer.tier_changed` event. Nothing is read back in between:
 * the database decides which decisions are new.
 *
 * @since 0.3.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { businessDay } from "../kernel/BusinessDay.js"
import type { StorageError } from "../kernel/Errors.js"
import { instant, int, jsonColumn, textOrNull } from "../platform/sql/Columns.js"
import { jsonRows } from "../platform/sql/JsonRows.js"
import { storage } from "../platform/sql/SqlFailure.js"
import { rerun, UnitOfWork } from "../platform/UnitOfWork.js"
import {
  contextOf,
  DAY_MS,
  type EvaluatorRow,
  FraudDecision,
  FraudFlag,
  type FraudRule,
  HOUR_MS,
  MINUTE_MS,
  ruleDefinition,
  type RuleKind
} from "./Fraud.js"
import { type MergeContext, repoint } from "../customers/index.js"

/**
 * What one evaluation covers: the customers with `after < id <= upTo` (`upTo` `null`: no upper
 * bound) and the windows anchored in `(anchorFrom, to]`, with the history up to `to` only.
 *
 * @since 0.3.0
 */
export interface EvaluationScope {
  readonly after: string
  readonly upTo: string | null
  readonly anchorFrom: number
  readonly to: number
  /** The business time zone (purchases are found by their business day first). */
  readonly timeZone: string
}

/**
 * A decision to record, with everything its statements write when it is new: the ids of its flag,
 * event and activity, and their texts. `tierPayload` and `blacklistSummary` hold
 * {@link TIER_PLACEHOLDER} where the customer's tier before it goes.
 *
 * @since 0.3.0
 */
export interface PlannedDecision {
  readonly id: string
  readonly customerId: string
  readonly ruleId: string
  readonly ruleVersion: number
  readonly severity: string
  readonly action: string
  readonly windowFrom: number
  readonly windowTo: number
  readonly evidence: string
  readonly flagId: string
  readonly eventId: string
  readonly eventPayload: string
  readonly tierEventId: string
  readonly tierPayload: string
  readonly activityId: string
  readonly activityData: string
  readonly summary: string
  readonly blacklistSummary: string
}

/** Stands for the customer's tier before a blacklist, in texts the database completes. @since 0.3.0 */
export const TIER_PLACEHOLDER = "@@TIER@@"

/** A run as stored. @since 0.3.0 */
export interface StoredRun {
  readonly id: string
  readonly at: number
  readonly anchorFrom: number
  readonly finishedAt: number | null
  readonly evaluated: number
  readonly decisions: number
  readonly flags: number
  readonly blacklisted: number
}

/** A recorded rule version: its id, version and canonical definition. @since 0.3.0 */
export interface RecordedRule {
  readonly id: string
  readonly version: number
  readonly definition: string
}

/**
 * The fraud repository.
 *
 * @since 0.3.0
 */
export interface FraudRepositoryShape {
  /** The recorded versions of these rule ids. */
  readonly recordedRules: (ids: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<RecordedRule>, StorageError>
  /** Records the rule versions not yet recorded (a recorded one is left as it is). */
  readonly recordRules: (rules: ReadonlyArray<FraudRule>, at: number) => Effect.Effect<void, StorageError>
  /** The `at` of the latest finished run before `before`, if any. */
  readonly lastRunAt: (before: number) => Effect.Effect<number | null, StorageError>
  readonly startRun: (run: {
    readonly id: string
    readonly at: number
    readonly anchorFrom: number
    readonly actor: string
    readonly rules: string
    readonly startedAt: number
  }) => Effect.Effect<void, StorageError>
  /** Marks the run finished and counts, in the database, what it recorded. */
  readonly finishRun: (id: string, finishedAt: number, evaluated: number) => Effect.Effect<StoredRun, StorageError>
  /** The last customer id of the batch of `size` customers after `after`; `null` when fewer remain. */
  readonly batchEnd: (after: string, size: number) => Effect.Effect<string | null, StorageError>
  /** The rule's firing windows (the first of each episode) in the scope, with the rows behind each. */
  readonly evaluate: (rule: FraudRule, scope: EvaluationScope) => Effect.Effect<ReadonlyArray<EvaluatorRow>, StorageError>
  /** How many customers of the scope have activity (of the kinds the rules read) with instants in `(anchorFrom, to]`. */
  readonly countActive: (kinds: ReadonlySet<RuleKind>, scope: EvaluationScope) => Effect.Effect<number, StorageError>
  /** Records the decisions of one batch (see the module documentation), in one unit of work per chunk. */
  readonly recordDecisions: (
    runId: string,
    decisions: ReadonlyArray<PlannedDecision>,
    context: { readonly actor: string; readonly at: number }
  ) => Effect.Effect<void, StorageError>
  /** The customer's decisions, newest first. */
  readonly decisionsOf: (customerId: string, limit: number) => Effect.Effect<ReadonlyArray<FraudDecision>, StorageError>
  /** The customer's active flags, newest first. */
  readonly activeFlags: (customerId: string) => Effect.Effect<ReadonlyArray<FraudFlag>, StorageError>
  readonly activeFlag: (customerId: string, flag: string) => Effect.Effect<Option.Option<FraudFlag>, StorageError>
  /** Writes the flag's clearing; its `version` must be the read one plus one (else the transaction runs again). */
  readonly clearFlag: (flag: FraudFlag) => Effect.Effect<void, StorageError>
  /** Sets the customer's tier to `to` if it is `from`, stepping its purchase version (see `recordDecisions`). */
  readonly setTier: (
    customerId: string,
    change: { readonly from: string; readonly to: string; readonly at: number }
  ) => Effect.Effect<void, StorageError>
  /**
   * Plans moving the merged profile's decisions and flags to the survivor (docs/merge.md), reading
   * only: a decision whose window key, or an active flag whose flag, the survivor already holds (or
   * another profile of the same merge moves to it) stays on the merged profile; the others are
   * re-pointed, set-based, each journaled as `moved` (a flag's `version` stepped, so that a clearing
   * planned on a read from before the merge runs again).
   */
  readonly planMerge: (context: MergeContext) => Effect.Effect<FraudMergePlan, StorageError>
}

/**
 * What a merge moves of one merged profile's fraud records, and what stays (see
 * `FraudRepositoryShape.planMerge`).
 *
 * @since 0.4.0
 */
export interface FraudMergePlan {
  readonly decisions: { readonly moved: number; readonly stayed: number }
  readonly flags: { readonly moved: number; readonly stayed: number }
  readonly apply: Effect.Effect<void, StorageError>
}

/** @since 0.3.0 */
export class FraudRepository extends Context.Tag("customer360/FraudRepository")<FraudRepository, FraudRepositoryShape>() {}

const WALLET_KINDS = "('deposit', 'withdrawal', 'credit_spent')"

/** At most this many decisions, or this many characters of evidence, per unit of work (D1 binds strings up to 2 MB). */
const CHUNK_DECISIONS = 200
const CHUNK_CHARACTERS = 400_000

const toDecision = (r: Record<string, unknown>) =>
  new FraudDecision({
    id: String(r.id),
    runId: textOrNull(r.run_id),
    customerId: String(r.customer_id),
    ruleId: String(r.rule_id),
    ruleVersion: int(r.rule_version),
    severity: r.severity as FraudDecision["severity"],
    action: String(r.action),
    windowFrom: new Date(int(r.window_from)),
    windowTo: new Date(int(r.window_to)),
    evidence: jsonColumn(r.evidence),
    decidedAt: new Date(int(r.decided_at)),
    tierBefore: textOrNull(r.tier_before)
  })

const toFlag = (r: Record<string, unknown>) =>
  new FraudFlag({
    id: String(r.id),
    customerId: String(r.customer_id),
    flag: String(r.flag),
    decisionId: String(r.decision_id),
    raisedAt: new Date(int(r.raised_at)),
    clearedAt: instant(r.cleared_at),
    clearedBy: textOrNull(r.cleared_by),
    clearReason: textOrNull(r.clear_reason),
    version: int(r.version)
  })

const toRow = (kind: EvaluatorRow["itemKind"] | null) => (r: Record<string, unknown>): EvaluatorRow => ({
  customerId: String(r.customer_id),
  phone: textOrNull(r.phone),
  windowFrom: int(r.window_from),
  windowTo: int(r.window_to),
  itemKind: kind ?? (String(r.item_kind) as EvaluatorRow["itemKind"]),
  id: String(r.item_id),
  amount: int(r.item_amount),
  pairId: textOrNull(r.pair_id),
  pairAmount: r.pair_amount === null || r.pair_amount === undefined ? null : int(r.pair_amount)
})

/** Splits the decisions into chunks small enough for one unit of work. */
const chunks = (decisions: ReadonlyArray<PlannedDecision>): ReadonlyArray<ReadonlyArray<PlannedDecision>> => {
  const out: Array<Array<PlannedDecision>> = []
  let current: Array<PlannedDecision> = []
  let size = 0
  for (const d of decisions) {
    if (current.length > 0 && (current.length >= CHUNK_DECISIONS || size + d.evidence.length > CHUNK_CHARACTERS)) {
      out.push(current)
      current = []
      size = 0
    }
    current.push(d)
    size += d.evidence.length
  }
  if (current.length > 0) out.push(current)
  return out
}

/** @since 0.3.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork

  const big = (v: number) => sql`CAST(${v} AS BIGINT)`
  /** The customer range of a scope, on a column. */
  const customers = (column: string, s: EvaluationScope) =>
    s.upTo === null
      ? sql`${sql(column)} > ${s.after}`
      : sql`${sql(column)} > ${s.after} AND ${sql(column)} <= ${s.upTo}`

  /** The wallet transactions of the scope's customers with instants in `(from, to]`. */
  const walletTransactions = (s: EvaluationScope, from: number) =>
    sql`SELECT customer_id, transaction_id, min(created_at) AS at, sum(abs(amount)) AS amount,
        max(CASE WHEN kind = 'deposit' THEN 1 ELSE 0 END) AS deposit
      FROM c360_ledger_entries
      WHERE ${customers("customer_id", s)} AND created_at > ${big(from)} AND created_at <= ${big(s.to)}
        AND kind IN ${sql.literal(WALLET_KINDS)}
      GROUP BY customer_id, transaction_id`

  /** Purchases of the scope's customers with instants in `(from, to]` (by business day first, with a margin). */
  const purchasesIn = (s: EvaluationScope, from: number, columns: Statement.Fragment) =>
    sql`SELECT ${columns} FROM c360_purchases
      WHERE ${customers("customer_id", s)}
        AND business_day >= ${businessDay(from, s.timeZone) - 2} AND business_day <= ${businessDay(s.to, s.timeZone) + 2}
        AND at > ${big(from)} AND at <= ${big(s.to)}`
  const returnsIn = (s: EvaluationScope, from: number, columns: Statement.Fragment) =>
    sql`SELECT ${columns} FROM c360_purchase_returns
      WHERE ${customers("customer_id", s)} AND at > ${big(from)} AND at <= ${big(s.to)}`

  /**
   * The first firing window of each episode: from `firing` (customer_id, at: the anchors whose
   * window fires), the anchors after `anchorFrom` whose previous firing anchor is at least `gap`
   * before them (their windows do not overlap), or that have none.
   */
  const episodeStarts = (gap: number, anchorFrom: number) =>
    sql`starts AS (
      SELECT customer_id, at, lag(at) OVER (PARTITION BY customer_id ORDER BY at) AS prev FROM firing
    ),
    episodes AS (
      SELECT customer_id, at FROM starts
      WHERE (prev IS NULL OR at - prev >= ${big(gap)}) AND at > ${big(anchorFrom)}
    )`

  const highReturnRate = (rule: Extract<FraudRule, { kind: "high-return-rate" }>, s: EvaluationScope) => {
    const p = rule.parameters
    const len = p.windowDays * DAY_MS
    const from = s.anchorFrom - contextOf(rule)
    return sql<Record<string, unknown>>`WITH events AS (
        ${purchasesIn(s, from, sql`customer_id, id, at, 1 AS p, 0 AS r`)}
        UNION ALL
        ${returnsIn(s, from, sql`customer_id, id, at, 0 AS p, 1 AS r`)}
      ),
      counted AS (
        SELECT customer_id, at, sum(p) OVER w AS purchases, sum(r) OVER w AS returns FROM events
        WINDOW w AS (PARTITION BY customer_id ORDER BY at RANGE BETWEEN ${big(len - 1)} PRECEDING AND CURRENT ROW)
      ),
      firing AS (
        SELECT DISTINCT customer_id, at FROM counted
        WHERE purchases >= ${big(p.minPurchases)} AND 100 * returns > ${big(p.rateAbovePercent)} * purchases
      ),
      ${episodeStarts(len, s.anchorFrom)}
      SELECT e.customer_id, c.phone, e.at - ${big(len)} AS window_from, e.at AS window_to,
        CASE WHEN v.p = 1 THEN 'purchase' ELSE 'return' END AS item_kind, v.id AS item_id, 0 AS item_amount,
        NULL AS pair_id, NULL AS pair_amount
      FROM episodes e
      JOIN events v ON v.customer_id = e.customer_id AND v.at > e.at - ${big(len)} AND v.at <= e.at
      JOIN c360_customers c ON c.id = e.customer_id AND c.merged_into IS NULL
      ORDER BY e.customer_id, e.at, v.at, v.p DESC, v.id`
  }

  const walletAbuse = (rule: Extract<FraudRule, { kind: "wallet-abuse" }>, s: EvaluationScope) => {
    const p = rule.parameters
    const len = p.windowMinutes * MINUTE_MS
    const from = s.anchorFrom - contextOf(rule)
    return sql<Record<string, unknown>>`WITH transactions AS (${walletTransactions(s, from)}),
      large AS (SELECT customer_id, transaction_id, at, amount FROM transactions WHERE amount > ${big(p.minAmount)}),
      counted AS (
        SELECT customer_id, at,
          count(*) OVER (PARTITION BY customer_id ORDER BY at RANGE BETWEEN CURRENT ROW AND ${big(len - 1)} FOLLOWING) AS n
        FROM large
      ),
      firing AS (SELECT DISTINCT customer_id, at FROM counted WHERE n >= ${big(p.minCount)}),
      ${episodeStarts(len, s.anchorFrom)}
      SELECT e.customer_id, c.phone, e.at AS window_from, e.at + ${big(len)} AS window_to,
        t.transaction_id AS item_id, t.amount AS item_amount, NULL AS pair_id, NULL AS pair_amount
      FROM episodes e
      JOIN large t ON t.customer_id = e.customer_id AND t.at >= e.at AND t.at < e.at + ${big(len)}
      JOIN c360_customers c ON c.id = e.customer_id AND c.merged_into IS NULL
      ORDER BY e.customer_id, e.at, t.at, t.transaction_id`
  }

  const selfDealing = (rule: Extract<FraudRule, { kind: "self-dealing" }>, s: EvaluationScope) => {
    const p = rule.parameters
    const gap = p.windowMinutes * MINUTE_MS
    const len = p.cycleWindowHours * HOUR_MS
    const from = s.anchorFrom - contextOf(rule)
    return sql<Record<string, unknown>>`WITH transactions AS (${walletTransactions(s, from)}),
      marked AS (
        SELECT customer_id, transaction_id, at, amount, deposit,
          max(CASE WHEN deposit = 1 THEN at END) OVER (
            PARTITION BY customer_id ORDER BY at RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
          ) AS last_deposit_at
        FROM transactions
      ),
      latest AS (
        SELECT w.customer_id, w.transaction_id AS w_id, w.at AS w_at, w.amount AS w_amount,
          d.transaction_id AS d_id, d.at AS d_at, d.amount AS d_amount,
          row_number() OVER (PARTITION BY w.customer_id, w.transaction_id ORDER BY d.transaction_id) AS d_rank
        FROM marked w
        JOIN marked d ON d.customer_id = w.customer_id AND d.deposit = 1 AND d.at = w.last_deposit_at
        WHERE w.deposit = 0 AND w.at - w.last_deposit_at <= ${big(gap)}
      ),
      withdrawn AS (
        SELECT customer_id, d_id, d_at, d_amount, w_id, w_at, w_amount,
          row_number() OVER (PARTITION BY customer_id, d_id ORDER BY w_at, w_id) AS w_rank
        FROM latest WHERE d_rank = 1 AND 100 * w_amount >= ${big(p.minRatio)} * d_amount
      ),
      cycles AS (SELECT customer_id, d_id, d_at, d_amount, w_id, w_amount FROM withdrawn WHERE w_rank = 1),
      counted AS (
        SELECT customer_id, d_at AS at,
          count(*) OVER (PARTITION BY customer_id ORDER BY d_at RANGE BETWEEN CURRENT ROW AND ${big(len - 1)} FOLLOWING) AS n
        FROM cycles
      ),
      firing AS (SELECT DISTINCT customer_id, at FROM counted WHERE n >= ${big(p.minCycles)}),
      ${episodeStarts(len, s.anchorFrom)}
      SELECT e.customer_id, c.phone, e.at AS window_from, e.at + ${big(len)} AS window_to,
        y.d_id AS item_id, y.d_amount AS item_amount, y.w_id AS pair_id, y.w_amount AS pair_amount
      FROM episodes e
      JOIN cycles y ON y.customer_id = e.customer_id AND y.d_at >= e.at AND y.d_at < e.at + ${big(len)}
      JOIN c360_customers c ON c.id = e.customer_id AND c.merged_into IS NULL
      ORDER BY e.customer_id, e.at, y.d_at, y.d_id`
  }

  const evaluate: FraudRepositoryShape["evaluate"] = (rule, scope) => {
    switch (rule.kind) {
      case "high-return-rate":
        return storage("evaluating the high-return-rate rule")(Effect.map(highReturnRate(rule, scope), (rows) => rows.map(toRow(null))))
      case "wallet-abuse":
        return storage("evaluating the wallet-abuse rule")(Effect.map(walletAbuse(rule, scope), (rows) => rows.map(toRow("transaction"))))
      case "self-dealing":
        return storage("evaluating the self-dealing rule")(Effect.map(selfDealing(rule, scope), (rows) => rows.map(toRow("cycle"))))
    }
  }

  const countActive: FraudRepositoryShape["countActive"] = (kinds, s) => {
    const parts: Array<Statement.Fragment> = []
    if (kinds.has("wallet-abuse") || kinds.has("self-dealing")) {
      parts.push(sql`SELECT customer_id FROM c360_ledger_entries
        WHERE ${customers("customer_id", s)} AND created_at > ${big(s.anchorFrom)} AND created_at <= ${big(s.to)}
          AND kind IN ${sql.literal(WALLET_KINDS)}`)
    }
    if (kinds.has("high-return-rate")) {
      parts.push(purchasesIn(s, s.anchorFrom, sql`customer_id`))
      parts.push(returnsIn(s, s.anchorFrom, sql`customer_id`))
    }
    if (parts.length === 0) return Effect.succeed(0)
    const union = parts.reduce((all, part) => sql`${all} UNION ALL ${part}`)
    return sql<{ n: unknown }>`SELECT count(DISTINCT customer_id) AS n FROM (${union}) active
      WHERE customer_id NOT IN (SELECT id FROM c360_customers WHERE merged_into IS NOT NULL)`.pipe(
      Effect.map((rows) => int(rows[0]?.n ?? 0)),
      storage("counting the customers a fraud run evaluates")
    )
  }

  const batchEnd: FraudRepositoryShape["batchEnd"] = (after, size) =>
    sql<{ id: unknown }>`SELECT id FROM c360_customers WHERE id > ${after} ORDER BY id LIMIT 1 OFFSET ${size - 1}`.pipe(
      Effect.map((rows) => (rows.length === 0 ? null : String(rows[0]!.id))),
      storage("finding a batch of customers")
    )

  const recordedRules: FraudRepositoryShape["recordedRules"] = (ids) =>
    ids.length === 0
      ? Effect.succeed([])
      : sql<Record<string, unknown>>`SELECT id, version, definition FROM c360_fraud_rules WHERE ${sql.in("id", ids)}
        ORDER BY id, version`.pipe(
        Effect.map((rows) => rows.map((r) => ({ id: String(r.id), version: int(r.version), definition: String(r.definition) }))),
        storage("reading recorded fraud rules")
      )

  const recordRules: FraudRepositoryShape["recordRules"] = (rules, at) =>
    rules.length === 0 ? Effect.void : uow.write<never>({
      operation: "recording fraud rules",
      statements: [sql`INSERT INTO c360_fraud_rules (id, version, kind, definition, severity, action, recorded_at)
        SELECT value->>'id', CAST(value->>'version' AS INTEGER), value->>'kind', value->>'definition', value->>'severity',
          value->>'action', ${big(at)}
        FROM ${jsonRows(sql, rules.map((r) => ({ id: r.id, version: r.version, kind: r.kind, definition: ruleDefinition(r), severity: r.severity, action: r.action })))}
        WHERE true ORDER BY key
        ON CONFLICT DO NOTHING`]
    })

  const lastRunAt: FraudRepositoryShape["lastRunAt"] = (before) =>
    sql<{ at: unknown }>`SELECT max(at) AS at FROM c360_fraud_runs WHERE finished_at IS NOT NULL AND at < ${big(before)}`.pipe(
      Effect.map((rows) => (rows[0]?.at === null || rows[0]?.at === undefined ? null : int(rows[0].at))),
      storage("reading the last fraud run")
    )

  const startRun: FraudRepositoryShape["startRun"] = (run) =>
    uow.write<never>({
      operation: "starting a fraud run",
      statements: [sql`INSERT INTO c360_fraud_runs (id, at, anchor_from, actor, rules, started_at)
        VALUES (${run.id}, ${big(run.at)}, ${big(run.anchorFrom)}, ${run.actor}, ${run.rules}, ${big(run.startedAt)})`]
    })

  const finishRun: FraudRepositoryShape["finishRun"] = (id, finishedAt, evaluated) =>
    Effect.gen(function*() {
      yield* uow.write<never>({
        operation: "finishing a fraud run",
        statements: [sql`UPDATE c360_fraud_runs SET finished_at = ${big(finishedAt)}, evaluated = ${big(evaluated)},
            decisions = (SELECT count(*) FROM c360_fraud_decisions d WHERE d.run_id = ${id}),
            flags = (SELECT count(*) FROM c360_fraud_flags f JOIN c360_fraud_decisions d ON d.id = f.decision_id
              WHERE d.run_id = ${id}),
            blacklisted = (SELECT count(*) FROM c360_fraud_decisions d WHERE d.run_id = ${id} AND d.tier_before IS NOT NULL)
          WHERE id = ${id}`]
      })
      const rows = yield* storage("reading a fraud run")(sql<Record<string, unknown>>`SELECT * FROM c360_fraud_runs WHERE id = ${id}`)
      const r = rows[0] ?? {}
      return {
        id,
        at: int(r.at),
        anchorFrom: int(r.anchor_from),
        finishedAt: r.finished_at === null || r.finished_at === undefined ? null : int(r.finished_at),
        evaluated: int(r.evaluated ?? 0),
        decisions: int(r.decisions ?? 0),
        flags: int(r.flags ?? 0),
        blacklisted: int(r.blacklisted ?? 0)
      }
    })

  /** The statements recording one chunk of a run's decisions; `refs` lists them without their evidence. */
  const decisionStatements = (
    runId: string,
    decisions: ReadonlyArray<PlannedDecision>,
    context: { readonly actor: string; readonly at: number }
  ): ReadonlyArray<Statement.Statement<unknown>> => {
    const full = () =>
      jsonRows(sql, decisions.map((d) => ({
        id: d.id,
        customer_id: d.customerId,
        rule_id: d.ruleId,
        rule_version: d.ruleVersion,
        severity: d.severity,
        action: d.action,
        window_from: d.windowFrom,
        window_to: d.windowTo,
        evidence: d.evidence
      })))
    const refRows = decisions.map((d) => ({
      id: d.id,
      flag_id: d.flagId,
      event_id: d.eventId,
      event_payload: d.eventPayload,
      tier_event_id: d.tierEventId,
      tier_payload: d.tierPayload,
      activity_id: d.activityId,
      activity_data: d.activityData,
      summary: d.summary,
      blacklist_summary: d.blacklistSummary
    }))
    const refs = () => jsonRows(sql, refRows)
    const ids = () => sql`(SELECT value->>'id' FROM ${refs()})`
    const placeholder = JSON.stringify(TIER_PLACEHOLDER)
    return [
      sql`INSERT INTO c360_fraud_decisions (id, run_id, customer_id, rule_id, rule_version, severity, action, window_from,
          window_to, evidence, decided_at)
        SELECT value->>'id', ${runId}, value->>'customer_id', value->>'rule_id', CAST(value->>'rule_version' AS INTEGER),
          value->>'severity', value->>'action', CAST(value->>'window_from' AS BIGINT), CAST(value->>'window_to' AS BIGINT),
          value->>'evidence', ${big(context.at)}
        FROM ${full()}
        WHERE true ORDER BY key
        ON CONFLICT DO NOTHING`,
      // the blacklist decision that changes the tier: one per customer not yet blacklisted, the tier it replaces
      sql`UPDATE c360_fraud_decisions
        SET tier_before = (SELECT c.tier FROM c360_customers c WHERE c.id = c360_fraud_decisions.customer_id)
        WHERE id IN (
            SELECT min(d.id) FROM c360_fraud_decisions d
            WHERE d.run_id = ${runId} AND d.action = 'blacklist' AND d.id IN ${ids()}
            GROUP BY d.customer_id)
          AND EXISTS (SELECT 1 FROM c360_customers c WHERE c.id = c360_fraud_decisions.customer_id AND c.tier <> 'blacklist')`,
      sql`INSERT INTO c360_fraud_flags (id, customer_id, flag, decision_id, raised_at, version)
        SELECT value->>'flag_id', d.customer_id, d.action, d.id, d.decided_at, 0
        FROM ${refs()} JOIN c360_fraud_decisions d ON d.id = value->>'id'
        WHERE d.run_id = ${runId} ORDER BY key
        ON CONFLICT DO NOTHING`,
      sql`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
        SELECT value->>'event_id', 'customers', 'customer.flagged', d.customer_id, value->>'event_payload', d.decided_at
        FROM ${refs()} JOIN c360_fraud_decisions d ON d.id = value->>'id'
        WHERE d.run_id = ${runId} ORDER BY key`,
      sql`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
        SELECT value->>'tier_event_id', 'customers', 'customer.tier_changed', d.customer_id,
          replace(value->>'tier_payload', ${placeholder}, '"' || d.tier_before || '"'), d.decided_at
        FROM ${refs()} JOIN c360_fraud_decisions d ON d.id = value->>'id'
        WHERE d.run_id = ${runId} AND d.tier_before IS NOT NULL ORDER BY key`,
      sql`INSERT INTO c360_activities (id, customer_id, actor, kind, subject_type, subject_id, summary, data, at)
        SELECT value->>'activity_id', d.customer_id, ${context.actor},
          CASE WHEN d.tier_before IS NULL THEN 'fraud.flagged' ELSE 'fraud.blacklisted' END,
          'fraud_decision', d.id,
          CASE WHEN d.tier_before IS NULL THEN value->>'summary'
            ELSE replace(value->>'blacklist_summary', ${TIER_PLACEHOLDER}, d.tier_before) END,
          value->>'activity_data', d.decided_at
        FROM ${refs()} JOIN c360_fraud_decisions d ON d.id = value->>'id'
        WHERE d.run_id = ${runId} ORDER BY key`,
      // the purchase version steps too: a purchase or return planned on the tier before is refused
      // by its guard and runs again, and then finds the customer blacklisted
      sql`UPDATE c360_customers SET tier = 'blacklist', updated_at = ${big(context.at)}, purchase_version = purchase_version + 1
        WHERE tier <> 'blacklist' AND id IN (
          SELECT d.customer_id FROM c360_fraud_decisions d
          WHERE d.run_id = ${runId} AND d.tier_before IS NOT NULL AND d.id IN ${ids()})`
    ]
  }

  const recordDecisions: FraudRepositoryShape["recordDecisions"] = (runId, decisions, context) =>
    Effect.forEach(chunks(decisions), (chunk) =>
      uow.write<never>({
        operation: "recording fraud decisions",
        statements: decisionStatements(runId, chunk, context)
      }), { discard: true })

  const decisionsOf: FraudRepositoryShape["decisionsOf"] = (customerId, limit) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_fraud_decisions WHERE customer_id = ${customerId}
      ORDER BY decided_at DESC, id DESC LIMIT ${limit}`.pipe(
      Effect.map((rows) => rows.map(toDecision)),
      storage("reading a customer's fraud decisions")
    )

  const activeFlags: FraudRepositoryShape["activeFlags"] = (customerId) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_fraud_flags WHERE customer_id = ${customerId} AND cleared_at IS NULL
      ORDER BY raised_at DESC, id DESC`.pipe(
      Effect.map((rows) => rows.map(toFlag)),
      storage("reading a customer's fraud flags")
    )

  const activeFlag: FraudRepositoryShape["activeFlag"] = (customerId, flag) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_fraud_flags
      WHERE customer_id = ${customerId} AND flag = ${flag} AND cleared_at IS NULL`.pipe(
      Effect.map((rows) => (rows.length === 0 ? Option.none() : Option.some(toFlag(rows[0]!)))),
      storage("reading a fraud flag")
    )

  const clearFlag: FraudRepositoryShape["clearFlag"] = (flag) =>
    uow.write<never>({
      operation: "clearing a fraud flag",
      statements: [sql`UPDATE c360_fraud_flags SET cleared_at = ${big(flag.clearedAt!.getTime())}, cleared_by = ${flag.clearedBy},
          clear_reason = ${flag.clearReason}, version = ${big(flag.version)}
        WHERE id = ${flag.id}`],
      onFailure: (f) => (f._tag === "StaleWrite" ? rerun : undefined)
    })

  const setTier: FraudRepositoryShape["setTier"] = (customerId, change) =>
    uow.write<never>({
      operation: "changing a customer's tier",
      statements: [sql`UPDATE c360_customers SET tier = ${change.to}, updated_at = ${big(change.at)},
          purchase_version = purchase_version + 1
        WHERE id = ${customerId} AND tier = ${change.from}`]
    })

  const planMerge: FraudRepositoryShape["planMerge"] = (context) =>
    Effect.gen(function*() {
      const from = context.merged.id
      // the survivor and the profiles this merge moves to it before this one
      const memo = `fraud:merge-owners:${context.mergeId}`
      const owners = (yield* uow.recall<ReadonlyArray<string>>(memo)) ?? [context.survivor.id]
      yield* uow.remember(memo, [...owners, from])
      const decisionMoves = sql`NOT EXISTS (SELECT 1 FROM c360_fraud_decisions s
        WHERE ${sql.in("s.customer_id", owners)} AND s.rule_id = c360_fraud_decisions.rule_id
          AND s.rule_version = c360_fraud_decisions.rule_version AND s.window_from = c360_fraud_decisions.window_from
          AND s.window_to = c360_fraud_decisions.window_to)`
      const flagMoves = sql`NOT (c360_fraud_flags.cleared_at IS NULL AND EXISTS (SELECT 1 FROM c360_fraud_flags s
        WHERE ${sql.in("s.customer_id", owners)} AND s.flag = c360_fraud_flags.flag AND s.cleared_at IS NULL))`
      const rows = yield* sql<Record<string, unknown>>`SELECT
          (SELECT count(*) FROM c360_fraud_decisions WHERE customer_id = ${from}) AS decisions,
          (SELECT count(*) FROM c360_fraud_decisions WHERE customer_id = ${from} AND ${decisionMoves}) AS decisions_moved,
          (SELECT count(*) FROM c360_fraud_flags WHERE customer_id = ${from}) AS flags,
          (SELECT count(*) FROM c360_fraud_flags WHERE customer_id = ${from} AND ${flagMoves}) AS flags_moved`.pipe(
        storage("counting the fraud records of a merged profile")
      )
      const r = rows[0] ?? {}
      const [flagJournal] = repoint(sql, context, { part: "fraud", table: "c360_fraud_flags", where: flagMoves })
      return {
        decisions: { moved: int(r.decisions_moved ?? 0), stayed: int(r.decisions ?? 0) - int(r.decisions_moved ?? 0) },
        flags: { moved: int(r.flags_moved ?? 0), stayed: int(r.flags ?? 0) - int(r.flags_moved ?? 0) },
        apply: uow.write<never>({
          operation: "moving fraud decisions and flags to a merge's survivor",
          statements: [
            ...repoint(sql, context, { part: "fraud", table: "c360_fraud_decisions", where: decisionMoves }),
            flagJournal!,
            sql`UPDATE c360_fraud_flags SET customer_id = ${context.survivor.id}, version = version + 1
              WHERE customer_id = ${from} AND ${flagMoves}`
          ]
        })
      }
    })

  return FraudRepository.of({
    planMerge,
    recordedRules,
    recordRules,
    lastRunAt,
    startRun,
    finishRun,
    batchEnd,
    evaluate,
    countActive,
    recordDecisions,
    decisionsOf,
    activeFlags,
    activeFlag,
    clearFlag,
    setTier
  })
})

/** @since 0.3.0 */
export const layer: Layer.Layer<FraudRepository, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(FraudRepository, make)
