/**
 * The hand-written baseline of the `fraud` benchmark (bench/fraud.ts): a first fraud run at `at`
 * (DOMAIN §8, docs/fraud.md) as a few set-based statements over the whole tables, in one
 * transaction, on PostgreSQL or SQLite — the rule versions and the run row; one INSERT of the
 * decisions whose SELECT evaluates the three default rules with window functions (RANGE frames over
 * milliseconds, episodes by `lag`) and builds each evidence in SQL, `ON CONFLICT DO NOTHING`; then,
 * set-based over this run's decisions, the tier each blacklist replaces, the flags, the
 * `customer.flagged` and `customer.tier_changed` events, the activities, the tiers; and the run row
 * finished with its counts.
 */
import { DAY_MS, DEFAULT_RULES, type FraudRule, HOUR_MS, MINUTE_MS, ruleDefinition } from "../../src/fraud/Fraud.js"
import { newId } from "./ids.js"

// --- the rules, as the library runs them ----------------------------------------------------------

const rule = <K extends FraudRule["kind"]>(kind: K) => DEFAULT_RULES.find((r) => r.kind === kind) as Extract<FraudRule, { kind: K }>
export const HR = rule("high-return-rate")
export const WA = rule("wallet-abuse")
export const SD = rule("self-dealing")
const HR_LEN = HR.parameters.windowDays * DAY_MS
const WA_LEN = WA.parameters.windowMinutes * MINUTE_MS
const SD_GAP = SD.parameters.windowMinutes * MINUTE_MS
const SD_LEN = SD.parameters.cycleWindowHours * HOUR_MS
/**
 * What a first run at `at` covers: the windows anchored after `anchorFrom` (the last 7 days and the
 * longest reach, 7 days: the return-rate window), and the history each rule reads from (its windows
 * and those overlapping them).
 */
export const fraudRange = (at: number) => {
  const longestReach = Math.max(HR_LEN, WA_LEN, SD_LEN + SD_GAP)
  const anchorFrom = at - 7 * DAY_MS - longestReach
  return { anchorFrom, hrFrom: anchorFrom - 2 * HR_LEN, waFrom: anchorFrom - WA_LEN, sdFrom: anchorFrom - SD_LEN }
}

// --- the baseline's SQL (by hand, from DOMAIN §8 and docs/fraud.md) --------------------------------

export type Engine = "PostgreSQL" | "SQLite"

/**
 * The whole run as a few statements over the whole tables, in one transaction (see the module
 * documentation). `runId` names the run; ids are the library's format (`prefix_` + its time + 16
 * random characters).
 */
