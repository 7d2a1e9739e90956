/**
 * Ticket storage: the port and its one SQL implementation, the same on SQLite, PostgreSQL and D1.
 * Every write goes through the unit of work (docs/transactions.md).
 *
 * - `create` is the creating transaction's **last** write, and its counter step comes first in it:
 *   the year's counter row is stepped (`INSERT … ON CONFLICT DO UPDATE`, which locks the row on
 *   PostgreSQL until commit), the ticket takes the counter's value in the same statement list, and
 *   its history row and `ticket.created` event follow, and the creation's activity (recorded just
 *   before, when the code was not known yet) is given the code; the code is computed by the database
 *   and returned. A transaction that rolls back takes its number back with it: no gaps; the row lock (or
 *   SQLite's and D1's single writer) means no duplicates; the unique `(year, number)` key says so too.
 * - `update` sets the ticket's `version` to the one read plus one: the version guard refuses a
 *   change planned on a stale read, and the transaction runs again on a fresh one. A special action
 *   is a history row under a unique key `(ticket, kind)`: recorded twice, the second fails, and its
 *   transaction runs again — and then finds the first.
 *
 * @since 0.2.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Position } from "../kernel/Cursor.js"
import type { StorageError } from "../kernel/Errors.js"
import type { DomainEvent } from "../kernel/Events.js"
import { instant, int, jsonColumn, textOrNull } from "../platform/sql/Columns.js"
import { eventRow } from "../platform/sql/OutboxSql.js"
import { corrupt, storage } from "../platform/sql/SqlFailure.js"
import { rerun, UnitOfWork } from "../platform/UnitOfWork.js"
import * as Schema from "effect/Schema"
import { type MergeContext, journalRow, repoint } from "../customers/index.js"
import { Ticket, TicketAction, type TicketStatus, TicketStats, type TicketType, isReturn } from "./Ticket.js"

/** What the code of a ticket being created is replaced by in its event, once the database knows it. */
export const CODE_PLACEHOLDER = "@@TICKET_CODE@@"

/** Filters of a ticket list, already validated. @since 0.2.0 */
export interface TicketCriteria {
  readonly status?: TicketStatus | undefined
  readonly type?: TicketType | undefined
  readonly customerId?: string | undefined
  readonly offset: number
  readonly limit: number
}

/** A history entry with the code of its ticket, for the timeline. @since 0.2.0 */
export interface CustomerTicketAction {
  readonly action: TicketAction
  readonly code: string
}

/**
 * The ticket repository.
 *
 * @since 0.2.0
 */
