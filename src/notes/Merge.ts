/**
 * How the notes module takes part in merges (DOMAIN §9a, docs/merge.md): every note and activity of
 * the merged profile is re-pointed to the survivor. The merge's own activities are recorded after
 * the parts' writes, so the merged profile keeps the one that says it was merged.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { MergePart } from "../customers/index.js"
import { NoteRepository } from "./NoteRepository.js"

/**
 * The notes part: summary `{ notes, activities }`, the rows the merged profile holds on the merge's
 * read, all of which the merge moves.
 *
 * @internal
 */
export const mergeParts: Effect.Effect<ReadonlyArray<MergePart>, never, NoteRepository> = Effect.map(
  NoteRepository,
  (repo) => [{
    name: "notes",
    plan: (context) =>
      Effect.map(repo.mergeCounts(context.merged.id), (counts) => ({
        summary: { notes: counts.notes, activities: counts.activities },
        apply: repo.mergeInto(context)
      }))
  }]
)
