/**
 * An `EventSink` that writes one log line per event (`Effect.logInfo`, through the host's logger):
 * `event id=… type=… channel=… subject=… position=… occurred_at=…`. For a runner with nowhere to send
 * events yet, and for watching the outbox; it never fails.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { StoredEvent } from "../../kernel/Events.js"
import { EventSink } from "../EventSink.js"

/**
 * The log line of one event.
 *
 * @since 0.1.0
 */
export const eventLine = (event: StoredEvent): string =>
  `event id=${event.id} type=${event.type} channel=${event.channel} subject=${event.subject} position=${event.position} occurred_at=${event.occurredAt.toISOString()}`

/** @since 0.1.0 */
export const layer: Layer.Layer<EventSink> = Layer.succeed(
  EventSink,
  EventSink.of({ deliver: (events) => Effect.forEach(events, (event) => Effect.logInfo(eventLine(event)), { discard: true }) })
)
