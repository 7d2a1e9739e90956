/**
 * Support tickets (DOMAIN §4): the model and its pure rules — the state table, the ticket code and
 * its business-zone year, the special actions each type allows, and the typed errors.
 *
 * The rules, in full: docs/tickets.md.
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { Text } from "../kernel/Text.js"

/**
 * `BOOM`: the customer refused a cash-on-delivery parcel; `DOI`: exchange; `THIEU`: items missing;
 * `HOAN`: return and refund; `KHAC`: anything else.
 *
 * @since 0.2.0
 */
export const TicketType = Schema.Literal("BOOM", "DOI", "THIEU", "HOAN", "KHAC")
/** @since 0.2.0 */
export type TicketType = typeof TicketType.Type

/** @since 0.2.0 */
export const TicketStatus = Schema.Literal("new", "processing", "waiting_carrier", "completed", "cancelled")
/** @since 0.2.0 */
export type TicketStatus = typeof TicketStatus.Type

/** @since 0.2.0 */
export const Priority = Schema.Literal("low", "normal", "high")
/** @since 0.2.0 */
export type Priority = typeof Priority.Type

/**
 * The state table: from each status, the statuses a ticket may move to. `new → processing →
 * waiting_carrier → completed`, and `cancelled` from any status but `completed`. Nothing leaves
 * `completed` or `cancelled`.
 *
 * @since 0.2.0
 */
export const TRANSITIONS: { readonly [S in TicketStatus]: ReadonlyArray<TicketStatus> } = {
  new: ["processing", "cancelled"],
  processing: ["waiting_carrier", "cancelled"],
  waiting_carrier: ["completed", "cancelled"],
  completed: [],
  cancelled: []
}

/** Whether a ticket is still open (neither completed nor cancelled). @since 0.2.0 */
export const isOpen = (status: TicketStatus): boolean => status !== "completed" && status !== "cancelled"

/**
 * A transition the state table does not allow; nothing was written.
 *
 * @since 0.2.0
 */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  from: TicketStatus,
  to: Schema.String
}) {
  override get message(): string {
    const allowed = (TRANSITIONS as Record<string, ReadonlyArray<string> | undefined>)[this.from] ?? []
    return `A ${this.from} ticket cannot become ${this.to}` +
      (allowed.length === 0 ? ` (a ${this.from} ticket is closed)` : ` (allowed: ${allowed.join(", ")})`)
  }
}

/**
 * The status after moving `from` to `to`, or `InvalidTransition` when the table does not allow it.
 *
 * @since 0.2.0
 */
export const transition = (from: TicketStatus, to: string): Either.Either<TicketStatus, InvalidTransition> =>
  (TRANSITIONS[from] as ReadonlyArray<string>).includes(to)
    ? Either.right(to as TicketStatus)
    : Either.left(new InvalidTransition({ from, to }))

/** No ticket has the code. @since 0.2.0 */
export class TicketNotFound extends Schema.TaggedError<TicketNotFound>()("TicketNotFound", { code: Schema.String }) {
  override get message(): string {
    return `No ticket has the code ${JSON.stringify(this.code)}`
  }
}

/**
 * Why an action cannot be taken on a ticket: `wrong_type` (a BOOM approval on a ticket that is not
 * BOOM, a refund on one that is not HOAN, an exchange on one that is not DOI), `closed` (the ticket
 * is completed or cancelled), `no_amount` (a BOOM approval with no amount, on a ticket without one),
 * `over_amount` (a refund above the ticket's amount), `already_done` (a special action repeated with
 * another amount).
 *
 * @since 0.2.0
 */
export const InvalidActionReason = Schema.Literal("wrong_type", "closed", "no_amount", "over_amount", "already_done")

/** An action the ticket does not allow; nothing was written. @since 0.2.0 */
export class InvalidTicketAction extends Schema.TaggedError<InvalidTicketAction>()("InvalidTicketAction", {
  action: Schema.String,
  reason: InvalidActionReason,
  detail: Schema.String
}) {
  override get message(): string {
    return `Cannot ${this.action.replace(/_/g, " ")}: ${this.detail}`
  }
}

