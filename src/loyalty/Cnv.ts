/**
 * The CNV loyalty API as a `LoyaltySource` (docs/loyalty.md#the-cnv-adapter), on the platform's
 * `fetch` (Node 20+, Cloudflare Workers):
 *
 * - `GET {baseUrl}/loyalty/customers.json?page=&page_size=&updated_since=` — a page of customers
 *   updated at or after `updated_since` (an ISO-8601 instant), ordered by `updated_at` then `id`;
 * - `GET {baseUrl}/loyalty/customers/{id}/membership.json` — one customer's membership (404: none).
 *
 * Every request carries `Authorization: Bearer <token>` — a static `token`, or `getToken()` called
 * before each request (a host that refreshes OAuth tokens caches them there). The token is never
 * logged nor put in an error. A request that times out (`timeoutMs`), fails on the network, or is
 * answered 429 or 5xx is tried again, at most `maxAttempts` times in all, after an exponential
 * backoff with jitter — or, on 429 and 503, after the `Retry-After` the server gave (seconds or an
 * HTTP date). A 401/403, another 4xx, or an answer that is not the expected JSON is not retried.
 *
 * **Assumptions, each an option**: the query parameters' names (`params`), extra parameters
 * (`query`, e.g. a sort order), the list's shape — `{ customers: [...] }` (or `data`/`items`, or
 * a bare array; an item may be wrapped as `{ customer: {...} }`) with a `meta` (or `pagination`)
 * giving `next_page`, `has_more` or `total_pages`; without any, a full page means there may be
 * more — and an inclusive `updated_since`. Points and money come as JSON numbers (`29649.0`): a
 * whole value becomes an integer, a fraction fails that record (never rounded).
 *
 * @since 0.5.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { ValidationError } from "../kernel/Errors.js"
import { sleepLive } from "../platform/sql/SqlFailure.js"
import {
  type LoyaltyCustomerRecord,
  type LoyaltyMembership,
  type LoyaltyPage,
  LoyaltyRecordRejected,
  LoyaltySource,
  LoyaltySourceFailed,
  type LoyaltySourceShape,
  type PageQuery,
  type RejectedRecord
} from "./Source.js"

/**
 * Options of the CNV adapter:
 * - `baseUrl` (default `https://apis.cnvloyalty.com`);
 * - `token`, or `getToken()` (called before each request; wins over `token`) — one is required;
 * - `pageSize`: the sync's default page size (default 100);
 * - `timeoutMs`: per request (default 15,000);
 * - `maxAttempts`: tries per request, the first included (1–10, default 5);
 * - `backoffMs`: the first retry's base wait (default 500), doubling each time up to `maxBackoffMs`
 *   (default 30,000), each wait drawn between half and all of it;
 * - `maxRetryAfterMs`: the longest `Retry-After` honoured (default 120,000); a longer one fails the
 *   request at once;
 * - `params`: the query parameters' names (default `page`, `page_size`, `updated_since`);
 * - `query`: extra query parameters sent with every page request;
 * - `fetch`: the `fetch` to use (default the global one).
 *
 * @since 0.5.0
 */
export interface CnvOptions {
  readonly baseUrl?: string | undefined
  readonly token?: string | undefined
  readonly getToken?: (() => string | Promise<string>) | undefined
  readonly pageSize?: number | undefined
  readonly timeoutMs?: number | undefined
  readonly maxAttempts?: number | undefined
  readonly backoffMs?: number | undefined
  readonly maxBackoffMs?: number | undefined
  readonly maxRetryAfterMs?: number | undefined
  readonly params?: {
    readonly page?: string | undefined
    readonly pageSize?: string | undefined
    readonly updatedSince?: string | undefined
  } | undefined
  readonly query?: Readonly<Record<string, string>> | undefined
  readonly fetch?: typeof globalThis.fetch | undefined
}

/** CNV's API. @since 0.5.0 */
export const defaultBaseUrl = "https://apis.cnvloyalty.com"

// ---------------------------------------------------------------------------------------------
// CNV's JSON

