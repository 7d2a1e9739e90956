/**
 * The soak's clients: wallet writes (deposits, withdrawals, virtual credits, some expiring within
 * seconds) on a fixed set of customers, replays of succeeded writes, wallet reads and expiry runs.
 * Like a careful real client, each write is sent again with the same reference and the same body
 * after every failed or unanswered attempt (a 5xx, a time-out, a cut connection), with jittered
 * backoff, until it gets a 2xx or 4xx answer or runs out of attempts; a write still unanswered at
 * the end of the load is retried once the host is stable (`converge`). Every loop is bounded by a
 * deadline and a count.
 */
import { errorCode, send, type RequestSpec, type Tally } from "./http.js"
import type { Random } from "./random.js"
import { sleep } from "./random.js"

/** The three idempotent wallet writes. */
export type WriteKind = "deposit" | "withdraw" | "credit"

/** One write (one reference) and everything its attempts were answered. */
export interface WriteRecord {
  readonly reference: string
  readonly kind: WriteKind
  readonly phone: string
  readonly body: { readonly amount: number } & Record<string, unknown>
  attempts: number
  /** Some attempt timed out: it may have been still running when a later one was answered. */
  timedOut: boolean
  /** The first 2xx or 4xx answer; undefined while unresolved. */
  final: { readonly status: number; readonly code: string | undefined; readonly body: unknown } | undefined
  /** The transaction id of every 2xx answer for this reference, replays included: one when all is well. */
  readonly transactionIds: Set<string>
}

/** The host as the clients see it. */
export interface Target {
  readonly whenUp: (until: number) => Promise<string | undefined>
}

/** What the clients need. */
export interface LoadOptions {
  readonly target: Target
  readonly tokens: { readonly manager: string; readonly staff: string; readonly viewer: string }
  readonly random: Random
  readonly tally: Tally
  /** References are `<prefix>-<n>`. */
  readonly prefix: string
  readonly requestTimeoutMs: number
  /** Where the clients write what they found wrong in the answers. */
  readonly violations: Array<string>
}

const PATHS: Record<WriteKind, string> = { deposit: "deposit", withdraw: "withdraw", credit: "virtual-credit" }
const SOURCES = ["bank_transfer", "manual", "refund"] as const

/** The clients of one engine run. */
export class Load {
  readonly records: Array<WriteRecord> = []
  /** Attempts after the first, over all writes, replays and seeding. */
  retries = 0
  replays = 0
  reads = 0
  expiryRuns = 0
  expired = 0
  readonly phones: Array<string> = []
  private readonly succeeded: Array<WriteRecord> = []
  private counter = 0

  constructor(private readonly o: LoadOptions) {}

  private backoff(attempt: number): number {
    return Math.min(1_000, 25 * 2 ** Math.min(attempt, 10)) * (0.5 + this.o.random.next())
  }

  /** One request when the host is up; undefined when it is not up by `until`. */
  private async request(spec: RequestSpec, until: number) {
    const base = await this.o.target.whenUp(until)
    if (base === undefined) return undefined
    const sent = Date.now()
    const outcome = await send(base, spec)
    this.o.tally.record(spec, outcome, Date.now() - sent)
    return outcome
  }

  /** Creates `count` customers with fresh phones (`0912xxxxxx`); throws if one cannot be created by `until`. */
  async seed(count: number, until: number): Promise<void> {
    const base = this.o.random.int(100_000, 899_999 - count)
    for (let i = 0; i < count; i++) {
      const phone = `0912${base + i}`
      let attempts = 0
      let done = false
      while (!done) {
        if (attempts >= 20 || Date.now() >= until) throw new Error(`could not create the customer ${phone}`)
        if (attempts > 0) {
          this.retries += 1
          await sleep(this.backoff(attempts))
        }
        attempts += 1
        const outcome = await this.request(
          { method: "POST", path: "/api/customers", token: this.o.tokens.staff, body: { phone, name: `Khách ${i + 1}` }, timeoutMs: this.o.requestTimeoutMs },
          until
        )
        if (outcome?.kind !== "answered" || outcome.status >= 500) continue
        // 409 after an unanswered attempt: that attempt created it
        if (outcome.status === 201 || (outcome.status === 409 && attempts > 1)) done = true
        else throw new Error(`creating ${phone} answered ${outcome.status}: ${outcome.text.slice(0, 200)}`)
      }
      this.phones.push(phone)
    }
  }

  private newWrite(): WriteRecord {
    const r = this.o.random
    const phone = r.pick(this.phones)
    const reference = `${this.o.prefix}-${++this.counter}`
    const roll = r.next()
    const kind: WriteKind = roll < 0.45 ? "deposit" : roll < 0.8 ? "withdraw" : "credit"
    const amount = r.int(1, 100) * 1_000
    const body = kind === "deposit"
      ? { amount, reference, source: r.pick(SOURCES) }
      : kind === "withdraw"
      ? { amount: Math.min(amount, 60_000), reference }
      : r.chance(0.5)
      ? { amount: Math.min(amount, 50_000), reason: "soak", reference, expiresAt: new Date(Date.now() + r.int(2_000, 8_000)).toISOString() }
      : { amount: Math.min(amount, 50_000), reason: "soak", reference }
    const record: WriteRecord = { reference, kind, phone, body, attempts: 0, timedOut: false, final: undefined, transactionIds: new Set() }
    this.records.push(record)
    return record
  }

