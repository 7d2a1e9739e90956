/**
 * A fuzz property over the whole HTTP API, through the Express host on an SQLite file: random
 * methods on the API's own paths (from its OpenAPI document) and on paths it does not have, with
 * random parameters, tokens, content types and bodies — near-valid bodies with one field swapped
 * for a wrong type, a huge number or deep nesting, random JSON, bodies that are not UTF-8, random
 * bytes. Whatever the request:
 *
 * - the answer is never a 5xx, and no body carries a stack, a driver's text or a file path;
 * - every error is the envelope `{ "error": { "code", "message", "details"? } }` with the status of
 *   its code;
 * - a body that is not UTF-8, or nests more than 64 levels, is refused (never read with replaced
 *   bytes, never a 500);
 * - a write answered with an error changed nothing (every table the API writes is compared before
 *   and after it);
 * - afterwards the ledger audit finds no violation.
 *
 * Bounded: a few hundred requests, a few seconds.
 */
import Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import { mkdtempSync, rmSync } from "node:fs"
import { Agent, request } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createApp } from "../examples/express/app.js"
import { LoyaltySource } from "../src/loyalty/index.js"
import { Customer360Api } from "../src/http.js"
import { nestsDeeperThan } from "../src/kernel/Nesting.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { auditLedger, WRITTEN_TABLES } from "./support/audit.js"

const TOKENS = { manager: "fuzz-manager-token", staff: "fuzz-staff-token", viewer: "fuzz-viewer-token" } as const
const LEAK = /\n\s+at |SqlError|SQLITE_|sqlite3|node_modules|\.[jt]s:\d|RangeError|Maximum call stack|ParseError|HttpApiDecodeError/

interface Reply {
  readonly status: number
  readonly headers: Record<string, string | Array<string> | undefined>
  readonly text: string
}

/** The default seed of the fuzz (see the run's options). */
const FUZZ_SEED = 20_261_202