export const baselineSql = (engine: Engine, runId: string, at: number, actor = "system"): ReadonlyArray<string> => {
  const AT = at
  const ACTOR = actor
  const { anchorFrom: ANCHOR_FROM, hrFrom: HR_FROM, waFrom: WA_FROM, sdFrom: SD_FROM } = fraudRange(at)
  const pgsql = engine === "PostgreSQL"
  const time = newId("x", AT).slice(2, 12)
  const id = (prefix: string, seed: string) =>
    pgsql ? `'${prefix}_${time}' || upper(substr(md5(random()::text || ${seed}), 1, 16))` : `'${prefix}_${time}' || hex(randomblob(8))`
  const json = pgsql ? "json_build_object" : "json_object"
  const text = (e: string) => (pgsql ? `(${e})::text` : `CAST(${e} AS TEXT)`)
  const jsonText = (e: string) => (pgsql ? `(${e})::text` : e)
  const arrayAgg = (e: string, order: string, filter?: string) =>
    pgsql
      ? `coalesce(json_agg(${e} ORDER BY ${order})${filter === undefined ? "" : ` FILTER (WHERE ${filter})`}, '[]'::json)`
      : `json(coalesce(json_group_array(${e} ORDER BY ${order})${filter === undefined ? "" : ` FILTER (WHERE ${filter})`}, '[]'))`
  /** An instant (epoch ms) as `Date.prototype.toISOString` writes it. */
  const iso = (ms: string) =>
    pgsql
      ? `to_char(timestamp '1970-01-01 00:00:00' + (${ms}) * interval '1 millisecond', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
      : `(strftime('%Y-%m-%dT%H:%M:%S', (${ms}) / 1000, 'unixepoch') || '.' || substr('00' || ((${ms}) % 1000), -3) || 'Z')`
  const windowJson = (from: string, to: string) => `${json}('from', ${iso(from)}, 'to', ${iso(to)})`
  /** `formatRate`: a percentage with at most one decimal, rounded down. */
  const rate = (r: string, p: string) => {
    const tenths = `((1000 * ${r}) / ${p})`
    return `${text(`${tenths} / 10`)} || CASE WHEN ${tenths} % 10 = 0 THEN '' ELSE '.' || ${text(`${tenths} % 10`)} END || '%'`
  }
  const WALLET_KINDS = "('deposit', 'withdrawal', 'credit_spent')"
  const episodes = (name: string, gap: number) => `${name}_episodes AS (
      SELECT customer_id, at FROM (
        SELECT customer_id, at, lag(at) OVER (PARTITION BY customer_id ORDER BY at) AS prev FROM ${name}_firing
      ) s WHERE (prev IS NULL OR at - prev >= ${gap}) AND at > ${ANCHOR_FROM}
    )`
  const hp = HR.parameters
  const wp = WA.parameters
  const sp = SD.parameters
  const decisions = `WITH
    events AS (
      SELECT customer_id, id, at, 1 AS p, 0 AS r FROM c360_purchases WHERE at > ${HR_FROM} AND at <= ${AT}
      UNION ALL
      SELECT customer_id, id, at, 0 AS p, 1 AS r FROM c360_purchase_returns WHERE at > ${HR_FROM} AND at <= ${AT}
    ),
    hr_firing AS (
      SELECT DISTINCT customer_id, at FROM (
        SELECT customer_id, at, sum(p) OVER w AS purchases, sum(r) OVER w AS returns FROM events
        WINDOW w AS (PARTITION BY customer_id ORDER BY at RANGE BETWEEN CAST(${HR_LEN - 1} AS BIGINT) PRECEDING AND CURRENT ROW)
      ) c WHERE purchases >= ${hp.minPurchases} AND 100 * returns > ${hp.rateAbovePercent} * purchases
    ),
    ${episodes("hr", HR_LEN)},
    hr AS (
      SELECT e.customer_id, '${HR.id}' AS rule_id, ${HR.version} AS rule_version, '${HR.severity}' AS severity,
        '${HR.action}' AS action, e.at - ${HR_LEN} AS window_from, e.at AS window_to,
        ${jsonText(`${json}('window', ${windowJson(`e.at - ${HR_LEN}`, "e.at")}, 'purchases', sum(v.p), 'returns', sum(v.r),
          'rate', ${rate("sum(v.r)", "sum(v.p)")},
          'purchaseIds', ${arrayAgg("v.id", "v.at, v.id", "v.p = 1")}, 'returnIds', ${arrayAgg("v.id", "v.at, v.id", "v.r = 1")})`)} AS evidence
      FROM hr_episodes e JOIN events v ON v.customer_id = e.customer_id AND v.at > e.at - ${HR_LEN} AND v.at <= e.at
      GROUP BY e.customer_id, e.at
    ),
    transactions AS (
      SELECT customer_id, transaction_id, min(created_at) AS at, sum(abs(amount)) AS amount,
        max(CASE WHEN kind = 'deposit' THEN 1 ELSE 0 END) AS deposit
      FROM c360_ledger_entries
      WHERE created_at > ${SD_FROM} AND created_at <= ${AT} AND kind IN ${WALLET_KINDS}
      GROUP BY customer_id, transaction_id
    ),
    large AS (SELECT customer_id, transaction_id, at, amount FROM transactions WHERE amount > ${wp.minAmount} AND at > ${WA_FROM}),
    wa_firing AS (
      SELECT DISTINCT customer_id, at FROM (
        SELECT customer_id, at,
          count(*) OVER (PARTITION BY customer_id ORDER BY at RANGE BETWEEN CURRENT ROW AND CAST(${WA_LEN - 1} AS BIGINT) FOLLOWING) AS n
        FROM large
      ) c WHERE n >= ${wp.minCount}
    ),
    ${episodes("wa", WA_LEN)},
    wa AS (
      SELECT e.customer_id, '${WA.id}' AS rule_id, ${WA.version} AS rule_version, '${WA.severity}' AS severity,
        '${WA.action}' AS action, e.at AS window_from, e.at + ${WA_LEN} AS window_to,
        ${jsonText(`${json}('window', ${windowJson("e.at", `e.at + ${WA_LEN}`)}, 'count', count(*), 'minAmount', ${wp.minAmount},
          'total', sum(t.amount), 'transactionIds', ${arrayAgg("t.transaction_id", "t.at, t.transaction_id")})`)} AS evidence
      FROM wa_episodes e JOIN large t ON t.customer_id = e.customer_id AND t.at >= e.at AND t.at < e.at + ${WA_LEN}
      GROUP BY e.customer_id, e.at
    ),
    marked AS (
      SELECT customer_id, transaction_id, at, amount, deposit,
        max(CASE WHEN deposit = 1 THEN at END) OVER (
          PARTITION BY customer_id ORDER BY at RANGE BETWEEN UNBOUNDED PRECEDING AND CAST(1 AS BIGINT) PRECEDING
        ) AS last_deposit_at
      FROM transactions
    ),
    latest AS (
      SELECT w.customer_id, w.transaction_id AS w_id, w.at AS w_at, w.amount AS w_amount,
        d.transaction_id AS d_id, d.at AS d_at, d.amount AS d_amount,
        row_number() OVER (PARTITION BY w.customer_id, w.transaction_id ORDER BY d.transaction_id) AS d_rank
      FROM marked w
      JOIN marked d ON d.customer_id = w.customer_id AND d.deposit = 1 AND d.at = w.last_deposit_at
      WHERE w.deposit = 0 AND w.at - w.last_deposit_at <= ${SD_GAP}
    ),
    cycles AS (
      SELECT customer_id, d_id, d_at, d_amount, w_id, w_amount FROM (
        SELECT customer_id, d_id, d_at, d_amount, w_id, w_amount,
          row_number() OVER (PARTITION BY customer_id, d_id ORDER BY w_at, w_id) AS w_rank
        FROM latest WHERE d_rank = 1 AND 100 * w_amount >= ${sp.minRatio} * d_amount
      ) w WHERE w_rank = 1
    ),
    sd_firing AS (
      SELECT DISTINCT customer_id, at FROM (
        SELECT customer_id, d_at AS at,
          count(*) OVER (PARTITION BY customer_id ORDER BY d_at RANGE BETWEEN CURRENT ROW AND CAST(${SD_LEN - 1} AS BIGINT) FOLLOWING) AS n
        FROM cycles
      ) c WHERE n >= ${sp.minCycles}
    ),
    ${episodes("sd", SD_LEN)},
    sd AS (
      SELECT e.customer_id, '${SD.id}' AS rule_id, ${SD.version} AS rule_version, '${SD.severity}' AS severity,
        '${SD.action}' AS action, e.at AS window_from, e.at + ${SD_LEN} AS window_to,
        ${jsonText(`${json}('window', ${windowJson("e.at", `e.at + ${SD_LEN}`)}, 'cycles', count(*),
          'pairs', ${arrayAgg(`${json}('depositId', y.d_id, 'deposit', y.d_amount, 'withdrawalId', y.w_id, 'withdrawal', y.w_amount)`, "y.d_at, y.d_id")},
          'transactionIds', ${pgsql
            ? `('[' || string_agg(to_json(y.d_id)::text || ',' || to_json(y.w_id)::text, ',' ORDER BY y.d_at, y.d_id) || ']')::json`
            : `json('[' || group_concat(json_quote(y.d_id) || ',' || json_quote(y.w_id), ',' ORDER BY y.d_at, y.d_id) || ']')`})`)} AS evidence
      FROM sd_episodes e JOIN cycles y ON y.customer_id = e.customer_id AND y.d_at >= e.at AND y.d_at < e.at + ${SD_LEN}
      GROUP BY e.customer_id, e.at
    ),
    hits AS (SELECT * FROM hr UNION ALL SELECT * FROM wa UNION ALL SELECT * FROM sd)
    INSERT INTO c360_fraud_decisions (id, run_id, customer_id, rule_id, rule_version, severity, action, window_from, window_to,
      evidence, decided_at)
    SELECT ${id("frd", `customer_id || rule_id || ${text("window_from")}`)}, '${runId}', customer_id, rule_id, rule_version, severity,
      action, window_from, window_to, evidence, ${AT}
    FROM hits WHERE true ORDER BY customer_id, rule_id, window_from
    ON CONFLICT DO NOTHING`

  const ofRun = `FROM c360_fraud_decisions d WHERE d.run_id = '${runId}'`
  const ruleName = `d.rule_id || ' v' || ${text("d.rule_version")}`
  const flagged = (withWindow: boolean) =>
    `${json}('decisionId', d.id, 'ruleId', d.rule_id, 'ruleVersion', d.rule_version, 'action', d.action, 'severity', d.severity${
      withWindow ? `, 'window', ${windowJson("d.window_from", "d.window_to")}` : ""
    })`
  const rules = [HR, WA, SD].map((r) =>
    `('${r.id}', ${r.version}, '${r.kind}', '${ruleDefinition(r)}', '${r.severity}', '${r.action}', ${AT})`).join(", ")
  const activeCustomers = `SELECT customer_id FROM c360_ledger_entries
      WHERE created_at > ${ANCHOR_FROM} AND created_at <= ${AT} AND kind IN ${WALLET_KINDS}
    UNION SELECT customer_id FROM c360_purchases WHERE at > ${ANCHOR_FROM} AND at <= ${AT}
    UNION SELECT customer_id FROM c360_purchase_returns WHERE at > ${ANCHOR_FROM} AND at <= ${AT}`
  return [
    `INSERT INTO c360_fraud_rules (id, version, kind, definition, severity, action, recorded_at) VALUES ${rules} ON CONFLICT DO NOTHING`,
    `INSERT INTO c360_fraud_runs (id, at, anchor_from, actor, rules, started_at)
      VALUES ('${runId}', ${AT}, ${ANCHOR_FROM}, '${ACTOR}', '${JSON.stringify([HR, WA, SD].map((r) => ({ id: r.id, version: r.version })))}', ${AT})`,
    decisions,
    // the blacklist decision that changes the tier: one per customer not yet blacklisted
    `UPDATE c360_fraud_decisions SET tier_before = (SELECT c.tier FROM c360_customers c WHERE c.id = c360_fraud_decisions.customer_id)
      WHERE id IN (SELECT min(d.id) ${ofRun} AND d.action = 'blacklist' GROUP BY d.customer_id)
        AND EXISTS (SELECT 1 FROM c360_customers c WHERE c.id = c360_fraud_decisions.customer_id AND c.tier <> 'blacklist')`,
    `INSERT INTO c360_fraud_flags (id, customer_id, flag, decision_id, raised_at, version)
      SELECT ${id("flg", "d.id")}, d.customer_id, d.action, d.id, d.decided_at, 0 ${ofRun}
      ORDER BY d.customer_id, d.rule_id, d.window_from
      ON CONFLICT DO NOTHING`,
    `INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
      SELECT ${id("evt", "d.id")}, 'customers', 'customer.flagged', d.customer_id, ${jsonText(flagged(false))}, d.decided_at ${ofRun}
      ORDER BY d.customer_id, d.rule_id, d.window_from`,
    `INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
      SELECT ${id("evt", "d.id || 't'")}, 'customers', 'customer.tier_changed', d.customer_id,
        ${jsonText(`${json}('from', d.tier_before, 'to', 'blacklist', 'r', NULL, 'f', NULL, 'm', NULL, 'reason', 'fraud: ' || ${ruleName})`)},
        d.decided_at ${ofRun} AND d.tier_before IS NOT NULL
      ORDER BY d.customer_id`,
    `INSERT INTO c360_activities (id, customer_id, actor, kind, subject_type, subject_id, summary, data, at)
      SELECT ${id("act", "d.id")}, d.customer_id, '${ACTOR}',
        CASE WHEN d.tier_before IS NULL THEN 'fraud.flagged' ELSE 'fraud.blacklisted' END, 'fraud_decision', d.id,
        CASE WHEN d.tier_before IS NOT NULL THEN 'blacklisted by fraud rule ' || ${ruleName} || ' (the tier was ' || d.tier_before || ')'
          WHEN d.action = 'blacklist' THEN 'fraud rule ' || ${ruleName} || ' fired: blacklist (the customer was already blacklisted)'
          ELSE 'fraud rule ' || ${ruleName} || ' fired: flagged ' || d.action END,
        ${jsonText(flagged(true))}, d.decided_at ${ofRun}
      ORDER BY d.customer_id, d.rule_id, d.window_from`,
    `UPDATE c360_customers SET tier = 'blacklist', updated_at = ${AT}, purchase_version = purchase_version + 1
      WHERE tier <> 'blacklist' AND id IN (SELECT d.customer_id ${ofRun} AND d.tier_before IS NOT NULL)`,
    `UPDATE c360_fraud_runs SET finished_at = ${AT}, evaluated = (SELECT count(*) FROM (${activeCustomers}) a),
        decisions = (SELECT count(*) ${ofRun}),
        flags = (SELECT count(*) FROM c360_fraud_flags f JOIN c360_fraud_decisions d ON d.id = f.decision_id WHERE d.run_id = '${runId}'),
        blacklisted = (SELECT count(*) ${ofRun} AND d.tier_before IS NOT NULL)
      WHERE id = '${runId}'`
  ]
}