  /**
   * Sends `record` until it has a 2xx or 4xx answer, at most `maxAttempts` attempts in all, not past
   * `until`. `replay`: the record already succeeded; this is the same write sent again (at most
   * `maxAttempts` attempts for this replay).
   */
  private async deliver(record: WriteRecord, maxAttempts: number, until: number, replay = false): Promise<void> {
    let attempts = 0
    const limit = replay ? maxAttempts : maxAttempts - record.attempts
    while ((replay || record.final === undefined) && attempts < limit && Date.now() < until) {
      if (attempts > 0 || (!replay && record.attempts > 0)) {
        this.retries += 1
        await sleep(this.backoff(Math.max(attempts, record.attempts)))
      }
      attempts += 1
      if (!replay) record.attempts += 1
      const token = record.kind === "deposit" ? this.o.tokens.staff : this.o.tokens.manager
      const outcome = await this.request(
        { method: "POST", path: `/api/wallet/${record.phone}/${PATHS[record.kind]}`, token, body: record.body, timeoutMs: this.o.requestTimeoutMs },
        until
      )
      if (outcome === undefined) return
      if (outcome.kind === "timeout") record.timedOut = true
      if (outcome.kind !== "answered" || outcome.status >= 500) continue
      const code = errorCode(outcome.body)
      if (outcome.status >= 200 && outcome.status < 300) {
        const transactionId = (outcome.body as { transactionId?: unknown } | undefined)?.transactionId
        if (typeof transactionId === "string") record.transactionIds.add(transactionId)
        else this.o.violations.push(`${record.reference}: ${outcome.status} without a transactionId: ${outcome.text.slice(0, 160)}`)
      } else if (code === "IDEMPOTENCY_CONFLICT") {
        this.o.violations.push(`${record.reference}: IDEMPOTENCY_CONFLICT for a retry of the same body`)
      } else if (replay) {
        this.o.violations.push(`${record.reference}: a replay of a succeeded ${record.kind} answered ${outcome.status} ${code ?? ""}`)
      }
      if (replay) return
      record.final = { status: outcome.status, code, body: outcome.body }
      if (outcome.status < 300) this.succeeded.push(record)
      return
    }
  }

  private async read(until: number): Promise<void> {
    this.reads += 1
    const phone = this.o.random.pick(this.phones)
    const view = this.o.random.chance(0.25)
    const outcome = await this.request(
      { method: "GET", path: view ? `/api/customer/${phone}` : `/api/wallet/${phone}`, token: this.o.tokens.viewer, timeoutMs: this.o.requestTimeoutMs },
      until
    )
    if (outcome?.kind !== "answered" || outcome.status !== 200) return
    const body = outcome.body as { wallet?: unknown } | undefined
    const wallet = (view ? body?.wallet : body) as { balance?: unknown; virtualBalance?: unknown; available?: unknown } | undefined
    const { balance, virtualBalance, available } = wallet ?? {}
    if (typeof balance !== "number" || typeof virtualBalance !== "number" || typeof available !== "number" ||
      balance < 0 || virtualBalance < 0 || available !== balance + virtualBalance) {
      this.o.violations.push(`GET ${view ? "/api/customer" : "/api/wallet"}/${phone}: inconsistent wallet ${JSON.stringify(wallet)}`)
    }
  }

  /**
   * `clients` concurrent clients until `until` or until `maxWrites` writes were started; each write
   * gets at most `maxAttempts` attempts here (what is left unresolved is for `converge`).
   */
  async run(options: { readonly clients: number; readonly until: number; readonly maxWrites: number; readonly maxAttempts: number }): Promise<void> {
    const client = async () => {
      while (Date.now() < options.until && this.records.length < options.maxWrites) {
        const roll = this.o.random.next()
        if (roll < 0.1) await this.read(options.until)
        else if (roll < 0.15 && this.succeeded.length > 0) {
          this.replays += 1
          await this.deliver(this.o.random.pick(this.succeeded), options.maxAttempts, options.until, true)
        } else await this.deliver(this.newWrite(), options.maxAttempts, options.until)
      }
    }
    await Promise.all(Array.from({ length: options.clients }, client))
  }

  /** Runs the expiry job (`POST /api/jobs/expire-credits`) every 1–2 s until `until`, one attempt each. */
  async expiryLoop(until: number): Promise<void> {
    while (Date.now() < until) {
      await sleep(Math.min(this.o.random.int(1_000, 2_000), until - Date.now()))
      if (Date.now() >= until) break
      const outcome = await this.request(
        { method: "POST", path: "/api/jobs/expire-credits", token: this.o.tokens.manager, timeoutMs: this.o.requestTimeoutMs },
        until
      )
      if (outcome?.kind === "answered" && outcome.status === 200) {
        this.expiryRuns += 1
        this.expired += Number((outcome.body as { expired?: unknown } | undefined)?.expired ?? 0)
      }
    }
  }

  /** The writes without a 2xx or 4xx answer yet. */
  get unresolved(): Array<WriteRecord> {
    return this.records.filter((r) => r.final === undefined)
  }

  /** Sends every unresolved write again (`clients` at a time), up to `attempts` more attempts each, until `until`. */
  async converge(options: { readonly clients: number; readonly until: number; readonly attempts: number }): Promise<number> {
    const queue = this.unresolved
    const count = queue.length
    const client = async () => {
      for (let record = queue.shift(); record !== undefined; record = queue.shift()) {
        await this.deliver(record, record.attempts + options.attempts, options.until)
      }
    }
    await Promise.all(Array.from({ length: options.clients }, client))
    return count
  }
}
