/**
 * The transactional outbox on the generic `SqlClient`: `EventPublisher` appends rows in the
 * caller's transaction; `Outbox` reads them back in delivery order for relays.
 *
 * Positions are `tx:seq`. On PostgreSQL `tx` is the writing transaction's id and a read only
 * returns rows of transactions older than the oldest one still running (`pg_snapshot_xmin`), so a
 * transaction that took a lower `seq` but commits after a higher one is never skipped. SQLite
 * serialises writers, so `tx` is 0 and `seq` order is commit order.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { DomainEvent, StoredEvent } from "../../domain/Events.js"
import { EventPublisher } from "../../ports/EventPublisher.js"
import { Outbox } from "../../ports/Outbox.js"
import { storage } from "./SqlFailure.js"

const int = (v: unknown): number => (typeof v === "number" ? v : Number(v))

const parsePosition = (position: string | null): readonly [number, number] => {
  if (position === null) return [-1, -1]
  const [tx, seq] = position.split(":").map(Number)
  return Number.isSafeInteger(tx) && Number.isSafeInteger(seq) ? [tx!, seq!] : [-1, -1]
}

/** The outbox row of an event. */
export const eventRow = (event: DomainEvent) => ({
  id: event.id,
  channel: event.channel,
  type: event.type,
  subject: event.subject,
  payload: JSON.stringify(event.data),
  occurred_at: event.occurredAt.getTime()
})

const toStored = (row: Record<string, unknown>): StoredEvent =>
  ({
    id: String(row.id),
    type: row.type,
    channel: row.channel,
    subject: String(row.subject),
    occurredAt: new Date(int(row.occurred_at)),
    data: JSON.parse(String(row.payload)),
    position: `${int(row.tx)}:${int(row.seq)}`
  }) as StoredEvent

/**
 * Builds both services over the `SqlClient` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const publisher = EventPublisher.of({
    publish: (events) =>
      events.length === 0
        ? Effect.void
        : storage("writing events to the outbox")(sql`INSERT INTO c360_outbox ${sql.insert(events.map(eventRow))}`)
  })

  const horizon = sql.onDialectOrElse({
    pg: () => sql`AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint`,
    orElse: () => sql.literal("")
  })

  const outbox = Outbox.of({
    read: (position, limit) => {
      const [tx, seq] = parsePosition(position)
      return sql<Record<string, unknown>>`SELECT seq, tx, id, channel, type, subject, payload, occurred_at
        FROM c360_outbox WHERE (tx, seq) > (${tx}, ${seq}) ${horizon}
        ORDER BY tx, seq LIMIT ${limit}`.pipe(
        Effect.map((rows) => rows.map(toStored)),
        storage("reading the outbox")
      )
    },
    end: sql.onDialectOrElse({
      pg: () =>
        Effect.map(
          sql<{ xmin: unknown }>`SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin`,
          (rows) => `${int(rows[0]!.xmin)}:0`
        ),
      orElse: () =>
        Effect.map(sql<{ seq: unknown }>`SELECT coalesce(max(seq), 0) AS seq FROM c360_outbox`, (rows) =>
          `0:${int(rows[0]!.seq)}`)
    }).pipe(storage("reading the end of the outbox")),
    positionOf: (eventId) =>
      sql<{ tx: unknown; seq: unknown }>`SELECT tx, seq FROM c360_outbox WHERE id = ${eventId}`.pipe(
        Effect.map((rows) => (rows.length === 0 ? null : `${int(rows[0]!.tx)}:${int(rows[0]!.seq)}`)),
        storage("finding an event in the outbox")
      ),
    loadCheckpoint: (relay) =>
      sql<{ tx: unknown; seq: unknown }>`SELECT tx, seq FROM c360_relay_checkpoints WHERE name = ${relay}`.pipe(
        Effect.map((rows) => (rows.length === 0 ? null : `${int(rows[0]!.tx)}:${int(rows[0]!.seq)}`)),
        storage("reading a relay checkpoint")
      ),
    saveCheckpoint: (relay, position) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const [tx, seq] = parsePosition(position)
        return sql`INSERT INTO c360_relay_checkpoints (name, tx, seq, updated_at) VALUES (${relay}, ${tx}, ${seq}, ${now})
          ON CONFLICT (name) DO UPDATE SET tx = excluded.tx, seq = excluded.seq, updated_at = excluded.updated_at`
      }).pipe(Effect.asVoid, storage("saving a relay checkpoint"))
  })

  return Context.make(EventPublisher, publisher).pipe(Context.add(Outbox, outbox))
})

/**
 * The outbox as a layer over any `SqlClient`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventPublisher | Outbox, never, SqlClient.SqlClient> = Layer.effectContext(make)
