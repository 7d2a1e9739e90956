/**
 * Exclusive runs across processes sharing a database, on the `JobLeases` port: a job (or any effect)
 * runs while this process holds the lease of its name, which is renewed every third of its TTL and
 * released when the run ends, however it ends. The job service runs every job this way
 * (`jobs/Jobs.ts`, docs/jobs.md#exclusivity); a service whose on-demand run must exclude the
 * scheduled one (the RFM recomputation) takes the same lease.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { StorageError } from "../kernel/Errors.js"
import { encodeId } from "../kernel/Ids.js"
import { randomBytes } from "../kernel/Input.js"
import type { JobLeasesShape } from "./JobLeases.js"

/**
 * The job's lease was taken over by another runner, or could not be renewed before it expired; the
 * job was interrupted (whatever it had committed stays committed).
 *
 * @since 0.1.0
 */
export class JobLeaseLost extends Schema.TaggedError<JobLeaseLost>()("JobLeaseLost", { job: Schema.String }) {
  override get message(): string {
    return `Job ${this.job}: its lease was taken over or could not be renewed in time; the run was stopped`
  }
}

// Leases are kept in real time, whatever clock the business rules run on (a test clock, a host's
// fixed `now`): a frozen clock must not keep a lease alive forever or never renew it.
const liveClock = Clock.make()
const sleepLive = (millis: number) => Effect.withClock(Effect.sleep(Duration.millis(millis)), liveClock)
/** A failed release is tried this many times in all, waiting 50, 100, 200 … ms between attempts. */
const RELEASE_ATTEMPTS = 6
const RELEASE_FIRST_WAIT_MS = 50

/**
 * Runs effects exclusively under named leases.
 *
 * @since 0.3.0
 */
export type RunExclusive = <A, E, R>(
  name: string,
  job: Effect.Effect<A, E, R>
) => Effect.Effect<Option.Option<A>, E | JobLeaseLost | StorageError, R>

/**
 * `runExclusive(name, job)`: `Some(result)`, or `None` without running it when another holder's
 * lease is running (see `Jobs.runExclusive` for the whole contract). Holders are named
 * `<holderPrefix>/<a unique run id>`; leases last `ttlMs` past their last renewal.
 *
 * @since 0.3.0
 */
export const makeRunExclusive = (
  leases: JobLeasesShape,
  options: { readonly ttlMs: number; readonly holderPrefix: string }
): RunExclusive => {
  const { holderPrefix, ttlMs } = options
  const newHolder = Effect.zipWith(Clock.currentTimeMillis, randomBytes, (ms, bytes) => `${holderPrefix}/${encodeId("run", ms, bytes)}`)

  /** When a lease this run holds (or may hold) runs out at the latest, on `performance.now()`'s scale. */
  interface Held {
    expiresBy: number
  }

  /**
   * Gives the lease up, best effort: a failed release (the database blipped, as it may have just
   * failed the job) is tried again after 50, 100, 200, 400 and 800 ms, never past the lease's end;
   * if every attempt fails, the lease runs out after its TTL.
   */
  const release = (name: string, holder: string, held: Held): Effect.Effect<void> => {
    const attempt = (n: number): Effect.Effect<void> =>
      Effect.catchAll(leases.release(name, holder), () => {
        const wait = RELEASE_FIRST_WAIT_MS * 2 ** n
        return n + 1 >= RELEASE_ATTEMPTS || performance.now() + wait >= held.expiresBy
          ? Effect.void
          : Effect.zipRight(sleepLive(wait), attempt(n + 1))
      })
    return Effect.catchAllCause(attempt(0), () => Effect.void)
  }

  /** Renews the lease every third of its TTL; fails only when the lease is lost. */
  const keepLease = (name: string, holder: string, held: Held): Effect.Effect<never, JobLeaseLost> => {
    const beat: Effect.Effect<void, JobLeaseLost> = Effect.gen(function*() {
      yield* sleepLive(ttlMs / 3)
      const sent = performance.now()
      const renewed = yield* Effect.either(leases.renew(name, holder, ttlMs))
      if (Either.isRight(renewed)) {
        if (!renewed.right) return yield* new JobLeaseLost({ job: name })
        held.expiresBy = sent + ttlMs
      } else if (performance.now() >= held.expiresBy) {
        return yield* new JobLeaseLost({ job: name })
      }
    })
    return Effect.forever(beat)
  }

  /**
   * Claims the lease: `Some` when this run holds it, `None` when another holder's is running. A
   * claim that failed because the database was unreachable or erred may have been taken all the
   * same (its answer was lost): it is released (best effort) before the failure goes on. A claim that
   * lost a race (`contention`) wrote nothing.
   */
  const claim = (name: string, holder: string): Effect.Effect<Option.Option<Held>, StorageError> =>
    Effect.suspend(() => {
      // Taken before the claim: the lease cannot expire earlier than this plus its TTL.
      const held: Held = { expiresBy: performance.now() + ttlMs }
      return leases.claim(name, holder, ttlMs).pipe(
        Effect.map((claimed) => (claimed ? Option.some(held) : Option.none())),
        Effect.tapError((e) => (e.reason === "contention" ? Effect.void : release(name, holder, held)))
      )
    })

  const runExclusive: RunExclusive = (name, job) =>
    Effect.flatMap(newHolder, (holder) =>
      Effect.acquireUseRelease(
        claim(name, holder),
        Option.match({
          onNone: () => Effect.succeedNone,
          // Both sides are interruptible even when the caller is not (a runner that lets a run finish
          // on a signal): losing the lease stops the job, the job's end stops the renewals.
          onSome: (held) =>
            Effect.asSome(
              Effect.raceFirst(Effect.interruptible(job), Effect.interruptible(keepLease(name, holder, held)))
            )
        }),
        (claimed) => (Option.isSome(claimed) ? release(name, holder, claimed.value) : Effect.void)
      ))
  return runExclusive
}
