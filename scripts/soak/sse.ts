/**
 * The live-event side of the soak (`GET /api/events`, docs/events.md#live-events):
 * - a follower that stays connected through the whole run and, like `EventSource`, reconnects after
 *   every cut (a SIGKILL of the host, a stream ended by a database failure) with `Last-Event-ID` set
 *   to the last event it received in full;
 * - a resume check: one new stream from an event in the middle of the outbox.
 * Both are compared with the outbox itself: every event once, none lost, in outbox order.
 */
import http from "node:http"
import type { Tally } from "./http.js"
import { sleep } from "./random.js"

const PATH = "/api/events?channels=customers,wallets"

/** One connection to the event stream, as the client saw it. */
export interface StreamLog {
  /** The `Last-Event-ID` it was opened with. */
  readonly sentLastEventId: string | null
  /** The ids of the events received in full, in order. */
  readonly ids: Array<string>
  status: number | undefined
  /** The stream said it did not find `Last-Event-ID` in the outbox. */
  notFound: boolean
  /** How it ended: `end`, `closed` (by us) or the socket error. */
  ended: string | undefined
}

interface OpenStream {
  readonly log: StreamLog
  /** Resolves true once the stream's greeting arrived, false if it ended first. */
  readonly connected: Promise<boolean>
  /** Resolves when the stream has ended, however. */
  readonly done: Promise<void>
  readonly close: () => void
}

const openStream = (base: string, token: string, lastEventId: string | null, tally: Tally): OpenStream => {
  const url = new URL(base)
  if (url.hostname !== "127.0.0.1") throw new Error(`the soak only talks to 127.0.0.1, not ${base}`)
  const log: StreamLog = { sentLastEventId: lastEventId, ids: [], status: undefined, notFound: false, ended: undefined }
  const spec = { method: "GET" as const, path: PATH, token, timeoutMs: 0 }
  let onConnected: (ok: boolean) => void = () => undefined
  const connected = new Promise<boolean>((resolve) => (onConnected = resolve))
  let finish: () => void = () => undefined
  const done = new Promise<void>((resolve) => (finish = resolve))
  let closedByUs = false
  const end = (how: string) => {
    if (log.ended === undefined) log.ended = closedByUs ? "closed" : how
    onConnected(false)
    finish()
  }
  const req = http.request({
    host: "127.0.0.1",
    port: Number(url.port),
    path: PATH,
    method: "GET",
    headers: {
      authorization: `Bearer ${token}`,
      accept: "text/event-stream",
      ...(lastEventId === null ? {} : { "last-event-id": lastEventId })
    }
  })
  req.on("error", (e: NodeJS.ErrnoException) => {
    if (log.status === undefined && !closedByUs) {
      tally.record(spec, e.code === "ECONNREFUSED" ? { kind: "refused" } : { kind: "reset", detail: e.code ?? e.message })
    }
    end(e.code ?? e.message)
  })
  req.on("response", (res) => {
    log.status = res.statusCode ?? 0
    res.setEncoding("utf8")
    if (log.status !== 200) {
      let text = ""
      res.on("data", (chunk: string) => (text += chunk))
      res.on("end", () => {
        let body: unknown = undefined
        try {
          body = JSON.parse(text)
        } catch {
          body = undefined
        }
        tally.record(spec, { kind: "answered", status: log.status!, body, text })
        end("end")
      })
      res.on("error", () => end("error"))
      return
    }
    tally.record(spec, { kind: "answered", status: 200, body: undefined, text: "" })
    let buffer = ""
    let id: string | undefined
    let hasData = false
    res.on("data", (chunk: string) => {
      buffer += chunk
      let newline: number
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, "")
        buffer = buffer.slice(newline + 1)
        if (line === "") {
          // an event is taken only once its blank line arrived: a cut-off event is not received
          if (id !== undefined && hasData) log.ids.push(id)
          id = undefined
          hasData = false
        } else if (line.startsWith(":")) {
          if (/not found/i.test(line)) log.notFound = true
          onConnected(true)
        } else if (line.startsWith("id:")) {
          id = line.slice(3).trim()
        } else if (line.startsWith("data:")) {
          hasData = true
        }
      }
    })
    res.on("end", () => end("end"))
    res.on("error", (e: NodeJS.ErrnoException) => end(e.code ?? "error"))
    res.on("close", () => end("closed"))
  })
  req.end()
  return {
    log,
    connected,
    done,
    close: () => {
      closedByUs = true
      req.destroy()
    }
  }
}

