/**
 * The loyalty sync through the Promise facade (SQLite): `loyalty: { cnv }` against the fake CNV
 * server — `c360.loyalty.sync()` and `c360.loyalty.runs()`, dates as `Date`s, `syncHeld` left out;
 * `loyalty: { source }` with a host's Promise source (a rejection a failed run without the host's
 * error); without either, `sync()` rejects `LoyaltyNotConfigured`; bad options reject
 * `ValidationError`.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { createCustomer360 } from "../src/index.js"
import type { LoyaltyCustomerRecord } from "../src/loyalty/Source.js"
import { cnvCustomer, type FakeCnv, startFakeCnv } from "./support/cnv.js"

const T = Date.UTC(2026, 3, 1, 3)

describe("the loyalty sync through the Promise facade", () => {
  let fake: FakeCnv
  beforeAll(async () => {
    fake = await startFakeCnv()
  })
  afterAll(async () => {
    await fake.close()
  })

  it("loyalty: { cnv } — c360.loyalty.sync() takes the customers from CNV and answers the report; runs() lists it; a second sync is incremental", async () => {
    fake.reset()
    fake.put(cnvCustomer(1, T + 1000, { phone: "0912 345 678" }))
    fake.put(cnvCustomer(2, T + 2000, { phone: "n/a" }))
    const c360 = await createCustomer360({
      database: { sqlite: { filename: ":memory:" } },
      loyalty: { cnv: { baseUrl: fake.url, token: fake.token, pageSize: 50 } }
    })
    try {
      expect((c360.loyalty as Record<string, unknown>).syncHeld).toBeUndefined()
      const report = await c360.loyalty.sync()
      expect(report).toMatchObject({ status: "completed", pages: 1, created: 2, failed: 0, checkpoint: { id: 2 } })
      expect(report.checkpoint!.updatedAt).toEqual(new Date(T + 2000))
      expect(report.startedAt).toBeInstanceOf(Date)
      expect(fake.pageRequests()[0]!.query.page_size).toBe("50")
      const again = await c360.loyalty.sync()
      expect(again).toMatchObject({ status: "completed", created: 0, updated: 0, checkpointFrom: report.checkpoint })
      const runs = await c360.loyalty.runs({ limit: 5 })
      expect(runs.map((r) => r.id)).toEqual([again.id, report.id])
      await expect(c360.loyalty.sync({ pageSize: 0 })).rejects.toMatchObject({ _tag: "ValidationError" })
    } finally {
      await c360.close()
    }
  })

  it("loyalty: { source } — a host's Promise source is read the same way; its rejection fails the run without the host's error text", async () => {
    const record = (id: number, at: number): LoyaltyCustomerRecord => ({
      id,
      lastName: "Trần",
      firstName: "Bình",
      phone: "0987654321",
      email: null,
      gender: null,
      birthdayDay: null,
      birthdayMonth: null,
      birthdayYear: null,
      tags: null,
      physicalCardCode: null,
      points: 5,
      expPoints: 0,
      totalSpending: 1_000_000,
      totalPoints: 5,
      createdAt: at,
      updatedAt: at
    })
    let failing = false
    const queries: Array<unknown> = []
    const c360 = await createCustomer360({
      database: { sqlite: { filename: ":memory:" } },
      loyalty: {
        source: {
          customersUpdatedSince: async (query) => {
            queries.push(query)
            if (failing) throw new Error("secret-host-detail")
            return { customers: [record(10, T), { ...record(11, T + 1), points: 1.5 }], hasMore: false }
          },
          membership: async (id) => (id === 10 ? { levelName: "Silver", totalPoints: 7, points: 7, usedPoints: 2 } : null)
        }
      }
    })
    try {
      const report = await c360.loyalty.sync()
      expect(report).toMatchObject({ status: "completed", created: 1, failed: 1 })
      expect(report.failures[0]).toMatchObject({ cnvId: 11, reason: expect.stringMatching(/points/) })
      expect(queries[0]).toMatchObject({ since: 0, page: 1, pageSize: 100 })
      failing = true
      const failed = await c360.loyalty.sync()
      expect(failed.status).toBe("failed")
      expect(failed.error).toMatch(/the host's source rejected/)
      expect(failed.error).not.toMatch(/secret-host-detail/)
    } finally {
      await c360.close()
    }
  })

  it("without a loyalty source sync() rejects LoyaltyNotConfigured; bad loyalty options reject ValidationError", async () => {
    const c360 = await createCustomer360({ database: { sqlite: { filename: ":memory:" } } })
    try {
      await expect(c360.loyalty.sync()).rejects.toMatchObject({ _tag: "LoyaltyNotConfigured" })
      expect(await c360.loyalty.runs()).toEqual([])
    } finally {
      await c360.close()
    }
    await expect(createCustomer360({ database: { sqlite: { filename: ":memory:" } }, loyalty: { cnv: {} } }))
      .rejects.toMatchObject({ _tag: "ValidationError" })
    await expect(createCustomer360({ database: { sqlite: { filename: ":memory:" } }, loyalty: { source: {} as never } }))
      .rejects.toMatchObject({ _tag: "ValidationError" })
  })
})
