/**
 * The customer-facing account routes of the Express example, `/api/account/*`, over the library's
 * `Identity` service (docs/identity.md, "Account routes (example)"). The library issues no sessions
 * and has no customer-facing endpoints: signing customers in — the token, the per-IP limits — is
 * this host's business. No identity rule lives here: every input is validated and every refusal is
 * decided by the service; this file only authenticates the caller, limits the request rate and turns
 * the service's answers into HTTP.
 *
 * | route | body | answer |
 * | --- | --- | --- |
 * | `POST /api/account/register` | `{ email, password }` | 201 `{ userId, customerId }`; the token goes out by e-mail |
 * | `POST /api/account/verify` | `{ token }` | 200 `{ userId }` |
 * | `POST /api/account/login` | `{ email, password }` | 200 `{ token, tokenType: "Bearer", expiresIn }` |
 * | `POST /api/account/profile` 🔒 | `{ name, phone }` | 200 `{ customer }` |
 * | `POST /api/account/link/request` 🔒 | `{ phone }` | 200 `{ status: "sent", expiresInSeconds }`, whoever holds the phone |
 * | `POST /api/account/link/confirm` 🔒 | `{ phone, code }` | 200 `{ customer }`, the walk-in profile now the user's |
 *
 * 🔒: `Authorization: Bearer <token>`, the token `login` issued.
 *
 * - **Token**: a JWT signed with HMAC-SHA-256 (`jose`): `sub` the user id, `iss`
 *   `"customer360-example"`, `iat`, and `exp` 15 minutes later. Verified with the algorithm pinned
 *   to HS256 (an `alg: none` or any other algorithm is refused), the issuer checked, `sub`, `iat` and
 *   `exp` required, no clock tolerance. Anything else — no header, a forged, expired or malformed
 *   token, a user that no longer exists — is 401 `UNAUTHORIZED`. There is no refresh token and no
 *   revocation: a host that needs them keeps a session store; the short lifetime bounds a stolen token.
 * - **Key**: {@link AccountOptions.jwtSecret} (the server reads `C360_ACCOUNT_JWT_SECRET`), at least
 *   32 bytes (HS256's key size; RFC 7518 §3.2) — a shorter one makes {@link accountRoutes} throw, so
 *   the host does not start. **Without a key the routes answer 503 `SERVICE_UNAVAILABLE`** and say
 *   why: a key generated per process would silently sign out every customer at each restart and
 *   would not be shared by two processes behind one address.
 * - **Rate limits**, on top of the service's own (failed logins per account, codes sent and wrong
 *   codes per phone and per user, all held by the database): per client IP, at most
 *   {@link RateLimit} `perIp` requests to any account route (default **20 per minute**), and per
 *   account — the e-mail key for `register` and `login`, the user id for the authenticated routes —
 *   at most `perAccount` (default **10 per minute**). Over either: 429 `RATE_LIMITED` with
 *   `Retry-After` (seconds). Sliding windows, counted when a request is let through, **in this
 *   process's memory**: a host running several processes needs a shared store (Redis, the database)
 *   for them to hold. The client IP is Express's `req.ip`: behind a proxy, set the app's
 *   `trust proxy` so that it is the client's and not the proxy's.
 * - **Errors**, in the API's envelope `{ "error": { "code", "message" } }`: `VALIDATION_ERROR` and
 *   `INVALID_PHONE` 400 (with the issues as `details`), `INVALID_TOKEN` 400, `INVALID_CODE` 400,
 *   `UNAUTHORIZED` 401, `INVALID_CREDENTIALS` 401 (one body for an unknown e-mail, a wrong password
 *   and an unverified account), `EMAIL_TAKEN`, `PROFILE_EXISTS`, `PHONE_TAKEN`, `PROFILE_CLAIMED` 409,
 *   `PAYLOAD_TOO_LARGE` 413 (bodies over 16 KiB), `UNSUPPORTED_MEDIA_TYPE` 415 (a body that is not
 *   JSON), `TOO_MANY_ATTEMPTS` / `TOO_MANY_REQUESTS` / `RATE_LIMITED` 429 with `Retry-After`,
 *   `SERVICE_UNAVAILABLE` 503, `INTERNAL_ERROR` 500 (its cause logged here, never in the body).
 *   Passwords, tokens and codes are never put in a body or a log line.
 * - **Profiles** are answered as the customer may see them: id, name, phone, e-mail, type, tier,
 *   membership level and points — not the staff's notes or the shop's figures.
 */
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import express from "express"
import { errors as JoseErrors, jwtVerify, SignJWT } from "jose"
import { type Customer, Identity, type IdentityShape } from "../../src/index.js"

/** A sliding-window limit: at most `limit` requests in any `windowSeconds`. */
export interface RateLimit {
  readonly limit: number
  readonly windowSeconds: number
}

