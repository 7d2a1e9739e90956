/**
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../kernel/Errors.js"

/**
 * Leases on named jobs, kept by the database so that processes sharing it exclude each other. A
 * lease belongs to one `holder` (a string unique to one run) until it is released or its time runs
 * out; times are the database's clock, so the hosts' clocks need not agree.
 *
 * Each method is one statement: the storage decides atomically, never a read before a write.
 *
 * @since 0.1.0
 */
export interface JobLeasesShape {
  /**
   * Takes the lease on `name` for `ttlMs` unless another holder's lease is still running (one that
   * has expired is taken over). Of any number of concurrent claims on a free or expired lease,
   * exactly one returns `true`. A claim that fails `unavailable` or `unexpected` may have been taken
   * all the same (the connection died after the statement); one that fails `contention` was not.
   */
  readonly claim: (name: string, holder: string, ttlMs: number) => Effect.Effect<boolean, StorageError>
  /**
   * Extends the lease to `ttlMs` from now if `holder` still holds it; `false` when another holder
   * has taken it over (or it was released).
   */
  readonly renew: (name: string, holder: string, ttlMs: number) => Effect.Effect<boolean, StorageError>
  /**
   * Gives the lease up if `holder` holds it; does nothing otherwise. Idempotent, so it is safe to
   * repeat after a failure and to call after a claim whose answer was lost (whether or not it was
   * taken): `Jobs` does both.
   */
  readonly release: (name: string, holder: string) => Effect.Effect<void, StorageError>
}

/** The JobLeases service. @since 0.1.0 */
export class JobLeases extends Context.Tag("customer360/JobLeases")<JobLeases, JobLeasesShape>() {}
