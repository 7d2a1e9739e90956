/**
 * The loyalty module's port to the loyalty program: `LoyaltySource`, pages of the program's
 * customers updated since an instant, and one customer's membership. The CNV adapter (`Cnv.ts`)
 * implements it over CNV's HTTP API; a host may provide its own (an export, another program).
 *
 * The port is optional: without one, `Loyalty.sync` fails `LoyaltyNotConfigured` and does nothing.
 *
 * @since 0.5.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * One customer of the loyalty program, as the source gives it: whole numbers for points and money,
 * instants in epoch milliseconds (UTC). `phone` is as the program holds it (the sync normalises it).
 *
 * @since 0.5.0
 */
export interface LoyaltyCustomerRecord {
  readonly id: number
  readonly lastName: string | null
  readonly firstName: string | null
  readonly phone: string | null
  readonly email: string | null
  readonly gender: string | null
  readonly birthdayDay: number | null
  readonly birthdayMonth: number | null
  readonly birthdayYear: number | null
  readonly tags: string | null
  readonly physicalCardCode: string | null
  readonly points: number
  readonly expPoints: number
  readonly totalSpending: number
  readonly totalPoints: number
  readonly createdAt: number | null
  readonly updatedAt: number
}

/**
 * A record the source received but could not read (a missing id, a point value with a fraction):
 * the sync counts it `failed` with its reason and goes on. `cnvId` when the record had a readable id.
 *
 * @since 0.5.0
 */
export interface RejectedRecord {
  readonly cnvId: number | null
  readonly reason: string
}

/**
 * A page of customers updated since the query's instant: ordered by `updatedAt`, then `id`;
 * `hasMore` when a next page (`page + 1`) exists.
 *
 * @since 0.5.0
 */
export interface LoyaltyPage {
  readonly customers: ReadonlyArray<LoyaltyCustomerRecord>
  readonly rejected: ReadonlyArray<RejectedRecord>
  readonly hasMore: boolean
}

/**
 * Which page to read: the customers with `updatedAt >= since` (epoch ms; inclusive), ordered by
 * `updatedAt` then `id`, page `page` (1-based) of `pageSize`. `afterId` is a hint: the sync has
 * already taken the customers at exactly `since` with an id up to it (a source may leave them out;
 * the sync skips them anyway).
 *
 * @since 0.5.0
 */
export interface PageQuery {
  readonly since: number
  readonly afterId?: number | undefined
  readonly page: number
  readonly pageSize: number
}

/**
 * A customer's membership: their level's name and points. Each `null` when the program does not say.
 *
 * @since 0.5.0
 */
export interface LoyaltyMembership {
  readonly levelName: string | null
  readonly totalPoints: number | null
  readonly points: number | null
  readonly usedPoints: number | null
}

/**
 * The source failed (after the adapter's retries): `status` is the HTTP status when there was one,
 * `reason` says what happened, never with a token or a credential.
 *
 * @since 0.5.0
 */
export class LoyaltySourceFailed extends Schema.TaggedError<LoyaltySourceFailed>()("LoyaltySourceFailed", {
  status: Schema.optional(Schema.Number),
  reason: Schema.String
}) {
  override get message(): string {
    return `The loyalty program could not be read${this.status === undefined ? "" : ` (HTTP ${this.status})`}: ${this.reason}`
  }
}

/**
 * One customer's membership could not be read (a malformed answer): that customer is counted
 * `failed` with the reason and the sync goes on.
 *
 * @since 0.5.0
 */
export class LoyaltyRecordRejected extends Schema.TaggedError<LoyaltyRecordRejected>()("LoyaltyRecordRejected", {
  cnvId: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `Loyalty customer ${this.cnvId} could not be read: ${this.reason}`
  }
}

/**
 * No `LoyaltySource` is configured (the facade's `loyalty` option, or a `LoyaltySource` layer
 * under the library's): a sync cannot run. Nothing was written.
 *
 * @since 0.5.0
 */
export class LoyaltyNotConfigured extends Schema.TaggedError<LoyaltyNotConfigured>()("LoyaltyNotConfigured", {}) {
  override get message(): string {
    return "No loyalty source is configured (e.g. the CNV adapter with its token); the sync did nothing"
  }
}

/**
 * The source's operations.
 *
 * - `customersUpdatedSince(query)`: one page (see {@link PageQuery}, {@link LoyaltyPage}).
 * - `membership(cnvId)`: the customer's membership, `None` when the program has none for them.
 * - `pageSize`: the page size the source prefers (the sync's default; 100 without it).
 *
 * @since 0.5.0
 */
export interface LoyaltySourceShape {
  readonly customersUpdatedSince: (query: PageQuery) => Effect.Effect<LoyaltyPage, LoyaltySourceFailed>
  readonly membership: (
    cnvId: number
  ) => Effect.Effect<Option.Option<LoyaltyMembership>, LoyaltySourceFailed | LoyaltyRecordRejected>
  readonly pageSize?: number | undefined
}

/** The loyalty program the sync reads. Optional: see the module's documentation. @since 0.5.0 */
export class LoyaltySource extends Context.Tag("customer360/loyalty/LoyaltySource")<LoyaltySource, LoyaltySourceShape>() {}

/**
 * A loyalty source written with Promises, for hosts that do not use Effect (the facade's
 * `loyalty.source`): the same operations; `membership` resolves `null` when there is none.
 *
 * @since 0.5.0
 */
export interface LoyaltySourcePromises {
  readonly customersUpdatedSince: (query: PageQuery) => Promise<{
    readonly customers: ReadonlyArray<LoyaltyCustomerRecord>
    readonly rejected?: ReadonlyArray<RejectedRecord> | undefined
    readonly hasMore: boolean
  }>
  readonly membership: (cnvId: number) => Promise<LoyaltyMembership | null>
  readonly pageSize?: number | undefined
}

/** Whether `u` has the operations of a {@link LoyaltySourcePromises}. @since 0.5.0 */
export const isLoyaltySourcePromises = (u: unknown): u is LoyaltySourcePromises =>
  typeof u === "object" && u !== null &&
  typeof (u as { customersUpdatedSince?: unknown }).customersUpdatedSince === "function" &&
  typeof (u as { membership?: unknown }).membership === "function"

/**
 * A host's Promise source as the `LoyaltySource` layer. A rejection becomes `LoyaltySourceFailed`
 * without the host's error (it may quote a credential); an answer that is not a page is one too. The
 * records are checked by the sync like any source's.
 *
 * @since 0.5.0
 */
export const fromPromises = (source: LoyaltySourcePromises): Layer.Layer<LoyaltySource> =>
  Layer.succeed(LoyaltySource, {
    pageSize: source.pageSize,
    customersUpdatedSince: (query) =>
      Effect.tryPromise({
        try: () => source.customersUpdatedSince(query),
        catch: () => new LoyaltySourceFailed({ reason: "the host's source rejected" })
      }).pipe(Effect.flatMap((page) =>
        typeof page === "object" && page !== null && Array.isArray(page.customers) && typeof page.hasMore === "boolean"
          ? Effect.succeed({ customers: page.customers, rejected: Array.isArray(page.rejected) ? page.rejected : [], hasMore: page.hasMore })
          : Effect.fail(new LoyaltySourceFailed({ reason: "the host's source answered something that is not a page" }))
      )),
    membership: (cnvId) =>
      Effect.tryPromise({
        try: () => source.membership(cnvId),
        catch: () => new LoyaltySourceFailed({ reason: "the host's source rejected" })
      }).pipe(Effect.map((m) => Option.fromNullable(m)))
  })
