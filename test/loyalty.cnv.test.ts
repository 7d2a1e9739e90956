/**
 * The CNV adapter against the fake CNV server: the bearer token on every request and in no log
 * line nor error, `getToken()` per request, `Retry-After` honoured on 429 (seconds, measured) and
 * 503 (an HTTP date), 5xx retried with growing backoff then success, retries exhausted, a timeout
 * retried, a `Retry-After` too long refused at once, 401 not retried; pages — the query's parameters
 * (configurable names, extra ones), `hasMore` from the answer's meta, CNV's float points as integers,
 * a fraction or a malformed record rejected with its reason, items wrapped as `{ customer }`;
 * memberships (404: none; malformed: rejected); and the options' validation.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Cnv from "../src/loyalty/Cnv.js"
import type { LoyaltySourceShape } from "../src/loyalty/Source.js"
import { cnvCustomer, type FakeCnv, startFakeCnv } from "./support/cnv.js"

let fake: FakeCnv
beforeAll(async () => {
  fake = await startFakeCnv()
})
afterAll(async () => {
  await fake.close()
})
beforeEach(() => fake.reset())

const T = Date.UTC(2026, 1, 5, 17, 34, 44, 533)

const adapter = (options: Cnv.CnvOptions = {}): Effect.Effect<LoyaltySourceShape> =>
  Effect.orDie(Cnv.make({ baseUrl: fake.url, token: fake.token, backoffMs: 5, maxBackoffMs: 20, ...options }))

/** Runs `effect` with every log line's text collected. */
const withLogs = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make(({ message }) => lines.push((Array.isArray(message) ? message : [message]).map(String).join(" ")))
    const result = yield* Effect.either(effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))
    return { result, lines }
  })

const page = (source: LoyaltySourceShape, query: Partial<Parameters<LoyaltySourceShape["customersUpdatedSince"]>[0]> = {}) =>
  source.customersUpdatedSince({ since: 0, page: 1, pageSize: 100, ...query })

const gaps = () => fake.requests.slice(1).map((r, i) => r.at - fake.requests[i]!.at)

