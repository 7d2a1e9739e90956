/**
 * The RFM use cases of DOMAIN §6: a customer's score as of now, with the reasons, and the
 * recomputation of every customer in the database, in bounded batches (the daily `rfm` job, or on
 * demand). A purchase or return re-scores its customer at once (`Purchases.ts`); the recomputation
 * catches up what time alone changes (recency, the frequency window, a customer turning 30 days old).
 *
 * The rules, in full: docs/purchases.md#rfm.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type CustomerNotFound, Customers } from "../customers/index.js"
import { businessDay } from "../kernel/BusinessDay.js"
import { Customer360Config } from "../kernel/Config.js"
import type { StorageError, ValidationError } from "../kernel/Errors.js"
import { decoder } from "../kernel/Input.js"
import type * as Phone from "../kernel/Phone.js"
import { withSpans } from "../kernel/Spans.js"
import { makeRunExclusive } from "../platform/Exclusive.js"
import { JobLeases } from "../platform/JobLeases.js"
import { PurchaseRepository } from "./PurchaseRepository.js"
import { explain, type RfmResult, type Score, scoreCustomer, type SegmentName } from "./Rfm.js"
import { type CustomerRange, RfmRepository, type ScoringTime } from "./RfmRepository.js"

/**
 * A customer's RFM as of now: the inputs (`recencyDays` in business days, `null` without a purchase;
 * `frequency` in the window; `monetary` purchases less returns), the scores, `score = (R + F + M) /
 * 3` (2 decimals), the tier and segment they give, and why, one sentence each. `scoredAt`: when the
 * stored tier was last computed (`null`: never). In quantile mode the scores are the last
 * recomputation's (they are places among all customers); the inputs are as of now.
 *
 * @since 0.3.0
 */
export interface RfmView {
  readonly customerId: string
  readonly recencyDays: number | null
  readonly frequency: number
  readonly monetary: number
  readonly r: Score
  readonly f: Score
  readonly m: Score
  readonly score: number
  readonly tier: RfmResult["tier"]
  readonly segment: SegmentName
  readonly explanation: ReadonlyArray<string>
  readonly mode: "fixed" | "quantile"
  readonly scoredAt: Date | null
}

/** What a recomputation did: customers scored, tiers changed (one event each), batches. @since 0.3.0 */
export interface RecomputeReport {
  readonly customers: number
  readonly changed: number
  readonly batches: number
}

/** Options of a recomputation: customers per batch (default 5000), batches per run (default: all). @since 0.3.0 */
export interface RecomputeOptions {
  readonly batchSize?: number | undefined
  readonly maxBatches?: number | undefined
}

/**
 * The RFM service.
 *
 * @since 0.3.0
 */
export interface RfmShape {
  /** The customer's RFM as of now, with the reasons. */
  readonly get: (phone: string) => Effect.Effect<RfmView, CustomerNotFound | Phone.InvalidPhone | ValidationError | StorageError>
  /**
   * Scores every customer in the database, in batches of `batchSize` customers, each batch one
   * unit of work; a tier that changes gets one `customer.tier_changed` event; a re-run that finds
   * nothing new writes no event. Exclusive across processes with the daily `rfm` job and other
   * on-demand runs: it holds the job's lease (`rfm`) while it runs, and fails `RecomputeRunning`
   * without doing anything when another holds it. Safe to run concurrently with purchases.
   */
  readonly recompute: (options?: RecomputeOptions) => Effect.Effect<RecomputeReport, RecomputeRunning | ValidationError | StorageError>
  /** {@link RfmShape.recompute} without the lease, for the `rfm` job (which the job runner runs under it). */
  readonly recomputeHeld: (options?: RecomputeOptions) => Effect.Effect<RecomputeReport, ValidationError | StorageError>
  /** Scores one customer now (fixed mode), as the recomputation would; the number of tier changes (0 or 1). */
  readonly refresh: (customerId: string) => Effect.Effect<number, StorageError>
}

/**
 * Another process (the daily `rfm` job, or an on-demand run) is recomputing the RFM scores now; this
 * run did nothing. Try again when it is done.
 *
 * @since 0.3.0
 */
export class RecomputeRunning extends Schema.TaggedError<RecomputeRunning>()("RecomputeRunning", {}) {
  override get message(): string {
    return "An RFM recomputation is already running (the rfm job or another on-demand run); this one did nothing"
  }
}

/** The lease an RFM recomputation holds: the `rfm` job's. @since 0.3.0 */
export const RFM_LEASE = "rfm"

/** The Rfm service. @since 0.3.0 */
export class Rfm extends Context.Tag("customer360/Rfm")<Rfm, RfmShape>() {}

