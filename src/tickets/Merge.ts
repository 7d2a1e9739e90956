/**
 * How the tickets module takes part in merges (DOMAIN §9a, docs/merge.md): tickets and their history
 * are re-pointed to the survivor; the merged profile's completed-ticket statistics are added into the
 * survivor's and zeroed (journaled as `changed`, with the values before).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { MergePart } from "../customers/index.js"
import { TicketRepository } from "./TicketRepository.js"

/**
 * The tickets part: summary `{ tickets, actions, completed }` — the tickets and history rows the
 * merged profile holds on the merge's read, and the completed tickets its statistics add to the
 * survivor's.
 *
 * @internal
 */
export const mergeParts: Effect.Effect<ReadonlyArray<MergePart>, never, TicketRepository> = Effect.map(
  TicketRepository,
  (repo) => [{
    name: "tickets",
    plan: (context) =>
      Effect.map(repo.planMerge(context), (plan) => ({
        summary: { tickets: plan.tickets, actions: plan.actions, completed: plan.completed },
        apply: plan.apply
      }))
  }]
)