describe("the CNV adapter", () => {
  it.effect("sends the bearer token on every request, retries included, and never puts it in a log line or an error", () =>
    Effect.gen(function*() {
      fake.put(cnvCustomer(1, T))
      fake.faults.push({ match: "customers", status: 503, times: 2 })
      const source = yield* adapter()
      const { lines, result } = yield* withLogs(page(source))
      expect(Either.isRight(result)).toBe(true)
      expect(fake.requests).toHaveLength(3)
      expect(fake.requests.every((r) => r.authorization === `Bearer ${fake.token}`)).toBe(true)
      expect(lines.some((l) => l.includes("503") && l.includes("attempt 2 of 5"))).toBe(true)
      expect(lines.join("\n")).not.toContain(fake.token)

      const wrong = yield* adapter({ token: "not-the-right-token-1234" })
      const refused = yield* withLogs(page(wrong))
      expect(fake.requests).toHaveLength(4) // a 401 is not retried
      const error = Either.getLeft(refused.result).pipe(Option.getOrThrow)
      expect(error).toMatchObject({ _tag: "LoyaltySourceFailed", status: 401 })
      expect(error.message).toMatch(/token was refused/)
      expect(`${error.message}${refused.lines.join("")}`).not.toContain("not-the-right-token-1234")
    }))

  it.effect("getToken() is called before each request and its token sent", () =>
    Effect.gen(function*() {
      fake.put(cnvCustomer(1, T))
      let calls = 0
      const source = yield* adapter({ token: undefined, getToken: async () => (calls++, fake.token) })
      yield* page(source)
      yield* source.membership(1)
      expect(calls).toBe(2)
      expect(fake.requests.map((r) => r.status)).toEqual([200, 200])
      const failing = yield* adapter({ token: undefined, getToken: () => Promise.reject(new Error(`secret ${fake.token}`)) })
      const error = yield* Effect.flip(page(failing))
      expect(error.message).toMatch(/getToken rejected/)
      expect(error.message).not.toContain(fake.token)
    }))

  it.effect("429 with Retry-After: 1 — the retry waits at least the second the server asked for", () =>
    Effect.gen(function*() {
      fake.put(cnvCustomer(1, T))
      fake.faults.push({ match: "customers", status: 429, retryAfter: "1" })
      const source = yield* adapter()
      const answered = yield* page(source)
      expect(answered.customers.map((c) => c.id)).toEqual([1])
      expect(fake.requests.map((r) => r.status)).toEqual([429, 200])
      expect(gaps()[0]).toBeGreaterThanOrEqual(1000)
    }))

  it.effect("503 with Retry-After as an HTTP date is honoured too; Retry-After parses seconds and dates", () =>
    Effect.gen(function*() {
      expect(Cnv.retryAfterMs("3", 0)).toBe(3000)
      expect(Cnv.retryAfterMs(" 0.5 ", 0)).toBe(500)
      expect(Cnv.retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000)
      expect(Cnv.retryAfterMs(new Date(1_000).toUTCString(), 4_000)).toBe(0)
      expect(Cnv.retryAfterMs("soon", 0)).toBeUndefined()
      expect(Cnv.retryAfterMs(null, 0)).toBeUndefined()
      fake.put(cnvCustomer(1, T))
      // an HTTP date has whole seconds: two seconds ahead is a wait of more than one
      fake.faults.push({ match: "membership", status: 503, retryAfter: new Date(Date.now() + 2000).toUTCString() })
      const source = yield* adapter()
      const m = yield* source.membership(1)
      expect(Option.isSome(m)).toBe(true)
      expect(gaps()[0]).toBeGreaterThanOrEqual(990)
    }))

  it.effect("500, 502 and 503 are retried after a growing, jittered backoff, then the answer is taken", () =>
    Effect.gen(function*() {
      fake.put(cnvCustomer(1, T))
      for (const status of [500, 502, 503]) fake.faults.push({ match: "customers", status })
      const source = yield* adapter({ backoffMs: 60, maxBackoffMs: 1000 })
      const answered = yield* page(source)
      expect(answered.customers).toHaveLength(1)
      expect(fake.requests.map((r) => r.status)).toEqual([500, 502, 503, 200])
      const [a, b, c] = gaps() as [number, number, number]
      // each wait is between half and all of 60, 120, 240 ms
      expect(a).toBeGreaterThanOrEqual(29)
      expect(b).toBeGreaterThanOrEqual(59)
      expect(c).toBeGreaterThanOrEqual(119)
    }))

  it.effect("retries are bounded: after maxAttempts answers of 503 the request fails LoyaltySourceFailed with the status", () =>
    Effect.gen(function*() {
      fake.faults.push({ match: "customers", status: 503, times: Infinity })
      const source = yield* adapter({ maxAttempts: 3 })
      const error = yield* Effect.flip(page(source))
      expect(error).toMatchObject({ _tag: "LoyaltySourceFailed", status: 503 })
      expect(error.message).toMatch(/answered 503, 3 attempts/)
      expect(fake.requests).toHaveLength(3)
    }))

  it.effect("a request with no answer within timeoutMs is abandoned and tried again; a Retry-After beyond maxRetryAfterMs fails at once", () =>
    Effect.gen(function*() {
      fake.put(cnvCustomer(1, T))
      fake.faults.push({ match: "customers", status: "hang" })
      const source = yield* adapter({ timeoutMs: 150 })
      const answered = yield* page(source)
      expect(answered.customers).toHaveLength(1)
      expect(fake.requests).toHaveLength(2)

      fake.reset()
      fake.faults.push({ match: "customers", status: 429, retryAfter: "600" })
      const patient = yield* adapter({ maxRetryAfterMs: 10_000 })
      const error = yield* Effect.flip(page(patient))
      expect(error.message).toMatch(/asked to wait 600 s/)
      expect(fake.requests).toHaveLength(1)
    }))

  it.effect("a page: page, page_size and updated_since (ISO) sent — names configurable, extra parameters added; hasMore from the meta; points 29649.0 an integer, 12.5 a rejected record with its reason; ordered by updated_at then id", () =>
    Effect.gen(function*() {
      fake.put(cnvCustomer(7, T + 2, { points: 29649.0, exp_points: 25849.0 }))
      fake.put(cnvCustomer(3, T + 2))
      fake.put(cnvCustomer(5, T + 1, { points: 12.5 }))
      fake.put(cnvCustomer(9, T - 10))
      const source = yield* adapter()
      const first = yield* page(source, { since: T, pageSize: 2 })
      expect(fake.requests[0]!.query).toEqual({ page: "1", page_size: "2", updated_since: new Date(T).toISOString() })
      expect(first.hasMore).toBe(true)
      expect(first.rejected).toEqual([{ cnvId: 5, reason: expect.stringMatching(/^points: 12\.5 is not a whole number/) }])
      expect(first.customers.map((c) => c.id)).toEqual([3])
      const second = yield* page(source, { since: T, page: 2, pageSize: 2 })
      expect(second.hasMore).toBe(false)
      expect(second.customers).toEqual([{
        id: 7,
        lastName: "Nguyễn 7",
        firstName: ".",
        phone: "0338000007",
        email: "",
        gender: "female",
        birthdayDay: 21,
        birthdayMonth: 12,
        birthdayYear: 1990,
        tags: "",
        physicalCardCode: "",
        points: 29649,
        expPoints: 25849,
        totalSpending: 0,
        totalPoints: 100,
        createdAt: T + 2 - 86_400_000,
        updatedAt: T + 2
      }])

      fake.requests.length = 0
      const renamed = yield* adapter({ params: { page: "p", pageSize: "per_page", updatedSince: "since" }, query: { sort: "updated_at" } })
      yield* Effect.either(page(renamed, { since: T, page: 3, pageSize: 50 }))
      expect(fake.requests[0]!.query).toEqual({ p: "3", per_page: "50", since: new Date(T).toISOString(), sort: "updated_at" })
    }))

  it.effect("other shapes of a page: items wrapped as { customer }, a bare array (a full page may have more), a malformed record rejected; an answer without a list fails", () =>
    Effect.gen(function*() {
      const source = yield* adapter()
      fake.faults.push({
        match: "customers",
        body: JSON.stringify({
          data: [{ customer: cnvCustomer(1, T) }, { customer: { id: 2, updated_at: "yesterday" } }, "nonsense"],
          pagination: { total_pages: 1 }
        })
      })
      const wrapped = yield* page(source)
      expect(wrapped.customers.map((c) => c.id)).toEqual([1])
      expect(wrapped.rejected.map((r) => r.cnvId)).toEqual([2, null])
      expect(wrapped.rejected[0]!.reason).toMatch(/updated_at/)
      expect(wrapped.hasMore).toBe(false)

      fake.faults.push({ match: "customers", body: JSON.stringify([cnvCustomer(1, T), cnvCustomer(2, T)]) })
      expect((yield* page(source, { pageSize: 2 })).hasMore).toBe(true)
      fake.faults.push({ match: "customers", body: JSON.stringify({ customers: [cnvCustomer(1, T)] }) })
      expect((yield* page(source, { pageSize: 2 })).hasMore).toBe(false)

      fake.faults.push({ match: "customers", body: JSON.stringify({ error: "maintenance" }) })
      expect((yield* Effect.flip(page(source))).message).toMatch(/no list of customers/)
      fake.faults.push({ match: "customers", body: "<html>" })
      expect((yield* Effect.flip(page(source))).message).toMatch(/not JSON/)
    }))

  it.effect("a membership: its level and points (floats as integers); 404 is none; a malformed one is rejected with its reason", () =>
    Effect.gen(function*() {
      fake.put(cnvCustomer(1, T))
      fake.memberships.set(1, { level_name: "Diamond", total_points: 29649.0, points: 29649.0, used_points: 0.0, icon: {} })
      fake.memberships.set(2, null)
      fake.memberships.set(3, { level_name: "Gold", used_points: 1.5 })
      const source = yield* adapter()
      expect(yield* source.membership(1)).toEqual(Option.some({ levelName: "Diamond", totalPoints: 29649, points: 29649, usedPoints: 0 }))
      expect(yield* source.membership(2)).toEqual(Option.none())
      const rejected = yield* Effect.flip(source.membership(3))
      expect(rejected).toMatchObject({ _tag: "LoyaltyRecordRejected", cnvId: 3 })
      expect(rejected.reason).toMatch(/used_points: 1\.5 is not a whole number/)
      expect(fake.requests.map((r) => r.path)).toEqual([
        "/loyalty/customers/1/membership.json",
        "/loyalty/customers/2/membership.json",
        "/loyalty/customers/3/membership.json"
      ])
    }))

  it.effect("options are validated: a token (or getToken) is required, the base URL must be http(s), numbers in range — never quoting the token", () =>
    Effect.gen(function*() {
      const fails = (options: Cnv.CnvOptions) => Effect.flip(Cnv.make(options))
      expect((yield* fails({})).message).toMatch(/cnv\.token: is required/)
      expect((yield* fails({ token: "ok-token", baseUrl: "ftp://x" })).message).toMatch(/baseUrl/)
      expect((yield* fails({ token: "ok-token", maxAttempts: 0 })).message).toMatch(/maxAttempts/)
      expect((yield* fails({ token: "ok-token", pageSize: 2.5 })).message).toMatch(/pageSize/)
      const spaced = yield* fails({ token: "has a space" })
      expect(spaced.message).not.toContain("has a space")
      const made = yield* Cnv.make({ token: "ok-token", pageSize: 250 })
      expect(made.pageSize).toBe(250)
    }))
})
