/**
 * The customer timeline (DOMAIN §4a): one stream, newest first, of a customer's ledger entries,
 * bank transfers, ticket history, notes and activities — the seed's consolidated transactions.
 * Each module keeps its own records; the timeline reads a page from each (never more than `limit`
 * rows from any) and merges them by time. Its cursor holds the position reached in every stream,
 * so a page never repeats or skips an entry, whatever was added meanwhile.
 *
 * Activities about tickets, transfers and wallets are left out of the stream: the ticket's history
 * entry, the transfer and the ledger entries are there already. The rules, in full: docs/timeline.md.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { type CustomerNotFound, Customers } from "../customers/index.js"
import { decodeCursor, encodeCursor, type Position } from "../kernel/Cursor.js"
import { type StorageError, ValidationError } from "../kernel/Errors.js"
import { decoder } from "../kernel/Input.js"
import type * as Phone from "../kernel/Phone.js"
import { withSpans } from "../kernel/Spans.js"
import { Notes } from "../notes/index.js"
import { Tickets } from "../tickets/index.js"
import { Transfers } from "../transfers/index.js"
import { Wallets } from "../wallets/index.js"

/** The kinds of timeline entries. @since 0.2.0 */
export const TimelineKind = Schema.Literal("ledger", "transfer", "ticket", "note", "activity")
/** @since 0.2.0 */
export type TimelineKind = typeof TimelineKind.Type

/**
 * One entry: its kind, the id of the record it shows, when, a one-line summary, and the record
 * itself as JSON (`data`: a ledger entry, a transfer, a ticket history entry with its ticket's code,
 * a note, an activity).
 *
 * @since 0.2.0
 */
export interface TimelineEntry {
  readonly kind: TimelineKind
  readonly id: string
  readonly at: Date
  readonly summary: string
  readonly data: unknown
}

/** A page of the timeline; pass `nextCursor` back to read on (`null`: nothing older). @since 0.2.0 */
export interface TimelinePage {
  readonly items: ReadonlyArray<TimelineEntry>
  readonly nextCursor: string | null
}

/** Options of `timeline`: `limit` 1–100 (default 20), `cursor`, and the `kinds` to keep (default all). @since 0.2.0 */
export interface TimelineOptions {
  readonly cursor?: string | null | undefined
  readonly limit?: number | undefined
  readonly kinds?: ReadonlyArray<TimelineKind> | undefined
}

/** The timeline service. @since 0.2.0 */
export interface TimelineShape {
  /** The timeline of the customer holding the phone (any format), newest first. */
  readonly timeline: (
    phone: string,
    options?: TimelineOptions
  ) => Effect.Effect<TimelinePage, Phone.InvalidPhone | ValidationError | CustomerNotFound | StorageError>
}

/** The Timeline service. @since 0.2.0 */
export class Timeline extends Context.Tag("customer360/Timeline")<Timeline, TimelineShape>() {}

const KINDS: ReadonlyArray<TimelineKind> = ["ledger", "transfer", "ticket", "note", "activity"]

const decodeOptions = decoder(
  Schema.Struct({
    cursor: Schema.optional(Schema.NullOr(Schema.String.pipe(Schema.maxLength(2000)))),
    limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100, { message: () => "must be an integer from 1 to 100" }))),
    kinds: Schema.optional(Schema.Array(TimelineKind))
  }),
  "timeline options"
)

/** Where each stream stands: not started (absent), a position, or `"end"`. */
type Positions = Partial<Record<TimelineKind, string>>

// positions are ASCII (numbers, base-36 instants, ids): base64url without padding, on every runtime
const encodePositions = (p: Positions): string =>
  btoa(JSON.stringify(p)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")

const decodePositions = (cursor: string): Either.Either<Positions, ValidationError> => {
  const bad = Either.left(ValidationError.single("cursor", "must be a cursor returned by a previous page"))
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return bad
    const parsed = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/"))) as unknown
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return bad
    for (const [k, v] of Object.entries(parsed)) {
      if (!(KINDS as ReadonlyArray<string>).includes(k) || typeof v !== "string") return bad
    }
    return Either.right(parsed as Positions)
  } catch {
    return bad
  }
}

/**
 * An entry with the position of its stream after it, and `from`: the position just before it, from
 * which a read starts with this entry (where a stream read but not yet shown resumes).
 */
interface Positioned {
  readonly entry: TimelineEntry
  readonly position: string
  readonly from: string
}

const order: Record<TimelineKind, number> = { ledger: 0, transfer: 1, ticket: 2, note: 3, activity: 4 }

/**
 * Newest first; at one instant, in kind order, then in the order each stream reads in — ledger
 * entries by commit order (their `seq`), the others by id — descending: a total order.
 */
const newerFirst = (a: Positioned, b: Positioned) =>
  b.entry.at.getTime() - a.entry.at.getTime() || order[a.entry.kind] - order[b.entry.kind] ||
  (a.entry.kind === "ledger"
    ? Number(b.position) - Number(a.position)
    : a.entry.id < b.entry.id ? 1 : a.entry.id > b.entry.id ? -1 : 0)

