/**
 * A fake CNV loyalty API for tests: a local `node:http` server with the two endpoints the adapter
 * reads — `GET /loyalty/customers.json?page=&page_size=&updated_since=` (customers updated at or
 * after the instant, ordered by `updated_at` then `id`, paged, with `meta.next_page` /
 * `total_pages`) and `GET /loyalty/customers/{id}/membership.json` — behind a bearer token.
 *
 * The data set is the `customers` map (raw JSON records, malformed ones included) and `memberships`
 * (a raw `membership` object, `null` for a 404; absent: one derived from the customer). Faults are
 * queued: each matches requests (by endpoint, page or customer id), answers a status (with a
 * `Retry-After`) or a body, possibly late, a number of times. Every request is recorded (path,
 * query, authorization header, time) so tests can assert what was fetched and when.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo, Socket } from "node:net"

export interface RecordedRequest {
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly authorization: string | undefined
  /** `performance.now()` when it arrived. */
  readonly at: number
  /** The status it was answered. */
  status?: number
}

export interface Fault {
  /** Which requests it answers: an endpoint, or any request the predicate accepts. */
  readonly match: "customers" | "membership" | "any" | ((request: RecordedRequest) => boolean)
  /** The status to answer (default 500); `"hang"` never answers (a timeout). */
  readonly status?: number | "hang"
  readonly retryAfter?: string
  /** A body to answer instead of the real one (with `status` 200 by default then). */
  readonly body?: string
  /** Answers after this long. */
  readonly delayMs?: number
  /** How many requests it answers (default 1; `Infinity`: until removed). */
  times?: number
}

export interface FakeCnv {
  readonly url: string
  readonly token: string
  readonly customers: Map<number | string, Record<string, unknown>>
  readonly memberships: Map<number, unknown>
  readonly requests: Array<RecordedRequest>
  readonly faults: Array<Fault>
  /** Every answer is delayed this long (default 0). */
  delayMs: number
  /** Puts (or replaces) a customer. */
  readonly put: (customer: Record<string, unknown>) => void
  /** The page requests received, in order. */
  readonly pageRequests: () => ReadonlyArray<RecordedRequest>
  /** Clears data, faults and requests. */
  readonly reset: () => void
  readonly close: () => Promise<void>
}

export const FAKE_TOKEN = "fake-cnv-token-7f3a9c"

/** A CNV customer record as the API sends it (the seed's appendix A), with `fields` over the defaults. */
export const cnvCustomer = (id: number, updatedAt: number, fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  last_name: `Nguyễn ${id}`,
  first_name: ".",
  phone: `0338${String(id % 1_000_000).padStart(6, "0")}`,
  email: "",
  gender: "female",
  birthday_day: 21,
  birthday_month: 12,
  birthday_year: 1990,
  tags: "",
  physical_card_code: "",
  points: 100.0,
  exp_points: 0.0,
  total_spending: 0.0,
  total_points: 100.0,
  created_at: new Date(updatedAt - 86_400_000).toISOString(),
  updated_at: new Date(updatedAt).toISOString(),
  ...fields
})

const sortKey = (c: Record<string, unknown>) => ({ at: Date.parse(String(c.updated_at)), id: Number(c.id) })

export const startFakeCnv = async (options: { readonly token?: string } = {}): Promise<FakeCnv> => {
  const token = options.token ?? FAKE_TOKEN
  const customers = new Map<number | string, Record<string, unknown>>()
  const memberships = new Map<number, unknown>()
  const requests: Array<RecordedRequest> = []
  const faults: Array<Fault> = []
  const sockets = new Set<Socket>()
  const state = { delayMs: 0 }

  const send = (res: ServerResponse, request: RecordedRequest, status: number, body: unknown, headers: Record<string, string> = {}) => {
    request.status = status
    res.writeHead(status, { "content-type": "application/json", ...headers })
    res.end(typeof body === "string" ? body : JSON.stringify(body))
  }

  const kindOf = (path: string) =>
    path === "/loyalty/customers.json" ? "customers" : /^\/loyalty\/customers\/[^/]+\/membership\.json$/.test(path) ? "membership" : "other"

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake")
    const request: RecordedRequest = {
      path: url.pathname,
      query: Object.fromEntries(url.searchParams.entries()),
      authorization: req.headers.authorization,
      at: performance.now()
    }
    requests.push(request)
    const kind = kindOf(url.pathname)
    const fault = faults.find((f) =>
      (f.times ?? 1) > 0 &&
      (typeof f.match === "function" ? f.match(request) : f.match === "any" || f.match === kind)
    )
    if (fault !== undefined) fault.times = (fault.times ?? 1) - 1
    const delay = (fault?.delayMs ?? 0) + state.delayMs
    const respond = () => {
      if (fault?.status === "hang") return
      if (fault !== undefined && fault.body === undefined) {
        return send(res, request, fault.status ?? 500, { error: "injected" }, fault.retryAfter === undefined ? {} : { "retry-after": fault.retryAfter })
      }
      if (fault?.body !== undefined) return send(res, request, typeof fault.status === "number" ? fault.status : 200, fault.body)
      if (req.headers.authorization !== `Bearer ${token}`) return send(res, request, 401, { error: "unauthorized" })
      if (kind === "customers") {
        const since = Date.parse(url.searchParams.get("updated_since") ?? "1970-01-01T00:00:00Z")
        const page = Number(url.searchParams.get("page") ?? "1")
        const size = Number(url.searchParams.get("page_size") ?? "100")
        const matching = [...customers.values()]
          .filter((c) => !(sortKey(c).at < since)) // malformed instants (NaN) are sent too
          .sort((a, b) => {
            const x = sortKey(a)
            const y = sortKey(b)
            return (x.at || 0) - (y.at || 0) || (x.id || 0) - (y.id || 0)
          })
        const totalPages = Math.max(1, Math.ceil(matching.length / size))
        return send(res, request, 200, {
          customers: matching.slice((page - 1) * size, page * size),
          meta: { current_page: page, total_pages: totalPages, next_page: page < totalPages ? page + 1 : null }
        })
      }
      if (kind === "membership") {
        const id = Number(url.pathname.split("/")[3])
        if (memberships.has(id)) {
          const m = memberships.get(id)
          return m === null ? send(res, request, 404, { error: "not found" }) : send(res, request, 200, { membership: m })
        }
        const c = customers.get(id)
        if (c === undefined) return send(res, request, 404, { error: "not found" })
        return send(res, request, 200, {
          membership: { level_name: "Gold", total_points: c.total_points, points: c.points, used_points: 0.0, color_code: "#F844C7" }
        })
      }
      return send(res, request, 404, { error: "no such endpoint" })
    }
    if (delay > 0) setTimeout(respond, delay)
    else respond()
  }

  const server = createServer(answer)
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    customers,
    memberships,
    requests,
    faults,
    get delayMs() {
      return state.delayMs
    },
    set delayMs(ms: number) {
      state.delayMs = ms
    },
    put: (customer) => {
      customers.set(customer.id as number, customer)
    },
    pageRequests: () => requests.filter((r) => r.path === "/loyalty/customers.json"),
    reset: () => {
      customers.clear()
      memberships.clear()
      faults.length = 0
      requests.length = 0
      state.delayMs = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
