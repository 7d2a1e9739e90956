/**
 * Cursors of newest-first lists: a position `(at, id)` — an instant and the id that breaks ties —
 * as an opaque string. A page read after a cursor holds exactly the items that sort after it
 * (older, or as old with a smaller id), so items added meanwhile never shift a page.
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import { ValidationError } from "./Errors.js"

/** A position in a newest-first list. @since 0.2.0 */
export interface Position {
  readonly at: number
  readonly id: string
}

/** The cursor of a position. @since 0.2.0 */
export const encodeCursor = (p: Position): string => `${p.at.toString(36)}.${p.id}`

const CURSOR = /^([0-9a-z]{1,11})\.([A-Za-z0-9_]{1,80})$/

/**
 * The position of a cursor made by {@link encodeCursor}; anything else is a `ValidationError` on
 * `field`.
 *
 * @since 0.2.0
 */
export const decodeCursor = (cursor: unknown, field = "cursor"): Either.Either<Position, ValidationError> => {
  const m = typeof cursor === "string" ? CURSOR.exec(cursor) : null
  const at = m === null ? NaN : parseInt(m[1]!, 36)
  return m === null || !Number.isSafeInteger(at)
    ? Either.left(ValidationError.single(field, "must be a cursor returned by a previous page"))
    : Either.right({ at, id: m[2]! })
}
