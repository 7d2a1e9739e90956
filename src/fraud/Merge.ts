/**
 * How the fraud module takes part in merges (DOMAIN §9a, docs/merge.md): the merged profile's
 * decisions and flags are re-pointed to the survivor, except those the survivor already holds under
 * the same unique key (a decision's rule, version and window; an active flag's flag), which stay on
 * the merged profile as the record of what was decided about it.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { MergePart } from "../customers/index.js"
import { FraudRepository } from "./FraudRepository.js"

/**
 * The fraud part: summary `{ decisions: { moved, stayed }, flags: { moved, stayed } }`, as counted on
 * the merge's read — exactly what the merge moves and leaves.
 *
 * @internal
 */
export const mergeParts: Effect.Effect<ReadonlyArray<MergePart>, never, FraudRepository> = Effect.map(
  FraudRepository,
  (repo) => [{
    name: "fraud",
    plan: (context) =>
      Effect.map(repo.planMerge(context), (plan) => ({
        summary: { decisions: plan.decisions, flags: plan.flags },
        apply: plan.apply
      }))
  }]
)