/**
 * The special actions and the one ticket type each belongs to. Each happens at most once per ticket.
 *
 * @since 0.2.0
 */
export const SPECIAL_ACTIONS = { approve_boom: "BOOM", refund: "HOAN", exchange: "DOI" } as const satisfies Record<
  string,
  TicketType
>
/** @since 0.2.0 */
export type SpecialAction = keyof typeof SPECIAL_ACTIONS

// ---------------------------------------------------------------------------------------------
// Codes

/** `TV-YYYY-NNNNN`: five digits at least; past 99999 the number simply grows. @since 0.2.0 */
export const CODE_PATTERN = /^TV-(\d{4})-(\d{5,})$/

/**
 * The code of the `number`th ticket of `year`: `TV-2026-00042`, `TV-2026-123456`.
 *
 * @since 0.2.0
 */
export const ticketCode = (year: number, number: number): string => `TV-${year}-${String(number).padStart(5, "0")}`

/**
 * The year and number of a code, or `undefined` for anything that is not one.
 *
 * @since 0.2.0
 */
export const parseCode = (code: string): { readonly year: number; readonly number: number } | undefined => {
  const m = CODE_PATTERN.exec(code)
  if (m === null) return undefined
  const number = Number(m[2])
  return number >= 1 && Number.isSafeInteger(number) && String(number).padStart(5, "0") === m[2]
    ? { year: Number(m[1]), number }
    : undefined
}

const yearFormats = new Map<string, Intl.DateTimeFormat>()

/**
 * The calendar year of an instant in the business time zone: 16:30 UTC on 31 December 2026 is
 * 23:30 in Hanoi (2026); 17:30 UTC is 00:30 on 1 January (2027).
 *
 * @since 0.2.0
 */
export const businessYear = (epochMillis: number, timeZone: string): number => {
  let format = yearFormats.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric" })
    yearFormats.set(timeZone, format)
  }
  return Number(format.formatToParts(new Date(epochMillis)).find((p) => p.type === "year")!.value)
}

// ---------------------------------------------------------------------------------------------
// The ticket

/**
 * A ticket as stored. `version` steps by one on every change (the guard against a change planned
 * on a stale read); `escalatedAt` is when the deadline job raised its priority (once).
 *
 * @since 0.2.0
 */
export class Ticket extends Schema.Class<Ticket>("Ticket")({
  id: Schema.String,
  code: Schema.String,
  type: TicketType,
  status: TicketStatus,
  priority: Priority,
  customerId: Schema.String,
  phone: Schema.NullOr(Schema.String),
  orderReference: Schema.NullOr(Schema.String),
  amount: Schema.NullOr(Schema.Int),
  carrier: Schema.NullOr(Schema.String),
  carrierDeadline: Schema.NullOr(Schema.DateFromSelf),
  assignee: Schema.NullOr(Schema.String),
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf,
  completedAt: Schema.NullOr(Schema.DateFromSelf),
  escalatedAt: Schema.NullOr(Schema.DateFromSelf),
  version: Schema.Int
}) {}

/**
 * One entry of a ticket's history: who did what, when. `kind` is `created`, `transition`, `updated`,
 * `note`, `assigned`, `escalated`, or a special action (`approve_boom`, `refund`, `exchange`); `data`
 * says the rest (`{ from, to }`, the changed fields, the credit or deposit).
 *
 * @since 0.2.0
 */
export class TicketAction extends Schema.Class<TicketAction>("TicketAction")({
  id: Schema.String,
  ticketId: Schema.String,
  customerId: Schema.String,
  kind: Schema.String,
  actor: Schema.String,
  note: Schema.NullOr(Schema.String),
  data: Schema.Unknown,
  at: Schema.DateFromSelf
}) {}

/** A ticket as JSON (instants as ISO strings). @since 0.2.0 */
export const ticketToJson = (t: Ticket) => ({
  id: t.id,
  code: t.code,
  type: t.type,
  status: t.status,
  priority: t.priority,
  customerId: t.customerId,
  phone: t.phone,
  orderReference: t.orderReference,
  amount: t.amount,
  carrier: t.carrier,
  carrierDeadline: t.carrierDeadline?.toISOString() ?? null,
  assignee: t.assignee,
  createdAt: t.createdAt.toISOString(),
  updatedAt: t.updatedAt.toISOString(),
  completedAt: t.completedAt?.toISOString() ?? null
})

