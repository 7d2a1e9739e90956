/**
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../kernel/Errors.js"
import type { DomainEvent } from "../kernel/Events.js"

/**
 * Where services hand their events: inside the transaction of the change, so an event exists if
 * and only if its change committed (the SQL adapter writes them to the outbox table). Delivery to
 * subscribers is the relay's job.
 *
 * @since 0.1.0
 */
export interface EventPublisherShape {
  readonly publish: (events: ReadonlyArray<DomainEvent>) => Effect.Effect<void, StorageError>
}

/** The EventPublisher service. @since 0.1.0 */
export class EventPublisher extends Context.Tag("customer360/EventPublisher")<EventPublisher, EventPublisherShape>() {}
