/**
 * The ticket use cases of DOMAIN §4: open a ticket for a phone (creating the customer if new), move
 * it through the state table, change its fields, note on it, and its special actions — a BOOM
 * approval issues a virtual credit, a HOAN refund deposits into the wallet, a DOI exchange is
 * recorded — each at most once per ticket, in one unit of work with the wallet write, so that
 * either both commit or neither does. The deadline job raises the priority of tickets whose carrier
 * deadline is near, once.
 *
 * The rules, in full: docs/tickets.md.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type CustomerNotFound, Customers } from "../customers/index.js"
import { Customer360Config } from "../kernel/Config.js"
import type { Position } from "../kernel/Cursor.js"
import { type StorageError, ValidationError } from "../kernel/Errors.js"
import type { DomainEvent } from "../kernel/Events.js"
import { encodeId } from "../kernel/Ids.js"
import { decoder } from "../kernel/Input.js"
import type { InvalidAmount } from "../kernel/Money.js"
import type * as Phone from "../kernel/Phone.js"
import { randomBytes } from "../kernel/Random.js"
import { withSpans } from "../kernel/Spans.js"
import { Text } from "../kernel/Text.js"
import { type Activity, ActivityLog, SYSTEM_ACTOR } from "../platform/ActivityLog.js"
import { EventPublisher } from "../platform/EventPublisher.js"
import { Transactions } from "../platform/Transactions.js"
import { type CreditResult, type DepositResult, type IdempotencyConflict, Wallets } from "../wallets/index.js"
import {
  businessYear,
  CreateTicketInput,
  InvalidTicketAction,
  type InvalidTransition,
  isOpen,
  parseCode,
  SPECIAL_ACTIONS,
  type SpecialAction,
  Ticket,
  TicketAction,
  TicketActionInput,
  TicketNotFound,
  TicketPatch,
  TicketQuery,
  type TicketStats,
  ticketToJson,
  transition
} from "./Ticket.js"
import { CODE_PLACEHOLDER, type CustomerTicketAction, TicketRepository } from "./TicketRepository.js"

/** How long a BOOM approval's credit stays spendable (DOMAIN §4). @since 0.2.0 */
export const BOOM_CREDIT_DAYS = 15

/** How close a carrier deadline must be for the deadline job to raise the priority. @since 0.2.0 */
export const ESCALATE_WITHIN_MS = 24 * 3_600_000

/** A ticket and its history, oldest first. @since 0.2.0 */
export interface TicketDetails {
  readonly ticket: Ticket
  readonly history: ReadonlyArray<TicketAction>
}

/**
 * What an action did: the ticket after it, the history entry it wrote, and for a special action the
 * credit or deposit it made. `repeated`: the special action had already happened; this is its first
 * outcome, and nothing was written.
 *
 * @since 0.2.0
 */
export interface TicketActionResult {
  readonly ticket: Ticket
  readonly action: TicketAction
  readonly credit: CreditResult | null
  readonly deposit: DepositResult | null
  readonly repeated: boolean
}

/** A page of tickets, newest first. @since 0.2.0 */
export interface TicketPage {
  readonly items: ReadonlyArray<Ticket>
  readonly total: number
  readonly page: number
  readonly limit: number
}

/** Who acts (a staff id; `system` when not given). @since 0.2.0 */
export interface TicketActor {
  readonly actor?: string | undefined
}

type InputError = Phone.InvalidPhone | ValidationError | StorageError
type WalletError = InvalidAmount | CustomerNotFound | IdempotencyConflict

/**
 * The tickets service. Every method takes `unknown` input and validates it; a refusal writes nothing.
 *
 * @since 0.2.0
 */
