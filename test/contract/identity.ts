/**
 * The identity contract (DOMAIN §9, docs/identity.md), run on SQLite, deferred SQLite, PostgreSQL and
 * D1 (identity.*.test.ts): registration and e-mail verification, login (one error for an unknown
 * e-mail, a wrong password and an unverified account; the hourly failure limit, concurrent attempts
 * included; rehash on a parameter change), completing a profile, requesting a link (one answer
 * whoever holds the phone; send limits), confirming it (wrong, expired, superseded, used and killed
 * codes; the wrong-try budget across codes; a brute force bounded; concurrent confirmations linking
 * once; a claimed profile refused), the full walk-in → register → link flow losing nothing, and no
 * code, token or password in clear in any table or log line.
 *
 * The KDF runs with small parameters (N = 2^10) so the suite stays fast; the production parameters
 * are the defaults. Each test works at instants of its own (the test clock), with fresh e-mails and
 * phones, so limits never cross tests.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as TestClock from "effect/TestClock"
import { Customers } from "../../src/customers/Customers.js"
import { MergeParts } from "../../src/customers/Merge.js"
import * as IdentityService from "../../src/identity/Identity.js"
import { Identity } from "../../src/identity/Identity.js"
import { parseHash } from "../../src/identity/Password.js"
import { makeTest } from "../../src/identity/Ports.js"
import * as Config from "../../src/kernel/Config.js"
import * as Registry from "../../src/modules.js"
import { Notes } from "../../src/notes/Notes.js"
import * as EventBus from "../../src/platform/EventBus.js"
import { Purchases } from "../../src/purchases/Purchases.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { freshPhone, freshWord } from "./customers.js"

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const SMALL = { ln: 10, r: 8, p: 1 } as const

export interface IdentityContractOptions {
  /** The failed logins allowed per hour (default 100, the production default; D1 runs fewer). */
  readonly loginLimit?: number
  /** Concurrent wrong logins on one account (0: not run). */
  readonly concurrentLogins?: number
  /** Concurrent confirmations of one code (0: not run). */
  readonly concurrentConfirmations?: number
  /** Simulated hours of the brute-force test. */
  readonly bruteForceHours?: number
}

const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.either(effect), (e) =>
    Either.isLeft(e) ? Effect.succeed(e.left as E) : Effect.die(new Error("expected a failure, but it succeeded")))
const tagOf = (e: unknown) => (typeof e === "object" && e !== null && "_tag" in e ? String((e as { _tag: unknown })._tag) : String(e))
/** What a caller can see of an error: its tag, message and every own field. */
const visible = (e: unknown) => JSON.stringify({ tag: tagOf(e), message: (e as Error).message, fields: { ...(e as object) } })

const freshEmail = () => `${freshWord()}.${Date.now().toString(36)}@example.vn`
const PASSWORD = "mật khẩu đủ dài 123"

/** Every row of every table of the library, as text. */
const dumpAll = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const names = yield* sql.onDialectOrElse({
    pg: () => sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`,
    orElse: () => sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`
  })
  const out: Array<string> = []
  for (const { name } of names.filter((n) => n.name.startsWith("c360_"))) {
    const rows = yield* sql<Record<string, unknown>>`SELECT * FROM ${sql(name)}`
    for (const r of rows) out.push(`${name}: ${JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`)
  }
  return out
}).pipe(Effect.orDie)

/** The log lines written while `effect` runs. */
const capturingLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make(({ annotations, message }) => {
      lines.push(`${JSON.stringify(message)} ${JSON.stringify([...annotations])}`)
    })
    const a = yield* Effect.provide(effect, Logger.replace(Logger.defaultLogger, logger))
    return { value: a, lines }
  })