/** The account routes' options; see the module's documentation. */
export interface AccountOptions {
  /**
   * The key tokens are signed and verified with, at least 32 bytes (UTF-8). Absent: every account
   * route answers 503 `SERVICE_UNAVAILABLE`.
   */
  readonly jwtSecret?: string | undefined
  /** Account requests per client IP (default 20 per 60 s). */
  readonly perIp?: RateLimit | undefined
  /** Account requests per e-mail (register, login) or per user (the authenticated routes) (default 10 per 60 s). */
  readonly perAccount?: RateLimit | undefined
}

/** Runs a service call to its exit (the app's runtime; its failure may also be the runtime's own). */
export type Run = <A, E>(effect: Effect.Effect<A, E>) => Promise<Exit.Exit<A, unknown>>

/** The token's issuer, checked on every authenticated request. */
export const TOKEN_ISSUER = "customer360-example"
/** How long a token is valid: 15 minutes. */
export const TOKEN_TTL_SECONDS = 15 * 60
/** The largest request body of an account route: 16 KiB. */
export const MAX_BODY_BYTES = 16 * 1024
/** The default limits (see the module's documentation). */
export const defaultRateLimits = {
  perIp: { limit: 20, windowSeconds: 60 },
  perAccount: { limit: 10, windowSeconds: 60 }
} as const satisfies Record<string, RateLimit>

const MIN_SECRET_BYTES = 32
const ROUTES = new Set(["/register", "/verify", "/login", "/profile", "/link/request", "/link/confirm"])

// ---------------------------------------------------------------------------------------------
// Rate limits

/**
 * An in-memory sliding-window limiter: each key keeps the instants of its admitted requests in the
 * window (at most `limit` of them). Once the map holds more than `sweepAt` keys, the keys whose
 * instants have all left the window are dropped — at most once a window, so a flood of new keys
 * costs one pass per window, not one per request; memory is bounded by the keys seen in one window.
 */
export const makeLimiter = (limit: RateLimit, now: () => number = Date.now, sweepAt = 10_000) => {
  const windowMs = limit.windowSeconds * 1000
  const hits = new Map<string, Array<number>>()
  let sweptAt = Number.NEGATIVE_INFINITY
  const sweep = (at: number) => {
    sweptAt = at
    for (const [key, times] of hits) if (times.length === 0 || times[times.length - 1]! <= at - windowMs) hits.delete(key)
  }
  return {
    /** How many keys it holds. */
    size: () => hits.size,
    /** Admits a request of `key` (and counts it), or tells how many seconds until one would be admitted. */
    take: (key: string): { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number } => {
      const at = now()
      const times = (hits.get(key) ?? []).filter((t) => t > at - windowMs)
      if (times.length >= limit.limit) {
        hits.set(key, times)
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((times[0]! + windowMs - at) / 1000)) }
      }
      times.push(at)
      hits.set(key, times)
      if (hits.size > sweepAt && at - sweptAt >= windowMs) sweep(at)
      return { allowed: true }
    }
  }
}

const validLimit = (what: string, l: RateLimit) => {
  if (!Number.isSafeInteger(l.limit) || l.limit < 1 || !Number.isSafeInteger(l.windowSeconds) || l.windowSeconds < 1) {
    throw new RangeError(`account ${what}: limit and windowSeconds must be whole numbers of at least 1`)
  }
  return l
}

// ---------------------------------------------------------------------------------------------
// Answers

interface Failure {
  readonly status: number
  readonly code: string
  readonly message: string
  readonly details?: unknown
  readonly retryAfterSeconds?: number
}

const send = (res: express.Response, f: Failure) => {
  if (f.retryAfterSeconds !== undefined) res.setHeader("retry-after", String(f.retryAfterSeconds))
  if (f.status === 401) res.setHeader("www-authenticate", "Bearer")
  res.status(f.status).json({
    error: f.details === undefined ? { code: f.code, message: f.message } : { code: f.code, message: f.message, details: f.details }
  })
}

const UNAUTHORIZED: Failure = { status: 401, code: "UNAUTHORIZED", message: "A valid bearer token from /api/account/login is required" }
const INTERNAL: Failure = { status: 500, code: "INTERNAL_ERROR", message: "An unexpected error occurred" }