export interface TicketsShape {
  /** Opens a ticket for the phone's customer (created, source `ticket`, if new), code `TV-YYYY-NNNNN`. */
  readonly create: (input: CreateTicketInput, options?: TicketActor) => Effect.Effect<TicketDetails, InputError>
  readonly get: (code: string) => Effect.Effect<TicketDetails, TicketNotFound | InputError>
  readonly list: (query?: TicketQuery) => Effect.Effect<TicketPage, CustomerNotFound | InputError>
  /** Changes assignee, priority, carrier, carrier deadline or order reference of an open ticket. */
  readonly update: (
    code: string,
    patch: TicketPatch,
    options?: TicketActor
  ) => Effect.Effect<Ticket, TicketNotFound | InvalidTicketAction | InputError>
  /** Cancels the ticket; a completed one fails `InvalidTransition`; a cancelled one is returned as is. */
  readonly cancel: (code: string, options?: TicketActor) => Effect.Effect<Ticket, TicketNotFound | InvalidTransition | InputError>
  /** A transition, a note or a special action. */
  readonly act: (
    code: string,
    action: TicketActionInput,
    options?: TicketActor
  ) => Effect.Effect<
    TicketActionResult,
    TicketNotFound | InvalidTransition | InvalidTicketAction | WalletError | InputError
  >
  /** What the customer's completed tickets add up to (counts by type, returns). */
  readonly stats: (phone: string) => Effect.Effect<TicketStats, CustomerNotFound | InputError>
  /**
   * Raises to `high`, once, the priority of every open ticket whose carrier deadline is less than
   * 24 hours away at the configured clock's now, in transactions of `batchSize` tickets; `escalated`
   * counts the tickets raised (one already `high` is only marked as seen: no history, no event).
   */
  readonly escalateDeadlines: (options?: {
    readonly batchSize?: number | undefined
    readonly maxBatches?: number | undefined
  }) => Effect.Effect<{ readonly escalated: number }, ValidationError | StorageError>
  /** The customer's ticket history entries, newest first, after `cursor` (for the timeline). */
  readonly customerHistory: (
    customerId: string,
    options: { readonly before: Position | null; readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<CustomerTicketAction>, StorageError>
  /** The customer's latest tickets, newest first (for the 360 view). */
  readonly recentForCustomer: (customerId: string, limit: number) => Effect.Effect<ReadonlyArray<Ticket>, StorageError>
}

/** The Tickets service. @since 0.2.0 */
export class Tickets extends Context.Tag("customer360/Tickets")<Tickets, TicketsShape>() {}

const decodeCreate = decoder(CreateTicketInput, "ticket")
const decodePatch = decoder(TicketPatch, "ticket update")
const decodeAction = decoder(TicketActionInput, "ticket action")
const decodeQuery = decoder(TicketQuery, "ticket query")
const decodeActor = decoder(Schema.UndefinedOr(Text(100)), "actor")
const decodeCode = (raw: unknown): Either.Either<string, ValidationError | TicketNotFound> =>
  typeof raw !== "string"
    ? Either.left(ValidationError.single("code", "must be a ticket code (TV-YYYY-NNNNN)"))
    : parseCode(raw.trim().toUpperCase()) === undefined
    ? Either.left(new TicketNotFound({ code: raw }))
    : Either.right(raw.trim().toUpperCase())
const decodeJob = decoder(
  Schema.Struct({
    batchSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 10_000))),
    maxBatches: Schema.optional(Schema.Int.pipe(Schema.between(1, Number.MAX_SAFE_INTEGER)))
  }),
  "job options"
)

const newId = (prefix: string, at: number) => encodeId(prefix, at, randomBytes(10))

/**
 * History ids that sort in the order they are made, also within one millisecond: a history is read
 * by `(at, id)`, and a creation's `created` and `note` entries (or a creation and an action in the
 * same millisecond) share `at`. Within a millisecond the random part steps by one.
 */
let lastActionMillis = -1
const lastActionRandom = new Uint8Array(10)
const newActionId = (at: number) => {
  if (at !== lastActionMillis) {
    lastActionMillis = at
    lastActionRandom.set(randomBytes(10))
  } else {
    for (let i = 9; i >= 0; i--) {
      lastActionRandom[i] = (lastActionRandom[i]! + 1) & 0xff
      if (lastActionRandom[i] !== 0) break
    }
  }
  return encodeId("tka", at, lastActionRandom)
}

