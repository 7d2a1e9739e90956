/**
 * How the wallets module takes part in merges (DOMAIN §9a, docs/wallets.md#merge): the merged
 * profile's money moves to the survivor's wallet by new ledger entries, never by editing old ones.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { MergePart } from "../customers/index.js"
import { UnitOfWork } from "../platform/UnitOfWork.js"
import { type CreditId, makeCreditId, planMerge, type WalletState } from "./Wallet.js"
import { WalletStore } from "./WalletStore.js"

/**
 * The survivor's credit for a merged one: time-ordered at the merge's instant, its random part a hash
 * of the merge and the old credit — the same for a plan made twice on one read of one merge, distinct
 * from the old credit's and from any other merge's.
 */
const survivorCreditId = (mergeId: string, at: Date) => (old: CreditId): CreditId => {
  const bytes = new Uint8Array(12)
  const text = `${mergeId}:${old}`
  for (let k = 0; k < 3; k++) {
    let h = 0x811c9dc5 ^ (k * 0x9e3779b9)
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
    bytes[k * 4] = h >>> 24
    bytes[k * 4 + 1] = (h >>> 16) & 255
    bytes[k * 4 + 2] = (h >>> 8) & 255
    bytes[k * 4 + 3] = h & 255
  }
  return makeCreditId(at.getTime(), bytes)
}

/**
 * The wallets part, planned on a read of both wallets (the merged one: real balance, version, active
 * credits; the survivor's: as read, or as the plan for the previous merged profile of the same merge
 * left it):
 * - credits of the merged wallet due at the merge's instant are expired first (`credit_expired`, as
 *   the expiry job does, with its `wallet.credit_expired` event);
 * - a real balance moves by `merge_out` / `merge_in`;
 * - each unexpired credit's remainder becomes a new credit of the survivor with the same expiry,
 *   reason, ticket and issue instant (so the spend order is kept), the old one closed `merged` by
 *   `credit_merged_out`, the new one opened by `credit_merged_in`;
 * - both wallets' versions step from the read, so a wallet write, an expiry run or another merge
 *   committed meanwhile makes the merge run again.
 *
 * Summary (deterministic, ISO instants): `{ balance, credits: [{ creditId, remaining, expiresAt }],
 * expired: [{ creditId, remaining }] }` — the merged wallet's credits as they move, in spend order;
 * zeros and empty lists when there is nothing to move.
 *
 * @internal
 */
export const mergeParts: Effect.Effect<ReadonlyArray<MergePart>, never, WalletStore | UnitOfWork> = Effect.gen(
  function*() {
    const store = yield* WalletStore
    const uow = yield* UnitOfWork
    return [{
      name: "wallets",
      plan: (context) =>
        Effect.gen(function*() {
          const merged = yield* store.readForMerge(context.merged.id)
          const memo = `wallets:merge-survivor:${context.mergeId}:${context.survivor.id}`
          const survivor = (yield* uow.recall<WalletState>(memo)) ?? (yield* store.readForMerge(context.survivor.id))
          const empty = { balance: 0, credits: [], expired: [] }
          if (merged === undefined) return { summary: empty, apply: Effect.void }
          if (survivor === undefined) {
            return yield* Effect.dieMessage(`the merge's survivor ${context.survivor.id} has no wallet`)
          }
          const plan = planMerge(merged, survivor, context.at, survivorCreditId(context.mergeId, context.at))
          const transactionId = `txn_mrg_${context.mergeId.slice(4)}_${context.merged.id.slice(context.merged.id.indexOf("_") + 1)}`
          // the next merged profile of this merge plans on the survivor as this plan leaves it
          yield* uow.remember(memo, {
            customerId: survivor.customerId,
            balance: plan.survivorBalanceAfter,
            version: survivor.version + 1,
            credits: [...survivor.credits, ...plan.moved.map((m) => m.to)]
          } satisfies WalletState)
          return {
            summary: {
              balance: plan.balance,
              credits: plan.moved.map((m) => ({
                creditId: m.from.id,
                remaining: m.from.remaining,
                expiresAt: m.from.expiresAt.toISOString()
              })),
              expired: plan.expired.map((c) => ({ creditId: c.id, remaining: c.remaining }))
            },
            apply: store.writeMerge(context, { merged, survivor, plan, transactionId })
          }
        })
    }]
  }
)