export class TicketRepository extends Context.Tag("customer360/TicketRepository")<TicketRepository, {
  /** Inserts the ticket (its `code` is ignored: the counter gives it), its first history and event; returns the code. */
  readonly create: (
    ticket: Ticket,
    year: number,
    history: ReadonlyArray<TicketAction>,
    event: DomainEvent
  ) => Effect.Effect<string, StorageError>
  readonly findByCode: (code: string) => Effect.Effect<Option.Option<Ticket>, StorageError>
  /** Writes the ticket's new state (its `version` must be the read one plus one) and its history. */
  readonly update: (ticket: Ticket, history: ReadonlyArray<TicketAction>) => Effect.Effect<void, StorageError>
  /** The special action of that kind recorded on the ticket, if any. */
  readonly specialAction: (ticketId: string, kind: string) => Effect.Effect<Option.Option<TicketAction>, StorageError>
  readonly history: (ticketId: string) => Effect.Effect<ReadonlyArray<TicketAction>, StorageError>
  readonly list: (
    criteria: TicketCriteria
  ) => Effect.Effect<{ readonly items: ReadonlyArray<Ticket>; readonly total: number }, StorageError>
  /** Adds a completed ticket to its customer's statistics. */
  readonly addCompleted: (ticket: Ticket) => Effect.Effect<void, StorageError>
  readonly stats: (customerId: string) => Effect.Effect<TicketStats, StorageError>
  /** Open, not yet escalated tickets whose carrier deadline is before `before`, earliest first. */
  readonly dueForEscalation: (before: number, limit: number) => Effect.Effect<ReadonlyArray<Ticket>, StorageError>
  /** A customer's ticket history, newest first, after `before`. */
  readonly customerActions: (
    customerId: string,
    slice: { readonly before: Position | null; readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<CustomerTicketAction>, StorageError>
  /**
   * Plans moving the merged profile's tickets, their history and its completed-ticket statistics to
   * the survivor (docs/merge.md), reading only: what moves, as counted on the read, and the writes —
   * set-based re-pointing (each ticket's `version` stepped, so that a change planned on a read from
   * before the merge runs again), the merged statistics added into the survivor's row and the merged
   * row zeroed, every row journaled.
   */
  readonly planMerge: (context: MergeContext) => Effect.Effect<TicketMergePlan, StorageError>
}>() {}

/**
 * What a merge moves of one merged profile's tickets (see `TicketRepository.planMerge`).
 *
 * @since 0.4.0
 */
export interface TicketMergePlan {
  readonly tickets: number
  /** History rows (`c360_ticket_actions`). */
  readonly actions: number
  /** Completed tickets in the merged profile's statistics, added into the survivor's. */
  readonly completed: number
  readonly apply: Effect.Effect<void, StorageError>
}

const STAT_COLUMNS = ["completed", "boom", "doi", "thieu", "hoan", "khac", "returns"] as const

const decodeTicket = Schema.decodeUnknown(Ticket)

const toTicket = (r: Record<string, unknown>): Effect.Effect<Ticket, StorageError> =>
  Effect.catchAll(
    decodeTicket({
      id: r.id,
      code: r.code,
      type: r.type,
      status: r.status,
      priority: r.priority,
      customerId: r.customer_id,
      phone: textOrNull(r.phone),
      orderReference: textOrNull(r.order_reference),
      amount: r.amount === null || r.amount === undefined ? null : int(r.amount),
      carrier: textOrNull(r.carrier),
      carrierDeadline: instant(r.carrier_deadline),
      assignee: textOrNull(r.assignee),
      createdAt: instant(r.created_at),
      updatedAt: instant(r.updated_at),
      completedAt: instant(r.completed_at),
      escalatedAt: instant(r.escalated_at),
      version: int(r.version)
    }),
    corrupt("reading a ticket")
  )

const toAction = (r: Record<string, unknown>) =>
  new TicketAction({
    id: String(r.id),
    ticketId: String(r.ticket_id),
    customerId: String(r.customer_id),
    kind: String(r.kind),
    actor: String(r.actor),
    note: textOrNull(r.note),
    data: jsonColumn(r.data),
    at: new Date(int(r.at))
  })

const actionRow = (a: TicketAction) => ({
  id: a.id,
  ticket_id: a.ticketId,
  customer_id: a.customerId,
  kind: a.kind,
  actor: a.actor,
  note: a.note,
  data: JSON.stringify(a.data ?? {}),
  at: a.at.getTime()
})

const ms = (d: Date | null) => (d === null ? null : d.getTime())

/** The columns of a ticket that change. */
const stateColumns = (t: Ticket) => ({
  status: t.status,
  priority: t.priority,
  order_reference: t.orderReference,
  amount: t.amount,
  carrier: t.carrier,
  carrier_deadline: ms(t.carrierDeadline),
  assignee: t.assignee,
  updated_at: t.updatedAt.getTime(),
  completed_at: ms(t.completedAt),
  escalated_at: ms(t.escalatedAt),
  version: t.version
})

const memoKey = (code: string) => `ticket:code:${code}`

/** @since 0.2.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork

  const bigint = (v: number | null) => sql`CAST(${v} AS BIGINT)`
  const codeOf = (year: number) =>
    sql.onDialectOrElse({
      pg: () =>
        sql`${"TV-" + year + "-"} || CASE WHEN last_number < 100000 THEN lpad(CAST(last_number AS TEXT), 5, '0')
          ELSE CAST(last_number AS TEXT) END`,
      orElse: () => sql`${"TV-" + year + "-"} || printf('%05d', last_number)`
    })

  const historyInsert = (history: ReadonlyArray<TicketAction>): ReadonlyArray<Statement.Statement<unknown>> =>
    history.length === 0 ? [] : [sql`INSERT INTO c360_ticket_actions ${sql.insert(history.map(actionRow))}`]

  const create = (t: Ticket, year: number, history: ReadonlyArray<TicketAction>, event: DomainEvent) =>
    Effect.gen(function*() {
      const row = eventRow(event)
      const results = yield* uow.writeNow<never>({
        operation: "creating a ticket",
        statements: [
          sql`INSERT INTO c360_ticket_counters (year, last_number) VALUES (${year}, 1)
            ON CONFLICT (year) DO UPDATE SET last_number = c360_ticket_counters.last_number + 1`,
          sql`INSERT INTO c360_tickets (id, code, year, number, type, status, priority, customer_id, phone,
              order_reference, amount, carrier, carrier_deadline, assignee, created_at, updated_at, completed_at,
              escalated_at, version)
            SELECT ${t.id}, ${codeOf(year)}, CAST(${year} AS INTEGER), last_number, ${t.type}, ${t.status}, ${t.priority},
              ${t.customerId}, ${t.phone}, ${t.orderReference}, ${bigint(t.amount)}, ${t.carrier},
              ${bigint(ms(t.carrierDeadline))}, ${t.assignee}, ${bigint(t.createdAt.getTime())},
              ${bigint(t.updatedAt.getTime())}, ${bigint(null)}, ${bigint(null)}, ${bigint(0)}
            FROM c360_ticket_counters WHERE year = ${year}
            RETURNING code`,
          ...historyInsert(history),
          sql`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
            SELECT ${row.id}, ${row.channel}, ${row.type}, ${row.subject},
              replace(${row.payload}, ${JSON.stringify(CODE_PLACEHOLDER)}, '"' || code || '"'), ${bigint(row.occurred_at)}
            FROM c360_tickets WHERE id = ${t.id}`,
          // the creation's activity, recorded before the code was known, gets it too
          sql`UPDATE c360_activities
            SET data = replace(data, ${JSON.stringify(CODE_PLACEHOLDER)}, (SELECT '"' || code || '"' FROM c360_tickets WHERE id = ${t.id}))
            WHERE customer_id = ${t.customerId} AND subject_type = 'ticket' AND subject_id = ${t.id}`
        ]
      })
      const code = results[1]?.[0]?.code
      if (typeof code !== "string") return yield* corrupt("creating a ticket")("no code returned")
      return code
    })

  const findByCode = (code: string) =>
    Effect.flatMap(uow.recall<Ticket>(memoKey(code)), (remembered) =>
      remembered !== undefined
        ? Effect.succeed(Option.some(remembered))
        : sql<Record<string, unknown>>`SELECT * FROM c360_tickets WHERE code = ${code}`.pipe(
          storage("reading a ticket"),
          Effect.flatMap((rows) => (rows.length === 0 ? Effect.succeed(Option.none()) : Effect.map(toTicket(rows[0]!), Option.some)))
        ))

  const update = (t: Ticket, history: ReadonlyArray<TicketAction>) =>
    uow.write<never>({
      operation: "changing a ticket",
      statements: [
        sql`UPDATE c360_tickets SET ${sql.update(stateColumns(t))} WHERE id = ${t.id}`,
        ...historyInsert(history)
      ],
      // a change planned on a stale read, or a special action recorded meanwhile: run again
      onFailure: (f) =>
        f._tag === "StaleWrite" ||
          // PostgreSQL names the index; SQLite and D1 name its columns
          (f._tag === "UniqueViolation" && (f.constraint.includes("special") || f.constraint.includes("c360_ticket_actions")))
          ? rerun
          : undefined
    }).pipe(Effect.zipRight(uow.remember(memoKey(t.code), t)))

  const specialAction = (ticketId: string, kind: string) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_ticket_actions WHERE ticket_id = ${ticketId} AND kind = ${kind}`.pipe(
      storage("reading a ticket's special action"),
      Effect.map((rows) => (rows.length === 0 ? Option.none() : Option.some(toAction(rows[0]!))))
    )

  const history = (ticketId: string) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_ticket_actions WHERE ticket_id = ${ticketId} ORDER BY at, id`.pipe(
      storage("reading a ticket's history"),
      Effect.map((rows) => rows.map(toAction))
    )

  const list = (c: TicketCriteria) => {
    const where = [
      ...(c.status === undefined ? [] : [sql`status = ${c.status}`]),
      ...(c.type === undefined ? [] : [sql`type = ${c.type}`]),
      ...(c.customerId === undefined ? [] : [sql`customer_id = ${c.customerId}`])
    ]
    const clause = where.length === 0 ? sql.literal("") : sql`WHERE ${sql.and(where)}`
    return Effect.all({
      rows: sql<Record<string, unknown>>`SELECT * FROM c360_tickets ${clause}
        ORDER BY created_at DESC, id DESC LIMIT ${c.limit} OFFSET ${c.offset}`,
      count: sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_tickets ${clause}`
    }).pipe(
      storage("listing tickets"),
      Effect.flatMap(({ count, rows }) =>
        Effect.map(Effect.forEach(rows, toTicket), (items) => ({ items, total: int(count[0]?.n ?? 0) }))
      )
    )
  }

  const addCompleted = (t: Ticket) => {
    const one = (type: TicketType) => (t.type === type ? 1 : 0)
    return uow.write<never>({
      operation: "adding a completed ticket to its customer's statistics",
      statements: [sql`INSERT INTO c360_ticket_stats ${sql.insert({
        customer_id: t.customerId,
        completed: 1,
        boom: one("BOOM"),
        doi: one("DOI"),
        thieu: one("THIEU"),
        hoan: one("HOAN"),
        khac: one("KHAC"),
        returns: isReturn(t.type) ? 1 : 0,
        last_completed_at: ms(t.completedAt)
      })} ON CONFLICT (customer_id) DO UPDATE SET
        completed = c360_ticket_stats.completed + excluded.completed,
        boom = c360_ticket_stats.boom + excluded.boom,
        doi = c360_ticket_stats.doi + excluded.doi,
        thieu = c360_ticket_stats.thieu + excluded.thieu,
        hoan = c360_ticket_stats.hoan + excluded.hoan,
        khac = c360_ticket_stats.khac + excluded.khac,
        returns = c360_ticket_stats.returns + excluded.returns,
        last_completed_at = CASE WHEN c360_ticket_stats.last_completed_at IS NULL
          OR excluded.last_completed_at > c360_ticket_stats.last_completed_at
          THEN excluded.last_completed_at ELSE c360_ticket_stats.last_completed_at END`]
    })
  }

  const stats = (customerId: string) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_ticket_stats WHERE customer_id = ${customerId}`.pipe(
      storage("reading ticket statistics"),
      Effect.map((rows) => {
        const r = rows[0] ?? {}
        const n = (v: unknown) => (v === undefined ? 0 : int(v))
        return new TicketStats({
          customerId,
          completed: n(r.completed),
          boom: n(r.boom),
          doi: n(r.doi),
          thieu: n(r.thieu),
          hoan: n(r.hoan),
          khac: n(r.khac),
          returns: n(r.returns),
          lastCompletedAt: instant(r.last_completed_at)
        })
      })
    )

  const dueForEscalation = (before: number, limit: number) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_tickets
      WHERE escalated_at IS NULL AND carrier_deadline IS NOT NULL
        AND status IN ('new', 'processing', 'waiting_carrier') AND carrier_deadline < ${before}
      ORDER BY carrier_deadline, id LIMIT ${limit}`.pipe(
      storage("reading tickets due for escalation"),
      Effect.flatMap((rows) => Effect.forEach(rows, toTicket))
    )

  const customerActions = (customerId: string, slice: { readonly before: Position | null; readonly limit: number }) =>
    sql<Record<string, unknown>>`SELECT a.*, t.code AS ticket_code FROM c360_ticket_actions a
      JOIN c360_tickets t ON t.id = a.ticket_id
      WHERE a.customer_id = ${customerId}
        AND ${slice.before === null ? sql`1 = 1` : sql`(a.at < ${slice.before.at} OR (a.at = ${slice.before.at} AND a.id < ${slice.before.id}))`}
      ORDER BY a.at DESC, a.id DESC LIMIT ${slice.limit}`.pipe(
      storage("reading a customer's ticket history"),
      Effect.map((rows) => rows.map((r) => ({ action: toAction(r), code: String(r.ticket_code) })))
    )

  const statsJson = (t: TicketStats) => ({
    completed: t.completed,
    boom: t.boom,
    doi: t.doi,
    thieu: t.thieu,
    hoan: t.hoan,
    khac: t.khac,
    returns: t.returns,
    lastCompletedAt: ms(t.lastCompletedAt)
  })

  const planMerge = (context: MergeContext) =>
    Effect.gen(function*() {
      const from = context.merged.id
      const to = context.survivor.id
      const counts = yield* sql<{ tickets: unknown; actions: unknown }>`SELECT
          (SELECT count(*) FROM c360_tickets WHERE customer_id = ${from}) AS tickets,
          (SELECT count(*) FROM c360_ticket_actions WHERE customer_id = ${from}) AS actions`.pipe(
        storage("counting the tickets of a merged profile")
      )
      const merged = yield* stats(from)
      // with several merged profiles, the survivor's row as the earlier ones in this merge leave it
      const memo = `tickets:merge-stats:${context.mergeId}:${to}`
      const survivorBefore = (yield* uow.recall<ReturnType<typeof statsJson>>(memo)) ?? statsJson(yield* stats(to))
      const before = statsJson(merged)
      const last = [survivorBefore.lastCompletedAt, before.lastCompletedAt].filter((v): v is number => v !== null)
      yield* uow.remember(memo, {
        ...Object.fromEntries(STAT_COLUMNS.map((c) => [c, survivorBefore[c] + before[c]])),
        lastCompletedAt: last.length === 0 ? null : Math.max(...last)
      })
      const hasStats = STAT_COLUMNS.some((c) => before[c] !== 0) || before.lastCompletedAt !== null
      const [ticketJournal] = repoint(sql, context, { part: "tickets", table: "c360_tickets" })
      const statements: Array<Statement.Statement<unknown>> = [
        ticketJournal!,
        sql`UPDATE c360_tickets SET customer_id = ${to}, version = version + 1 WHERE customer_id = ${from}`,
        ...repoint(sql, context, { part: "tickets", table: "c360_ticket_actions" })
      ]
      if (hasStats) {
        const cols = sql.literal(STAT_COLUMNS.join(", "))
        statements.push(
          journalRow(sql, context, {
            part: "tickets",
            table: "c360_ticket_stats",
            rowId: from,
            action: "changed",
            data: { before, survivorBefore }
          }),
          sql`INSERT INTO c360_ticket_stats (customer_id, ${cols}, last_completed_at)
            SELECT ${to}, ${cols}, last_completed_at FROM c360_ticket_stats WHERE customer_id = ${from}
            ON CONFLICT (customer_id) DO UPDATE SET ${
            sql.literal(STAT_COLUMNS.map((c) => `${c} = c360_ticket_stats.${c} + excluded.${c}`).join(", "))
          },
              last_completed_at = CASE WHEN c360_ticket_stats.last_completed_at IS NULL
                OR excluded.last_completed_at > c360_ticket_stats.last_completed_at
                THEN excluded.last_completed_at ELSE c360_ticket_stats.last_completed_at END`,
          sql`UPDATE c360_ticket_stats SET ${sql.literal(STAT_COLUMNS.map((c) => `${c} = 0`).join(", "))},
            last_completed_at = NULL WHERE customer_id = ${from}`
        )
      }
      return {
        tickets: int(counts[0]?.tickets ?? 0),
        actions: int(counts[0]?.actions ?? 0),
        completed: before.completed,
        apply: uow.write<never>({ operation: "moving tickets to a merge's survivor", statements }).pipe(
          // what this transaction remembered of tickets names their old customer
          Effect.zipRight(uow.forget("ticket:"))
        )
      } satisfies TicketMergePlan
    })

  return TicketRepository.of({
    planMerge,
    create,
    findByCode,
    update,
    specialAction,
    history,
    list,
    addCompleted,
    stats,
    dueForEscalation,
    customerActions
  })
})

/** @since 0.2.0 */
export const layer: Layer.Layer<TicketRepository, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(TicketRepository, make)
