/**
 * An on-demand RFM recomputation excludes the `rfm` job and other on-demand runs across processes:
 * it holds the job's lease while it runs; when another holder has it, it does nothing and fails
 * `RecomputeRunning` (HTTP 409 `JOB_RUNNING`). The job itself runs under the runner's lease.
 */
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Jobs from "../src/jobs/Jobs.js"
import { JobLeases } from "../src/platform/JobLeases.js"
import { Purchases } from "../src/purchases/Purchases.js"
import { RFM_LEASE, Rfm } from "../src/purchases/RfmService.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { freshPhone, servicesOver } from "./contract/customers.js"

layer(servicesOver(SqliteDatabase.layer({ filename: ":memory:" })))("RFM recomputation, exclusive", (it) => {
  it.effect("fails RecomputeRunning and writes nothing while another holder has the lease; runs once it is free", () =>
    Effect.gen(function*() {
      const leases = yield* JobLeases
      const rfm = yield* Rfm
      yield* (yield* Purchases).record({ phone: freshPhone(), amount: 600_000, reference: "x-1" })
      expect(yield* leases.claim(RFM_LEASE, "another-runner", 60_000)).toBe(true)
      const refused = yield* Effect.exit(rfm.recompute())
      expect(refused).toEqual(Exit.fail(expect.objectContaining({ _tag: "RecomputeRunning" })))
      // the job's own entry does not take the lease: the runner holds it for it
      expect((yield* rfm.recomputeHeld()).customers).toBe(1)
      yield* leases.release(RFM_LEASE, "another-runner")
      expect(yield* rfm.recompute()).toMatchObject({ customers: 1, batches: 1 })
      // and it gave the lease up: another holder can take it at once
      expect(yield* leases.claim(RFM_LEASE, "another-runner", 60_000)).toBe(true)
      yield* leases.release(RFM_LEASE, "another-runner")
    }))

  it.effect("two on-demand runs at once: one runs, the other is refused", () =>
    Effect.gen(function*() {
      const rfm = yield* Rfm
      const results = yield* Effect.all([Effect.exit(rfm.recompute()), Effect.exit(rfm.recompute())], { concurrency: 2 })
      expect(results.filter(Exit.isSuccess)).toHaveLength(1)
      expect(results.filter(Exit.isFailure)).toEqual([Exit.fail(expect.objectContaining({ _tag: "RecomputeRunning" }))])
      expect(Jobs.jobNames).toContain("rfm")
    }))
})
