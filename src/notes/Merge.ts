/**
 * How the notes module takes part in merges (DOMAIN §9a, docs/merge.md).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { MergePart } from "../customers/index.js"

/** @internal */
export const mergeParts: Effect.Effect<ReadonlyArray<MergePart>> = Effect.succeed([])
