/**
 * The soak's HTTP client: one request with a deadline, its outcome classified (answered with a
 * status, or unanswered: timed out, refused, cut off), and a tally of every outcome of a run. The
 * tally also checks each error answer: the API's envelope `{ error: { code, message } }`, and no
 * stack trace or driver text in it.
 */

/** What became of one request. */
export type Outcome =
  | { readonly kind: "answered"; readonly status: number; readonly body: unknown; readonly text: string }
  | { readonly kind: "timeout" }
  | { readonly kind: "refused" }
  | { readonly kind: "reset"; readonly detail: string }

/** A request of the soak: always to the host's loopback URL. */
export interface RequestSpec {
  readonly method: "GET" | "POST"
  readonly path: string
  readonly token: string
  readonly body?: unknown
  readonly timeoutMs: number
}

const causeCode = (e: unknown): string => {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause
  if (typeof cause?.code === "string") return cause.code
  if (typeof cause?.message === "string") return cause.message
  return e instanceof Error ? e.message : String(e)
}

/**
 * Sends one request to `base` (refused unless it is `http://127.0.0.1:…`) and reads the whole answer
 * within `timeoutMs`. Never throws: every failure is an outcome.
 */
export const send = async (base: string, spec: RequestSpec): Promise<Outcome> => {
  if (!base.startsWith("http://127.0.0.1:")) throw new Error(`the soak only talks to 127.0.0.1, not ${base}`)
  try {
    const response = await fetch(base + spec.path, {
      method: spec.method,
      headers: {
        authorization: `Bearer ${spec.token}`,
        ...(spec.body === undefined ? {} : { "content-type": "application/json" })
      },
      ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
      signal: AbortSignal.timeout(spec.timeoutMs)
    })
    const text = await response.text()
    let body: unknown = undefined
    try {
      body = text === "" ? undefined : JSON.parse(text)
    } catch {
      body = undefined
    }
    return { kind: "answered", status: response.status, body, text }
  } catch (e) {
    if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) return { kind: "timeout" }
    const code = causeCode(e)
    return code === "ECONNREFUSED" ? { kind: "refused" } : { kind: "reset", detail: code }
  }
}

/** The error code of an answer in the API's envelope, if it is one. */
export const errorCode = (body: unknown): string | undefined => {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code
  return typeof code === "string" ? code : undefined
}

// What must never reach a caller: a stack frame, a driver's error name or code, SQL.
const LEAK = /\n\s+at \S|\bat [\w.<>]+ \(.*:\d+:\d+\)|SqlError|SQLITE_[A-Z]|ECONN[A-Z]+|terminating connection|duplicate key|violates .* constraint|\bSELECT\b|\bINSERT\b/

/** The outcomes of a run's requests, by kind and status, and what was wrong with the answers. */
export class Tally {
  requests = 0
  readonly byStatus = new Map<number, number>()
  timeouts = 0
  refused = 0
  resets = 0
  /** Each 5xx answer other than 503: `METHOD path → status code: message`. */
  readonly serverErrors: Array<string> = []
  /** Error answers outside the envelope, or that leak internals. */
  readonly malformed: Array<string> = []
  /** How long each answered request took, in ms (information only: nothing is judged on it). */
  readonly latencies: Array<number> = []

  /** The `q`-quantile (0–1) of the answered requests' latencies, in ms. */
  latency(q: number): number {
    if (this.latencies.length === 0) return 0
    const sorted = [...this.latencies].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  }

  /** Counts one outcome of `spec` (answered after `ms`, when known) and checks its body when it is an error answer. */
  record(spec: RequestSpec, outcome: Outcome, ms?: number): void {
    this.requests += 1
    if (ms !== undefined && outcome.kind === "answered") this.latencies.push(ms)
    switch (outcome.kind) {
      case "timeout":
        this.timeouts += 1
        return
      case "refused":
        this.refused += 1
        return
      case "reset":
        this.resets += 1
        return
    }
    const { status, body, text } = outcome
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1)
    const where = `${spec.method} ${spec.path.replace(/\?.*/, "")}`
    if (status >= 500 && status !== 503) {
      const error = (body as { error?: { message?: unknown } } | undefined)?.error
      this.serverErrors.push(`${where} → ${status} ${errorCode(body) ?? "?"}: ${String(error?.message ?? text.slice(0, 120))}`)
    }
    if (status >= 400) {
      const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
      if (typeof error?.code !== "string" || typeof error.message !== "string") {
        this.malformed.push(`${where} → ${status}: not the error envelope: ${text.slice(0, 160)}`)
      } else if (LEAK.test(text)) {
        this.malformed.push(`${where} → ${status}: leaks internals: ${text.slice(0, 160)}`)
      }
    }
  }

  /** Answers with a status in [from, to]. */
  count(from: number, to: number): number {
    let n = 0
    for (const [status, c] of this.byStatus) if (status >= from && status <= to) n += c
    return n
  }
}
