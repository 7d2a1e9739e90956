/**
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../kernel/Errors.js"
import type { StoredEvent } from "../kernel/Events.js"

/**
 * Reading the outbox, for relays. Positions are opaque strings that increase in delivery order.
 *
 * @since 0.1.0
 */
export interface OutboxShape {
  /**
   * Up to `limit` events after `position` (from the start when `null`), in delivery order. Only
   * events whose position can no longer be overtaken by a later commit are returned, so resuming
   * after the last one returned never skips an event.
   */
  readonly read: (position: string | null, limit: number) => Effect.Effect<ReadonlyArray<StoredEvent>, StorageError>
  /** The position after every event committed so far. */
  readonly end: Effect.Effect<string, StorageError>
  /** The position of the event with this id, if it is in the outbox. */
  readonly positionOf: (eventId: string) => Effect.Effect<string | null, StorageError>
  readonly loadCheckpoint: (relay: string) => Effect.Effect<string | null, StorageError>
  readonly saveCheckpoint: (relay: string, position: string) => Effect.Effect<void, StorageError>
}

/** The Outbox service. @since 0.1.0 */
export class Outbox extends Context.Tag("customer360/Outbox")<Outbox, OutboxShape>() {}
