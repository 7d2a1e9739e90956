/**
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { DomainEvent } from "../domain/Events.js"

/**
 * Where services hand their events. Services call `publish` only after their transaction has
 * committed, so a subscriber never sees an event for a change that was rolled back.
 *
 * @since 0.1.0
 */
export interface EventPublisher {
  readonly publish: (events: ReadonlyArray<DomainEvent>) => Effect.Effect<void>
}

/** @since 0.1.0 */
export const EventPublisher: Context.Tag<EventPublisher, EventPublisher> = Context.GenericTag<EventPublisher>(
  "customer360/EventPublisher"
)