describe("HTTP API fuzz (SQLite)", () => {
  let dir = ""
  let filename = ""
  let base = ""
  let close: () => Promise<void> = async () => {}
  let db: Sqlite.Database
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  let apiPaths: ReadonlyArray<{ readonly path: string; readonly methods: ReadonlyArray<string> }> = []
  const seeded: Array<{ readonly phone: string; readonly id: string }> = []

  const send = (method: string, path: string, headers: Record<string, string>, body?: Uint8Array) =>
    new Promise<Reply>((resolve, reject) => {
      const target = new URL(base)
      const req = request({
        host: target.hostname,
        port: target.port,
        path,
        method,
        agent,
        headers: { ...headers, ...(body === undefined ? {} : { "content-length": String(body.length) }) }
      }, (res) => {
        if (String(res.headers["content-type"]).startsWith("text/event-stream")) {
          res.destroy() // a live event stream: its status and headers are the answer
          resolve({ status: res.statusCode!, headers: res.headers, text: "" })
          return
        }
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => (text += chunk))
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }))
        res.on("error", reject)
      })
      req.on("error", reject)
      req.setTimeout(5_000, () => req.destroy(new Error(`no answer within 5 s: ${method} ${path}`)))
      req.end(body === undefined ? undefined : Buffer.from(body))
    })

  /** What the API may write, as it is now. */
  const snapshot = () =>
    JSON.stringify(WRITTEN_TABLES.map((table) => db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all()))

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "c360-fuzz-"))
    filename = join(dir, "fuzz.sqlite")
    const app = await createApp({
      database: { sqlite: filename },
      tokens: `${TOKENS.manager}:manager,${TOKENS.staff}:staff,${TOKENS.viewer}:viewer`,
      // a loyalty program with no customers: the sync endpoint answers its report, not 503
      loyalty: Layer.succeed(LoyaltySource, {
        customersUpdatedSince: () => Effect.succeed({ customers: [], rejected: [], hasMore: false }),
        membership: () => Effect.succeed(Option.none())
      })
    })
    const listening = await app.listen(0)
    base = listening.url
    close = listening.close
    db = new Sqlite(filename, { readonly: true })
    const json = { authorization: `Bearer ${TOKENS.manager}`, "content-type": "application/json" }
    const body = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))
    for (const [i, phone] of ["0912000001", "0912000002", "0912000003"].entries()) {
      const created = await send("POST", "/api/customers", json, body({ phone, name: `Khách ${i}` }))
      expect(created.status).toBe(201)
      seeded.push({ phone, id: JSON.parse(created.text).id })
      await send("POST", `/api/wallet/${phone}/deposit`, json, body({ amount: 50_000, reference: `seed-d-${i}`, source: "manual" }))
      await send("POST", `/api/wallet/${phone}/virtual-credit`, json, body({ amount: 20_000, reason: "seed", reference: `seed-c-${i}` }))
    }
    const spec = JSON.parse((await send("GET", "/api/openapi.json", {})).text)
    apiPaths = Object.entries(spec.paths as Record<string, Record<string, unknown>>).map(([path, operations]) => ({
      path,
      methods: Object.keys(operations).map((m) => m.toUpperCase())
    }))
  })

  afterAll(async () => {
    agent.destroy()
    db?.close()
    await close()
    rmSync(dir, { recursive: true, force: true })
  })

  // ---- generators ------------------------------------------------------------------------------

  const nested = (levels: number, inner: string) =>
    fc.constantFrom("[", "{\"a\":").map((open) => open.repeat(levels) + inner + (open === "[" ? "]" : "}").repeat(levels))
  const deepJson = fc.integer({ min: 60, max: 8_000 }).chain((levels) => nested(levels, "1"))
  /** JSON text for a value of any wrong kind: huge numbers, deep nesting, strange strings. */
  const hostileValue: fc.Arbitrary<string> = fc.oneof(
    fc.constantFrom("1e308", "-1e308", "1e400", "9007199254740993", "-0", "0.1", "-1", "0", "1e-320", "123456789012345678901234567890"),
    fc.constantFrom("null", "true", "false", "[]", "{}", "\"\"", "\"   \"", "\"\\u0000\"", "\"\\ud800\"", "\"\\u202e\"", "\"𝔘𝔫𝔦\""),
    fc.string({ maxLength: 30 }).map((s) => JSON.stringify(s)),
    fc.string({ unit: "binary", maxLength: 30 }).map((s) => JSON.stringify(s)),
    fc.integer().map(String),
    fc.double().map((d) => JSON.stringify(d) ?? "null"),
    fc.json({ maxDepth: 3 }),
    deepJson,
    fc.constant(JSON.stringify("x".repeat(6_000)))
  )

  const phonePool = () => fc.oneof(fc.constantFrom(...seeded.map((s) => s.phone)), fc.constantFrom("0912000009", "+84 912 000 001", "0084912000002"))
  const reference = fc.constantFrom("fz-1", "fz-2", "fz-3", "seed-d-0", "seed-c-1").chain((r) =>
    fc.oneof(fc.constant(r), fc.nat({ max: 99 }).map((n) => `${r}-${n}`))
  )
  const amount = fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom(1, 20_000, 70_000, 10_000_000))

  /** A body close to what the endpoint accepts, as a JSON object of JSON texts (so a field can be any text). */
  const nearBody = (method: string, path: string): fc.Arbitrary<Record<string, string>> => {
    const q = (a: fc.Arbitrary<unknown>) => a.map((v) => JSON.stringify(v))
    if (method === "POST" && path === "/api/customers") {
      return fc.record({
        phone: q(fc.oneof(phonePool(), fc.stringMatching(/^09\d{8}$/))),
        name: q(fc.oneof(fc.constant("Nguyễn Văn An"), fc.string({ minLength: 1, maxLength: 20 }))),
        email: q(fc.oneof(fc.constant(null), fc.emailAddress()))
      }, { requiredKeys: ["phone", "name"] })
    }
    if (method === "PUT") {
      return fc.record({
        name: q(fc.string({ minLength: 1, maxLength: 20 })),
        city: q(fc.oneof(fc.constant(null), fc.constant("Huế"))),
        status: q(fc.constantFrom("active", "inactive", "blocked")),
        phone: q(phonePool()),
        type: q(fc.constantFrom("walk-in", "member", "vip"))
      }, { requiredKeys: [] })
    }
    if (path.endsWith("/deposit")) {
      return fc.record({
        amount: q(amount),
        reference: q(reference),
        source: q(fc.constantFrom("bank_transfer", "manual", "refund")),
        note: q(fc.oneof(fc.constant(null), fc.string({ maxLength: 10 })))
      }, { requiredKeys: ["amount", "reference", "source"] })
    }
    if (path.endsWith("/withdraw")) {
      return fc.record({ amount: q(amount), reference: q(reference) })
    }
    if (path.endsWith("/virtual-credit")) {
      return fc.record({
        amount: q(amount),
        reason: q(fc.constantFrom("BOOM", "apology")),
        reference: q(reference),
        expiresInDays: q(fc.integer({ min: -5, max: 4_000 }))
      }, { requiredKeys: ["amount", "reason", "reference"] })
    }
    return fc.constant({})
  }

  const asText = (fields: Record<string, string>) => `{${Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`
  const utf8 = (text: string) => new TextEncoder().encode(text)
  const notUtf8 = fc.constantFrom([0xff], [0xfe], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82], [0xc3])

  const body = (method: string, path: string): fc.Arbitrary<Uint8Array | undefined> =>
    fc.oneof(
      { weight: 4, arbitrary: nearBody(method, path).map((fields) => utf8(asText(fields))) },
      {
        weight: 4,
        arbitrary: fc.tuple(nearBody(method, path), fc.string({ minLength: 1, maxLength: 12 }), hostileValue).map(([fields, key, value]) => {
          const keys = Object.keys(fields)
          const field = keys.length > 0 && key.length % 2 === 0 ? keys[key.length % keys.length]! : key
          return utf8(asText({ ...fields, [field]: value }))
        })
      },
      {
        weight: 2,
        arbitrary: fc.tuple(nearBody(method, path), notUtf8, fc.nat()).map(([fields, bad, at]) => {
          const text = utf8(asText(fields))
          const cut = text.length === 0 ? 0 : at % text.length
          return new Uint8Array([...text.slice(0, cut), ...bad, ...text.slice(cut)])
        })
      },
      { weight: 1, arbitrary: hostileValue.map(utf8) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
      { weight: 1, arbitrary: nearBody(method, path).map((fields) => utf8(asText(fields).slice(0, -1))) },
      { weight: 1, arbitrary: fc.constant(undefined) }
    )

  const segment = fc.oneof(
    fc.constantFrom("0912000001", "0912000009", "%2B84%20912%20000%20002", "cus_00000000000000000000000000", "%FF", "%E2%82", "%00", "..", "%2F", "x".repeat(300)),
    fc.string({ maxLength: 15 }).map(encodeURIComponent)
  )
  const pathFor = (template: string): fc.Arbitrary<string> =>
    fc.tuple(
      fc.oneof(fc.constantFrom(...seeded.map((s) => s.phone)), segment),
      fc.oneof(fc.constantFrom(...seeded.map((s) => s.id)), segment)
    ).map(([phone, id]) => template.replace("{phone}", phone).replace("{id}", id))
  const query = fc.oneof(
    { weight: 3, arbitrary: fc.constant("") },
    {
      weight: 2,
      arbitrary: fc.array(
        fc.tuple(fc.constantFrom("q", "page", "limit", "cursor", "channels", "status", "x"), fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom("1", "0", "-1", "1e3", "101", "nguyen", "wallets,customers", "%FF")))
          .map(([k, v]) => `${k}=${v === "%FF" ? v : encodeURIComponent(v)}`),
        { minLength: 1, maxLength: 3 }
      ).map((pairs) => `?${pairs.join("&")}`)
    }
  )
  const headerValue = fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, "").trim())
  const headers = fc.record({
    authorization: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...Object.values(TOKENS)).map((t) => `Bearer ${t}`) },
      { weight: 1, arbitrary: fc.constantFrom("", "Bearer", "Bearer wrong-token-123", `Basic ${TOKENS.manager}`) },
      { weight: 1, arbitrary: headerValue }
    ),
    "content-type": fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("application/json", "application/json; charset=utf-8", "application/json; charset=iso-8859-1") },
      { weight: 1, arbitrary: fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/merge-patch+json", "") },
      { weight: 1, arbitrary: headerValue }
    )
  }, { requiredKeys: [] })
  const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] as const

  const requestArb = () =>
    fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom(...apiPaths) },
      // the money endpoints once more: with every module's routes in the pool, a run must still
      // land fuzzed wallet writes for the ledger audit to check
      { weight: 4, arbitrary: fc.constantFrom(...apiPaths.filter((p) => p.path.startsWith("/api/wallet/"))) },
      { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => ({ path: `/api/${encodeURIComponent(s)}`, methods: ["GET"] })) }
    ).chain(({ path, methods }) =>
      fc.tuple(
        fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...methods) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
        pathFor(path),
        query,
        headers
      ).chain(([method, concrete, search, hs]) =>
        (method === "GET" || method === "HEAD" ? fc.constant(undefined) : body(method, path)).map((b) => ({
          method,
          path: `${concrete}${path.includes("search") || path.includes("transactions") || path.includes("events") ? search : ""}`,
          headers: Object.fromEntries(Object.entries(hs).filter(([, v]) => v !== undefined && v !== "")) as Record<string, string>,
          body: b
        }))
      )
    )

  it("property: no 5xx, no leaked internals, every error in the envelope, no write left by an error; the ledger audits clean", async () => {
    const codes = Customer360Api.errorStatus as Record<string, number>
    const seen = new Map<number, number>()
    const fatal = new TextDecoder("utf-8", { fatal: true })
    await fc.assert(
      fc.asyncProperty(requestArb(), async (r) => {
        const before = r.method === "GET" || r.method === "HEAD" ? undefined : snapshot()
        const reply = await send(r.method, r.path, r.headers, r.body)
        seen.set(reply.status, (seen.get(reply.status) ?? 0) + 1)
        const what = `${r.method} ${r.path} → ${reply.status} ${reply.text.slice(0, 300)}`
        expect(reply.status, what).toBeLessThan(500)
        expect(reply.text, what).not.toMatch(LEAK)
        if (reply.status >= 400 && r.method !== "HEAD") {
          expect(String(reply.headers["content-type"]), what).toMatch(/^application\/json/)
          const parsed = JSON.parse(reply.text)
          expect(Object.keys(parsed), what).toEqual(["error"])
          expect(Object.keys(parsed.error).filter((k) => !["code", "message", "details"].includes(k)), what).toEqual([])
          expect(typeof parsed.error.message, what).toBe("string")
          expect(codes[parsed.error.code], what).toBe(reply.status)
        }
        if (r.body !== undefined && r.body.length > 0) {
          let text: string | undefined
          try {
            text = fatal.decode(r.body)
          } catch {
            expect(reply.status, `${what}: a body that is not UTF-8 was taken`).toBeGreaterThanOrEqual(400)
          }
          let value: unknown
          try {
            value = text === undefined ? undefined : JSON.parse(text)
          } catch {
            value = undefined
          }
          if (nestsDeeperThan(value)) expect(reply.status, `${what}: a body nested too deep was taken`).toBeGreaterThanOrEqual(400)
        }
        if (before !== undefined && reply.status >= 400) expect(snapshot(), `${what}: an error left a write`).toBe(before)
      }),
      // One fixed seed by default, so that every CI run tries the same 600 requests (the checks after
      // the run — successes, refusals of several kinds, fuzzed writes that applied — then hold
      // every time); C360_FUZZ_SEED=<seed> tries others (a failure prints its seed).
      { numRuns: 600, seed: process.env.C360_FUZZ_SEED === undefined ? FUZZ_SEED : Number(process.env.C360_FUZZ_SEED) }
    )
    // the run did reach the rules: successes and refusals of several kinds
    expect([...seen.keys()].filter((s) => s < 300).length).toBeGreaterThan(0)
    expect([...seen.keys()].filter((s) => s >= 400).length).toBeGreaterThan(4)
    const audit = await Effect.runPromise(Effect.scoped(Effect.provide(auditLedger, SqliteDatabase.layerClient({ filename }))))
    expect(audit.violations).toEqual([])
    expect(audit.entries).toBeGreaterThan(6)
  })
})
