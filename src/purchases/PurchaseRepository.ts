/**
 * Purchase storage: the port and its one SQL implementation, the same on SQLite, PostgreSQL and D1.
 * Every write goes through the unit of work (docs/transactions.md).
 *
 * - A purchase or a return is one write: its row (and lines), the purchase's `returned`, the
 *   customer's totals, points, level, tier and last purchase, its RFM row and its events.
 * - The customer's figures are written as values computed from what the transaction read, with the
 *   customer's `purchase_version` stepped by one: the version guard refuses a change planned on a
 *   stale read — two purchases of one customer at once — and the transaction runs again on a fresh
 *   one. A reference used meanwhile (the unique key) runs it again too, and then finds the first.
 *
 * @since 0.3.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { StorageError } from "../kernel/Errors.js"
import { instant, int, textOrNull } from "../platform/sql/Columns.js"
import { corrupt, storage } from "../platform/sql/SqlFailure.js"
import { rerun, UnitOfWork } from "../platform/UnitOfWork.js"
import { type MergeContext, repoint } from "../customers/index.js"
import { type PointsEntry, Purchase, PurchaseItem, PurchaseReturn } from "./Purchase.js"

/**
 * What a purchase or a return changes of its customer, as read in the transaction: the version
 * stepped, and the figures the RFM score reads.
 *
 * @since 0.3.0
 */
export interface CustomerPurchaseState {
  readonly purchaseVersion: number
  readonly totalOrders: number
  readonly totalSpent: number
  readonly points: number
  readonly lastPurchaseAt: number | null
  readonly tier: string
  readonly level: string
  readonly createdAt: number
  /** The business day of the customer's last purchase. */
  readonly lastDay: number | null
  /** Purchases on or after the given business day. */
  readonly frequency: number
}

/** The customer's new figures. @since 0.3.0 */
export interface CustomerFigures {
  readonly customerId: string
  readonly purchaseVersion: number
  readonly totalOrders: number
  readonly totalSpent: number
  readonly points: number
  readonly lastPurchaseAt: number | null
  readonly level: string
  readonly tier: string
  readonly updatedAt: number
}

/** A customer's RFM row (`c360_rfm`). @since 0.3.0 */
export interface RfmRow {
  readonly customerId: string
  readonly lastDay: number | null
  readonly frequency: number
  readonly monetary: number
  readonly r: number
  readonly f: number
  readonly m: number
  readonly segment: string
  readonly tier: string
  readonly asOfDay: number
  readonly scoredAt: number
}

/** A stored purchase with its idempotency fingerprint. @since 0.3.0 */
export interface StoredPurchase {
  readonly purchase: Purchase
  readonly fingerprint: string
}

/** A stored return with its idempotency fingerprint. @since 0.3.0 */
export interface StoredReturn {
  readonly ret: PurchaseReturn
  readonly fingerprint: string
}

/**
 * The purchase repository.
 *
 * @since 0.3.0
 */