/** The HTTP answer to each of the service's typed failures (its message is safe to show: none carries a secret). */
const failureOf = (e: { readonly _tag: string; readonly message: string } & Record<string, unknown>): Failure | undefined => {
  switch (e._tag) {
    case "ValidationError":
      return { status: 400, code: "VALIDATION_ERROR", message: e.message, details: { issues: e.issues } }
    case "InvalidPhone":
      return { status: 400, code: "INVALID_PHONE", message: e.message, details: { reason: e.reason } }
    case "InvalidToken":
      return { status: 400, code: "INVALID_TOKEN", message: e.message }
    case "InvalidCode":
      return { status: 400, code: "INVALID_CODE", message: e.message }
    case "InvalidCredentials":
      return { status: 401, code: "INVALID_CREDENTIALS", message: e.message }
    case "UserNotFound": // a valid token whose user is gone: the caller is not authenticated
      return UNAUTHORIZED
    case "EmailTaken":
      return { status: 409, code: "EMAIL_TAKEN", message: e.message }
    case "ProfileExists":
      return { status: 409, code: "PROFILE_EXISTS", message: e.message }
    case "PhoneTaken":
      return { status: 409, code: "PHONE_TAKEN", message: e.message }
    case "ProfileClaimed":
      return { status: 409, code: "PROFILE_CLAIMED", message: e.message }
    case "TooManyAttempts":
      return { status: 429, code: "TOO_MANY_ATTEMPTS", message: e.message, retryAfterSeconds: Number(e.retryAfterSeconds) }
    case "TooManyRequests":
      return { status: 429, code: "TOO_MANY_REQUESTS", message: e.message, retryAfterSeconds: Number(e.retryAfterSeconds) }
    case "StorageError":
      return e.reason === "unavailable" || e.reason === "contention"
        ? { status: 503, code: "SERVICE_UNAVAILABLE", message: "The database is unavailable or busy; retry later", retryAfterSeconds: 1 }
        : undefined
    default:
      return undefined
  }
}

/** The customer's own view of a profile: no staff notes, no shop figures. */
const profileView = (c: Customer.Customer) => ({
  id: c.id,
  name: c.name,
  phone: c.phone,
  email: c.email,
  type: c.type,
  tier: c.tier,
  membershipLevel: c.membershipLevel,
  points: c.points
})

// ---------------------------------------------------------------------------------------------
// The router

/**
 * The account routes as an Express router, to mount at `/api/account` before the library's `/api`
 * handler. `identity` is the library's service and `run` the app's runtime. Throws a `RangeError`
 * for a key shorter than 32 bytes or a limit that is not a whole number of at least 1.
 */