const decodeOptions = decoder(
  Schema.Struct({
    batchSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 100_000))),
    maxBatches: Schema.optional(Schema.Int.pipe(Schema.between(1, Number.MAX_SAFE_INTEGER)))
  }),
  "RFM options"
)

/** @since 0.3.0 */
export const make = Effect.gen(function*() {
  const purchases = yield* PurchaseRepository
  const repo = yield* RfmRepository
  const customers = yield* Customers
  const config = yield* Customer360Config
  const leases = yield* JobLeases
  const c = config.rfm

  const time = Effect.map(Clock.currentTimeMillis, (now): ScoringTime => ({ now, today: businessDay(now, config.timeZone) }))

  const get: RfmShape["get"] = (phone) =>
    Effect.gen(function*() {
      const customer = yield* customers.getByPhone(phone)
      const at = yield* time
      const state = yield* purchases.state(customer.id, at.today - c.frequencyWindowDays + 1)
      const stored = yield* purchases.rfmOf(customer.id)
      const inputs = {
        lastPurchaseDay: Option.match(state, { onNone: () => null, onSome: (s) => s.lastDay }),
        frequency: Option.match(state, { onNone: () => 0, onSome: (s) => s.frequency }),
        monetary: customer.totalSpent,
        createdAt: customer.createdAt.getTime(),
        blacklisted: customer.tier === "blacklist"
      }
      const given = c.mode === "quantile" && Option.isSome(stored)
        ? { r: stored.value.r as Score, f: stored.value.f as Score, m: stored.value.m as Score }
        : undefined
      const result = scoreCustomer(inputs, at, c, given)
      return {
        customerId: customer.id,
        recencyDays: result.recencyDays,
        frequency: result.frequency,
        monetary: result.monetary,
        r: result.r,
        f: result.f,
        m: result.m,
        score: result.score,
        tier: result.tier,
        segment: result.segment,
        explanation: explain(result, c),
        mode: c.mode,
        scoredAt: Option.match(stored, { onNone: () => null, onSome: (s) => new Date(s.scoredAt) })
      }
    })

  /** Runs `step` over every batch of customers; the sum of what it returns. */
  const batched = (size: number, maxBatches: number, step: (range: CustomerRange) => Effect.Effect<number, StorageError>) =>
    Effect.gen(function*() {
      let after: string | null = null
      let batches = 0
      let total = 0
      while (batches < maxBatches) {
        const upTo: string | null = yield* repo.batchEnd(after, size)
        total += yield* step({ after, upTo })
        batches += 1
        if (upTo === null) break
        after = upTo
      }
      return { batches, total }
    })

  const recomputeHeld: RfmShape["recomputeHeld"] = (raw) =>
    Effect.gen(function*() {
      const options = yield* decodeOptions(raw ?? {})
      const size = options.batchSize ?? 5000
      const max = options.maxBatches ?? Number.MAX_SAFE_INTEGER
      const at = yield* time
      if (c.mode === "fixed") {
        const { batches, total } = yield* batched(size, max, (range) => repo.scoreRange(range, at, c))
        return { customers: yield* repo.count, changed: total, batches }
      }
      const first = yield* batched(size, max, (range) => Effect.as(repo.storeInputs(range, at, c), 0))
      yield* repo.countPlaces
      const second = yield* batched(size, max, (range) => repo.scoreFromPlaces(range, at, c))
      return { customers: yield* repo.count, changed: second.total, batches: first.batches + second.batches }
    })

  const exclusive = makeRunExclusive(leases, { ttlMs: 30_000, holderPrefix: "customer360:rfm" })
  const recompute: RfmShape["recompute"] = (raw) =>
    exclusive(RFM_LEASE, recomputeHeld(raw)).pipe(
      // a lost lease means another run took over: this one stopped, as when it found it held
      Effect.catchTag("JobLeaseLost", () => Effect.fail(new RecomputeRunning())),
      Effect.flatMap(Option.match({ onNone: () => Effect.fail(new RecomputeRunning()), onSome: Effect.succeed }))
    )

  const refresh: RfmShape["refresh"] = (customerId) =>
    Effect.flatMap(time, (at) => repo.scoreRange({ after: null, upTo: null, only: customerId }, at, c))

  return Rfm.of(withSpans("Rfm", { get, recompute, recomputeHeld, refresh }))
})

/** @since 0.3.0 */
export const layer: Layer.Layer<Rfm, never, PurchaseRepository | RfmRepository | Customers | Customer360Config | JobLeases> = Layer.effect(
  Rfm,
  make
)
