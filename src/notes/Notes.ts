/**
 * The notes use cases (DOMAIN §4a): add a note to a customer, read a customer's notes and
 * activities newest first. A note and its `customer.note_added` event commit together.
 *
 * The rules, in full: docs/timeline.md.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { type CustomerNotFound, Customers } from "../customers/index.js"
import { Text } from "../kernel/Text.js"
import { decodeCursor, encodeCursor, type Position } from "../kernel/Cursor.js"
import type { StorageError, ValidationError } from "../kernel/Errors.js"
import type { CustomerNoteAdded } from "../kernel/Events.js"
import { encodeId } from "../kernel/Ids.js"
import { decoder, randomBytes } from "../kernel/Input.js"
import type * as Phone from "../kernel/Phone.js"
import { withSpans } from "../kernel/Spans.js"
import { SYSTEM_ACTOR } from "../platform/ActivityLog.js"
import { EventPublisher } from "../platform/EventPublisher.js"
import { Transactions } from "../platform/Transactions.js"
import { type ActivityRecord, ListOptions, Note, NoteInput, type Page } from "./Note.js"
import { NoteRepository } from "./NoteRepository.js"

type ReadError = Phone.InvalidPhone | ValidationError | CustomerNotFound | StorageError

/**
 * The notes service. Inputs are `unknown` and validated; bad input writes nothing.
 *
 * @since 0.2.0
 */
export interface NotesShape {
  /** Adds a note to the customer holding the phone; `author` defaults to `actor` (default `system`). */
  readonly add: (
    phone: string,
    input: NoteInput,
    options?: { readonly actor?: string | undefined }
  ) => Effect.Effect<Note, ReadError>
  /** The customer's notes, newest first. */
  readonly list: (phone: string, options?: ListOptions) => Effect.Effect<Page<Note>, ReadError>
  /** The customer's activities, newest first; `kinds` keeps only those kinds. */
  readonly activities: (
    phone: string,
    options?: ListOptions & { readonly kinds?: ReadonlyArray<string> | undefined }
  ) => Effect.Effect<Page<ActivityRecord>, ReadError>
  /** A customer's notes after a position, newest first (for the timeline). */
  readonly notesOf: (
    customerId: string,
    slice: { readonly before: Position | null; readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<Note>, StorageError>
  /**
   * A customer's activities after a position, newest first, without those about `exceptSubjects`
   * (the timeline leaves out ticket and transfer activities: those have entries of their own).
   */
  readonly activitiesOf: (
    customerId: string,
    slice: { readonly before: Position | null; readonly limit: number; readonly exceptSubjects?: ReadonlyArray<string> }
  ) => Effect.Effect<ReadonlyArray<ActivityRecord>, StorageError>
}

/** The Notes service. @since 0.2.0 */
export class Notes extends Context.Tag("customer360/Notes")<Notes, NotesShape>() {}

const decodeNote = decoder(NoteInput, "note")
const decodeList = decoder(ListOptions, "list options")
const decodeActivityList = decoder(
  Schema.Struct({ ...ListOptions.fields, kinds: Schema.optional(Schema.Array(Schema.String.pipe(Schema.maxLength(60)))) }),
  "list options"
)
const decodeActor = decoder(Schema.UndefinedOr(Text(100)), "actor")

/**
 * A page of `limit` from the `limit + 1` rows read: the extra row only says there is more.
 *
 * @since 0.2.0
 */
export const pageOf = <A>(rows: ReadonlyArray<A>, limit: number, position: (a: A) => { at: number; id: string }): Page<A> => {
  const items = rows.slice(0, limit)
  return {
    items,
    nextCursor: rows.length > limit && items.length > 0 ? encodeCursor(position(items[items.length - 1]!)) : null
  }
}

/** @since 0.2.0 */
export const make = Effect.gen(function*() {
  const repo = yield* NoteRepository
  const customers = yield* Customers
  const tx = yield* Transactions
  const events = yield* EventPublisher

  const add: NotesShape["add"] = (phone, raw, options) =>
    Effect.gen(function*() {
      const input = yield* decodeNote(raw)
      const actor = (yield* decodeActor(options?.actor)) ?? SYSTEM_ACTOR
      const customer = yield* customers.getByPhone(phone)
      const now = yield* Clock.currentTimeMillis
      const note = new Note({
        id: encodeId("not", now, yield* randomBytes),
        customerId: customer.id,
        author: input.author ?? actor,
        text: input.text,
        createdAt: new Date(now)
      })
      const event: CustomerNoteAdded = {
        id: encodeId("evt", now, yield* randomBytes),
        type: "customer.note_added",
        channel: "customers",
        subject: customer.id,
        occurredAt: note.createdAt,
        data: { noteId: note.id, author: note.author, text: note.text }
      }
      yield* tx.withTransaction(Effect.zipRight(repo.insert(note), events.publish([event])))
      return note
    })

  const list: NotesShape["list"] = (phone, raw) =>
    Effect.gen(function*() {
      const options = yield* decodeList(raw ?? {})
      const before = options.cursor == null ? null : yield* decodeCursor(options.cursor)
      const limit = options.limit ?? 20
      const customer = yield* customers.getByPhone(phone)
      const rows = yield* repo.notes(customer.id, { before, limit: limit + 1 })
      return pageOf(rows, limit, (n) => ({ at: n.createdAt.getTime(), id: n.id }))
    })

  const activities: NotesShape["activities"] = (phone, raw) =>
    Effect.gen(function*() {
      const options = yield* decodeActivityList(raw ?? {})
      const before = options.cursor == null ? null : yield* decodeCursor(options.cursor)
      const limit = options.limit ?? 20
      const customer = yield* customers.getByPhone(phone)
      const rows = yield* repo.activities(customer.id, { before, limit: limit + 1, kinds: options.kinds })
      return pageOf(rows, limit, (a) => ({ at: a.at.getTime(), id: a.id }))
    })

  const notesOf: NotesShape["notesOf"] = (customerId, slice) => repo.notes(customerId, slice)
  const activitiesOf: NotesShape["activitiesOf"] = (customerId, slice) => repo.activities(customerId, slice)

  return Notes.of(withSpans("Notes", { add, list, activities, notesOf, activitiesOf }))
})

/** @since 0.2.0 */
export const layer: Layer.Layer<Notes, never, NoteRepository | Customers | Transactions | EventPublisher> =
  Layer.effect(Notes, make)
