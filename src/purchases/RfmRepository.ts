/**
 * RFM scoring in the database: every customer's scores, segment and tier recomputed by set-based
 * SQL, in bounded batches of customers (by id), the same statements on SQLite, PostgreSQL and D1.
 * The SQL is generated from the pure rules (`Rfm.ts`: the thresholds of the configuration, the
 * segment table, the tiers' least sums), so that it cannot drift from them; a differential property
 * test holds the two equal (test/contract/purchases.ts).
 *
 * A batch is one unit of work:
 *
 * 1. (PostgreSQL) the batch's customers are locked, so that no purchase of theirs commits while it
 *    runs (a purchase waiting on the lock then finds its read outdated and runs again);
 * 2. their inputs are aggregated from `c360_purchases` (last purchase day, purchases in the frequency
 *    window, purchases less returns), scored, and upserted into `c360_rfm`;
 * 3. a `customer.tier_changed` event is written for each customer whose stored tier differs, and
 *    4. the tier is set — so a re-run, which finds nothing different, writes no event.
 *
 * In quantile mode a first pass stores the inputs, a second counts each value's place among all
 * customers (`c360_rfm_quantiles`), a third scores from those places.
 *
 * A profile merged into another (DOMAIN §9a) is left out: it is neither scored nor counted, and takes
 * no place among the scored customers; its last `c360_rfm` row stays as the record of its score.
 *
 * @since 0.3.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { RfmConfig } from "../kernel/Config.js"
import type { StorageError } from "../kernel/Errors.js"
import { encodeId } from "../kernel/Ids.js"
import { int } from "../platform/sql/Columns.js"
import { storage } from "../platform/sql/SqlFailure.js"
import { UnitOfWork } from "../platform/UnitOfWork.js"
import { SEGMENT_RULES, tierMinSums } from "./Rfm.js"

/**
 * Which customers a scoring statement covers: ids in `(after, upTo]` (`null`: unbounded), or the
 * one customer `only`.
 *
 * @since 0.3.0
 */
export interface CustomerRange {
  readonly after: string | null
  readonly upTo: string | null
  readonly only?: string | undefined
}

/** When a scoring runs: the business day and the instant. @since 0.3.0 */
export interface ScoringTime {
  readonly today: number
  readonly now: number
}

/**
 * The RFM repository.
 *
 * @since 0.3.0
 */
export class RfmRepository extends Context.Tag("customer360/RfmRepository")<RfmRepository, {
  /** The id ending the batch of `size` customers after `after`, or `null` when fewer are left. */
  readonly batchEnd: (after: string | null, size: number) => Effect.Effect<string | null, StorageError>
  /** How many customers there are. */
  readonly count: Effect.Effect<number, StorageError>
  /** Scores the range's customers (fixed mode) in one atomic batch, run at once; the number of tier changes. */
  readonly scoreRange: (range: CustomerRange, at: ScoringTime, config: RfmConfig) => Effect.Effect<number, StorageError>
  /** Quantile mode, pass 1: stores the range's inputs (scores untouched). */
  readonly storeInputs: (range: CustomerRange, at: ScoringTime, config: RfmConfig) => Effect.Effect<void, StorageError>
  /** Quantile mode, pass 2: every value's place among all customers. */
  readonly countPlaces: Effect.Effect<void, StorageError>
  /** Quantile mode, pass 3: scores the range's customers from their places; the number of tier changes. */
  readonly scoreFromPlaces: (range: CustomerRange, at: ScoringTime, config: RfmConfig) => Effect.Effect<number, StorageError>
}>() {}

const DAY_MS = 86_400_000

/** A SQL string literal. */
const quote = (s: string) => `'${s.replace(/'/g, "''")}'`

/** `CASE` giving 5…1: `value <= bounds[i]` (ascending bounds) or `value >= bounds[i]` (descending). */
const scoreCase = (value: string, bounds: ReadonlyArray<number>, op: "<=" | ">=") =>
  `CASE ${bounds.map((b, i) => `WHEN ${value} ${op} ${b} THEN ${5 - i}`).join(" ")} ELSE 1 END`

