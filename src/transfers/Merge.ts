/**
 * How the transfers module takes part in merges (DOMAIN §9a, docs/merge.md): every bank transfer
 * linked to the merged profile is re-pointed to the survivor. The deposits they made are wallet
 * entries, which the wallets part moves.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { MergePart } from "../customers/index.js"
import { TransferRepository } from "./TransferRepository.js"

/**
 * The transfers part: summary `{ transfers }`, the transfers linked to the merged profile on the
 * merge's read, all of which the merge moves.
 *
 * @internal
 */
export const mergeParts: Effect.Effect<ReadonlyArray<MergePart>, never, TransferRepository> = Effect.map(
  TransferRepository,
  (repo) => [{
    name: "transfers",
    plan: (context) =>
      Effect.map(repo.countForCustomer(context.merged.id), (transfers) => ({
        summary: { transfers },
        apply: repo.mergeInto(context)
      }))
  }]
)