export class PurchaseRepository extends Context.Tag("customer360/PurchaseRepository")<PurchaseRepository, {
  readonly findByReference: (reference: string) => Effect.Effect<Option.Option<StoredPurchase>, StorageError>
  readonly findReturn: (reference: string) => Effect.Effect<Option.Option<StoredReturn>, StorageError>
  /** The customer's figures, with its purchases on or after `fromDay`; `None` when not stored yet. */
  readonly state: (customerId: string, fromDay: number) => Effect.Effect<Option.Option<CustomerPurchaseState>, StorageError>
  /** Writes a purchase with its customer's figures and RFM row. */
  readonly record: (write: {
    readonly purchase: Purchase
    readonly fingerprint: string
    readonly businessDay: number
    readonly customer: CustomerFigures
    readonly rfm: RfmRow | null
  }) => Effect.Effect<void, StorageError>
  /** Writes a return, its purchase's new `returned` and points, its customer's figures and RFM row. */
  readonly recordReturn: (write: {
    readonly ret: PurchaseReturn
    readonly fingerprint: string
    readonly businessDay: number
    readonly purchase: Purchase
    readonly customer: CustomerFigures
    readonly rfm: RfmRow | null
  }) => Effect.Effect<void, StorageError>
  readonly returnsOf: (purchaseId: string) => Effect.Effect<ReadonlyArray<PurchaseReturn>, StorageError>
  readonly list: (
    customerId: string,
    page: { readonly offset: number; readonly limit: number }
  ) => Effect.Effect<{ readonly items: ReadonlyArray<Purchase>; readonly total: number }, StorageError>
  /** The customer's points entries, newest first. */
  readonly pointsHistory: (customerId: string, limit: number) => Effect.Effect<ReadonlyArray<PointsEntry>, StorageError>
  readonly rfmOf: (customerId: string) => Effect.Effect<Option.Option<RfmRow>, StorageError>
  /** How many purchases and returns the customer has now (a merge's plan, docs/merge.md). */
  readonly mergeCounts: (customerId: string) => Effect.Effect<{ readonly purchases: number; readonly returns: number }, StorageError>
  /**
   * Re-points the merged profile's purchases, their lines and its returns to the survivor,
   * set-based, each row journaled as `moved`, and writes both profiles' figures as planned on the
   * merge's read, each `purchase_version` the read one plus one (a purchase of either profile that
   * commits meanwhile makes the merge run again) (docs/merge.md).
   */
  readonly mergeInto: (
    context: MergeContext,
    figures: { readonly survivor: MergeFigures; readonly merged: MergeFigures }
  ) => Effect.Effect<void, StorageError>
}>() {}

/** A profile's purchase figures as a merge writes them. @since 0.4.0 */
export interface MergeFigures {
  readonly purchaseVersion: number
  readonly totalOrders: number
  readonly totalSpent: number
  readonly points: number
  readonly lastPurchaseAt: number | null
  readonly level: string
}

const toItem = (r: Record<string, unknown>) =>
  new PurchaseItem({ productId: String(r.product_id), name: String(r.name), quantity: int(r.quantity), unitPrice: int(r.unit_price) })

const toPurchase = (r: Record<string, unknown>, items: ReadonlyArray<PurchaseItem>) =>
  new Purchase({
    id: String(r.id),
    reference: String(r.reference),
    customerId: String(r.customer_id),
    amount: int(r.amount),
    returned: int(r.returned),
    points: int(r.points),
    pointsReturned: int(r.points_returned),
    shopId: textOrNull(r.shop_id),
    items,
    at: new Date(int(r.at)),
    createdAt: new Date(int(r.created_at))
  })

const toReturn = (r: Record<string, unknown>) =>
  new PurchaseReturn({
    id: String(r.id),
    reference: String(r.reference),
    purchaseId: String(r.purchase_id),
    purchaseReference: String(r.purchase_reference),
    customerId: String(r.customer_id),
    amount: int(r.amount),
    points: int(r.points),
    at: new Date(int(r.at))
  })

const toRfm = (r: Record<string, unknown>): RfmRow => ({
  customerId: String(r.customer_id),
  lastDay: r.last_day === null || r.last_day === undefined ? null : int(r.last_day),
  frequency: int(r.frequency),
  monetary: int(r.monetary),
  r: int(r.r),
  f: int(r.f),
  m: int(r.m),
  segment: String(r.segment),
  tier: String(r.tier),
  asOfDay: int(r.as_of_day),
  scoredAt: int(r.scored_at)
})

