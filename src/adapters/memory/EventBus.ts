/**
 * An in-process event bus: the `EventPublisher` port fanning events out to subscribers' unbounded
 * queues, by channel. Delivery is at-most-once and lives in memory: a process that stops loses what it has
 * not delivered. (The transactional outbox replaces it where events must survive a crash.)
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { Channel, DomainEvent } from "../../domain/Events.js"
import { EventPublisher } from "../../ports/EventPublisher.js"

/**
 * Subscriptions to published events.
 *
 * @since 0.1.0
 */
export interface EventBus {
  /** A queue of the events of `channels` published from now on, open for the life of the scope. */
  readonly subscribe: (
    channels: ReadonlyArray<Channel>
  ) => Effect.Effect<Queue.Dequeue<DomainEvent>, never, Scope.Scope>
}

/** @since 0.1.0 */
export const EventBus: Context.Tag<EventBus, EventBus> = Context.GenericTag<EventBus>("customer360/EventBus")

/**
 * Both services on one `PubSub`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventBus | EventPublisher> = Layer.effectContext(
  Effect.sync(() => {
    // Publishing offers each event to every matching subscriber's unbounded queue before it
    // returns, so delivery order is publication order and nothing waits on a forwarding fiber.
    const subscribers = new Set<{ readonly wanted: ReadonlySet<string>; readonly queue: Queue.Queue<DomainEvent> }>()
    const publisher = EventPublisher.of({
      publish: (events) =>
        Effect.sync(() => {
          for (const event of events) {
            for (const s of subscribers) if (s.wanted.has(event.channel)) s.queue.unsafeOffer(event)
          }
        })
    })
    const bus = EventBus.of({
      subscribe: (channels) =>
        Effect.acquireRelease(
          Effect.map(Queue.unbounded<DomainEvent>(), (queue) => {
            subscribers.add({ wanted: new Set(channels), queue })
            return queue
          }),
          (queue) =>
            Effect.suspend(() => {
              for (const s of subscribers) if (s.queue === queue) subscribers.delete(s)
              return Queue.shutdown(queue)
            })
        )
    })
    return Context.make(EventPublisher, publisher).pipe(Context.add(EventBus, bus))
  })
)