/** The position from which an `(at, id)` stream reads on with the entries at `at` and older. */
const upTo = (at: Date) => encodeCursor({ at: at.getTime() + 1, id: "0" })

const position = (p: string | undefined): Either.Either<Position | null, ValidationError> =>
  p === undefined ? Either.right(null) : decodeCursor(p)

/** @since 0.2.0 */
export const make = Effect.gen(function*() {
  const customers = yield* Customers
  const wallets = yield* Wallets
  const tickets = yield* Tickets
  const transfers = yield* Transfers
  const notes = yield* Notes

  /** Up to `limit` entries of one stream after its position. */
  const read = (
    kind: TimelineKind,
    customerId: string,
    at: string | undefined,
    limit: number
  ): Effect.Effect<ReadonlyArray<Positioned>, ValidationError | StorageError> =>
    Effect.gen(function*() {
      switch (kind) {
        case "ledger": {
          const before = at === undefined ? null : Number(at)
          if (before !== null && !Number.isSafeInteger(before)) {
            return yield* ValidationError.single("cursor", "must be a cursor returned by a previous page")
          }
          const rows = yield* wallets.ledgerOf(customerId, { before, limit })
          return rows.map(({ entry, seq }): Positioned => ({
            position: String(seq),
            from: String(seq + 1),
            entry: {
              kind,
              id: entry.id,
              at: entry.createdAt,
              summary: `${entry.kind.replace("_", " ")} ${entry.amount} đồng (${entry.reference})`,
              data: entry
            }
          }))
        }
        case "transfer": {
          const rows = yield* transfers.forCustomer(customerId, { before: yield* position(at), limit })
          return rows.map((t): Positioned => ({
            position: encodeCursor({ at: t.transactionDate.getTime(), id: t.id }),
            from: upTo(t.transactionDate),
            entry: {
              kind,
              id: t.id,
              at: t.transactionDate,
              summary: `bank transfer ${t.transferType === "in" ? "in" : "out"} ${t.amount} đồng: ${t.content}`,
              data: t
            }
          }))
        }
        case "ticket": {
          const rows = yield* tickets.customerHistory(customerId, { before: yield* position(at), limit })
          return rows.map(({ action, code }): Positioned => ({
            position: encodeCursor({ at: action.at.getTime(), id: action.id }),
            from: upTo(action.at),
            entry: {
              kind,
              id: action.id,
              at: action.at,
              summary: `${code}: ${action.kind.replace("_", " ")}${action.note === null ? "" : ` — ${action.note}`}`,
              data: { ...action, code }
            }
          }))
        }
        case "note": {
          const rows = yield* notes.notesOf(customerId, { before: yield* position(at), limit })
          return rows.map((n): Positioned => ({
            position: encodeCursor({ at: n.createdAt.getTime(), id: n.id }),
            from: upTo(n.createdAt),
            entry: { kind, id: n.id, at: n.createdAt, summary: `${n.author}: ${n.text}`, data: n }
          }))
        }
        case "activity": {
          const rows = yield* notes.activitiesOf(customerId, {
            before: yield* position(at),
            limit,
            exceptSubjects: ["ticket", "transfer", "wallet"]
          })
          return rows.map((a): Positioned => ({
            position: encodeCursor({ at: a.at.getTime(), id: a.id }),
            from: upTo(a.at),
            entry: { kind, id: a.id, at: a.at, summary: a.summary, data: a }
          }))
        }
      }
    })

  const timeline: TimelineShape["timeline"] = (phone, raw) =>
    Effect.gen(function*() {
      const options = yield* decodeOptions(raw ?? {})
      const limit = options.limit ?? 20
      const kinds = options.kinds === undefined || options.kinds.length === 0 ? KINDS : [...new Set(options.kinds)]
      const start: Positions = options.cursor == null ? {} : yield* decodePositions(options.cursor)
      const customer = yield* customers.getByPhone(phone)
      const live = kinds.filter((k) => start[k] !== "end")
      const pages = yield* Effect.forEach(live, (k) => read(k, customer.id, start[k], limit), { concurrency: "unbounded" })
      const merged = live.flatMap((k, i) => pages[i]!.map((p) => ({ ...p, kind: k })))
        .sort(newerFirst)
      const taken = merged.slice(0, limit)
      const next: Positions = {}
      for (const k of kinds) if (start[k] !== undefined) next[k] = start[k]!
      for (const p of taken) next[p.kind] = p.position
      let more = false
      live.forEach((k, i) => {
        const page = pages[i]!
        const used = taken.filter((p) => p.kind === k).length
        // a stream is done when it returned less than a full page and all of it was used
        if (page.length < limit && used === page.length) next[k] = "end"
        else {
          more = true
          // read but not shown yet: the next page starts at its first entry, not at the top, where
          // entries added meanwhile (newer than this page) would be
          if (next[k] === undefined) next[k] = page[0]!.from
        }
      })
      return { items: taken.map((p) => p.entry), nextCursor: more ? encodePositions(next) : null }
    })

  return Timeline.of(withSpans("Timeline", { timeline }))
})

/** @since 0.2.0 */
export const layer: Layer.Layer<Timeline, never, Customers | Wallets | Tickets | Transfers | Notes> = Layer.effect(
  Timeline,
  make
)
