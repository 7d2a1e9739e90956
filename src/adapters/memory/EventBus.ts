/**
 * An in-process event bus: the `EventPublisher` port on an unbounded `PubSub`, plus subscriptions
 * by channel. Delivery is at-most-once and lives in memory: a process that stops loses what it has
 * not delivered. (The transactional outbox replaces it where events must survive a crash.)
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
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
  Effect.gen(function*() {
    const hub = yield* PubSub.unbounded<DomainEvent>()
    const publisher = EventPublisher.of({
      publish: (events) => Effect.asVoid(PubSub.publishAll(hub, events))
    })
    const bus = EventBus.of({
      subscribe: (channels) =>
        Effect.gen(function*() {
          const wanted = new Set<string>(channels)
          const source = yield* PubSub.subscribe(hub)
          const out = yield* Effect.acquireRelease(Queue.unbounded<DomainEvent>(), Queue.shutdown)
          yield* Queue.take(source).pipe(
            Effect.flatMap((event) => wanted.has(event.channel) ? Queue.offer(out, event) : Effect.void),
            Effect.forever,
            Effect.forkScoped
          )
          return out
        })
    })
    return Context.make(EventPublisher, publisher).pipe(Context.add(EventBus, bus))
  })
)