/** @since 0.2.0 */
export const make = Effect.gen(function*() {
  const repo = yield* TicketRepository
  const customers = yield* Customers
  const wallets = yield* Wallets
  const tx = yield* Transactions
  const events = yield* EventPublisher
  const activities = yield* ActivityLog
  const config = yield* Customer360Config

  const ticketEvent = (
    type: "ticket.created" | "ticket.updated" | "ticket.completed",
    t: Ticket,
    action: string,
    json: Record<string, unknown> = ticketToJson(t)
  ): DomainEvent =>
    ({
      id: newId("evt", t.updatedAt.getTime()),
      type,
      channel: "tickets",
      subject: t.customerId,
      occurredAt: t.updatedAt,
      data: type === "ticket.updated" ? { ticket: json, action } : { ticket: json }
    }) as DomainEvent

  const historyEntry = (t: Ticket, kind: string, actor: string, at: Date, data: unknown, note: string | null = null) =>
    new TicketAction({ id: newActionId(at.getTime()), ticketId: t.id, customerId: t.customerId, kind, actor, note, data, at })

  const activity = (t: Ticket, kind: string, actor: string, at: Date, summary: string, data?: Record<string, unknown>): Activity => ({
    customerId: t.customerId,
    actor,
    kind,
    subjectType: "ticket",
    subjectId: t.id,
    summary,
    data: { code: t.code, ...data },
    at
  })

  const load = (code: string) =>
    Effect.flatMap(repo.findByCode(code), Option.match({
      onNone: () => Effect.fail(new TicketNotFound({ code })),
      onSome: Effect.succeed
    }))

  const create: TicketsShape["create"] = (raw, options) =>
    Effect.gen(function*() {
      const input = yield* decodeCreate(raw)
      const actor = (yield* decodeActor(options?.actor)) ?? SYSTEM_ACTOR
      return yield* tx.withTransaction(Effect.gen(function*() {
        const { customer } = yield* customers.getOrCreate({ phone: input.phone, source: "ticket" })
        const now = yield* Clock.currentTimeMillis
        const at = new Date(now)
        const draft = new Ticket({
          id: newId("tkt", now),
          code: CODE_PLACEHOLDER,
          type: input.type,
          status: "new",
          priority: input.priority ?? "normal",
          customerId: customer.id,
          phone: customer.phone,
          orderReference: input.orderReference ?? null,
          amount: input.amount ?? null,
          carrier: input.carrier ?? null,
          carrierDeadline: input.carrierDeadline == null ? null : new Date(input.carrierDeadline.getTime()),
          assignee: input.assignee ?? null,
          createdAt: at,
          updatedAt: at,
          completedAt: null,
          escalatedAt: null,
          version: 0
        })
        const history = [
          historyEntry(draft, "created", actor, at, { type: draft.type, priority: draft.priority }),
          ...(input.note == null ? [] : [historyEntry(draft, "note", actor, at, {}, input.note)])
        ]
        yield* activities.record([activity(draft, "ticket.created", actor, at, `opened a ${draft.type} ticket`)])
        // the counter step is the transaction's last write: creations of one year take turns on it
        const code = yield* repo.create(draft, businessYear(now, config.timeZone), history, ticketEvent("ticket.created", draft, "created"))
        const ticket = new Ticket({ ...draft, code })
        return { ticket, history }
      }))
    })

  const get: TicketsShape["get"] = (raw) =>
    Effect.gen(function*() {
      const code = yield* decodeCode(raw)
      const ticket = yield* load(code)
      return { ticket, history: yield* repo.history(ticket.id) }
    })

  const list: TicketsShape["list"] = (raw) =>
    Effect.gen(function*() {
      const q = yield* decodeQuery(raw ?? {})
      const page = q.page ?? 1
      const limit = q.limit ?? 20
      const customerId = q.phone === undefined ? undefined : (yield* customers.getByPhone(q.phone)).id
      const { items, total } = yield* repo.list({ status: q.status, type: q.type, customerId, offset: (page - 1) * limit, limit })
      return { items, total, page, limit }
    })

  /** Writes the ticket's next state with its history, event and activity. */
  const commit = (
    before: Ticket,
    after: Ticket,
    entry: TicketAction,
    summary: string
  ) =>
    Effect.gen(function*() {
      yield* repo.update(after, [entry])
      const completed = after.status === "completed" && before.status !== "completed"
      yield* events.publish([ticketEvent(completed ? "ticket.completed" : "ticket.updated", after, entry.kind)])
      yield* activities.record([activity(after, `ticket.${entry.kind}`, entry.actor, entry.at, summary)])
      if (completed) yield* repo.addCompleted(after)
    })

  const nextState = (t: Ticket, at: Date, changes: Partial<Ticket>) =>
    new Ticket({ ...t, ...changes, updatedAt: at, version: t.version + 1 })

  const update: TicketsShape["update"] = (rawCode, rawPatch, options) =>
    Effect.gen(function*() {
      const code = yield* decodeCode(rawCode)
      const patch = yield* decodePatch(rawPatch)
      const actor = (yield* decodeActor(options?.actor)) ?? SYSTEM_ACTOR
      return yield* tx.withTransaction(Effect.gen(function*() {
        const t = yield* load(code)
        const changes: Record<string, unknown> = {}
        if (patch.assignee !== undefined) changes.assignee = patch.assignee
        if (patch.priority !== undefined) changes.priority = patch.priority
        if (patch.carrier !== undefined) changes.carrier = patch.carrier
        if (patch.orderReference !== undefined) changes.orderReference = patch.orderReference
        if (patch.carrierDeadline !== undefined) {
          changes.carrierDeadline = patch.carrierDeadline === null ? null : new Date(patch.carrierDeadline.getTime())
        }
        const fields = Object.keys(changes)
        if (fields.length === 0) return t
        if (!isOpen(t.status)) {
          return yield* new InvalidTicketAction({ action: "update", reason: "closed", detail: `the ticket is ${t.status}` })
        }
        const at = new Date(yield* Clock.currentTimeMillis)
        const after = nextState(t, at, changes as Partial<Ticket>)
        const shown = Object.fromEntries(
          Object.entries(changes).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v])
        )
        const kind = fields.length === 1 && fields[0] === "assignee" ? "assigned" : "updated"
        yield* commit(t, after, historyEntry(t, kind, actor, at, shown), `changed ${fields.join(", ")} of ${t.code}`)
        return after
      }))
    })

  /** A transition by the state table. */
  const move = (t: Ticket, to: string, actor: string) =>
    Effect.gen(function*() {
      const status = yield* transition(t.status, to)
      const at = new Date(yield* Clock.currentTimeMillis)
      const after = nextState(t, at, { status, ...(status === "completed" ? { completedAt: at } : {}) })
      const entry = historyEntry(t, "transition", actor, at, { from: t.status, to: status })
      yield* commit(t, after, entry, `moved ${t.code} from ${t.status} to ${status}`)
      return { ticket: after, action: entry, credit: null, deposit: null, repeated: false }
    })

  const cancel: TicketsShape["cancel"] = (rawCode, options) =>
    Effect.gen(function*() {
      const code = yield* decodeCode(rawCode)
      const actor = (yield* decodeActor(options?.actor)) ?? SYSTEM_ACTOR
      return yield* tx.withTransaction(Effect.gen(function*() {
        const t = yield* load(code)
        if (t.status === "cancelled") return t
        return (yield* move(t, "cancelled", actor)).ticket
      }))
    })

  /** A special action: once per ticket; a repeat with the same amount replays the first outcome. */
  const special = (t: Ticket, kind: SpecialAction, amount: number | undefined, note: string | null, actor: string) =>
    Effect.gen(function*() {
      const done = yield* repo.specialAction(t.id, kind)
      const phone = (yield* customers.get(t.customerId)).phone ?? ""
      const boomReason = `BOOM ticket ${t.code}`
      if (Option.isSome(done)) {
        const first = done.value.data as { readonly amount?: number }
        if (amount !== undefined && first.amount !== amount) {
          return yield* new InvalidTicketAction({
            action: kind,
            reason: "already_done",
            detail: `already done on ${t.code} with ${first.amount ?? "no"} amount`
          })
        }
        // the wallet replays its first result for the same reference and payload, and writes nothing
        const credit = kind === "approve_boom"
          ? yield* wallets.issueVirtualCredit({
            phone,
            amount: first.amount!,
            reason: boomReason,
            reference: `ticket:${t.code}:credit`,
            expiresInDays: BOOM_CREDIT_DAYS,
            ticketId: t.code
          })
          : null
        const deposit = kind === "refund"
          ? yield* wallets.deposit({ phone, amount: first.amount!, reference: `ticket:${t.code}:refund`, source: "refund" })
          : null
        return { ticket: t, action: done.value, credit, deposit, repeated: true }
      }
      if (t.type !== SPECIAL_ACTIONS[kind]) {
        return yield* new InvalidTicketAction({
          action: kind,
          reason: "wrong_type",
          detail: `only a ${SPECIAL_ACTIONS[kind]} ticket allows it; ${t.code} is ${t.type}`
        })
      }
      if (!isOpen(t.status)) {
        return yield* new InvalidTicketAction({ action: kind, reason: "closed", detail: `${t.code} is ${t.status}` })
      }
      const at = new Date(yield* Clock.currentTimeMillis)
      let credit: CreditResult | null = null
      let deposit: DepositResult | null = null
      let summary: string
      let recorded: number | undefined
      if (kind === "approve_boom") {
        recorded = amount ?? t.amount ?? undefined
        if (recorded === undefined) {
          return yield* new InvalidTicketAction({ action: kind, reason: "no_amount", detail: "give an amount: the ticket has none" })
        }
        credit = yield* wallets.issueVirtualCredit({
          phone,
          amount: recorded,
          reason: boomReason,
          reference: `ticket:${t.code}:credit`,
          expiresInDays: BOOM_CREDIT_DAYS,
          ticketId: t.code
        })
        summary = `approved BOOM ${t.code}: a credit of ${recorded} đồng for ${BOOM_CREDIT_DAYS} days`
      } else if (kind === "refund") {
        recorded = amount!
        if (t.amount !== null && recorded > t.amount) {
          return yield* new InvalidTicketAction({
            action: kind,
            reason: "over_amount",
            detail: `${recorded} is more than the ticket's ${t.amount} đồng`
          })
        }
        deposit = yield* wallets.deposit({ phone, amount: recorded, reference: `ticket:${t.code}:refund`, source: "refund" })
        summary = `refunded ${recorded} đồng to the wallet for ${t.code}`
      } else {
        summary = `recorded the exchange of ${t.code}`
      }
      const data = {
        ...(recorded === undefined ? {} : { amount: recorded }),
        ...(credit === null ? {} : { creditId: credit.credit.id, transactionId: credit.transactionId }),
        ...(deposit === null ? {} : { transactionId: deposit.transactionId })
      }
      const after = nextState(t, at, {})
      const entry = historyEntry(t, kind, actor, at, data, note)
      yield* commit(t, after, entry, summary)
      return { ticket: after, action: entry, credit, deposit, repeated: false }
    })

  const act: TicketsShape["act"] = (rawCode, rawAction, options) =>
    Effect.gen(function*() {
      const code = yield* decodeCode(rawCode)
      const input = yield* decodeAction(rawAction)
      const actor = (yield* decodeActor(options?.actor)) ?? SYSTEM_ACTOR
      return yield* tx.withTransaction(Effect.gen(function*() {
        const t = yield* load(code)
        switch (input.action) {
          case "transition":
            return yield* move(t, input.to, actor)
          case "note": {
            const at = new Date(yield* Clock.currentTimeMillis)
            const after = nextState(t, at, {})
            const entry = historyEntry(t, "note", actor, at, {}, input.text)
            yield* commit(t, after, entry, `noted on ${t.code}`)
            return { ticket: after, action: entry, credit: null, deposit: null, repeated: false }
          }
          case "approve_boom":
            return yield* special(t, "approve_boom", input.amount, null, actor)
          case "refund":
            return yield* special(t, "refund", input.amount, null, actor)
          case "exchange":
            return yield* special(t, "exchange", undefined, input.note ?? null, actor)
        }
      }))
    })

  const stats: TicketsShape["stats"] = (phone) =>
    Effect.flatMap(customers.getByPhone(phone), (c) => repo.stats(c.id))

  const escalateDeadlines: TicketsShape["escalateDeadlines"] = (raw) =>
    Effect.gen(function*() {
      const options = yield* decodeJob(raw ?? {})
      const batchSize = options.batchSize ?? 200
      const maxBatches = options.maxBatches ?? Number.MAX_SAFE_INTEGER
      let escalated = 0
      for (let batch = 0; batch < maxBatches; batch++) {
        const now = yield* Clock.currentTimeMillis
        const at = new Date(now)
        const { raised, seen } = yield* tx.withTransaction(Effect.gen(function*() {
          const due = yield* repo.dueForEscalation(now + ESCALATE_WITHIN_MS, batchSize)
          let raised = 0
          for (const t of due) {
            const after = nextState(t, at, { priority: "high", escalatedAt: at })
            // already high (staff raised it): only marked as seen, so that it is never looked at again
            if (t.priority === "high") {
              yield* repo.update(after, [])
              continue
            }
            raised += 1
            const entry = historyEntry(t, "escalated", "job:ticket-deadlines", at, {
              from: t.priority,
              to: "high",
              carrierDeadline: t.carrierDeadline?.toISOString() ?? null
            })
            yield* commit(t, after, entry, `raised ${t.code} to high priority: the carrier deadline is near`)
          }
          return { raised, seen: due.length }
        }))
        escalated += raised
        if (seen < batchSize) break
      }
      return { escalated }
    })

  const customerHistory: TicketsShape["customerHistory"] = (customerId, slice) => repo.customerActions(customerId, slice)

  const recentForCustomer: TicketsShape["recentForCustomer"] = (customerId, limit) =>
    Effect.map(repo.list({ customerId, offset: 0, limit }), (p) => p.items)

  return Tickets.of(withSpans("Tickets", {
    create,
    get,
    list,
    update,
    cancel,
    act,
    stats,
    escalateDeadlines,
    customerHistory,
    recentForCustomer
  }))
})

/** @since 0.2.0 */
export const layer: Layer.Layer<
  Tickets,
  never,
  TicketRepository | Customers | Wallets | Transactions | EventPublisher | ActivityLog | Customer360Config
> = Layer.effect(Tickets, make)

