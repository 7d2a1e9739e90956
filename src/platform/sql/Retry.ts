/**
 * Bounded retries of contention, shared by every repository: a lost race, a busy database or a
 * broken connection is tried again after a jittered wait, a bounded number of times. Retrying is
 * safe because every write the library retries is idempotent (by its reference or its unique key).
 *
 * @internal
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { StorageError } from "../../kernel/Errors.js"
import { classify, sleepLive, storageFailure } from "./SqlFailure.js"

/** @internal Why an attempt must be tried again. */
export class Retry {
  readonly _tag = "Retry"
  constructor(readonly reason: "stale" | "contention" | "unavailable") {}
}

/** @internal How many attempts, and the wait before attempt `n + 1` after attempt `n` asked for a retry. */
export interface RetryPolicy {
  readonly maxAttempts: number
  readonly wait: (n: number, reason: Retry["reason"]) => Effect.Effect<void>
}

const MAX_ATTEMPTS = 12
/** @internal Lost version races re-read at once this many times before backing off (and, on PostgreSQL, locking). */
export const OPTIMISTIC_ATTEMPTS = 3

/** Jittered exponential backoff: 1, 2, 4 … 64 ms, each scaled by a random factor in [0.5, 1.5). */
const backoff = (attempt: number) =>
  Effect.flatMap(Random.next, (r) => sleepLive(Duration.millis(Math.min(64, 2 ** attempt) * (0.5 + r))))

/** @internal PostgreSQL and SQLite: a lost version race re-reads at once (three times), anything else backs off. */
export const sqlRetries: RetryPolicy = {
  maxAttempts: MAX_ATTEMPTS,
  wait: (n, reason) => (reason === "stale" && n < OPTIMISTIC_ATTEMPTS ? Effect.void : backoff(n))
}

/**
 * @internal Without locks (D1, deferred writes): full jitter over a window that doubles from 4 ms to
 * 500 ms, 16 attempts. Writers that lost a race to one wallet all re-read the same new version;
 * waiting a random time from the start spreads them out, so that later rounds have several winners.
 */
export const optimisticRetries: RetryPolicy = {
  maxAttempts: 16,
  wait: (n) => Effect.flatMap(Random.next, (r) => sleepLive(Duration.millis(r * Math.min(500, 4 * 2 ** n))))
}

/** @internal Runs `attempt` until it stops asking for a retry, at most `policy.maxAttempts` times. */
export const withRetries = <A, E, R>(
  operation: string,
  attempt: (n: number) => Effect.Effect<A, E | Retry, R>,
  policy: RetryPolicy = sqlRetries
): Effect.Effect<A, Exclude<E, Retry> | StorageError, R> => {
  const loop = (n: number): Effect.Effect<A, Exclude<E, Retry> | StorageError, R> =>
    Effect.catchIf(
      attempt(n),
      (e): e is Retry => e instanceof Retry,
      (e) =>
        n + 1 >= policy.maxAttempts
          ? Effect.fail(new StorageError({ reason: e.reason === "unavailable" ? "unavailable" : "contention", operation }))
          : Effect.zipRight(policy.wait(n, e.reason), loop(n + 1))
    ) as Effect.Effect<A, Exclude<E, Retry> | StorageError, R>
  return loop(0)
}

/**
 * @internal Maps a driver failure to a retry (contention, broken connection, stale write) or an
 * `unexpected` storage failure, logged on the server with its cause.
 */
export const sqlFailure = (operation: string) => (e: SqlError): Effect.Effect<never, Retry | StorageError> => {
  const failure = classify(e)
  if (failure._tag === "Retryable") return Effect.fail(new Retry("contention"))
  // A version guard refused a write planned on a stale read: re-read and re-plan.
  if (failure._tag === "StaleWrite") return Effect.fail(new Retry("stale"))
  if (failure._tag === "Unavailable") return Effect.fail(new Retry("unavailable"))
  // Two first deliveries of one reference on different wallets: the loser re-reads and replays.
  if (failure._tag === "UniqueViolation") return Effect.fail(new Retry("stale"))
  return storageFailure(operation)(e)
}
