/**
 * How the purchases module takes part in merges (DOMAIN §9a, docs/merge.md): the merged profile's
 * purchases, their lines and its returns are re-pointed to the survivor; the survivor's figures
 * become the sums of both profiles' (orders, total spent, points; the later last purchase), its
 * membership level follows from the new total ({@link levelFor}); the merged profile's become zero.
 * Its `c360_rfm` row stays as it was (the RFM recomputation leaves merged profiles out); once the
 * merge has committed, the survivor's score is refreshed.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { MergePart } from "../customers/index.js"
import { UnitOfWork } from "../platform/UnitOfWork.js"
import { levelFor } from "./Purchase.js"
import { type MergeFigures, PurchaseRepository } from "./PurchaseRepository.js"
import { Rfm } from "./RfmService.js"

const ZERO: Omit<MergeFigures, "purchaseVersion"> = {
  totalOrders: 0,
  totalSpent: 0,
  points: 0,
  lastPurchaseAt: null,
  level: levelFor(0)
}

/**
 * The purchases part: summary `{ purchases, returns, totalOrders, totalSpent, points }` — the rows
 * the merged profile holds on the merge's read and the figures that move with them. Both profiles'
 * figures are written as values planned on the read, under the `purchase_version` guard; with
 * several merged profiles, each plan starts from the survivor's figures as the previous plan left
 * them.
 *
 * @internal
 */
export const mergeParts: Effect.Effect<ReadonlyArray<MergePart>, never, PurchaseRepository | Rfm | UnitOfWork> = Effect
  .gen(function*() {
    const repo = yield* PurchaseRepository
    const rfm = yield* Rfm
    const uow = yield* UnitOfWork
    const figuresOf = (customerId: string) =>
      Effect.map(repo.state(customerId, 0), Option.match({
        onNone: (): MergeFigures => ({ purchaseVersion: 0, ...ZERO }),
        onSome: (s): MergeFigures => ({
          purchaseVersion: s.purchaseVersion,
          totalOrders: s.totalOrders,
          totalSpent: s.totalSpent,
          points: s.points,
          lastPurchaseAt: s.lastPurchaseAt,
          level: s.level
        })
      }))
    return [{
      name: "purchases",
      plan: (context) =>
        Effect.gen(function*() {
          const counts = yield* repo.mergeCounts(context.merged.id)
          const merged = yield* figuresOf(context.merged.id)
          const memo = `purchases:merge-figures:${context.mergeId}:${context.survivor.id}`
          const before = (yield* uow.recall<MergeFigures>(memo)) ?? (yield* figuresOf(context.survivor.id))
          const totalSpent = before.totalSpent + merged.totalSpent
          const last = [before.lastPurchaseAt, merged.lastPurchaseAt].filter((v): v is number => v !== null)
          const survivor: MergeFigures = {
            purchaseVersion: before.purchaseVersion + 1,
            totalOrders: before.totalOrders + merged.totalOrders,
            totalSpent,
            points: before.points + merged.points,
            lastPurchaseAt: last.length === 0 ? null : Math.max(...last),
            level: levelFor(totalSpent)
          }
          yield* uow.remember(memo, survivor)
          return {
            summary: {
              purchases: counts.purchases,
              returns: counts.returns,
              totalOrders: merged.totalOrders,
              totalSpent: merged.totalSpent,
              points: merged.points
            },
            apply: repo.mergeInto(context, {
              survivor,
              merged: { purchaseVersion: merged.purchaseVersion + 1, ...ZERO }
            }),
            // the survivor's score on its new purchases; a failure leaves it to the next RFM run
            after: Effect.ignoreLogged(rfm.refresh(context.survivor.id))
          }
        })
    }]
  })
