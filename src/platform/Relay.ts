/**
 * The outbox relay: reads committed events from the outbox in delivery order and hands them to a
 * consumer, then records how far it got under its name. At least once: a relay that stops between
 * delivering and recording delivers those events again when it restarts; nothing committed is
 * lost. Events of one wallet keep their commit order. Run one relay per name at a time.
 *
 * The rules, in full: docs/events.md#relay.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { StoredEvent } from "../kernel/Events.js"
import { Outbox } from "./Outbox.js"

/**
 * - `name`: whose checkpoint this is (one per consumer: a process's subscribers, a webhook sender).
 * - `from`: where a relay with no checkpoint starts: `"end"` (default; only events committed from
 *   now on) or `"start"` (the whole outbox).
 * - `batchSize` (default 500) and `pollInterval` (default 100 ms, when the outbox is drained).
 *
 * @since 0.1.0
 */
export interface RelayOptions {
  readonly name: string
  readonly from?: "end" | "start" | undefined
  readonly batchSize?: number | undefined
  readonly pollInterval?: Duration.DurationInput | undefined
}

/**
 * Where the relay resumes: its checkpoint, or (first run) the start or end of the outbox, which
 * it records at once so that a crash right after does not move it.
 *
 * @since 0.1.0
 */
export const start = (options: RelayOptions) =>
  Effect.gen(function*() {
    const outbox = yield* Outbox
    const saved = yield* outbox.loadCheckpoint(options.name)
    if (saved !== null) return saved
    const initial = options.from === "start" ? "0" : yield* outbox.end
    yield* outbox.saveCheckpoint(options.name, initial)
    return initial
  })

/**
 * Delivers one batch after `position`; returns the new position (unchanged when there was nothing).
 *
 * @since 0.1.0
 */
export const step = <E, R>(
  options: RelayOptions,
  position: string,
  deliver: (events: ReadonlyArray<StoredEvent>) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    const outbox = yield* Outbox
    const events = yield* outbox.read(position, options.batchSize ?? 500)
    if (events.length === 0) return position
    yield* deliver(events)
    const next = events[events.length - 1]!.position
    yield* outbox.saveCheckpoint(options.name, next)
    return next
  })

/**
 * Runs the relay until interrupted. A failing read, delivery or checkpoint is logged and retried
 * after a pause; the position only moves past events that were delivered.
 *
 * @since 0.1.0
 */
export const run = <E, R>(
  options: RelayOptions,
  deliver: (events: ReadonlyArray<StoredEvent>) => Effect.Effect<void, E, R>
): Effect.Effect<never, never, Outbox | R> => {
  const poll = Duration.decode(options.pollInterval ?? Duration.millis(100))
  const loop = (position: string): Effect.Effect<never, never, Outbox | R> =>
    step(options, position, deliver).pipe(
      Effect.flatMap((next) => (next === position ? Effect.as(Effect.sleep(poll), next) : Effect.succeed(next))),
      Effect.catchAllCause((cause) =>
        Effect.as(
          Effect.zipRight(Effect.logWarning(`relay ${options.name}: retrying after a failure`, cause), Effect.sleep(Duration.times(poll, 10))),
          position
        )
      ),
      Effect.flatMap(loop)
    )
  return start(options).pipe(
    Effect.tapErrorCause((cause) => Effect.logWarning(`relay ${options.name}: could not start; retrying`, cause)),
    Effect.retry(Schedule.spaced(Duration.times(poll, 10))),
    Effect.orDie,
    Effect.flatMap(loop)
  )
}
