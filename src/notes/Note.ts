/**
 * The notes module's model (DOMAIN §4a): notes on a customer, never edited in place (a correction
 * is a new note), and the activities recorded for every change made to a customer's world.
 *
 * @since 0.2.0
 */
import * as Schema from "effect/Schema"
import { Text } from "../kernel/Text.js"

/**
 * A note: who wrote it, what, when. Immutable once written.
 *
 * @since 0.2.0
 */
export class Note extends Schema.Class<Note>("Note")({
  id: Schema.String,
  customerId: Schema.String,
  author: Schema.String,
  text: Schema.String,
  createdAt: Schema.DateFromSelf
}) {}

/**
 * An activity as read back (see `ActivityLog`): who, what kind, about what, a one-line summary.
 *
 * @since 0.2.0
 */
export class ActivityRecord extends Schema.Class<ActivityRecord>("ActivityRecord")({
  id: Schema.String,
  customerId: Schema.String,
  actor: Schema.String,
  kind: Schema.String,
  subjectType: Schema.String,
  subjectId: Schema.String,
  summary: Schema.String,
  data: Schema.Unknown,
  at: Schema.DateFromSelf
}) {}

/**
 * Input of `Notes.add`: the author (a staff id or name, 1–100 characters; default the caller's
 * actor) and the text (1–2000 characters, several lines allowed).
 *
 * @since 0.2.0
 */
export const NoteInput = Schema.Struct({
  author: Schema.optional(Text(100)),
  text: Text(2000, { multiline: true })
})

/** @since 0.2.0 */
export type NoteInput = typeof NoteInput.Encoded

/**
 * Options of a newest-first list: `limit` 1–100 (default 20), `cursor` from the previous page.
 *
 * @since 0.2.0
 */
export const ListOptions = Schema.Struct({
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100, { message: () => "must be an integer from 1 to 100" }))),
  cursor: Schema.optional(Schema.NullOr(Schema.String))
})

/** @since 0.2.0 */
export type ListOptions = typeof ListOptions.Encoded

/** One page of a newest-first list; pass `nextCursor` back to read on (`null`: nothing older). @since 0.2.0 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly nextCursor: string | null
}

/** A note as JSON. @since 0.2.0 */
export const noteToJson = (n: Note) => ({
  id: n.id,
  customerId: n.customerId,
  author: n.author,
  text: n.text,
  createdAt: n.createdAt.toISOString()
})