/** @since 0.3.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork

  const itemsOf = (purchaseIds: ReadonlyArray<string>) =>
    purchaseIds.length === 0
      ? Effect.succeed(new Map<string, Array<PurchaseItem>>())
      : sql<Record<string, unknown>>`SELECT * FROM c360_purchase_items WHERE ${sql.in("purchase_id", purchaseIds)}
          ORDER BY purchase_id, line`.pipe(
          storage("reading purchase lines"),
          Effect.map((rows) => {
            const byPurchase = new Map<string, Array<PurchaseItem>>()
            for (const r of rows) {
              const id = String(r.purchase_id)
              const list = byPurchase.get(id) ?? []
              list.push(toItem(r))
              byPurchase.set(id, list)
            }
            return byPurchase
          })
        )

  const withItems = (rows: ReadonlyArray<Record<string, unknown>>) =>
    Effect.map(itemsOf(rows.map((r) => String(r.id))), (items) => rows.map((r) => toPurchase(r, items.get(String(r.id)) ?? [])))

  const findByReference = (reference: string) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_purchases WHERE reference = ${reference}`.pipe(
      storage("reading a purchase"),
      Effect.flatMap((rows) =>
        rows.length === 0
          ? Effect.succeed(Option.none<StoredPurchase>())
          : Effect.map(withItems(rows), ([purchase]) => Option.some({ purchase: purchase!, fingerprint: String(rows[0]!.fingerprint) }))
      )
    )

  const findReturn = (reference: string) =>
    sql<Record<string, unknown>>`SELECT r.*, p.reference AS purchase_reference FROM c360_purchase_returns r
      JOIN c360_purchases p ON p.id = r.purchase_id WHERE r.reference = ${reference}`.pipe(
      storage("reading a return"),
      Effect.map((rows) =>
        rows.length === 0 ? Option.none<StoredReturn>() : Option.some({ ret: toReturn(rows[0]!), fingerprint: String(rows[0]!.fingerprint) })
      )
    )

  const state = (customerId: string, fromDay: number) =>
    sql<Record<string, unknown>>`SELECT c.purchase_version, c.total_orders, c.total_spent, c.points, c.last_purchase_at,
        c.tier, c.membership_level, c.created_at,
        (SELECT max(business_day) FROM c360_purchases p WHERE p.customer_id = c.id) AS last_day,
        (SELECT count(*) FROM c360_purchases p WHERE p.customer_id = c.id AND p.business_day >= ${fromDay}) AS frequency
      FROM c360_customers c WHERE c.id = ${customerId}`.pipe(
      storage("reading a customer's purchase figures"),
      Effect.map((rows) => {
        const r = rows[0]
        if (r === undefined) return Option.none<CustomerPurchaseState>()
        return Option.some({
          purchaseVersion: int(r.purchase_version),
          totalOrders: int(r.total_orders),
          totalSpent: int(r.total_spent),
          points: int(r.points),
          lastPurchaseAt: instant(r.last_purchase_at)?.getTime() ?? null,
          tier: String(r.tier),
          level: String(r.membership_level),
          createdAt: int(r.created_at),
          lastDay: r.last_day === null || r.last_day === undefined ? null : int(r.last_day),
          frequency: int(r.frequency)
        })
      })
    )

  const customerUpdate = (c: CustomerFigures) =>
    sql`UPDATE c360_customers SET ${
      sql.update({
        purchase_version: c.purchaseVersion,
        total_orders: c.totalOrders,
        total_spent: c.totalSpent,
        points: c.points,
        last_purchase_at: c.lastPurchaseAt,
        membership_level: c.level,
        tier: c.tier,
        updated_at: c.updatedAt
      })
    } WHERE id = ${c.customerId}`

  const rfmUpsert = (r: RfmRow | null): ReadonlyArray<Statement.Statement<unknown>> =>
    r === null ? [] : [sql`INSERT INTO c360_rfm ${
      sql.insert({
        customer_id: r.customerId,
        last_day: r.lastDay,
        frequency: r.frequency,
        monetary: r.monetary,
        r: r.r,
        f: r.f,
        m: r.m,
        segment: r.segment,
        tier: r.tier,
        as_of_day: r.asOfDay,
        scored_at: r.scoredAt
      })
    } ON CONFLICT (customer_id) DO UPDATE SET last_day = excluded.last_day, frequency = excluded.frequency,
      monetary = excluded.monetary, r = excluded.r, f = excluded.f, m = excluded.m, segment = excluded.segment,
      tier = excluded.tier, as_of_day = excluded.as_of_day, scored_at = excluded.scored_at`]

  // a purchase planned on a stale read of its customer, or a reference used meanwhile: run again
  const staleOrTaken = (f: { readonly _tag: string; readonly constraint?: string }) =>
    f._tag === "StaleWrite" || f._tag === "UniqueViolation" ? rerun : undefined

  const record: PurchaseRepository["Type"]["record"] = (w) => {
    const p = w.purchase
    return uow.write<never>({
      operation: "recording a purchase",
      statements: [
        sql`INSERT INTO c360_purchases ${
          sql.insert({
            id: p.id,
            reference: p.reference,
            fingerprint: w.fingerprint,
            customer_id: p.customerId,
            amount: p.amount,
            returned: 0,
            points: p.points,
            points_returned: 0,
            shop_id: p.shopId,
            at: p.at.getTime(),
            business_day: w.businessDay,
            created_at: p.createdAt.getTime()
          })
        }`,
        ...(p.items.length === 0 ? [] : [sql`INSERT INTO c360_purchase_items ${
          sql.insert(p.items.map((i, line) => ({
            purchase_id: p.id,
            line: line + 1,
            customer_id: p.customerId,
            product_id: i.productId,
            name: i.name,
            quantity: i.quantity,
            unit_price: i.unitPrice
          })))
        }`]),
        customerUpdate(w.customer),
        ...rfmUpsert(w.rfm)
      ],
      onFailure: staleOrTaken
    })
  }

  const recordReturn: PurchaseRepository["Type"]["recordReturn"] = (w) =>
    uow.write<never>({
      operation: "recording a return",
      statements: [
        sql`INSERT INTO c360_purchase_returns ${
          sql.insert({
            id: w.ret.id,
            reference: w.ret.reference,
            fingerprint: w.fingerprint,
            purchase_id: w.ret.purchaseId,
            customer_id: w.ret.customerId,
            amount: w.ret.amount,
            points: w.ret.points,
            at: w.ret.at.getTime(),
            business_day: w.businessDay,
            created_at: w.customer.updatedAt // recorded now; `at` is when it happened
          })
        }`,
        sql`UPDATE c360_purchases SET returned = ${w.purchase.returned}, points_returned = ${w.purchase.pointsReturned}
          WHERE id = ${w.purchase.id}`,
        customerUpdate(w.customer),
        ...rfmUpsert(w.rfm)
      ],
      onFailure: staleOrTaken
    })

  const returnsOf = (purchaseId: string) =>
    sql<Record<string, unknown>>`SELECT r.*, p.reference AS purchase_reference FROM c360_purchase_returns r
      JOIN c360_purchases p ON p.id = r.purchase_id WHERE r.purchase_id = ${purchaseId} ORDER BY r.at, r.id`.pipe(
      storage("reading a purchase's returns"),
      Effect.map((rows) => rows.map(toReturn))
    )

  const list: PurchaseRepository["Type"]["list"] = (customerId, page) =>
    Effect.all({
      rows: sql<Record<string, unknown>>`SELECT * FROM c360_purchases WHERE customer_id = ${customerId}
        ORDER BY at DESC, id DESC LIMIT ${page.limit} OFFSET ${page.offset}`,
      count: sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_purchases WHERE customer_id = ${customerId}`
    }).pipe(
      storage("listing purchases"),
      Effect.flatMap(({ count, rows }) => Effect.map(withItems(rows), (items) => ({ items, total: int(count[0]?.n ?? 0) })))
    )

  const pointsHistory = (customerId: string, limit: number) =>
    sql<Record<string, unknown>>`SELECT * FROM (
        SELECT 'earned' AS kind, points, reference, reference AS purchase_reference, amount, at, id
        FROM c360_purchases WHERE customer_id = ${customerId} AND points > 0
        UNION ALL
        SELECT 'taken_back' AS kind, r.points, r.reference, p.reference AS purchase_reference, r.amount, r.at, r.id
        FROM c360_purchase_returns r JOIN c360_purchases p ON p.id = r.purchase_id
        WHERE r.customer_id = ${customerId} AND r.points > 0
      ) e ORDER BY at DESC, id DESC LIMIT ${limit}`.pipe(
      storage("reading a points history"),
      Effect.map((rows) =>
        rows.map((r): PointsEntry => ({
          kind: r.kind === "earned" ? "earned" : "taken_back",
          points: int(r.points),
          reference: String(r.reference),
          purchaseReference: String(r.purchase_reference),
          amount: int(r.amount),
          at: new Date(int(r.at))
        }))
      )
    )

  const rfmOf = (customerId: string) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_rfm WHERE customer_id = ${customerId}`.pipe(
      storage("reading an RFM score"),
      Effect.flatMap((rows) =>
        rows.length === 0
          ? Effect.succeed(Option.none<RfmRow>())
          : Effect.try({ try: () => Option.some(toRfm(rows[0]!)), catch: (e) => e }).pipe(Effect.catchAll(corrupt("reading an RFM score")))
      )
    )

  const mergeCounts = (customerId: string) =>
    sql<{ purchases: unknown; returns: unknown }>`SELECT
        (SELECT count(*) FROM c360_purchases WHERE customer_id = ${customerId}) AS purchases,
        (SELECT count(*) FROM c360_purchase_returns WHERE customer_id = ${customerId}) AS returns`.pipe(
      storage("counting the purchases of a merged profile"),
      Effect.map((rows) => ({ purchases: int(rows[0]?.purchases ?? 0), returns: int(rows[0]?.returns ?? 0) }))
    )

  const figuresUpdate = (customerId: string, f: MergeFigures, at: Date) =>
    sql`UPDATE c360_customers SET ${
      sql.update({
        purchase_version: f.purchaseVersion,
        total_orders: f.totalOrders,
        total_spent: f.totalSpent,
        points: f.points,
        last_purchase_at: f.lastPurchaseAt,
        membership_level: f.level,
        updated_at: at.getTime()
      })
    } WHERE id = ${customerId}`

  const mergeInto: PurchaseRepository["Type"]["mergeInto"] = (context, figures) => {
    const from = context.merged.id
    const to = context.survivor.id
    return uow.write<never>({
      operation: "moving purchases to a merge's survivor",
      statements: [
        ...repoint(sql, context, { part: "purchases", table: "c360_purchases" }),
        // a line's id is its purchase's and its number
        sql`INSERT INTO c360_merge_rows (merge_id, part, table_name, row_id, action, from_customer, to_customer)
          SELECT ${context.mergeId}, 'purchases', 'c360_purchase_items', purchase_id || ':' || CAST(line AS TEXT), 'moved',
            ${from}, ${to}
          FROM c360_purchase_items WHERE customer_id = ${from}`,
        sql`UPDATE c360_purchase_items SET customer_id = ${to} WHERE customer_id = ${from}`,
        ...repoint(sql, context, { part: "purchases", table: "c360_purchase_returns" }),
        figuresUpdate(from, figures.merged, context.at),
        figuresUpdate(to, figures.survivor, context.at)
      ],
      // a purchase of either profile committed since the read: plan the merge again
      onFailure: (f) => (f._tag === "StaleWrite" ? rerun : undefined)
    })
  }

  return PurchaseRepository.of({
    mergeCounts,
    mergeInto,
    findByReference,
    findReturn,
    state,
    record,
    recordReturn,
    returnsOf,
    list,
    pointsHistory,
    rfmOf
  })
})

/** @since 0.3.0 */
export const layer: Layer.Layer<PurchaseRepository, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(PurchaseRepository, make)
