/**
 * The Express example's customer-facing `/api/account/*` routes (examples/express/account.ts), over
 * HTTP on a listening server, the library on SQLite in memory with small scrypt parameters and the
 * identity module's test adapters: the whole walk-in → register → verify → login → link flow, the
 * tokens the routes accept and refuse, their own rate limits, and that no body or log line carries a
 * password or a code.
 */
import { errors as JoseErrors, jwtVerify, SignJWT, UnsecuredJWT } from "jose"
import { format } from "node:util"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { type AccountOptions, makeLimiter, TOKEN_ISSUER } from "../examples/express/account.js"
import { type AppOptions, createApp } from "../examples/express/app.js"
import { Identity } from "../src/index.js"

const STAFF = "account-test-manager-token"
const SECRET = "account-test-secret-0123456789-abcdefghijklmnop" // 47 bytes
const KEY = new TextEncoder().encode(SECRET)
const PASSWORD = "Mật khẩu rất-bí-mật 42"

interface Reply {
  readonly status: number
  readonly body: any
  readonly text: string
  readonly headers: Headers
}

/** Every response text and every console line of the run, to search for secrets. */
const seen: Array<string> = []

const serve = async (account: AccountOptions, extra: Partial<AppOptions> = {}, failingPorts = false) => {
  const ports = Identity.makeTest({ failing: failingPorts })
  const app = await createApp({
    database: { sqlite: ":memory:" },
    tokens: `${STAFF}:manager`,
    identity: { options: { password: { ln: 10, r: 8, p: 1 } }, mailer: ports.layer, sms: ports.layer },
    account,
    ...extra
  })
  const { url, close } = await app.listen(0)
  const call = async (
    path: string,
    options: { body?: unknown; raw?: string; bearer?: string; staff?: boolean; method?: string; headers?: Record<string, string> } = {}
  ): Promise<Reply> => {
    const headers: Record<string, string> = {}
    if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`
    if (options.staff === true) headers.authorization = `Bearer ${STAFF}`
    let body: string | undefined
    if (options.raw !== undefined) body = options.raw
    else if (options.body !== undefined) body = JSON.stringify(options.body)
    if (body !== undefined) headers["content-type"] = "application/json"
    const response = await fetch(url + path, {
      method: options.method ?? "POST",
      headers: { ...headers, ...options.headers },
      signal: AbortSignal.timeout(10_000),
      ...(body === undefined ? {} : { body })
    })
    const text = await response.text()
    seen.push(text)
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed, text, headers: response.headers }
  }
  return { ports, call, close }
}

const expectError = (reply: Reply, status: number, code: string) => {
  expect(reply.status, reply.text).toBe(status)
  expect(reply.body).toMatchObject({ error: { code, message: expect.any(String) } })
  expect(reply.text).not.toMatch(/\bat .+:\d+:\d+|Error:|SqliteError|SQLITE_/) // no stack trace, no driver error
}

let counter = 0
const freshPhone = () => `0913${String(700_000 + (counter++)).padStart(6, "0")}`
const freshEmail = (who: string) => `${who}.${Date.now().toString(36)}.${(counter++)}@example.vn`

describe("Express example: /api/account/* (SQLite)", () => {
  let server: Awaited<ReturnType<typeof serve>>
  const logSpies: Array<{ mockRestore: () => void }> = []

  beforeAll(async () => {
    for (const method of ["log", "info", "warn", "error", "debug", "trace"] as const) {
      logSpies.push(vi.spyOn(console, method).mockImplementation((...args: Array<unknown>) => {
        seen.push(format(...args))
      }))
    }
    server = await serve({ jwtSecret: SECRET, perIp: { limit: 1000, windowSeconds: 60 } })
  })
  afterAll(async () => {
    await server.close()
    for (const spy of logSpies) spy.mockRestore()
  })

  /** Registers and verifies a user; returns its ids and a token from `login`. */
  const signedUp = async (email = freshEmail("khach")) => {
    const registered = await server.call("/api/account/register", { body: { email, password: PASSWORD } })
    expect(registered.status, registered.text).toBe(201)
    const mail = server.ports.emails.filter((m) => m.to === email).at(-1)!
    expect((await server.call("/api/account/verify", { body: { token: mail.token } })).status).toBe(200)
    const login = await server.call("/api/account/login", { body: { email, password: PASSWORD } })
    expect(login.status, login.text).toBe(200)
    return { email, userId: registered.body.userId as string, customerId: registered.body.customerId as string, token: login.body.token as string }
  }

  it("walk-in → register → verify → login → profile refused as PROFILE_EXISTS → link by SMS code: the user's profile is the walk-in one", async () => {
    const phone = freshPhone()
    const walkIn = await server.call("/api/customers", { staff: true, body: { phone, name: "Trần Thị Bích" } })
    expect(walkIn.status, walkIn.text).toBe(201)
    const walkInId = walkIn.body.id as string

    const email = freshEmail("bich")
    const registered = await server.call("/api/account/register", { body: { email, password: PASSWORD } })
    expect(registered.status, registered.text).toBe(201)
    expect(registered.body).toEqual({ userId: expect.stringMatching(/^usr_/), customerId: expect.stringMatching(/^cus_/) })
    expect(registered.body.customerId).not.toBe(walkInId)
    expectError(await server.call("/api/account/register", { body: { email: email.toUpperCase(), password: PASSWORD } }), 409, "EMAIL_TAKEN")

    const mail = server.ports.emails.filter((m) => m.to === email).at(-1)!
    expect((await server.call("/api/account/verify", { body: { token: mail.token } })))
      .toMatchObject({ status: 200, body: { userId: registered.body.userId } })
    expectError(await server.call("/api/account/verify", { body: { token: mail.token } }), 400, "INVALID_TOKEN")

    const login = await server.call("/api/account/login", { body: { email, password: PASSWORD } })
    expect(login.status, login.text).toBe(200)
    expect(login.body).toEqual({ token: expect.any(String), tokenType: "Bearer", expiresIn: 900 })
    expect(login.headers.get("cache-control")).toBe("no-store")
    const { payload, protectedHeader } = await jwtVerify(login.body.token, KEY, { issuer: TOKEN_ISSUER, algorithms: ["HS256"] })
    expect(protectedHeader.alg).toBe("HS256")
    expect(payload.sub).toBe(registered.body.userId)
    expect(payload.exp! - payload.iat!).toBe(900)
    const bearer = login.body.token as string

    const refused = await server.call("/api/account/profile", { bearer, body: { name: "Bích", phone } })
    expectError(refused, 409, "PROFILE_EXISTS")

    const requested = await server.call("/api/account/link/request", { bearer, body: { phone } })
    expect(requested).toMatchObject({ status: 200, body: { status: "sent", expiresInSeconds: 300 } })
    const sms = server.ports.sms.filter((m) => m.to === phone).at(-1)!
    expect(sms.code).toMatch(/^\d{6}$/)
    const wrong = sms.code === "000000" ? "000001" : "000000"
    expectError(await server.call("/api/account/link/confirm", { bearer, body: { phone, code: wrong } }), 400, "INVALID_CODE")

    const confirmed = await server.call("/api/account/link/confirm", { bearer, body: { phone, code: sms.code } })
    expect(confirmed.status, confirmed.text).toBe(200)
    expect(confirmed.body.customer).toMatchObject({ id: walkInId, name: "Trần Thị Bích" })
    expect(Object.keys(confirmed.body.customer).sort()).toEqual(["email", "id", "membershipLevel", "name", "phone", "points", "tier", "type"])
    expectError(await server.call("/api/account/link/confirm", { bearer, body: { phone, code: sms.code } }), 400, "INVALID_CODE")

    // the staff's 360 view of the phone: the walk-in profile, now with the login
    const view = await server.call(`/api/customer/${phone}`, { staff: true, method: "GET" })
    expect(view.status, view.text).toBe(200)
    expect(view.body.customer).toMatchObject({ id: walkInId, userId: registered.body.userId, status: "active" })
    // the phone is now the user's own: completing the profile changes only the name
    const completed = await server.call("/api/account/profile", { bearer, body: { name: "Trần Bích", phone } })
    expect(completed).toMatchObject({ status: 200, body: { customer: { id: walkInId, name: "Trần Bích" } } })
  })

  it("a free phone completes the profile; another user's phone is PHONE_TAKEN", async () => {
    const first = await signedUp()
    const phone = freshPhone()
    const done = await server.call("/api/account/profile", { bearer: first.token, body: { name: "Lê Văn Cường", phone } })
    expect(done).toMatchObject({ status: 200, body: { customer: { id: first.customerId, name: "Lê Văn Cường" } } })
    const second = await signedUp()
    expectError(await server.call("/api/account/profile", { bearer: second.token, body: { name: "Ai Đó", phone } }), 409, "PHONE_TAKEN")
  })

  it("a wrong password, an unknown e-mail and an unverified account get identical 401 bodies", async () => {
    const user = await signedUp()
    const unverified = freshEmail("chua")
    expect((await server.call("/api/account/register", { body: { email: unverified, password: PASSWORD } })).status).toBe(201)
    const replies = [
      await server.call("/api/account/login", { body: { email: user.email, password: `${PASSWORD}!` } }),
      await server.call("/api/account/login", { body: { email: freshEmail("nobody"), password: PASSWORD } }),
      await server.call("/api/account/login", { body: { email: unverified, password: PASSWORD } })
    ]
    for (const reply of replies) expectError(reply, 401, "INVALID_CREDENTIALS")
    expect(new Set(replies.map((r) => r.text)).size).toBe(1)
    expect(new Set(replies.map((r) => [...r.headers.keys()].filter((h) => h !== "date" && h !== "keep-alive").sort().join(","))).size).toBe(1)
  })

  it("a missing, forged, expired, alg:none, other-algorithm or other-issuer token is 401 UNAUTHORIZED", async () => {
    const user = await signedUp()
    const now = Math.floor(Date.now() / 1000)
    const claims = (b: SignJWT) => b.setSubject(user.userId).setIssuer(TOKEN_ISSUER)
    const forged = await claims(new SignJWT({})).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("15m")
      .sign(new TextEncoder().encode("another-secret-of-at-least-thirty-two-bytes!"))
    const expired = await claims(new SignJWT({})).setProtectedHeader({ alg: "HS256" }).setIssuedAt(now - 1000).setExpirationTime(now - 100)
      .sign(KEY)
    const none = new UnsecuredJWT({}).setSubject(user.userId).setIssuer(TOKEN_ISSUER).setIssuedAt().setExpirationTime("15m").encode()
    const hs512 = await claims(new SignJWT({})).setProtectedHeader({ alg: "HS512" }).setIssuedAt().setExpirationTime("15m")
      .sign(new TextEncoder().encode(SECRET.repeat(2)))
    const otherIssuer = await new SignJWT({}).setSubject(user.userId).setIssuer("someone-else").setProtectedHeader({ alg: "HS256" })
      .setIssuedAt().setExpirationTime("15m").sign(KEY)
    const noExpiry = await claims(new SignJWT({})).setProtectedHeader({ alg: "HS256" }).setIssuedAt().sign(KEY)
    // the signature part of a real token altered
    const tampered = `${user.token.slice(0, -4)}${user.token.endsWith("AAAA") ? "BBBB" : "AAAA"}`
    // a valid token for another subject would be a forgery too: the signature covers `sub`
    const [h, , s] = user.token.split(".")
    const otherSub = `${h}.${Buffer.from(JSON.stringify({ sub: "usr_00000000000000000000000000", iss: TOKEN_ISSUER, iat: now, exp: now + 900 })).toString("base64url")}.${s}`
    await expect(jwtVerify(none, KEY, { algorithms: ["HS256"] })).rejects.toBeInstanceOf(JoseErrors.JOSEError)

    const body = { phone: freshPhone() }
    for (const bearer of [forged, expired, none, hs512, otherIssuer, noExpiry, tampered, otherSub, "not-a-jwt", ""]) {
      const reply = await server.call("/api/account/link/request", { bearer, body })
      expectError(reply, 401, "UNAUTHORIZED")
      expect(reply.headers.get("www-authenticate")).toBe("Bearer")
    }
    expectError(await server.call("/api/account/profile", { body: { name: "X", phone: freshPhone() } }), 401, "UNAUTHORIZED")
    expectError(await server.call("/api/account/link/confirm", { headers: { authorization: `Basic ${btoa("a:b")}` }, body: { phone: "0912000000", code: "123456" } }), 401, "UNAUTHORIZED")
    // and the real one works
    expect((await server.call("/api/account/link/request", { bearer: user.token, body })).status).toBe(200)
  })

  it("malformed input is VALIDATION_ERROR or INVALID_PHONE, a body over 16 KiB 413, a body that is not JSON 415, an unknown route 404", async () => {
    expectError(await server.call("/api/account/register", { body: { email: "not-an-email", password: PASSWORD } }), 400, "VALIDATION_ERROR")
    expectError(await server.call("/api/account/register", { body: { email: freshEmail("ngan"), password: "short" } }), 400, "VALIDATION_ERROR")
    expectError(await server.call("/api/account/register", { body: { email: freshEmail("them"), password: PASSWORD, admin: true } }), 400, "VALIDATION_ERROR")
    expectError(await server.call("/api/account/login", { body: { email: 42 } }), 400, "VALIDATION_ERROR")
    expectError(await server.call("/api/account/verify", { body: {} }), 400, "VALIDATION_ERROR")
    expectError(await server.call("/api/account/verify", { raw: "{not json" }), 400, "VALIDATION_ERROR")
    expectError(await server.call("/api/account/verify", { raw: "\"a string\"" }), 400, "VALIDATION_ERROR")
    expectError(await server.call("/api/account/verify", { body: { token: "nope" } }), 400, "INVALID_TOKEN")
    expectError(await server.call("/api/account/register", { body: { email: freshEmail("to"), password: "x".repeat(17 * 1024) } }), 413, "PAYLOAD_TOO_LARGE")
    expectError(await server.call("/api/account/login", { raw: "email=a&password=b", headers: { "content-type": "application/x-www-form-urlencoded" } }), 415, "UNSUPPORTED_MEDIA_TYPE")
    expectError(await server.call("/api/account/nothing", { body: {} }), 404, "NOT_FOUND")
    expectError(await server.call("/api/account/login", { method: "GET" }), 404, "NOT_FOUND")
    const user = await signedUp()
    expectError(await server.call("/api/account/profile", { bearer: user.token, body: { name: "Phạm Dũng", phone: "123" } }), 400, "INVALID_PHONE")
  })

  it("the per-account limit: the 11th login of one e-mail (any case) in a minute is 429 RATE_LIMITED with Retry-After", async () => {
    const email = freshEmail("dem")
    const replies: Array<Reply> = []
    for (let i = 0; i < 11; i++) {
      replies.push(await server.call("/api/account/login", { body: { email: i % 2 === 0 ? email : email.toUpperCase(), password: "wrong password" } }))
    }
    for (const reply of replies.slice(0, 10)) expectError(reply, 401, "INVALID_CREDENTIALS")
    const limited = replies[10]!
    expectError(limited, 429, "RATE_LIMITED")
    const retry = Number(limited.headers.get("retry-after"))
    expect(retry).toBeGreaterThanOrEqual(1)
    expect(retry).toBeLessThanOrEqual(60)
    // another account is not affected
    expectError(await server.call("/api/account/login", { body: { email: freshEmail("khac"), password: "wrong password" } }), 401, "INVALID_CREDENTIALS")
  })

  it("the library's own limits answer 429 with Retry-After: TOO_MANY_REQUESTS for link codes", async () => {
    const user = await signedUp()
    const phone = freshPhone()
    for (let i = 0; i < 3; i++) expect((await server.call("/api/account/link/request", { bearer: user.token, body: { phone } })).status).toBe(200)
    const refused = await server.call("/api/account/link/request", { bearer: user.token, body: { phone } })
    expectError(refused, 429, "TOO_MANY_REQUESTS")
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0)
  })

  it("no response body and no log line holds the password, a verification token or a link code", () => {
    expect(server.ports.emails.length).toBeGreaterThan(0)
    expect(server.ports.sms.length).toBeGreaterThan(0)
    const secrets = [PASSWORD, ...server.ports.emails.map((m) => m.token), ...server.ports.sms.map((m) => m.code)]
    for (const text of seen) {
      for (const secret of secrets) expect(text.includes(secret), `a secret in: ${text.slice(0, 200)}`).toBe(false)
    }
  })
})

describe("Express example: /api/account/* limits and configuration", () => {
  it("the per-IP limit answers 429 RATE_LIMITED with Retry-After on every account route, and leaves the staff API alone", async () => {
    const server = await serve({ jwtSecret: SECRET, perIp: { limit: 3, windowSeconds: 60 } })
    try {
      for (let i = 0; i < 3; i++) {
        expectError(await server.call("/api/account/login", { body: { email: freshEmail("ip"), password: "wrong password" } }), 401, "INVALID_CREDENTIALS")
      }
      for (const path of ["/api/account/login", "/api/account/register", "/api/account/verify", "/api/account/link/confirm"]) {
        const limited = await server.call(path, { body: { email: freshEmail("ip"), password: PASSWORD } })
        expectError(limited, 429, "RATE_LIMITED")
        const retry = Number(limited.headers.get("retry-after"))
        expect(retry).toBeGreaterThanOrEqual(1)
        expect(retry).toBeLessThanOrEqual(60)
      }
      expect((await server.call("/api/customers/recent", { staff: true, method: "GET" })).status).toBe(200)
      expect(server.ports.emails).toHaveLength(0) // the refused registration never reached the service
    } finally {
      await server.close()
    }
  })

  it("without a key the account routes answer 503 and say why; a key under 32 bytes stops the app", async () => {
    const server = await serve({})
    try {
      const reply = await server.call("/api/account/login", { body: { email: "a@example.vn", password: PASSWORD } })
      expectError(reply, 503, "SERVICE_UNAVAILABLE")
      expect(reply.body.error.message).toMatch(/C360_ACCOUNT_JWT_SECRET/)
      expect((await server.call("/api/customers/recent", { staff: true, method: "GET" })).status).toBe(200)
    } finally {
      await server.close()
    }
    await expect(serve({ jwtSecret: "x".repeat(31) })).rejects.toThrow(/at least 32 bytes/)
  })

  it("a failed e-mail is logged without its token or the password, and the registration stands", async () => {
    const lines: Array<string> = []
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation((...args: Array<unknown>) => {
        lines.push(format(...args))
      })
    )
    const server = await serve({ jwtSecret: SECRET }, {}, true)
    try {
      const email = freshEmail("hong")
      const reply = await server.call("/api/account/register", { body: { email, password: PASSWORD } })
      expect(reply.status, reply.text).toBe(201)
      const token = server.ports.emails[0]!.token
      expect(lines.some((l) => l.includes("not delivered"))).toBe(true)
      for (const text of [...lines, reply.text]) {
        expect(text).not.toContain(PASSWORD)
        expect(text).not.toContain(token)
      }
    } finally {
      await server.close()
      for (const spy of spies) spy.mockRestore()
    }
  })
})

describe("the account routes' in-memory limiter", () => {
  it("is a sliding window: a slot comes back when the oldest admitted request leaves the window, refusals are not counted", () => {
    let now = 0
    const limiter = makeLimiter({ limit: 2, windowSeconds: 60 }, () => now)
    expect(limiter.take("a")).toEqual({ allowed: true })
    now = 30_000
    expect(limiter.take("a")).toEqual({ allowed: true })
    now = 45_000
    expect(limiter.take("a")).toEqual({ allowed: false, retryAfterSeconds: 15 })
    expect(limiter.take("b")).toEqual({ allowed: true }) // keys are apart
    now = 60_001
    expect(limiter.take("a")).toEqual({ allowed: true })
    expect(limiter.take("a")).toEqual({ allowed: false, retryAfterSeconds: 30 })
  })

  it("drops the keys whose requests have all left the window once it holds many", () => {
    let now = 0
    const limiter = makeLimiter({ limit: 1, windowSeconds: 1 }, () => now, 3)
    for (const key of ["a", "b", "c", "d"]) expect(limiter.take(key).allowed).toBe(true)
    now = 5_000
    expect(limiter.size()).toBe(4)
    expect(limiter.take("e").allowed).toBe(true) // past 3 keys, a window after the last sweep: a-d are dropped
    expect(limiter.size()).toBe(1)
    expect(limiter.take("f").allowed).toBe(true) // swept at most once a window: nothing else dropped before then
    now = 5_500
    expect(limiter.take("g").allowed).toBe(true)
    expect(limiter.take("h").allowed).toBe(true)
    expect(limiter.size()).toBe(4)
  })
})
