/**
 * The Cloudflare Worker example, bundled as it would be deployed and run inside workerd by
 * miniflare, on a local D1 database: the same HTTP API as the Express host.
 */
import type { Miniflare } from "miniflare"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningWorker, startWorker } from "./support/worker.js"

const MANAGER = "worker-manager-token"
const STAFF = "worker-staff-token"
const VIEWER = "worker-viewer-token"
const SEPAY_KEY = "worker-sepay-key"

describe("Cloudflare Worker on D1 (miniflare)", () => {
  let worker: RunningWorker | undefined
  let mf: Miniflare

  beforeAll(async () => {
    worker = await startWorker(`${MANAGER}:manager,${STAFF}:staff,${VIEWER}:viewer`, {
      C360_SEPAY_API_KEY: SEPAY_KEY,
      C360_BANK_BIN: "970436",
      C360_BANK_ACCOUNT: "1023456789",
      C360_SHOP_PHONES: "0909 000 000"
    })
    mf = worker.mf
  }, 120_000)

  afterAll(async () => {
    await worker?.dispose()
  })

  const call = async (method: string, path: string, token: string | null, body?: unknown) => {
    const headers: Record<string, string> = {}
    if (token !== null) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers["content-type"] = "application/json"
    const response = await mf.dispatchFetch(`http://worker.test${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    try {
      return { status: response.status, body: JSON.parse(text) as any }
    } catch {
      throw new Error(`not JSON (${response.status}): ${text.slice(0, 2000)}`)
    }
  }

  it("creates a customer, deposits, withdraws and reads the wallet", async () => {
    const created = await call("POST", "/api/customers", STAFF, { phone: "+84 912 345 678", name: "Nguyễn Văn An" })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ phone: "0912345678", name: "Nguyễn Văn An" })
    const id = created.body.id

    const deposit = await call("POST", "/api/wallet/0912345678/deposit", STAFF, { amount: 100_000, reference: "bank-1", source: "bank_transfer" })
    expect(deposit.status).toBe(200)
    expect(deposit.body.wallet).toMatchObject({ customerId: id, balance: 100_000, available: 100_000 })
    const replay = await call("POST", "/api/wallet/0912345678/deposit", STAFF, { amount: 100_000, reference: "bank-1", source: "bank_transfer" })
    expect(replay.body.transactionId).toBe(deposit.body.transactionId)

    const credit = await call("POST", "/api/wallet/0912345678/virtual-credit", MANAGER, { amount: 20_000, reason: "apology", reference: "vc-1" })
    expect(credit.status).toBe(200)

    const withdraw = await call("POST", "/api/wallet/0912345678/withdraw", MANAGER, { amount: 50_000, reference: "pos-1" })
    expect(withdraw.status).toBe(200)
    expect(withdraw.body.fromCredits).toEqual([{ creditId: credit.body.credit.id, amount: 20_000 }])
    expect(withdraw.body.fromReal).toBe(30_000)

    const wallet = await call("GET", "/api/wallet/0912345678", VIEWER)
    expect(wallet.status).toBe(200)
    expect(wallet.body).toMatchObject({ customerId: id, balance: 70_000, virtualBalance: 0, available: 70_000 })

    const view = await call("GET", "/api/customer/0912345678", VIEWER)
    expect(view.body.transactions.items.map((e: any) => e.kind)).toEqual(["withdrawal", "credit_spent", "credit_issued", "deposit"])
  })

  it("tickets, the SePay webhook (bindings C360_SEPAY_API_KEY …), the pending queue, the QR and the timeline on D1", async () => {
    const ticket = await call("POST", "/api/ticket", STAFF, { phone: "0987 000 111", type: "HOAN", amount: 40_000 })
    expect(ticket.status).toBe(201)
    expect(ticket.body.code).toMatch(/^TV-\d{4}-00001$/)
    const refund = await call("POST", `/api/ticket/${ticket.body.code}/action`, MANAGER, { action: "refund", amount: 40_000 })
    expect(refund.body.deposit.wallet.balance).toBe(40_000)
    const webhook = (id: number, content: string, key = SEPAY_KEY) =>
      mf.dispatchFetch("http://worker.test/api/webhooks/sepay", {
        method: "POST",
        headers: { authorization: `Apikey ${key}`, "content-type": "application/json" },
        body: JSON.stringify({
          id,
          gateway: "VCB",
          transactionDate: "2026-12-01 10:00:00",
          accountNumber: "1023456789",
          content,
          transferType: "in",
          transferAmount: 10_000
        })
      }).then(async (r) => ({ status: r.status, body: await r.json() as any }))
    expect(await webhook(1, "CK 0987.000.111 GD 464434-080625")).toEqual({ status: 200, body: { success: true } })
    expect(await webhook(1, "CK 0987.000.111 GD 464434-080625")).toEqual({ status: 200, body: { success: true } })
    expect((await webhook(2, "CK 0987000111", "wrong-key")).status).toBe(401)
    expect((await webhook(3, "CK 0909 000 000 VA KHONG CO GI")).status).toBe(200)
    expect((await call("GET", "/api/wallet/0987000111", VIEWER)).body.balance).toBe(50_000)
    const pending = await call("GET", "/api/balance-history/pending", VIEWER)
    expect(pending.body.items.map((t: any) => [t.providerId, t.match.reason])).toEqual([["3", "no_candidate"]])
    const qr = await call("GET", "/api/customer/0987000111/qr", VIEWER)
    expect(qr.body.payload).toContain("0006970436")
    const timeline = await call("GET", "/api/customer/0987000111/timeline", VIEWER)
    expect(new Set(timeline.body.items.map((e: any) => e.kind))).toEqual(new Set(["ledger", "transfer", "ticket", "activity"]))
  })

  it("answers with the same error envelope and roles as the Express host", async () => {
    const short = await call("POST", "/api/wallet/0912345678/withdraw", MANAGER, { amount: 10_000_000, reference: "pos-2" })
    expect(short).toMatchObject({ status: 422, body: { error: { code: "INSUFFICIENT_FUNDS" } } })
    expect((await call("POST", "/api/wallet/0912345678/withdraw", STAFF, { amount: 1, reference: "pos-3" })).body.error.code).toBe("FORBIDDEN")
    expect((await call("GET", "/api/wallet/0912345678", null)).status).toBe(401)
    expect((await call("POST", "/api/customers", STAFF, { phone: "0912345678", name: "Again" })).body.error.code).toBe("CUSTOMER_EXISTS")
    expect((await call("GET", "/api/wallet/12", VIEWER)).body.error.code).toBe("INVALID_PHONE")
    expect((await call("GET", "/api/nope", VIEWER)).status).toBe(404)
    const health = await call("GET", "/health", null)
    expect(health).toEqual({ status: 200, body: { status: "ok", database: "ok" } })
  })

  it("concurrent withdrawals through the Worker never overdraw", async () => {
    await call("POST", "/api/customers", STAFF, { phone: "0987654321", name: "Trần Thị Bích" })
    await call("POST", "/api/wallet/0987654321/deposit", STAFF, { amount: 10_000, reference: "bank-2", source: "manual" })
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => call("POST", "/api/wallet/0987654321/withdraw", MANAGER, { amount: 1_000, reference: `w-${i}` }))
    )
    expect(replies.filter((r) => r.status === 200)).toHaveLength(10)
    expect(replies.filter((r) => r.status === 422)).toHaveLength(2)
    expect((await call("GET", "/api/wallet/0987654321", VIEWER)).body.balance).toBe(0)
  })

  it("streams events over SSE from D1 and resumes after Last-Event-ID", async () => {
    const read = async (lastEventId: string | null, until: (events: Array<{ id: string; type: string }>) => boolean) => {
      const headers: Record<string, string> = { authorization: `Bearer ${VIEWER}` }
      if (lastEventId !== null) headers["last-event-id"] = lastEventId
      const response = await mf.dispatchFetch("http://worker.test/api/events?channels=wallets", { headers })
      expect(response.status).toBe(200)
      const reader = response.body!.getReader()
      const decoder = new TextDecoder()
      const events: Array<{ id: string; type: string }> = []
      let buffer = ""
      const deadline = Date.now() + 5_000
      let onFirstChunk: () => void = () => {}
      const connected = new Promise<void>((resolve) => (onFirstChunk = resolve))
      const done = (async () => {
        while (!until(events) && Date.now() < deadline) {
          const { done, value } = await reader.read()
          if (done) break
          onFirstChunk()
          buffer += decoder.decode(value, { stream: true })
          let end: number
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const id = /^id: (.*)$/m.exec(block)?.[1]
            const type = /^event: (.*)$/m.exec(block)?.[1]
            if (id !== undefined && type !== undefined) events.push({ id, type })
          }
        }
        await reader.cancel()
        return events
      })()
      return { connected, done }
    }
    await call("POST", "/api/customers", STAFF, { phone: "0911222333", name: "Lê Văn Cường" })
    const live = await read(null, (events) => events.length >= 1)
    await live.connected
    const first = await call("POST", "/api/wallet/0911222333/deposit", STAFF, { amount: 1_000, reference: "sse-1", source: "manual" })
    const seen = await live.done
    expect(seen.map((e) => e.type)).toEqual(["wallet.deposit"])
    // two more while disconnected: a resumed stream gets exactly those
    await call("POST", "/api/wallet/0911222333/deposit", STAFF, { amount: 2_000, reference: "sse-2", source: "manual" })
    await call("POST", "/api/wallet/0911222333/deposit", STAFF, { amount: 3_000, reference: "sse-3", source: "manual" })
    const resumed = await read(seen[0]!.id, (events) => events.length >= 2)
    const missed = await resumed.done
    expect(missed).toHaveLength(2)
    expect(missed.map((e) => e.id)).not.toContain(seen[0]!.id)
    expect(first.status).toBe(200)
  })
})