/** The segment of `r`, `f`, `m` by the ordered table (first match wins). */
const segmentCase = (r: string, f: string, m: string) =>
  `CASE ${
    SEGMENT_RULES.map((s) =>
      `WHEN ${r} BETWEEN ${s.r[0]} AND ${s.r[1]} AND ${f} BETWEEN ${s.f[0]} AND ${s.f[1]} AND ${m} BETWEEN ${s.m[0]} AND ${
        s.m[1]
      } THEN ${quote(s.name)}`
    ).join(" ")
  } END`

/** The tier of a scored row (DOMAIN §6). */
const tierCase = (config: RfmConfig, at: ScoringTime, cols: { tier: string; created: string; lastDay: string; sum: string }) => {
  const min = tierMinSums(config)
  const youngerThan = at.now - config.newCustomerDays * DAY_MS
  return `CASE WHEN ${cols.tier} = 'blacklist' THEN 'blacklist'
    WHEN ${cols.lastDay} IS NULL THEN 'new'
    WHEN ${cols.created} > ${youngerThan} THEN 'new'
    WHEN ${cols.sum} >= ${min.platinum} THEN 'platinum'
    WHEN ${cols.sum} >= ${min.gold} THEN 'gold'
    WHEN ${cols.sum} >= ${min.silver} THEN 'silver'
    ELSE 'new' END`
}