// ---------------------------------------------------------------------------------------------
// Inputs

const Instant = Schema.Union(Schema.ValidDateFromSelf, Schema.Date)
const Amount = Schema.Int.pipe(
  Schema.between(1, Number.MAX_SAFE_INTEGER, { message: () => "must be a positive whole number of đồng" })
)

/**
 * Input of `Tickets.create`: the customer's phone (any format; the customer is created if new) and
 * the ticket's fields. `note` becomes the first entry of its history.
 *
 * @since 0.2.0
 */
export const CreateTicketInput = Schema.Struct({
  phone: Schema.String,
  type: TicketType,
  priority: Schema.optional(Priority),
  orderReference: Schema.optional(Schema.NullOr(Text(100))),
  amount: Schema.optional(Schema.NullOr(Amount)),
  carrier: Schema.optional(Schema.NullOr(Text(100))),
  carrierDeadline: Schema.optional(Schema.NullOr(Instant)),
  assignee: Schema.optional(Schema.NullOr(Text(100))),
  note: Schema.optional(Schema.NullOr(Text(2000, { multiline: true })))
})
/** @since 0.2.0 */
export type CreateTicketInput = typeof CreateTicketInput.Encoded

/**
 * Input of `Tickets.update`: the fields staff may change on an open ticket (absent: unchanged).
 *
 * @since 0.2.0
 */
export const TicketPatch = Schema.Struct({
  assignee: Schema.optional(Schema.NullOr(Text(100))),
  priority: Schema.optional(Priority),
  carrier: Schema.optional(Schema.NullOr(Text(100))),
  carrierDeadline: Schema.optional(Schema.NullOr(Instant)),
  orderReference: Schema.optional(Schema.NullOr(Text(100)))
})
/** @since 0.2.0 */
export type TicketPatch = typeof TicketPatch.Encoded

/**
 * Input of `Tickets.act`: a transition, a note, or a special action.
 *
 * @since 0.2.0
 */
export const TicketActionInput = Schema.Union(
  Schema.Struct({ action: Schema.Literal("transition"), to: Schema.String }),
  Schema.Struct({ action: Schema.Literal("approve_boom"), amount: Schema.optional(Amount) }),
  Schema.Struct({ action: Schema.Literal("refund"), amount: Amount }),
  Schema.Struct({ action: Schema.Literal("exchange"), note: Schema.optional(Text(2000, { multiline: true })) }),
  Schema.Struct({ action: Schema.Literal("note"), text: Text(2000, { multiline: true }) })
)
/** @since 0.2.0 */
export type TicketActionInput = typeof TicketActionInput.Encoded

/**
 * Filters of `Tickets.list`: status, type, the customer's phone; `page` from 1, `limit` 1–100 (20).
 *
 * @since 0.2.0
 */
export const TicketQuery = Schema.Struct({
  status: Schema.optional(TicketStatus),
  type: Schema.optional(TicketType),
  phone: Schema.optional(Schema.String),
  page: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000_000))),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100)))
})
/** @since 0.2.0 */
export type TicketQuery = typeof TicketQuery.Encoded

/**
 * What a customer's completed tickets add up to, for the fraud rules: completed tickets by type and
 * `returns` (completed BOOM and HOAN tickets: the goods came back).
 *
 * @since 0.2.0
 */
export class TicketStats extends Schema.Class<TicketStats>("TicketStats")({
  customerId: Schema.String,
  completed: Schema.Int,
  boom: Schema.Int,
  doi: Schema.Int,
  thieu: Schema.Int,
  hoan: Schema.Int,
  khac: Schema.Int,
  returns: Schema.Int,
  lastCompletedAt: Schema.NullOr(Schema.DateFromSelf)
}) {}

/** Whether a completed ticket of this type counts as a return. @since 0.2.0 */
export const isReturn = (type: TicketType): boolean => type === "BOOM" || type === "HOAN"
