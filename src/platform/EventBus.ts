/**
 * In-process delivery of events to subscribers, by channel: the relay hands it what it reads
 * from the outbox, and it fans each event out to the unbounded queue of every subscriber of the
 * event's channel, in order, before `deliver` returns.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { Channel, StoredEvent } from "../kernel/Events.js"

/**
 * Subscriptions to delivered events.
 *
 * @since 0.1.0
 */
export interface EventBusShape {
  /** Hands events to the current subscribers of their channels. */
  readonly deliver: (events: ReadonlyArray<StoredEvent>) => Effect.Effect<void>
  /** A queue of the events of `channels` delivered from now on, open for the life of the scope. */
  readonly subscribe: (
    channels: ReadonlyArray<Channel>
  ) => Effect.Effect<Queue.Dequeue<StoredEvent>, never, Scope.Scope>
  /** How many subscriptions are open. */
  readonly subscribers: Effect.Effect<number>
}

/** The EventBus service. @since 0.1.0 */
export class EventBus extends Context.Tag("customer360/EventBus")<EventBus, EventBusShape>() {}

/** @since 0.1.0 */
export const make: Effect.Effect<EventBusShape> = Effect.sync(() => {
  const subscribers = new Set<{ readonly wanted: ReadonlySet<string>; readonly queue: Queue.Queue<StoredEvent> }>()
  return EventBus.of({
    deliver: (events) =>
      Effect.sync(() => {
        for (const event of events) {
          for (const s of subscribers) if (s.wanted.has(event.channel)) s.queue.unsafeOffer(event)
        }
      }),
    subscribe: (channels) =>
      Effect.acquireRelease(
        Effect.map(Queue.unbounded<StoredEvent>(), (queue) => {
          subscribers.add({ wanted: new Set(channels), queue })
          return queue
        }),
        (queue) =>
          Effect.suspend(() => {
            for (const s of subscribers) if (s.queue === queue) subscribers.delete(s)
            return Queue.shutdown(queue)
          })
      ),
    subscribers: Effect.sync(() => subscribers.size)
  })
})

/** @since 0.1.0 */
export const layer: Layer.Layer<EventBus> = Layer.effect(EventBus, make)