/** Polls `predicate` every 50 ms; true once it holds, false after `timeoutMs`. */
export const waitUntil = async (predicate: () => boolean, timeoutMs: number): Promise<boolean> => {
  const until = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() >= until) return false
    await sleep(50)
  }
  return true
}

/** A client that stays on the event stream, reconnecting with `Last-Event-ID` after each cut, until `stop`. */
export class Follower {
  readonly streams: Array<StreamLog> = []
  private current: OpenStream | undefined
  private stopped = false
  private loop: Promise<void> = Promise.resolve()

  constructor(
    private readonly url: () => string | undefined,
    private readonly token: string,
    private readonly tally: Tally
  ) {}

  /** Every event received in full, over all connections, in order. */
  get received(): Array<string> {
    return this.streams.flatMap((s) => s.ids)
  }

  /** The id it would resume after. */
  get lastId(): string | null {
    for (let i = this.streams.length - 1; i >= 0; i--) {
      const ids = this.streams[i]!.ids
      if (ids.length > 0) return ids[ids.length - 1]!
    }
    return null
  }

  /** Starts following; resolves true once the first connection is established, false if none is within `timeoutMs`. */
  start(timeoutMs: number): Promise<boolean> {
    let first: (ok: boolean) => void = () => undefined
    const connected = new Promise<boolean>((resolve) => (first = resolve))
    this.loop = (async () => {
      while (!this.stopped) {
        const base = this.url()
        if (base === undefined) {
          await sleep(100)
          continue
        }
        const stream = openStream(base, this.token, this.lastId, this.tally)
        this.current = stream
        this.streams.push(stream.log)
        void stream.connected.then((ok) => ok && first(true))
        await stream.done
        this.current = undefined
        if (!this.stopped) await sleep(150)
      }
    })()
    setTimeout(() => first(false), timeoutMs).unref()
    return connected
  }

  /** Closes the current connection and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true
    this.current?.close()
    await this.loop
  }
}

/** How a received sequence of event ids differs from the expected one. */
export interface Comparison {
  readonly ok: boolean
  readonly lost: number
  readonly duplicated: number
  readonly unexpected: number
  readonly outOfOrder: boolean
  readonly detail: string
}

/** Compares `received` with `expected`: ok when they are the same ids in the same order, each once. */
export const compareIds = (received: ReadonlyArray<string>, expected: ReadonlyArray<string>): Comparison => {
  const want = new Set(expected)
  const seen = new Set<string>()
  let duplicated = 0
  let unexpected = 0
  for (const id of received) {
    if (seen.has(id)) duplicated += 1
    seen.add(id)
    if (!want.has(id)) unexpected += 1
  }
  const lost = expected.filter((id) => !seen.has(id)).length
  let firstDifference = -1
  for (let i = 0; i < Math.max(received.length, expected.length); i++) {
    if (received[i] !== expected[i]) {
      firstDifference = i
      break
    }
  }
  const outOfOrder = lost === 0 && duplicated === 0 && unexpected === 0 && firstDifference >= 0
  const ok = firstDifference < 0
  const detail = ok
    ? `${received.length} events, exactly the outbox's`
    : `${received.length} received of ${expected.length} expected: lost ${lost}, duplicated ${duplicated}, ` +
      `not in the outbox ${unexpected}${outOfOrder ? ", out of order" : ""} (first difference at #${firstDifference}: ` +
      `got ${received[firstDifference] ?? "nothing"}, expected ${expected[firstDifference] ?? "nothing"})`
  return { ok, lost, duplicated, unexpected, outOfOrder, detail }
}

/**
 * Opens one stream with `Last-Event-ID: expected[from]` and checks that it delivers exactly
 * `expected` after that index, and nothing more within 500 ms of the last one.
 */
export const resumeCheck = async (
  base: string,
  token: string,
  tally: Tally,
  expected: ReadonlyArray<string>,
  from: number,
  timeoutMs: number
): Promise<Comparison & { readonly notFound: boolean }> => {
  const stream = openStream(base, token, expected[from]!, tally)
  const want = expected.length - from - 1
  await waitUntil(() => stream.log.ids.length >= want || stream.log.ended !== undefined, timeoutMs)
  await sleep(500)
  stream.close()
  await stream.done
  const comparison = compareIds(stream.log.ids, expected.slice(from + 1))
  const status = stream.log.status === 200 ? "" : ` (status ${stream.log.status ?? stream.log.ended})`
  return {
    ...comparison,
    ok: comparison.ok && !stream.log.notFound && stream.log.status === 200,
    detail: comparison.detail + status + (stream.log.notFound ? "; the stream said the id was not found" : ""),
    notFound: stream.log.notFound
  }
}