/** @since 0.3.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork
  const isPg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })

  const inRange = (column: string, range: CustomerRange) =>
    range.only !== undefined ? sql`${sql.literal(column)} = ${range.only}` : sql.and([
      range.after === null ? sql`1 = 1` : sql`${sql.literal(column)} > ${range.after}`,
      range.upTo === null ? sql`1 = 1` : sql`${sql.literal(column)} <= ${range.upTo}`
    ])

  const batchEnd = (after: string | null, size: number) =>
    sql<{ id: unknown }>`SELECT id FROM c360_customers WHERE ${after === null ? sql`1 = 1` : sql`id > ${after}`}
      ORDER BY id LIMIT 1 OFFSET ${size - 1}`.pipe(
      storage("reading an RFM batch"),
      Effect.map((rows) => (rows.length === 0 ? null : String(rows[0]!.id)))
    )

  /** The range's inputs: last purchase day, purchases in the window, purchases less returns. */
  const inputs = (range: CustomerRange, at: ScoringTime, config: RfmConfig) =>
    sql`SELECT c.id, c.tier AS old_tier, c.created_at, a.last_day,
        COALESCE(a.frequency, 0) AS frequency, COALESCE(a.monetary, 0) AS monetary
      FROM c360_customers c LEFT JOIN (
        SELECT customer_id, max(business_day) AS last_day,
          sum(CASE WHEN business_day >= ${at.today - config.frequencyWindowDays + 1} THEN 1 ELSE 0 END) AS frequency,
          sum(amount - returned) AS monetary
        FROM c360_purchases WHERE ${inRange("customer_id", range)} GROUP BY customer_id
      ) a ON a.customer_id = c.id
      WHERE ${inRange("c.id", range)} AND c.merged_into IS NULL`

  const lock = (range: CustomerRange): ReadonlyArray<Statement.Statement<unknown>> =>
    isPg ? [sql`SELECT id FROM c360_customers WHERE ${inRange("id", range)} FOR UPDATE`] : []

  const bigint = (v: number) => sql`CAST(${v} AS BIGINT)`
  const integer = (v: number) => sql`CAST(${v} AS INTEGER)`

  /** Events for the range's customers whose tier differs from their RFM row's, then the tier set. */
  const applyTiers = (range: CustomerRange, at: ScoringTime): ReadonlyArray<Statement.Statement<unknown>> => {
    const time = encodeId("evt", at.now, new Uint8Array(10)).slice(4, 14)
    const eventId = sql.onDialectOrElse({
      pg: () => sql.literal(`'evt_${time}' || upper(substr(md5(random()::text || c.id), 1, 16))`),
      orElse: () => sql.literal(`'evt_${time}' || hex(randomblob(8))`)
    })
    const payload = sql.onDialectOrElse({
      pg: () =>
        sql.literal(
          `json_build_object('from', c.tier, 'to', r.tier, 'r', r.r, 'f', r.f, 'm', r.m, 'reason', 'rfm')::text`
        ),
      orElse: () => sql.literal(`json_object('from', c.tier, 'to', r.tier, 'r', r.r, 'f', r.f, 'm', r.m, 'reason', 'rfm')`)
    })
    return [
      sql`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
        SELECT ${eventId}, 'customers', 'customer.tier_changed', c.id, ${payload}, ${bigint(at.now)}
        FROM c360_customers c JOIN c360_rfm r ON r.customer_id = c.id
        WHERE ${inRange("c.id", range)} AND c.tier <> r.tier AND c.merged_into IS NULL
        ORDER BY c.id`,
      sql`UPDATE c360_customers SET tier = r.tier, updated_at = ${bigint(at.now)}, purchase_version = purchase_version + 1
        FROM c360_rfm r
        WHERE r.customer_id = c360_customers.id AND ${inRange("c360_customers.id", range)} AND c360_customers.tier <> r.tier
          AND c360_customers.merged_into IS NULL`
    ]
  }

  const changes = (range: CustomerRange) =>
    sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_customers c JOIN c360_rfm r ON r.customer_id = c.id
      WHERE ${inRange("c.id", range)} AND c.tier <> r.tier AND c.merged_into IS NULL`

  const upsertSet = sql.literal(`ON CONFLICT (customer_id) DO UPDATE SET last_day = excluded.last_day,
    frequency = excluded.frequency, monetary = excluded.monetary, r = excluded.r, f = excluded.f, m = excluded.m,
    segment = excluded.segment, tier = excluded.tier, as_of_day = excluded.as_of_day, scored_at = excluded.scored_at`)

  const scoreRange: RfmRepository["Type"]["scoreRange"] = (range, at, config) => {
    const rCase = scoreCase(`(${at.today} - i.last_day)`, config.recencyDays, "<=")
    const upsert = sql`INSERT INTO c360_rfm (customer_id, last_day, frequency, monetary, r, f, m, segment, tier, as_of_day, scored_at)
      SELECT s.id, s.last_day, s.frequency, s.monetary, s.r, s.f, s.m, ${sql.literal(segmentCase("s.r", "s.f", "s.m"))},
        ${sql.literal(tierCase(config, at, { tier: "s.old_tier", created: "s.created_at", lastDay: "s.last_day", sum: "(s.r + s.f + s.m)" }))},
        ${integer(at.today)}, ${bigint(at.now)}
      FROM (
        SELECT i.*,
          CASE WHEN i.last_day IS NULL THEN 1 ELSE ${sql.literal(rCase)} END AS r,
          ${sql.literal(scoreCase("i.frequency", config.frequency, ">="))} AS f,
          ${sql.literal(scoreCase("i.monetary", config.monetary, ">="))} AS m
        FROM (${inputs(range, at, config)}) i
      ) s
      WHERE 1 = 1
      ${upsertSet}`
    return countedBatch(range, at, [upsert], "scoring customers (RFM)")
  }

  /**
   * The batch as one atomic write, run at once (outside any transaction): the lock, the scoring, the
   * count of tier changes (read after the scoring and before the tiers are set, in the same batch),
   * the events and the tiers.
   */
  const countedBatch = (
    range: CustomerRange,
    at: ScoringTime,
    scoring: ReadonlyArray<Statement.Statement<unknown>>,
    operation: string
  ) =>
    uow.writeNow<never>({
      operation,
      statements: [...lock(range), ...scoring, changes(range), ...applyTiers(range, at)]
    }).pipe(Effect.map((results) => int(results[lock(range).length + scoring.length]?.[0]?.n ?? 0)))

  const storeInputs: RfmRepository["Type"]["storeInputs"] = (range, at, config) =>
    uow.write<never>({
      operation: "storing RFM inputs",
      statements: [
        sql`INSERT INTO c360_rfm (customer_id, last_day, frequency, monetary, r, f, m, segment, tier, as_of_day, scored_at)
          SELECT i.id, i.last_day, i.frequency, i.monetary, 1, 1, 1, 'Lost', i.old_tier, ${integer(at.today)}, ${bigint(at.now)}
          FROM (${inputs(range, at, config)}) i
          WHERE 1 = 1
          ON CONFLICT (customer_id) DO UPDATE SET last_day = excluded.last_day, frequency = excluded.frequency,
            monetary = excluded.monetary, as_of_day = excluded.as_of_day, scored_at = excluded.scored_at`
      ]
    })

  // a merged profile keeps its last RFM row, but takes no place among the scored customers
  const scored = sql.literal("customer_id NOT IN (SELECT id FROM c360_customers WHERE merged_into IS NOT NULL)")

  const countPlaces = uow.write<never>({
    operation: "counting RFM places",
    statements: [
      sql`DELETE FROM c360_rfm_quantiles`,
      ...(["last_day", "frequency", "monetary"] as const).map((column) =>
        sql`INSERT INTO c360_rfm_quantiles (dimension, value, below, equal)
          SELECT ${column}, v, COALESCE(sum(n) OVER (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), n
          FROM (SELECT COALESCE(${sql(column)}, -1) AS v, count(*) AS n FROM c360_rfm WHERE ${scored}
            GROUP BY COALESCE(${sql(column)}, -1)) d`
      )
    ]
  })

  const scoreFromPlaces: RfmRepository["Type"]["scoreFromPlaces"] = (range, at, config) => {
    const place = (alias: string) => `CASE WHEN 1 + (10 * ${alias}.below + 5 * ${alias}.equal) / (2 * p.n) > 5 THEN 5
      ELSE 1 + (10 * ${alias}.below + 5 * ${alias}.equal) / (2 * p.n) END`
    const upsert = sql`INSERT INTO c360_rfm (customer_id, last_day, frequency, monetary, r, f, m, segment, tier, as_of_day, scored_at)
      SELECT s.customer_id, s.last_day, s.frequency, s.monetary, s.r, s.f, s.m, ${sql.literal(segmentCase("s.r", "s.f", "s.m"))},
        ${sql.literal(tierCase(config, at, { tier: "s.old_tier", created: "s.created_at", lastDay: "s.last_day", sum: "(s.r + s.f + s.m)" }))},
        ${integer(at.today)}, ${bigint(at.now)}
      FROM (
        SELECT x.customer_id, x.last_day, x.frequency, x.monetary, c.tier AS old_tier, c.created_at,
          CASE WHEN x.last_day IS NULL THEN 1 ELSE ${sql.literal(place("qr"))} END AS r,
          ${sql.literal(place("qf"))} AS f,
          ${sql.literal(place("qm"))} AS m
        FROM c360_rfm x
        JOIN c360_customers c ON c.id = x.customer_id AND c.merged_into IS NULL
        CROSS JOIN (SELECT count(*) AS n FROM c360_rfm WHERE ${scored}) p
        JOIN c360_rfm_quantiles qr ON qr.dimension = 'last_day' AND qr.value = COALESCE(x.last_day, -1)
        JOIN c360_rfm_quantiles qf ON qf.dimension = 'frequency' AND qf.value = x.frequency
        JOIN c360_rfm_quantiles qm ON qm.dimension = 'monetary' AND qm.value = x.monetary
        WHERE ${inRange("x.customer_id", range)}
      ) s
      WHERE 1 = 1
      ${upsertSet}`
    return countedBatch(range, at, [upsert], "scoring customers (RFM, quantiles)")
  }

  const count = sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_customers WHERE merged_into IS NULL`.pipe(
    storage("counting customers"),
    Effect.map((rows) => int(rows[0]?.n ?? 0))
  )

  return RfmRepository.of({ count, batchEnd, scoreRange, storeInputs, countPlaces, scoreFromPlaces })
})

/** @since 0.3.0 */
export const layer: Layer.Layer<RfmRepository, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(RfmRepository, make)