export const identityContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: IdentityContractOptions = {}
) => {
  const ports = makeTest()
  const limit = options.loginLimit ?? 100
  const config = Layer.effect(
    Config.Customer360Config,
    Config.make({ identity: { password: SMALL, maxFailedLoginsPerHour: limit } })
  )
  const services = Registry.services.pipe(
    Layer.provideMerge(Layer.mergeAll(config, EventBus.layer, ports.layer)),
    Layer.provideMerge(storage)
  )
  const lastSms = (phone: string) => {
    const m = [...ports.sms].reverse().find((s) => s.to === phone)
    if (m === undefined) throw new Error(`no SMS to ${phone}`)
    return m
  }
  const smsTo = (phone: string) => ports.sms.filter((s) => s.to === phone).length
  const lastEmail = (to: string) => {
    const m = [...ports.emails].reverse().find((s) => s.to === to)
    if (m === undefined) throw new Error(`no e-mail to ${to}`)
    return m
  }

  /** A registered, verified user with its stub profile. */
  const verifiedUser = (email = freshEmail(), password = PASSWORD) =>
    Effect.gen(function*() {
      const identity = yield* Identity
      const { customer, user } = yield* identity.register({ email, password })
      yield* identity.verifyEmail(lastEmail(email).token)
      return { user, stub: customer, email, password }
    })

  /** A walk-in profile (no login) holding a fresh phone. */
  const walkIn = (name = `Khách ${freshWord()}`) =>
    Effect.flatMap(Customers, (c) => c.create({ phone: freshPhone(), name }))

  return layer(services, { timeout: "240 seconds" })(name, (it) => {
    it.effect("register creates an inactive user and its stub profile in one transaction and mails a token whose hash alone is stored; verifyEmail activates it once; an e-mail taken in any case is EmailTaken and writes nothing", () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        const customers = yield* Customers
        yield* TestClock.setTime(Date.UTC(2032, 0, 1, 3))
        const email = freshEmail()
        const { customer, user } = yield* identity.register({ email: `  ${email} `, password: PASSWORD })
        expect(user).toMatchObject({ email, active: false })
        expect(user.id).toMatch(/^usr_/)
        expect(customer).toMatchObject({ userId: user.id, phone: null, name: null, type: "member", mergedInto: null })
        expect((yield* customers.get(customer.id)).userId).toBe(user.id)
        const mail = lastEmail(email)
        expect(mail.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
        expect(mail.text).toContain(mail.token)
        expect(mail.expiresAt.getTime()).toBe(Date.UTC(2032, 0, 2, 3))
        const dump = (yield* dumpAll).join("\n")
        expect(dump).not.toContain(mail.token)
        expect(dump).not.toContain(PASSWORD)
        // not active: the login is refused like a wrong password
        expect(tagOf(yield* failureOf(identity.login(email, PASSWORD)))).toBe("InvalidCredentials")
        const verified = yield* identity.verifyEmail(mail.token)
        expect(verified).toMatchObject({ id: user.id, active: true })
        expect(tagOf(yield* failureOf(identity.verifyEmail(mail.token)))).toBe("InvalidToken")
        expect(tagOf(yield* failureOf(identity.verifyEmail("not-a-token")))).toBe("InvalidToken")
        expect((yield* identity.login(email.toUpperCase(), PASSWORD)).id).toBe(user.id)
        const before = yield* dumpAll
        const taken = yield* failureOf(identity.register({ email: email.toUpperCase(), password: PASSWORD }))
        expect(tagOf(taken)).toBe("EmailTaken")
        expect(yield* dumpAll).toEqual(before)
        // bad input: typed, nothing written
        for (const bad of [{ email: "no-at-sign", password: PASSWORD }, { email: freshEmail(), password: "short" }, { email: freshEmail() }]) {
          expect(tagOf(yield* failureOf(identity.register(bad as never)))).toBe("ValidationError")
        }
        expect(yield* dumpAll).toEqual(before)
      }))

    it.effect("a verification token expires after 24 hours, and two verifications of one token racing verify once", () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        yield* TestClock.setTime(Date.UTC(2032, 1, 1, 3))
        const late = freshEmail()
        yield* identity.register({ email: late, password: PASSWORD })
        yield* TestClock.adjust(24 * HOUR)
        expect(tagOf(yield* failureOf(identity.verifyEmail(lastEmail(late).token)))).toBe("InvalidToken")
        expect(tagOf(yield* failureOf(identity.login(late, PASSWORD)))).toBe("InvalidCredentials")
        const racing = freshEmail()
        yield* identity.register({ email: racing, password: PASSWORD })
        const token = lastEmail(racing).token
        const results = yield* Effect.all([identity.verifyEmail(token), identity.verifyEmail(token), identity.verifyEmail(token)].map(Effect.either), {
          concurrency: "unbounded"
        })
        expect(results.filter(Either.isRight)).toHaveLength(1)
        expect(results.filter(Either.isLeft).map((r) => tagOf(r.left))).toEqual(["InvalidToken", "InvalidToken"])
      }))

    it.effect("an unknown e-mail, a wrong password and an unverified account give the same error, fields and message; no password appears in an error", () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        yield* TestClock.setTime(Date.UTC(2032, 2, 1, 3))
        const { email } = yield* verifiedUser()
        const inactive = freshEmail()
        yield* identity.register({ email: inactive, password: PASSWORD })
        const unknown = yield* failureOf(identity.login(freshEmail(), PASSWORD))
        const wrong = yield* failureOf(identity.login(email, "wrong password 1"))
        const unverified = yield* failureOf(identity.login(inactive, PASSWORD))
        expect(tagOf(unknown)).toBe("InvalidCredentials")
        expect(visible(wrong)).toBe(visible(unknown))
        expect(visible(unverified)).toBe(visible(unknown))
        expect(visible(wrong)).not.toContain("wrong password 1")
        expect(visible(unverified)).not.toContain(PASSWORD)
      }))

    it.effect(`at most ${limit} failed logins per account in any hour: the next is TooManyAttempts, even with the right password, and says when to retry; a correct login gives its slot back; an unknown e-mail is limited the same; the window slides`, () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        const T = Date.UTC(2032, 3, 1, 3)
        yield* TestClock.setTime(T)
        const { email, password } = yield* verifiedUser()
        // correct logins do not use the budget
        for (let i = 0; i < 3; i++) yield* identity.login(email, password)
        const half = limit / 2
        for (let i = 0; i < limit; i++) {
          if (i === half) yield* TestClock.setTime(T + 30 * MINUTE)
          expect(tagOf(yield* failureOf(identity.login(email, `wrong ${i}`)))).toBe("InvalidCredentials")
        }
        const refused = yield* failureOf(identity.login(email, password))
        expect(refused).toMatchObject({ _tag: "TooManyAttempts", retryAfterSeconds: 1800 })
        // 60 minutes after the first half of the failures, they leave the window: that many slots again
        yield* TestClock.setTime(T + HOUR)
        expect((yield* identity.login(email, password)).active).toBe(true)
        for (let i = 0; i < half; i++) expect(tagOf(yield* failureOf(identity.login(email, `again ${i}`)))).toBe("InvalidCredentials")
        expect(tagOf(yield* failureOf(identity.login(email, password)))).toBe("TooManyAttempts")
        // an unknown e-mail: the same budget, the same errors
        const unknown = freshEmail()
        for (let i = 0; i < limit; i++) expect(tagOf(yield* failureOf(identity.login(unknown, `x${i}`)))).toBe("InvalidCredentials")
        expect(tagOf(yield* failureOf(identity.login(unknown, "x")))).toBe("TooManyAttempts")
        // the table holds hashed keys only
        expect((yield* dumpAll).join("\n")).not.toContain(unknown)
      }))

    if ((options.concurrentLogins ?? 0) > 0) {
      it.effect(`${options.concurrentLogins} concurrent wrong logins on one account: exactly ${limit} are checked (InvalidCredentials), the rest TooManyAttempts`, () =>
        Effect.gen(function*() {
          const identity = yield* Identity
          yield* TestClock.setTime(Date.UTC(2032, 4, 1, 3))
          const { email } = yield* verifiedUser()
          const n = options.concurrentLogins!
          const results = yield* Effect.all(
            Array.from({ length: n }, (_, i) => Effect.either(identity.login(email, `wrong ${i}`))),
            { concurrency: "unbounded" }
          )
          const tags = results.map((r) => (Either.isLeft(r) ? tagOf(r.left) : "success"))
          expect(tags.filter((t) => t === "InvalidCredentials")).toHaveLength(limit)
          expect(tags.filter((t) => t === "TooManyAttempts")).toHaveLength(n - limit)
        }))
    }

    it.effect("login rehashes a password whose stored parameters differ from the configured ones, and the new hash verifies", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(Date.UTC(2032, 5, 1, 3))
        const { email, password, user } = yield* verifiedUser()
        const storedHash = Effect.map(
          sql<{ password_hash: string }>`SELECT password_hash FROM c360_users WHERE id = ${user.id}`,
          (rows) => rows[0]!.password_hash
        ).pipe(Effect.orDie)
        const first = yield* storedHash
        expect(first).toMatch(/^scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
        const config = yield* Config.Customer360Config
        const stronger = yield* IdentityService.make.pipe(
          Effect.provideService(Config.Customer360Config, { ...config, identity: { ...config.identity!, password: { ln: 11, r: 8, p: 1 } } })
        )
        expect((yield* stronger.login(email, password)).id).toBe(user.id)
        const second = yield* storedHash
        expect(second).toMatch(/^scrypt\$ln=11,r=8,p=1\$/)
        expect(parseHash(second)._tag).toBe("Some")
        // the new hash verifies, under both services; the first rehashes it back
        expect((yield* stronger.login(email, password)).id).toBe(user.id)
        expect(yield* storedHash).toBe(second)
        expect((yield* (yield* Identity).login(email, password)).id).toBe(user.id)
        expect(yield* storedHash).toMatch(/^scrypt\$ln=10,/)
        expect(tagOf(yield* failureOf(stronger.login(email, "not the password")))).toBe("InvalidCredentials")
      }))

    it.effect("completeProfile fills the stub's name and phone; the user's own phone changes only the name; a walk-in's phone is ProfileExists and another user's PhoneTaken, writing nothing", () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        yield* TestClock.setTime(Date.UTC(2032, 6, 1, 3))
        const a = yield* verifiedUser()
        const b = yield* verifiedUser()
        const phone = freshPhone()
        const filled = yield* identity.completeProfile(a.user.id, { name: "Nguyễn Văn An", phone: `+84 ${phone.slice(1)}` })
        expect(filled).toMatchObject({ id: a.stub.id, name: "Nguyễn Văn An", phone, userId: a.user.id })
        const renamed = yield* identity.completeProfile(a.user.id, { name: "Nguyễn An", phone })
        expect(renamed).toMatchObject({ id: a.stub.id, name: "Nguyễn An", phone })
        const w = yield* walkIn()
        const before = yield* dumpAll
        expect(yield* failureOf(identity.completeProfile(b.user.id, { name: "B", phone: w.phone! }))).toMatchObject({
          _tag: "ProfileExists",
          phone: w.phone
        })
        expect(yield* failureOf(identity.completeProfile(b.user.id, { name: "B", phone }))).toMatchObject({ _tag: "PhoneTaken", phone })
        expect(yield* dumpAll).toEqual(before)
        expect(tagOf(yield* failureOf(identity.completeProfile("usr_00000000000000000000000000", { name: "X", phone: freshPhone() }))))
          .toBe("UserNotFound")
        expect(tagOf(yield* failureOf(identity.completeProfile(b.user.id, { name: "B", phone: "123" })))).toBe("InvalidPhone")
        // two users racing for one free phone: one gets it
        const c = yield* verifiedUser()
        const contested = freshPhone()
        const race = yield* Effect.all(
          [identity.completeProfile(b.user.id, { name: "B", phone: contested }), identity.completeProfile(c.user.id, { name: "C", phone: contested })]
            .map(Effect.either),
          { concurrency: "unbounded" }
        )
        expect(race.filter(Either.isRight)).toHaveLength(1)
        expect(race.filter(Either.isLeft).map((r) => tagOf(r.left))).toEqual(["PhoneTaken"])
      }))

    it.effect("requestLink answers the same for a walk-in's phone, an unknown phone, another user's and the user's own; only the walk-in's gets an SMS, with a 6-digit code", () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        yield* TestClock.setTime(Date.UTC(2032, 7, 1, 3))
        const u = yield* verifiedUser()
        const other = yield* verifiedUser()
        const own = freshPhone()
        const others = freshPhone()
        yield* identity.completeProfile(u.user.id, { name: "U", phone: own })
        yield* identity.completeProfile(other.user.id, { name: "O", phone: others })
        const w = yield* walkIn()
        const unknown = freshPhone()
        const answers = []
        let minutes = 0
        for (const phone of [w.phone!, unknown, others, own]) {
          // apart enough for the user's send limit
          yield* TestClock.setTime(Date.UTC(2032, 7, 1, 4) + (minutes += 16) * MINUTE)
          answers.push(yield* Effect.either(identity.requestLink(u.user.id, { phone })))
        }
        expect(answers.every(Either.isRight)).toBe(true)
        const values = answers.map((a) => JSON.stringify(Either.getOrThrow(a)))
        expect(new Set(values).size).toBe(1)
        expect(JSON.parse(values[0]!)).toEqual({ status: "sent", expiresInSeconds: 300 })
        expect([smsTo(w.phone!), smsTo(unknown), smsTo(others), smsTo(own)]).toEqual([1, 0, 0, 0])
        expect(lastSms(w.phone!).code).toMatch(/^\d{6}$/)
        expect(lastSms(w.phone!).text).toContain(lastSms(w.phone!).code)
      }))

    it.effect("send limits: 3 per 15 minutes and 10 per day, per phone and per user, counted for unknown phones too", () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        const T = Date.UTC(2032, 8, 1, 3)
        yield* TestClock.setTime(T)
        const u = yield* verifiedUser()
        const unknown = freshPhone()
        for (let i = 0; i < 3; i++) yield* identity.requestLink(u.user.id, { phone: unknown })
        const refused = yield* failureOf(identity.requestLink(u.user.id, { phone: unknown }))
        expect(refused).toMatchObject({ _tag: "TooManyRequests", retryAfterSeconds: 900 })
        // another user on the same phone: the phone's limit holds
        const v = yield* verifiedUser()
        expect(tagOf(yield* failureOf(identity.requestLink(v.user.id, { phone: unknown })))).toBe("TooManyRequests")
        // the same user on other phones: the user's limit holds
        expect(tagOf(yield* failureOf(identity.requestLink(u.user.id, { phone: freshPhone() })))).toBe("TooManyRequests")
        // every 15 minutes three more, up to 10 in a day
        let sent = 3
        for (let k = 1; sent < 10; k++) {
          yield* TestClock.setTime(T + k * 15 * MINUTE)
          for (let i = 0; i < 3 && sent < 10; i++, sent++) yield* identity.requestLink(u.user.id, { phone: unknown })
        }
        yield* TestClock.setTime(T + 4 * HOUR)
        const daily = yield* failureOf(identity.requestLink(u.user.id, { phone: unknown }))
        expect(daily).toMatchObject({ _tag: "TooManyRequests" })
        expect((daily as { retryAfterSeconds: number }).retryAfterSeconds).toBe(20 * 3600)
      }))

    it.effect("a code dies at its fifth wrong try (the right code then fails); an expired, a superseded (also by another user's request) and a used code fail InvalidCode; a code works only for the user who asked for it", () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        const T = Date.UTC(2032, 9, 1, 3)
        yield* TestClock.setTime(T)
        const u = yield* verifiedUser()
        const w = yield* walkIn()
        const phone = w.phone!
        yield* identity.requestLink(u.user.id, { phone })
        const code = lastSms(phone).code
        const wrongCode = code === "000000" ? "000001" : "000000"
        for (let i = 0; i < 5; i++) {
          expect(tagOf(yield* failureOf(identity.confirmLink(u.user.id, { phone, code: wrongCode })))).toBe("InvalidCode")
        }
        expect(tagOf(yield* failureOf(identity.confirmLink(u.user.id, { phone, code })))).toBe("InvalidCode")
        // expired: 5 minutes after it was sent
        yield* TestClock.setTime(T + 20 * MINUTE)
        yield* identity.requestLink(u.user.id, { phone })
        const expiring = lastSms(phone).code
        yield* TestClock.adjust(5 * MINUTE)
        expect(tagOf(yield* failureOf(identity.confirmLink(u.user.id, { phone, code: expiring })))).toBe("InvalidCode")
        // superseded: a resend kills the previous code
        yield* TestClock.setTime(T + 40 * MINUTE)
        yield* identity.requestLink(u.user.id, { phone })
        const old = lastSms(phone).code
        yield* identity.requestLink(u.user.id, { phone })
        const latest = lastSms(phone).code
        if (old !== latest) expect(tagOf(yield* failureOf(identity.confirmLink(u.user.id, { phone, code: old })))).toBe("InvalidCode")
        // the latest works, once
        const { customer } = yield* identity.confirmLink(u.user.id, { phone, code: latest })
        expect(customer).toMatchObject({ id: w.id, userId: u.user.id })
        expect(tagOf(yield* failureOf(identity.confirmLink(u.user.id, { phone, code: latest })))).toBe("InvalidCode")
        // another user's request supersedes the first user's code; a code is tied to its request
        const w2 = yield* walkIn()
        const a = yield* verifiedUser()
        const b = yield* verifiedUser()
        yield* identity.requestLink(a.user.id, { phone: w2.phone! })
        const codeOfA = lastSms(w2.phone!).code
        yield* identity.requestLink(b.user.id, { phone: w2.phone! })
        const codeOfB = lastSms(w2.phone!).code
        expect(tagOf(yield* failureOf(identity.confirmLink(a.user.id, { phone: w2.phone!, code: codeOfA })))).toBe("InvalidCode")
        expect(tagOf(yield* failureOf(identity.confirmLink(a.user.id, { phone: w2.phone!, code: codeOfB })))).toBe("InvalidCode")
        expect((yield* identity.confirmLink(b.user.id, { phone: w2.phone!, code: codeOfB })).customer.userId).toBe(b.user.id)
        expect(tagOf(yield* failureOf(identity.requestLink("usr_00000000000000000000000000", { phone: w2.phone! })))).toBe("UserNotFound")
      }))

    it.effect("a resend buys no guesses: 10 wrong codes per hour per phone and per user across codes, then TooManyAttempts even for the right code", () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        const T = Date.UTC(2032, 10, 1, 3)
        yield* TestClock.setTime(T)
        const u = yield* verifiedUser()
        const w = yield* walkIn()
        const phone = w.phone!
        let wrong = 0
        for (let round = 0; wrong < 10; round++) {
          yield* TestClock.setTime(T + round * 16 * MINUTE)
          yield* identity.requestLink(u.user.id, { phone })
          const code = lastSms(phone).code
          for (let i = 0; i < 4 && wrong < 10; i++, wrong++) {
            const guess = String((Number(code) + 1 + i) % 1_000_000).padStart(6, "0")
            expect(tagOf(yield* failureOf(identity.confirmLink(u.user.id, { phone, code: guess })))).toBe("InvalidCode")
          }
        }
        const code = lastSms(phone).code
        const refused = yield* failureOf(identity.confirmLink(u.user.id, { phone, code }))
        expect(refused).toMatchObject({ _tag: "TooManyAttempts" })
        expect((refused as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(0)
        // another user on the same phone meets the phone's budget too
        const v = yield* verifiedUser()
        expect(tagOf(yield* failureOf(identity.confirmLink(v.user.id, { phone, code })))).toBe("TooManyAttempts")
      }))

    it.effect(`a brute force cannot succeed: over ${options.bruteForceHours ?? 6} hours an attacker asking for every code it may and guessing as fast as it is let makes at most 10 guesses an hour, and no code is stored or logged in clear`, () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        const T = Date.UTC(2033, 0, 1, 3)
        yield* TestClock.setTime(T)
        const attacker = yield* verifiedUser()
        const w = yield* walkIn()
        const phone = w.phone!
        const hours = options.bruteForceHours ?? 6
        let guesses = 0
        let next = 0
        const codes = new Set<string>()
        const { lines } = yield* capturingLogs(Effect.gen(function*() {
          for (let minute = 0; minute < hours * 60; minute += 5) {
            yield* TestClock.setTime(T + minute * MINUTE)
            const asked = yield* Effect.either(identity.requestLink(attacker.user.id, { phone }))
            const code = Either.isRight(asked) ? lastSms(phone).code : undefined
            if (code !== undefined) codes.add(code)
            // guess until refused; the guesses skip the real code, so the bound alone is tested
            for (;;) {
              let guess = String(next++ % 1_000_000).padStart(6, "0")
              if (codes.has(guess)) guess = String(next++ % 1_000_000).padStart(6, "0")
              const r = yield* Effect.either(identity.confirmLink(attacker.user.id, { phone, code: guess }))
              expect(Either.isLeft(r)).toBe(true)
              if (Either.isLeft(r) && tagOf(r.left) === "TooManyAttempts") break
              guesses++
            }
          }
        }))
        expect(guesses).toBeLessThanOrEqual(10 * hours)
        expect(guesses).toBeGreaterThanOrEqual(10 * (hours - 1))
        // success chance over a year at this rate: 87,600 guesses of 10^6 codes, under 9 %; per hour 10^-5
        const dump = (yield* dumpAll).join("\n")
        for (const code of codes) {
          expect(dump).not.toMatch(new RegExp(`(^|[^0-9A-Za-z])${code}([^0-9A-Za-z]|$)`))
          for (const line of lines) expect(line).not.toContain(code)
        }
        expect(codes.size).toBeGreaterThan(0)
      }))

    it.effect("a failed SMS send changes nothing the caller sees and is logged without the code", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2033, 1, 1, 3))
        const failing = makeTest({ failing: true })
        const identity = yield* IdentityService.make.pipe(Effect.provide(failing.layer))
        const u = yield* verifiedUser()
        const w = yield* walkIn()
        const { lines, value } = yield* capturingLogs(identity.requestLink(u.user.id, { phone: w.phone! }))
        expect(value).toEqual({ status: "sent", expiresInSeconds: 300 })
        const code = failing.sms[0]!.code
        expect(lines.some((l) => l.includes("not delivered"))).toBe(true)
        for (const line of lines) expect(line).not.toContain(code)
      }))

    it.effect("the full flow: a walk-in with money, a note and a purchase; a user registers, its stub gets a deposit, the user links the walk-in by code — nothing is lost and the user's profile is the walk-in's", () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        const customers = yield* Customers
        const wallets = yield* Wallets
        const notes = yield* Notes
        const purchases = yield* Purchases
        yield* TestClock.setTime(Date.UTC(2033, 2, 1, 3))
        const tag = freshWord()
        const w = yield* walkIn(`Chị ${tag}`)
        yield* wallets.deposit({ phone: w.phone!, amount: 150_000, source: "manual", reference: `${tag}:w` })
        yield* notes.add(w.phone!, { text: `thích trà ${tag}` })
        yield* purchases.record({ phone: w.phone!, amount: 320_000, reference: `${tag}:p` })
        const u = yield* verifiedUser()
        const stubPhone = freshPhone()
        yield* identity.completeProfile(u.user.id, { name: `Tài khoản ${tag}`, phone: stubPhone })
        yield* wallets.deposit({ phone: stubPhone, amount: 50_000, source: "manual", reference: `${tag}:s` })
        const totalBefore = (yield* wallets.get(w.phone!)).balance + (yield* wallets.get(stubPhone)).balance
        yield* identity.requestLink(u.user.id, { phone: w.phone! })
        const { customer } = yield* identity.confirmLink(u.user.id, { phone: w.phone!, code: lastSms(w.phone!).code })
        expect(customer).toMatchObject({ id: w.id, userId: u.user.id, phone: w.phone, name: `Chị ${tag}`, type: "member", mergedInto: null })
        const stub = yield* customers.get(u.stub.id)
        expect(stub).toMatchObject({ status: "merged", mergedInto: w.id, userId: null })
        // money: everything on the walk-in profile, nothing created or lost
        const after = yield* wallets.get(w.phone!)
        const stubWallet = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<{ balance: unknown }>`SELECT balance FROM c360_wallets WHERE customer_id = ${u.stub.id}`).pipe(Effect.orDie)
        expect(after.balance + Number(stubWallet[0]!.balance)).toBe(totalBefore)
        // the wallets' merge part moves the stub's money to the walk-in profile (docs/merge.md)
        const parts = yield* Effect.serviceOption(MergeParts)
        if (parts._tag === "Some" && parts.value.current().some((p) => p.name === "wallets")) expect(after.balance).toBe(200_000)
        // the stub's phone finds the walk-in profile now
        expect((yield* customers.getByPhone(stubPhone)).id).toBe(w.id)
        // the note and the purchase stay on it
        expect((yield* notes.list(w.phone!)).items.map((n) => n.text)).toContain(`thích trà ${tag}`)
        const sql = yield* SqlClient.SqlClient
        const bought = yield* sql<{ customer_id: string }>`SELECT customer_id FROM c360_purchases WHERE reference = ${`${tag}:p`}`.pipe(Effect.orDie)
        expect(bought.map((r) => r.customer_id)).toEqual([w.id])
        // the user's profile is the walk-in one from now on
        const again = yield* identity.completeProfile(u.user.id, { name: `Chị ${tag}`, phone: w.phone! })
        expect(again.id).toBe(w.id)
        // and it is no longer claimable by anyone
        const v = yield* verifiedUser()
        yield* identity.requestLink(v.user.id, { phone: w.phone! })
        expect(smsTo(w.phone!)).toBe(1)
      }))

    it.effect("a profile linked to another user before the code is confirmed is ProfileClaimed, writing nothing", () =>
      Effect.gen(function*() {
        const identity = yield* Identity
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(Date.UTC(2033, 3, 1, 3))
        const a = yield* verifiedUser()
        const b = yield* verifiedUser()
        const w = yield* walkIn()
        yield* identity.requestLink(a.user.id, { phone: w.phone! })
        const code = lastSms(w.phone!).code
        // b's profile takes the login's place on the walk-in (as another link would): b's stub gives it up
        yield* sql`UPDATE c360_customers SET user_id = NULL WHERE id = ${b.stub.id}`.pipe(Effect.orDie)
        yield* sql`UPDATE c360_customers SET user_id = ${b.user.id} WHERE id = ${w.id}`.pipe(Effect.orDie)
        const before = yield* dumpAll
        expect(tagOf(yield* failureOf(identity.confirmLink(a.user.id, { phone: w.phone!, code })))).toBe("ProfileClaimed")
        expect(yield* dumpAll).toEqual(before)
      }))

    if ((options.concurrentConfirmations ?? 0) > 0) {
      it.effect(`${options.concurrentConfirmations} concurrent confirmations of one code link once`, () =>
        Effect.gen(function*() {
          const identity = yield* Identity
          const customers = yield* Customers
          const sql = yield* SqlClient.SqlClient
          yield* TestClock.setTime(Date.UTC(2033, 4, 1, 3))
          const u = yield* verifiedUser()
          const w = yield* walkIn()
          yield* identity.requestLink(u.user.id, { phone: w.phone! })
          const code = lastSms(w.phone!).code
          const results = yield* Effect.all(
            Array.from({ length: options.concurrentConfirmations! }, () => Effect.either(identity.confirmLink(u.user.id, { phone: w.phone!, code }))),
            { concurrency: "unbounded" }
          )
          expect(results.filter(Either.isRight)).toHaveLength(1)
          expect(new Set(results.filter(Either.isLeft).map((r) => tagOf(r.left)))).toEqual(new Set(["InvalidCode"]))
          expect((yield* customers.get(w.id)).userId).toBe(u.user.id)
          const merges = yield* sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_merges WHERE survivor_id = ${w.id}`.pipe(Effect.orDie)
          expect(Number(merges[0]!.n)).toBe(1)
        }))
    }
  })
}
