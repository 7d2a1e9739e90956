/**
 * The transactional outbox on the generic `SqlClient`: `Outbox` reads the events back in delivery
 * order for relays. (They are written by the unit of work's `EventPublisher`, in the transaction of
 * their change: see `UnitOfWork.ts`.)
 *
 * Positions are outbox sequence numbers. Events of one wallet get their numbers while the writer
 * holds the wallet's row lock, so number order is each wallet's commit order. On PostgreSQL a
 * number can still become visible after a higher one (its transaction commits later), so a read
 * first notes the highest visible number and the next transaction id to be assigned, waits (briefly,
 * bounded) until every transaction that was running then has ended, and only then returns events
 * up to that number: a relay that resumes after the last one returned never skips an event. SQLite
 * commits one writer at a time, so there is nothing to wait for.
 *
 * The rules, in full: docs/events.md#the-outbox.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { DomainEvent, StoredEvent } from "../../kernel/Events.js"
import { Outbox } from "../Outbox.js"
import { sleepLive, storage } from "./SqlFailure.js"
import { int } from "./Columns.js"


const parsePosition = (position: string | null): number => {
  if (position === null) return 0
  const seq = Number(position.includes(":") ? position.slice(position.indexOf(":") + 1) : position)
  return Number.isSafeInteger(seq) && seq > 0 ? seq : 0
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
    position: String(int(row.seq))
  }) as StoredEvent

/**
 * Builds the outbox reader over the `SqlClient` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const rowsAfter = (after: number, upTo: number, limit: number) =>
    sql<Record<string, unknown>>`SELECT seq, id, channel, type, subject, payload, occurred_at FROM c360_outbox
      WHERE seq > ${after} AND seq <= ${upTo} ORDER BY seq LIMIT ${limit}`

  /** PostgreSQL: the highest number that can no longer be overtaken, or `null` if that takes too long. */
  const settledPg = Effect.gen(function*() {
    const [mark] = yield* sql<{ xmax: unknown; top: unknown }>`SELECT
      pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax,
      (SELECT coalesce(max(seq), 0) FROM c360_outbox) AS top`
    const xmax = int(mark!.xmax)
    for (let i = 0; i < 200; i++) {
      const [now] = yield* sql<{ xmin: unknown }>`SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin`
      if (int(now!.xmin) >= xmax) return int(mark!.top)
      yield* sleepLive(Duration.millis(Math.min(50, 1 + i)))
    }
    return null
  })

  const outbox = Outbox.of({
    read: (position, limit) =>
      Effect.gen(function*() {
        const after = parsePosition(position)
        const upTo = yield* sql.onDialectOrElse({
          pg: () => settledPg,
          orElse: () => Effect.map(sql<{ top: unknown }>`SELECT coalesce(max(seq), 0) AS top FROM c360_outbox`, (r) => int(r[0]!.top))
        })
        if (upTo === null || upTo <= after) return []
        return (yield* rowsAfter(after, upTo, limit)).map(toStored)
      }).pipe(storage("reading the outbox")),
    end: Effect.map(sql<{ seq: unknown }>`SELECT coalesce(max(seq), 0) AS seq FROM c360_outbox`, (rows) =>
      String(int(rows[0]!.seq))).pipe(storage("reading the end of the outbox")),
    positionOf: (eventId) =>
      sql<{ seq: unknown }>`SELECT seq FROM c360_outbox WHERE id = ${eventId}`.pipe(
        Effect.map((rows) => (rows.length === 0 ? null : String(int(rows[0]!.seq)))),
        storage("finding an event in the outbox")
      ),
    loadCheckpoint: (relay) =>
      sql<{ seq: unknown }>`SELECT seq FROM c360_relay_checkpoints WHERE name = ${relay}`.pipe(
        Effect.map((rows) => (rows.length === 0 ? null : String(int(rows[0]!.seq)))),
        storage("reading a relay checkpoint")
      ),
    saveCheckpoint: (relay, position) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql`INSERT INTO c360_relay_checkpoints (name, tx, seq, updated_at) VALUES (${relay}, 0, ${parsePosition(position)}, ${now})
          ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`).pipe(
        Effect.asVoid,
        storage("saving a relay checkpoint")
      )
  })

  return outbox
})

/**
 * The outbox as a layer over any `SqlClient`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Outbox, never, SqlClient.SqlClient> = Layer.effect(Outbox, make)
