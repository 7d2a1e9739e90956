/**
 * The hardening of the shared HTTP envelope and role policy, through the Cloudflare Worker host on
 * D1: bundled as deployed, run in workerd by miniflare. A Worker reads bodies through the web
 * `Request` (not Node's stream), so the envelope's body checks are pinned here as well.
 */
import type { Miniflare } from "miniflare"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningWorker, startWorker } from "./support/worker.js"

const MANAGER = "worker-manager-token"
const STAFF = "worker-staff-token"

describe("HTTP hardening through the Cloudflare Worker on D1 (miniflare)", () => {
  let worker: RunningWorker | undefined
  let mf: Miniflare

  beforeAll(async () => {
    worker = await startWorker(`${MANAGER}:manager,${STAFF}:staff`)
    mf = worker.mf
  }, 120_000)

  afterAll(async () => {
    await worker?.dispose()
  })

  const send = async (method: string, path: string, token: string, body?: string | Uint8Array | ReadableStream<Uint8Array>) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` }
    if (body !== undefined) headers["content-type"] = "application/json"
    const response = await mf.dispatchFetch(`http://worker.test${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body, duplex: "half" })
    } as any)
    const text = await response.text()
    expect(text).not.toMatch(/\n\s+at |SqlError|D1_|node_modules|\.ts:\d/)
    return { status: response.status, body: JSON.parse(text) as any }
  }
  const bytes = (...parts: ReadonlyArray<string | ReadonlyArray<number>>) =>
    Buffer.concat(parts.map((part) => (typeof part === "string" ? Buffer.from(part, "utf8") : Buffer.from(part))))

  it("a staff PUT with a status field → 403, nothing written; the manager may", async () => {
    const created = await send("POST", "/api/customers", STAFF, JSON.stringify({ phone: "0912345678", name: "An" }))
    expect(created.status).toBe(201)
    const id = created.body.id
    for (const status of ["inactive", "blocked", "active"]) {
      const refused = await send("PUT", `/api/customers/${id}`, STAFF, JSON.stringify({ status, city: "Huế" }))
      expect(refused).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } })
    }
    expect((await send("GET", "/api/customer/0912345678", STAFF)).body.customer).toMatchObject({ status: "active", city: null })
    expect((await send("PUT", `/api/customers/${id}`, STAFF, JSON.stringify({ city: "Huế" }))).body.city).toBe("Huế")
    expect((await send("PUT", `/api/customers/${id}`, MANAGER, JSON.stringify({ status: "blocked" }))).body.status).toBe("blocked")
  })

  it("a body that is not valid UTF-8 → 400 VALIDATION_ERROR, also when its length is not announced; nothing written", async () => {
    const deposit = (amount: number, bad: ReadonlyArray<number>) =>
      bytes(`{"amount":${amount},"source":"bank_transfer","reference":"sepay-`, bad, `"}`)
    for (const body of [deposit(100_000, [0xff]), deposit(100_000, [0xfe])]) {
      const reply = await send("POST", "/api/wallet/0912345678/deposit", STAFF, body)
      expect(reply).toMatchObject({ status: 400, body: { error: { code: "VALIDATION_ERROR", message: "The request body is not valid UTF-8" } } })
    }
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(deposit(100_000, [0xc3]))
        controller.close()
      }
    })
    expect((await send("POST", "/api/wallet/0912345678/deposit", STAFF, streamed)).body.error.code).toBe("VALIDATION_ERROR")
    expect((await send("GET", "/api/wallet/0912345678/transactions", STAFF)).body.items).toEqual([])
  })

  it("a body nested more than 64 levels deep → 400 VALIDATION_ERROR, never a 500", async () => {
    const deep = "[".repeat(3_000) + "]".repeat(3_000)
    for (const body of [deep, `{"amount":1,"source":"manual","reference":"d-1","note":${deep}}`]) {
      const reply = await send("POST", "/api/wallet/0912345678/deposit", STAFF, body)
      expect(reply).toMatchObject({
        status: 400,
        body: { error: { code: "VALIDATION_ERROR", message: "The request body nests arrays or objects more than 64 levels deep" } }
      })
    }
    expect((await send("GET", "/api/wallet/0912345678", STAFF)).body.balance).toBe(0)
  })
})
