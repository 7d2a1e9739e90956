/**
 * Clocks for tests that need "now" fixed per operation while retries still sleep in real time.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

const liveClock = Clock.make()

/** A clock stopped at `millis` whose `sleep` really sleeps. */
export const clockAt = (millis: number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => millis,
  currentTimeMillis: Effect.succeed(millis),
  unsafeCurrentTimeNanos: () => BigInt(millis) * 1_000_000n,
  currentTimeNanos: Effect.succeed(BigInt(millis) * 1_000_000n),
  sleep: (duration) => liveClock.sleep(duration)
})

/** Runs `self` with "now" = `millis`. */
export const atTime = (millis: number) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withClock(self, clockAt(millis))