const Whole = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(
  Schema.filter((n) => Number.isSafeInteger(n) || `${n} is not a whole number`)
)
const OptionalWhole = Schema.optionalWith(Schema.NullOr(Whole), { default: () => null })
const Textual = Schema.Union(
  Schema.String,
  Schema.transform(Schema.Number, Schema.String, { strict: true, decode: (n) => String(n), encode: (s) => Number(s) })
)
const OptionalText = Schema.optionalWith(Schema.NullOr(Textual), { default: () => null })
const Instant = Schema.Date.pipe(Schema.filter((d) => Number.isFinite(d.getTime()) || "is not an instant"))

/** A customer as CNV sends it (the seed's appendix A). */
const CnvCustomer = Schema.Struct({
  id: Whole.pipe(Schema.filter((n) => n >= 0 || "must be 0 or more")),
  last_name: OptionalText,
  first_name: OptionalText,
  phone: OptionalText,
  email: OptionalText,
  gender: OptionalText,
  birthday_day: OptionalWhole,
  birthday_month: OptionalWhole,
  birthday_year: OptionalWhole,
  tags: OptionalText,
  physical_card_code: OptionalText,
  points: OptionalWhole,
  exp_points: OptionalWhole,
  total_spending: OptionalWhole,
  total_points: OptionalWhole,
  created_at: Schema.optionalWith(Schema.NullOr(Instant), { default: () => null }),
  updated_at: Instant
})

/** A membership as CNV sends it. */
const CnvMembership = Schema.Struct({
  level_name: OptionalText,
  total_points: OptionalWhole,
  points: OptionalWhole,
  used_points: OptionalWhole
})

const reasonOf = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "is malformed"
  return issue.path.length === 0 ? issue.message : `${issue.path.map(String).join(".")}: ${issue.message}`
}

const decodeCustomer = Schema.decodeUnknownEither(CnvCustomer, { errors: "first" })
const decodeMembership = Schema.decodeUnknownEither(CnvMembership, { errors: "first" })

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const rawIdOf = (u: unknown): number | null => {
  const id = isObject(u) ? u.id : undefined
  const n = typeof id === "string" && /^\d+$/.test(id) ? Number(id) : id
  return typeof n === "number" && Number.isSafeInteger(n) ? n : null
}

/** One item of a CNV page (bare or wrapped as `{ customer }`): the record, or why it was rejected. @since 0.5.0 */
export const customerOf = (item: unknown): Either.Either<LoyaltyCustomerRecord, RejectedRecord> => {
  const raw = isObject(item) && isObject(item.customer) ? item.customer : item
  return Either.match(decodeCustomer(raw), {
    onLeft: (e) => Either.left({ cnvId: rawIdOf(raw), reason: reasonOf(e) }),
    onRight: (c) =>
      Either.right({
        id: c.id,
        lastName: c.last_name,
        firstName: c.first_name,
        phone: c.phone,
        email: c.email,
        gender: c.gender,
        birthdayDay: c.birthday_day,
        birthdayMonth: c.birthday_month,
        birthdayYear: c.birthday_year,
        tags: c.tags,
        physicalCardCode: c.physical_card_code,
        points: c.points ?? 0,
        expPoints: c.exp_points ?? 0,
        totalSpending: c.total_spending ?? 0,
        totalPoints: c.total_points ?? 0,
        createdAt: c.created_at === null ? null : c.created_at.getTime(),
        updatedAt: c.updated_at.getTime()
      })
  })
}