export const accountRoutes = (identity: IdentityShape, run: Run, options: AccountOptions = {}): express.Router => {
  const key = options.jwtSecret === undefined ? undefined : new TextEncoder().encode(options.jwtSecret)
  if (key !== undefined && key.byteLength < MIN_SECRET_BYTES) {
    throw new RangeError(`account jwtSecret must be at least ${MIN_SECRET_BYTES} bytes (got ${key.byteLength})`)
  }
  const perIp = makeLimiter(validLimit("perIp", options.perIp ?? defaultRateLimits.perIp))
  const perAccount = makeLimiter(validLimit("perAccount", options.perAccount ?? defaultRateLimits.perAccount))

  /** Answers a service call's success with `ok`, or its failure in the envelope. */
  const answer = <A, E>(res: express.Response, exit: Exit.Exit<A, E>, ok: (a: A) => void) => {
    if (Exit.isSuccess(exit)) return ok(exit.value)
    const failure = Cause.failureOption(exit.cause)
    const known = Option.isSome(failure) && !Cause.isDie(exit.cause)
      ? failureOf(failure.value as Parameters<typeof failureOf>[0])
      : undefined
    if (known !== undefined) return send(res, known)
    // the cause names the operation, never a secret (docs/identity.md, "Errors")
    console.error("customer360 account: unexpected failure", Cause.pretty(exit.cause))
    send(res, INTERNAL)
  }

  const limited = (res: express.Response, limiter: ReturnType<typeof makeLimiter>, bucket: string) => {
    const verdict = limiter.take(bucket)
    if (verdict.allowed) return false
    send(res, {
      status: 429,
      code: "RATE_LIMITED",
      message: `Too many account requests; try again in ${verdict.retryAfterSeconds} s`,
      retryAfterSeconds: verdict.retryAfterSeconds
    })
    return true
  }

  /** The e-mail key the account limit of `register` and `login` counts by (none when the body has no e-mail: the service refuses it). */
  const emailBucket = (body: unknown) => {
    const email = typeof body === "object" && body !== null ? (body as { email?: unknown }).email : undefined
    return typeof email === "string" ? `email:${Identity.emailKey(email)}` : undefined
  }

  /** The user id of a valid bearer token, or `undefined` (the caller is answered 401). */
  const authenticated = async (req: express.Request, signing: Uint8Array) => {
    const header = req.get("authorization")
    const match = header === undefined ? null : /^Bearer ([A-Za-z0-9_.-]{1,4096})$/i.exec(header.trim())
    if (match === null) return undefined
    try {
      const { payload } = await jwtVerify(match[1]!, signing, {
        algorithms: ["HS256"],
        issuer: TOKEN_ISSUER,
        requiredClaims: ["sub", "iat", "exp"]
      })
      return typeof payload.sub === "string" ? payload.sub : undefined
    } catch (e) {
      if (e instanceof JoseErrors.JOSEError) return undefined
      throw e
    }
  }

  const body = (req: express.Request): Record<string, unknown> =>
    typeof req.body === "object" && req.body !== null ? req.body as Record<string, unknown> : {}

  const router = express.Router()

  // the per-IP limit first: it costs nothing and bounds all the work below
  router.use((req, res, next) => {
    if (key === undefined) {
      return send(res, {
        status: 503,
        code: "SERVICE_UNAVAILABLE",
        message: "Account routes are not configured: the server has no token key (C360_ACCOUNT_JWT_SECRET, at least 32 bytes)"
      })
    }
    if (limited(res, perIp, `ip:${req.ip ?? req.socket.remoteAddress ?? "unknown"}`)) return
    if (req.method !== "POST" || !ROUTES.has(req.path)) return send(res, { status: 404, code: "NOT_FOUND", message: "No such route" })
    if (!req.is("application/json")) {
      return send(res, { status: 415, code: "UNSUPPORTED_MEDIA_TYPE", message: "The request body must be application/json" })
    }
    next()
  })
  router.use(express.json({ limit: MAX_BODY_BYTES, strict: true }))

  const signing = key ?? new Uint8Array(MIN_SECRET_BYTES) // unused without a key: the middleware above answers 503

  router.post("/register", async (req, res) => {
    const bucket = emailBucket(req.body)
    if (bucket !== undefined && limited(res, perAccount, bucket)) return
    answer(res, await run(identity.register(req.body)), ({ customer, user }) => {
      res.status(201).json({ userId: user.id, customerId: customer.id })
    })
  })

  router.post("/verify", async (req, res) => {
    answer(res, await run(identity.verifyEmail(body(req).token as string)), (user) => {
      res.status(200).json({ userId: user.id })
    })
  })

  router.post("/login", async (req, res) => {
    const bucket = emailBucket(req.body)
    if (bucket !== undefined && limited(res, perAccount, bucket)) return
    const { email, password } = body(req)
    const exit = await run(identity.login(email as string, password as string))
    if (Exit.isFailure(exit)) return answer(res, exit, () => {})
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(exit.value.id)
      .setIssuer(TOKEN_ISSUER)
      .setIssuedAt()
      .setExpirationTime(`${TOKEN_TTL_SECONDS}s`)
      .sign(signing)
    res.setHeader("cache-control", "no-store")
    res.status(200).json({ token, tokenType: "Bearer", expiresIn: TOKEN_TTL_SECONDS })
  })

  /** An authenticated route: the token's user, its own limit, then the service. */
  const asUser = (handle: (userId: string, req: express.Request, res: express.Response) => Promise<void>) =>
    async (req: express.Request, res: express.Response) => {
      const userId = await authenticated(req, signing)
      if (userId === undefined) return send(res, UNAUTHORIZED)
      if (limited(res, perAccount, `user:${userId}`)) return
      await handle(userId, req, res)
    }

  router.post("/profile", asUser(async (userId, req, res) => {
    answer(res, await run(identity.completeProfile(userId, req.body)), (customer) => {
      res.status(200).json({ customer: profileView(customer) })
    })
  }))

  router.post("/link/request", asUser(async (userId, req, res) => {
    answer(res, await run(identity.requestLink(userId, req.body)), (requested) => {
      res.status(200).json(requested)
    })
  }))

  router.post("/link/confirm", asUser(async (userId, req, res) => {
    answer(res, await run(identity.confirmLink(userId, req.body)), ({ customer }) => {
      res.status(200).json({ customer: profileView(customer) })
    })
  }))

  router.use((_req, res) => send(res, { status: 404, code: "NOT_FOUND", message: "No such route" }))

  // the body parser's refusals, and anything unexpected, in the envelope; never a stack trace
  router.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const type = typeof error === "object" && error !== null ? (error as { type?: unknown }).type : undefined
    if (type === "entity.too.large") {
      return send(res, { status: 413, code: "PAYLOAD_TOO_LARGE", message: `The request body is over ${MAX_BODY_BYTES / 1024} KiB` })
    }
    if (type === "entity.parse.failed") {
      return send(res, { status: 400, code: "VALIDATION_ERROR", message: "The request body is not valid JSON (an object)" })
    }
    if (type === "charset.unsupported" || type === "encoding.unsupported") {
      return send(res, { status: 415, code: "UNSUPPORTED_MEDIA_TYPE", message: "The request body must be UTF-8 JSON" })
    }
    if (type === "request.aborted") return
    console.error("customer360 account: unexpected failure", error)
    if (!res.headersSent) send(res, INTERNAL)
  })
  return router
}
