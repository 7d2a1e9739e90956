/**
 * Committed events as a live, resumable stream, for Server-Sent Events.
 *
 * One tail per process reads the outbox (only while someone listens) and hands each event to the
 * open streams. A stream starts at a position of the outbox — the one of a `Last-Event-ID`, or the
 * end of the outbox when the connection is accepted — first replays what the outbox holds after it,
 * then continues with the tail's events, skipping those it already replayed. So a client that
 * reconnects with the id of the last event it saw receives exactly the events after it, in order,
 * and a client that connects without one receives every event committed after it connected.
 *
 * The rules, in full: docs/events.md#live-events.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import type { StorageError } from "../kernel/Errors.js"
import type { Channel, StoredEvent } from "../kernel/Events.js"
import { Outbox } from "./Outbox.js"

/**
 * - `pollInterval`: how often the outbox is read while someone listens (default 100 ms).
 * - `sharing`: `"process"` (default) — one tail per process feeds every stream; `"stream"` — each
 *   stream reads the outbox itself. Use `"stream"` where one request must not wait on work started
 *   by another (Cloudflare Workers cancel such a request as hung).
 *
 * @since 0.1.0
 */
export interface LiveEventsOptions {
  readonly pollInterval?: Duration.DurationInput | undefined
  readonly sharing?: "process" | "stream" | undefined
}

/**
 * The live event source.
 *
 * @since 0.1.0
 */
export interface LiveEventsShape {
  /**
   * The events of `channels` after the event `lastEventId` (when the outbox still has it), or else
   * after the end of the outbox as of this call. Never ends by itself; `resumed` says whether
   * `lastEventId` was found.
   */
  readonly open: (
    channels: ReadonlyArray<Channel>,
    lastEventId: string | null
  ) => Effect.Effect<{ readonly resumed: boolean; readonly events: Stream.Stream<StoredEvent, StorageError> }, StorageError>
}

/** The LiveEvents service. @since 0.1.0 */
export class LiveEvents extends Context.Tag("customer360/http/LiveEvents")<LiveEvents, LiveEventsShape>() {}

const after = (a: string, b: string): boolean => BigInt(a) > BigInt(b)

/**
 * The live source over the outbox; its tail runs for the life of the layer, reading only while a
 * stream is open.
 *
 * @since 0.1.0
 */
export const layer = (options: LiveEventsOptions = {}): Layer.Layer<LiveEvents, never, Outbox> =>
  Layer.scoped(
    LiveEvents,
    Effect.gen(function*() {
      const outbox = yield* Outbox
      const poll = Duration.decode(options.pollInterval ?? Duration.millis(100))
      const hub = yield* Effect.acquireRelease(PubSub.unbounded<StoredEvent>(), PubSub.shutdown)
      let listeners = 0
      let position: string | null = null

      const tick: Effect.Effect<boolean, StorageError> = Effect.gen(function*() {
        if (listeners === 0) {
          position = null
          return false
        }
        // a stream that finds the tail stopped sets where it starts (its own start position)
        if (position === null) return false
        const events = yield* outbox.read(position, 500)
        if (events.length === 0) return false
        yield* PubSub.publishAll(hub, events)
        position = events[events.length - 1]!.position
        return true
      })
      if (options.sharing !== "stream") {
        yield* tick.pipe(
        Effect.catchAllCause((cause) =>
          Effect.as(Effect.zipRight(Effect.logWarning("live events: reading the outbox failed; retrying", cause), Effect.sleep(poll)), false)
        ),
        Effect.flatMap((more) => (more ? Effect.void : Effect.sleep(poll))),
        Effect.forever,
        Effect.forkScoped
      )
      }

      // Each stream on its own: replay, then keep polling from where it got.
      const polling = (start: string) =>
        Stream.paginateChunkEffect(start, (from) =>
          Effect.flatMap(outbox.read(from, 500), (events) =>
            events.length === 0
              ? Effect.as(Effect.sleep(poll), [Chunk.empty<StoredEvent>(), Option.some(from)] as const)
              : Effect.succeed([Chunk.unsafeFromArray(events), Option.some(events[events.length - 1]!.position)] as const)))

      const replayFrom = (start: string) =>
        Stream.paginateChunkEffect(start, (from) =>
          Effect.map(outbox.read(from, 500), (events) =>
            [
              Chunk.unsafeFromArray(events),
              events.length === 0 ? Option.none<string>() : Option.some(events[events.length - 1]!.position)
            ] as const))

      return LiveEvents.of({
        open: (channels, lastEventId) =>
          Effect.gen(function*() {
            const wanted = new Set<string>(channels)
            const found = lastEventId === null ? null : yield* outbox.positionOf(lastEventId)
            const start = found ?? (yield* outbox.end)
            if (options.sharing === "stream") {
              return { resumed: found !== null, events: polling(start).pipe(Stream.filter((e) => wanted.has(e.channel))) }
            }
            const events = Stream.unwrapScoped(Effect.gen(function*() {
              // subscribe before replaying: nothing between the replay and the tail is lost
              const live = yield* PubSub.subscribe(hub)
              yield* Effect.sync(() => {
                listeners += 1
                // a stopped tail starts here: had it started at the end of the outbox instead, the
                // events committed between this stream's replay and that end would reach no one
                if (position === null) position = start
              })
              yield* Effect.addFinalizer(() => Effect.sync(() => void (listeners -= 1)))
              let last = start
              const replayed = replayFrom(start).pipe(Stream.tap((e) => Effect.sync(() => void (last = e.position))))
              const tail = Stream.fromQueue(live).pipe(Stream.filter((e) => after(e.position, last)))
              return Stream.concat(replayed, tail).pipe(Stream.filter((e) => wanted.has(e.channel)))
            }))
            return { resumed: found !== null, events }
          })
      })
    })
  )