/** Whether the page says there is a next one; `undefined` when it does not say. */
const saysMore = (body: Record<string, unknown>, page: number): boolean | undefined => {
  for (const meta of [body.meta, body.pagination, body]) {
    if (!isObject(meta)) continue
    if ("next_page" in meta) return meta.next_page !== null && meta.next_page !== false && meta.next_page !== undefined
    if (typeof meta.has_more === "boolean") return meta.has_more
    if (typeof meta.hasMore === "boolean") return meta.hasMore
    const total = Number(meta.total_pages ?? meta.totalPages)
    if (Number.isFinite(total)) return page < total
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Requests

/** `Retry-After` in milliseconds (seconds, or an HTTP date), `undefined` when absent or unreadable. @since 0.5.0 */
export const retryAfterMs = (header: string | null, now: number): number | undefined => {
  if (header === null) return undefined
  const trimmed = header.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000)
  const at = Date.parse(trimmed)
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined
}

type Outcome =
  | { readonly _tag: "answer"; readonly status: number; readonly body: unknown }
  | { readonly _tag: "retry"; readonly reason: string; readonly status?: number; readonly waitMs?: number | undefined }
  | { readonly _tag: "fail"; readonly reason: string; readonly status?: number }

interface Settings {
  readonly baseUrl: string
  readonly token: () => Promise<string>
  readonly pageSize: number
  readonly timeoutMs: number
  readonly maxAttempts: number
  readonly backoffMs: number
  readonly maxBackoffMs: number
  readonly maxRetryAfterMs: number
  readonly params: { readonly page: string; readonly pageSize: string; readonly updatedSince: string }
  readonly query: Readonly<Record<string, string>>
  readonly fetch: typeof globalThis.fetch
}

const settingsOf = (options: CnvOptions): Either.Either<Settings, ValidationError> => {
  const fail = (path: string, message: string) => Either.left(ValidationError.single(`cnv.${path}`, message))
  if (typeof options !== "object" || options === null) return fail("", "must be an object")
  const baseUrl = options.baseUrl ?? defaultBaseUrl
  if (typeof baseUrl !== "string" || !/^https?:\/\/[^\s]+$/.test(baseUrl)) return fail("baseUrl", "must be an http(s) URL")
  const { getToken, token } = options
  if (getToken !== undefined && typeof getToken !== "function") return fail("getToken", "must be a function returning the token")
  if (getToken === undefined && (typeof token !== "string" || !/^[\x21-\x7e]{1,4096}$/.test(token))) {
    return fail("token", "is required (or getToken): 1–4096 visible ASCII characters")
  }
  const int = (path: string, v: unknown, fallback: number, min: number, max: number): number | string =>
    v === undefined ? fallback : typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max ? v : `${path}`
  const ranges = [
    ["pageSize", options.pageSize, 100, 1, 1000],
    ["timeoutMs", options.timeoutMs, 15_000, 1, 600_000],
    ["maxAttempts", options.maxAttempts, 5, 1, 10],
    ["backoffMs", options.backoffMs, 500, 0, 600_000],
    ["maxBackoffMs", options.maxBackoffMs, 30_000, 0, 3_600_000],
    ["maxRetryAfterMs", options.maxRetryAfterMs, 120_000, 0, 3_600_000]
  ] as const
  const values: Record<string, number> = {}
  for (const [path, v, fallback, min, max] of ranges) {
    const r = int(path, v, fallback, min, max)
    if (typeof r === "string") return fail(path, `must be a whole number from ${min} to ${max}`)
    values[path] = r
  }
  const names = options.params ?? {}
  const params = { page: names.page ?? "page", pageSize: names.pageSize ?? "page_size", updatedSince: names.updatedSince ?? "updated_since" }
  for (const [k, v] of Object.entries(params)) {
    if (typeof v !== "string" || !/^[A-Za-z0-9_.[\]-]{1,100}$/.test(v)) return fail(`params.${k}`, "must be a query parameter name")
  }
  const query = options.query ?? {}
  if (!isObject(query) || !Object.values(query).every((v) => typeof v === "string")) return fail("query", "must map names to strings")
  const f = options.fetch ?? globalThis.fetch
  if (typeof f !== "function") return fail("fetch", "must be a fetch function (none is available here)")
  return Either.right({
    baseUrl: baseUrl.replace(/\/+$/, ""),
    token: getToken !== undefined ? async () => String(await getToken()) : async () => token!,
    pageSize: values.pageSize!,
    timeoutMs: values.timeoutMs!,
    maxAttempts: values.maxAttempts!,
    backoffMs: values.backoffMs!,
    maxBackoffMs: values.maxBackoffMs!,
    maxRetryAfterMs: values.maxRetryAfterMs!,
    params,
    query,
    fetch: f
  })
}

/**
 * Builds the adapter; fails `ValidationError` for bad options (never quoting the token).
 *
 * @since 0.5.0
 */
export const make = (options: CnvOptions): Effect.Effect<LoyaltySourceShape, ValidationError> =>
  Effect.map(settingsOf(options), (s): LoyaltySourceShape => {
    /** One try: the answer (2xx or 404), or whether to try again. */
    const attempt = (url: string): Effect.Effect<Outcome> =>
      Effect.promise(async (signal): Promise<Outcome> => {
        let bearer: string
        try {
          bearer = await s.token()
        } catch {
          return { _tag: "fail", reason: "the token could not be obtained (getToken rejected)" }
        }
        const controller = new AbortController()
        const abort = () => controller.abort()
        signal.addEventListener("abort", abort)
        const timer = setTimeout(abort, s.timeoutMs)
        try {
          const response = await s.fetch(url, {
            headers: { authorization: `Bearer ${bearer}`, accept: "application/json" },
            signal: controller.signal
          })
          const status = response.status
          if (status === 429 || status >= 500) {
            const waitMs = status === 429 || status === 503 ? retryAfterMs(response.headers.get("retry-after"), Date.now()) : undefined
            await response.body?.cancel().catch(() => undefined)
            return { _tag: "retry", status, reason: `answered ${status}`, waitMs }
          }
          if (status === 404) {
            await response.body?.cancel().catch(() => undefined)
            return { _tag: "answer", status, body: null }
          }
          if (status < 200 || status >= 300) {
            await response.body?.cancel().catch(() => undefined)
            return {
              _tag: "fail",
              status,
              reason: status === 401 || status === 403 ? `the token was refused (${status})` : `answered ${status}`
            }
          }
          const text = await response.text()
          try {
            return { _tag: "answer", status, body: JSON.parse(text) as unknown }
          } catch {
            return { _tag: "fail", status, reason: "the answer is not JSON" }
          }
        } catch {
          return controller.signal.aborted && !signal.aborted
            ? { _tag: "retry", reason: `no answer within ${s.timeoutMs} ms` }
            : { _tag: "retry", reason: "the request failed on the network" }
        } finally {
          clearTimeout(timer)
          signal.removeEventListener("abort", abort)
        }
      })

    /** The request, tried again on 429, 5xx, timeouts and network failures. */
    const request = (path: string, query: Record<string, string>): Effect.Effect<{ status: number; body: unknown }, LoyaltySourceFailed> => {
      const qs = new URLSearchParams(query).toString()
      const url = `${s.baseUrl}${path}${qs === "" ? "" : `?${qs}`}`
      const loop = (n: number): Effect.Effect<{ status: number; body: unknown }, LoyaltySourceFailed> =>
        Effect.flatMap(attempt(url), (outcome) => {
          switch (outcome._tag) {
            case "answer":
              return Effect.succeed({ status: outcome.status, body: outcome.body })
            case "fail":
              return Effect.fail(new LoyaltySourceFailed({ status: outcome.status, reason: `GET ${path}: ${outcome.reason}` }))
            case "retry": {
              if (n >= s.maxAttempts) {
                return Effect.fail(new LoyaltySourceFailed({
                  status: outcome.status,
                  reason: `GET ${path}: ${outcome.reason}, ${s.maxAttempts} attempts`
                }))
              }
              if (outcome.waitMs !== undefined && outcome.waitMs > s.maxRetryAfterMs) {
                return Effect.fail(new LoyaltySourceFailed({
                  status: outcome.status,
                  reason: `GET ${path}: ${outcome.reason} and asked to wait ${Math.ceil(outcome.waitMs / 1000)} s`
                }))
              }
              const backoff = Math.min(s.maxBackoffMs, s.backoffMs * 2 ** (n - 1))
              const wait = outcome.waitMs ?? Math.round(backoff / 2 + Math.random() * (backoff / 2))
              return Effect.logWarning(
                `cnv: GET ${path} ${outcome.reason}; trying again in ${wait} ms (attempt ${n + 1} of ${s.maxAttempts})`
              ).pipe(Effect.zipRight(sleepLive(wait)), Effect.zipRight(loop(n + 1)))
            }
          }
        })
      return loop(1)
    }

    const customersUpdatedSince = (q: PageQuery): Effect.Effect<LoyaltyPage, LoyaltySourceFailed> =>
      Effect.flatMap(
        request("/loyalty/customers.json", {
          ...s.query,
          [s.params.page]: String(q.page),
          [s.params.pageSize]: String(q.pageSize),
          [s.params.updatedSince]: new Date(q.since).toISOString()
        }),
        ({ body, status }) => {
          const list = Array.isArray(body)
            ? body
            : isObject(body)
            ? [body.customers, body.data, body.items].find(Array.isArray)
            : undefined
          if (status === 404 || list === undefined) {
            return Effect.fail(new LoyaltySourceFailed({
              status,
              reason: "GET /loyalty/customers.json: the answer holds no list of customers"
            }))
          }
          const customers: Array<LoyaltyCustomerRecord> = []
          const rejected: Array<RejectedRecord> = []
          for (const item of list as ReadonlyArray<unknown>) {
            Either.match(customerOf(item), { onLeft: (r) => rejected.push(r), onRight: (c) => customers.push(c) })
          }
          customers.sort((a, b) => a.updatedAt - b.updatedAt || a.id - b.id)
          const more = isObject(body) ? saysMore(body, q.page) : undefined
          return Effect.succeed({ customers, rejected, hasMore: more ?? list.length >= q.pageSize })
        }
      )

    const membership = (cnvId: number): Effect.Effect<Option.Option<LoyaltyMembership>, LoyaltySourceFailed | LoyaltyRecordRejected> =>
      Effect.flatMap(request(`/loyalty/customers/${encodeURIComponent(String(cnvId))}/membership.json`, {}), ({ body, status }) => {
        if (status === 404 || body === null) return Effect.succeed(Option.none())
        const raw = isObject(body) && "membership" in body ? body.membership : body
        if (raw === null) return Effect.succeed(Option.none())
        return Either.match(decodeMembership(raw), {
          onLeft: (e) => Effect.fail(new LoyaltyRecordRejected({ cnvId, reason: `membership ${reasonOf(e)}` })),
          onRight: (m) =>
            Effect.succeed(Option.some({
              levelName: m.level_name,
              totalPoints: m.total_points,
              points: m.points,
              usedPoints: m.used_points
            }))
        })
      })

    return { customersUpdatedSince, membership, pageSize: s.pageSize }
  })

/**
 * The adapter's options from environment variables, for hosts (`undefined` without a token):
 * `C360_CNV_TOKEN` (the bearer token; required), `C360_CNV_BASE_URL` (default CNV's),
 * `C360_CNV_PAGE_SIZE`, `C360_CNV_TIMEOUT_MS`, `C360_CNV_MAX_ATTEMPTS`. Values are checked by
 * {@link make} (an unreadable number fails as its option, e.g. `cnv.pageSize`).
 *
 * @since 0.5.0
 */
export const optionsFromEnv = (env: Readonly<Record<string, string | undefined>>): CnvOptions | undefined => {
  const text = (name: string) => {
    const v = env[name]?.trim()
    return v === undefined || v === "" ? undefined : v
  }
  const token = text("C360_CNV_TOKEN")
  if (token === undefined) return undefined
  const num = (name: string) => {
    const v = text(name)
    return v === undefined ? undefined : Number(v)
  }
  return {
    token,
    baseUrl: text("C360_CNV_BASE_URL"),
    pageSize: num("C360_CNV_PAGE_SIZE"),
    timeoutMs: num("C360_CNV_TIMEOUT_MS"),
    maxAttempts: num("C360_CNV_MAX_ATTEMPTS")
  }
}

/**
 * The adapter as the `LoyaltySource` layer: provide it under the library's layer
 * (`Customer360.layer(storage).pipe(Layer.provide(Cnv.layer({ token })))`).
 *
 * @since 0.5.0
 */
export const layer = (options: CnvOptions): Layer.Layer<LoyaltySource, ValidationError> =>
  Layer.effect(LoyaltySource, make(options))
