/**
 * The identity use cases (DOMAIN §9, docs/identity.md): logins apart from customer profiles, lazy
 * registration, e-mail verification, login with a per-account failure limit, completing the profile,
 * and linking a walk-in profile by a code sent to its phone.
 *
 * Built like a security component: every refusal is typed; the answers that could tell an attacker
 * something are the same whatever the truth (an unknown e-mail, a wrong password and an unverified
 * account are one `InvalidCredentials`, after the same work; `requestLink` answers the same whether or
 * not anyone holds the phone); every limit is a sliding window enforced by the database's unique
 * keys (`Throttle.ts`), so concurrency cannot exceed it; passwords, tokens and codes are never
 * stored, logged or put in an error in clear. Every transaction is free of side effects: e-mail and
 * SMS go out after the commit, and a wrong attempt that must be counted *and* refused is returned
 * from its transaction and refused after the commit (a failing transaction writes nothing).
 *
 * @since 0.4.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type Customer, Customers } from "../customers/index.js"
import { Customer360Config, defaultIdentityConfig } from "../kernel/Config.js"
import { type StorageError, ValidationError } from "../kernel/Errors.js"
import { encodeId } from "../kernel/Ids.js"
import { decoder, randomBytes } from "../kernel/Input.js"
import * as Phone from "../kernel/Phone.js"
import { withSpans } from "../kernel/Spans.js"
import { Transactions } from "../platform/Transactions.js"
import { IdentityRepository } from "./IdentityRepository.js"
import { digestsEqual, hashPassword, hmacSha256, needsRehash, randomInt, randomToken, sha256, verifyPassword } from "./Password.js"
import { Mailer, mailerUnconfigured, SmsSender, smsUnconfigured } from "./Ports.js"
import * as Throttle from "./Throttle.js"
import {
  afterWrongTry,
  canonicalCode,
  CODE_TTL_MS,
  CompleteProfileInput,
  ConfirmLinkInput,
  EMAIL_TOKEN_TTL_MS,
  EmailTaken,
  emailKey,
  formatCode,
  InvalidCode,
  InvalidCredentials,
  InvalidToken,
  type LinkRequested,
  normalizePassword,
  passwordLengthOk,
  PhoneTaken,
  ProfileClaimed,
  ProfileExists,
  RegisterInput,
  RequestLinkInput,
  TooManyAttempts,
  TooManyRequests,
  User,
  UserId,
  UserNotFound
} from "./User.js"

/**
 * The identity service. Every method takes `unknown` input and validates it: bad input fails with
 * `ValidationError` (or `InvalidPhone`) and writes nothing.
 *
 * @since 0.4.0
 */
export interface IdentityShape {
  /**
   * Creates a login and its empty profile (lazy registration), in one transaction: the user (not
   * active), its stub profile (no phone, type `member`, with its wallet) and an e-mail verification
   * token (32 random bytes; only its SHA-256 is stored; valid 24 hours). After the commit the token
   * goes to the address through the `Mailer` (a failed send is logged, the registration stands). The
   * password (8–128 characters after NFKC) is hashed with scrypt and never stored. An address another
   * account has, in any case, fails `EmailTaken` and writes nothing.
   */
  readonly register: (
    input: RegisterInput
  ) => Effect.Effect<{ readonly user: User; readonly customer: Customer }, EmailTaken | ValidationError | StorageError>
  /**
   * Activates the user the token was sent for and returns it. Single use: a token that is unknown,
   * expired (after 24 hours) or already used fails `InvalidToken`, also when two uses race.
   */
  readonly verifyEmail: (token: string) => Effect.Effect<User, InvalidToken | ValidationError | StorageError>
  /**
   * The user, when the e-mail (any case) has an active account with this password. Otherwise
   * `InvalidCredentials` — the same error, after the same password hashing, for an unknown e-mail, a
   * wrong password and an account not verified yet. Every attempt takes a slot of the account's
   * hourly budget (100 by default, a sliding hour, held by the database under any concurrency)
   * before the password is checked; a correct password gives it back. An unknown e-mail has a budget
   * like any other. Over it: `TooManyAttempts`, nothing checked. A password hashed under other
   * parameters than the configured ones is hashed again.
   */
  readonly login: (
    email: string,
    password: string
  ) => Effect.Effect<User, InvalidCredentials | TooManyAttempts | ValidationError | StorageError>
  /**
   * Fills the user's profile with a name and a phone (DOMAIN §1, normalised). A phone held by a
   * profile without a login fails `ProfileExists` — the host should offer linking (`requestLink`); it
   * is never merged silently; by another user's profile, `PhoneTaken`; by the user's own, only the
   * name changes. Two users claiming one free phone at once: one gets it, the other `PhoneTaken`.
   */
  readonly completeProfile: (
    userId: string,
    input: CompleteProfileInput
  ) => Effect.Effect<
    Customer,
    ProfileExists | PhoneTaken | UserNotFound | Phone.InvalidPhone | ValidationError | StorageError
  >
  /**
   * Asks for a code to link the walk-in profile holding the phone to the user. The answer is the same
   * whoever holds the phone — a walk-in profile, another user, the user, nobody — and every request
   * counts against the send limits, per phone and per user (3 per 15 minutes and 10 per day by
   * default): over them, `TooManyRequests`, nothing sent. When a walk-in profile holds it, a 6-digit
   * code from the CSPRNG, valid 5 minutes, replaces any earlier active code for the phone (also
   * another user's) and is sent by SMS after the commit; only its salted HMAC is stored.
   */
  readonly requestLink: (
    userId: string,
    input: RequestLinkInput
  ) => Effect.Effect<LinkRequested, TooManyRequests | UserNotFound | Phone.InvalidPhone | ValidationError | StorageError>
  /**
   * Links the walk-in profile to the user with the code sent to its phone, in one transaction: the
   * code's challenge becomes used and the user's profile is merged into the walk-in one (the login and
   * everything the user's profile held move to it; the user's old profile stays as `merged`). Returns
   * the linked profile. A wrong, expired, replaced, dead or used code — or none — fails `InvalidCode`
   * and counts as a wrong try: 5 on one code kill it, and 10 per hour per phone and per user across
   * codes (configurable) refuse every further try with `TooManyAttempts`, so a resend buys no guesses.
   * Concurrent confirmations of one code link once. A profile linked to another user meanwhile fails
   * `ProfileClaimed`, nothing written.
   */
  readonly confirmLink: (
    userId: string,
    input: ConfirmLinkInput
  ) => Effect.Effect<
    { readonly customer: Customer },
    InvalidCode | TooManyAttempts | ProfileClaimed | UserNotFound | Phone.InvalidPhone | ValidationError | StorageError
  >
}

/** The Identity service. @since 0.4.0 */
export class Identity extends Context.Tag("customer360/Identity")<Identity, IdentityShape>() {}

const HOUR = 3_600_000

const decodeRegister = decoder(RegisterInput, "registration")
const decodeUserId = decoder(UserId, "user id")
const decodeProfile = decoder(CompleteProfileInput, "profile")
const decodeRequest = decoder(RequestLinkInput, "link request")
const decodeConfirm = decoder(ConfirmLinkInput, "link confirmation")
const decodeToken = decoder(Schema.String.pipe(Schema.maxLength(200, { message: () => "must be at most 200 characters" })), "token")
const decodeLogin = decoder(
  Schema.Struct({
    email: Schema.String.pipe(Schema.maxLength(254, { message: () => "must be at most 254 characters" })),
    password: Schema.String.pipe(Schema.maxLength(1024, { message: () => "must be at most 1024 characters" }))
  }),
  "login"
)

/**
 * Builds the service. The `Mailer` and `SmsSender` are taken from the context when the host provides
 * them; otherwise messages are not sent and each is logged as undelivered (without its secret).
 *
 * @since 0.4.0
 */
export const make = Effect.gen(function*() {
  const repo = yield* IdentityRepository
  const tx = yield* Transactions
  const customers = yield* Customers
  const config = yield* Customer360Config
  const mailer = Option.getOrElse(yield* Effect.serviceOption(Mailer), () => mailerUnconfigured)
  const sms = Option.getOrElse(yield* Effect.serviceOption(SmsSender), () => smsUnconfigured)
  const cfg = config.identity ?? defaultIdentityConfig
  const pepper = cfg.otp.pepper ?? ""
  const loginWindows: ReadonlyArray<Throttle.Window> = [{ limit: cfg.maxFailedLoginsPerHour, windowMs: HOUR }]
  const sendWindows: ReadonlyArray<Throttle.Window> = cfg.otp.sendLimits.map((l) => ({ limit: l.limit, windowMs: l.windowSeconds * 1000 }))
  const wrongWindows: ReadonlyArray<Throttle.Window> = [{ limit: cfg.otp.maxWrongPerHour, windowMs: HOUR }]
  // Verified against when the e-mail is unknown, so that the answer takes as long; made on first need.
  const dummyHash = yield* Effect.cached(hashPassword("customer360 dummy password", cfg.password))

  const normalizePhone = (raw: string) => Effect.suspend(() => Phone.normalize(raw, config.phone))

  const existingUser = (id: string) =>
    Effect.flatMap(repo.findUser(id), Option.match({ onNone: () => Effect.fail(new UserNotFound({ userId: id })), onSome: Effect.succeed }))

  /** The user's profile: every user has one from its registration on. */
  const profileOf = (userId: string) =>
    Effect.flatMap(repo.profileOf(userId), Option.match({
      onNone: () => Effect.fail(new UserNotFound({ userId })),
      onSome: Effect.succeed
    }))

  /** Takes a slot of each key, or fails with what `refused` makes of the longest wait. Inside a transaction. */
  const take = <E>(
    keys: ReadonlyArray<string>,
    windows: ReadonlyArray<Throttle.Window>,
    now: number,
    refused: (retryAfterSeconds: number) => E
  ) =>
    Effect.gen(function*() {
      const states = yield* Effect.forEach(keys, (key) => repo.readThrottle(key, windows, now))
      let wait = 0
      for (const s of states) {
        const verdict = Throttle.decide(s.recent, now, windows)
        if (!verdict.allowed) wait = Math.max(wait, verdict.retryAfterMs)
      }
      if (wait > 0) return yield* Effect.fail(refused(Throttle.retrySeconds(wait)))
      return states
    })

  const reserve = (states: ReadonlyArray<Throttle.ThrottleState>, now: number, windows: ReadonlyArray<Throttle.Window>) =>
    Effect.forEach(states, (s) => repo.reserveThrottle(s, now, windows), { discard: true })

  /** A profile this module knows exists (a challenge's target, a user's profile). */
  const profile = (id: string) => customers.get(id).pipe(Effect.catchTags({ CustomerNotFound: Effect.die, ValidationError: Effect.die }))

  const codeDigest = (salt: string, code: string) => hmacSha256(pepper, `${salt}:${code}`)

  const register: IdentityShape["register"] = (raw) =>
    Effect.gen(function*() {
      const input = yield* decodeRegister(raw)
      const password = normalizePassword(input.password)
      if (!passwordLengthOk(password)) return yield* ValidationError.single("password", "must be 8 to 128 characters")
      const key = emailKey(input.email)
      if (Option.isSome(yield* repo.findCredentials(key))) return yield* new EmailTaken()
      // the costly hash and the random token outside the transaction, which may run again
      const passwordHash = yield* hashPassword(password, cfg.password)
      const token = yield* randomToken(32)
      const tokenHash = yield* sha256(token)
      const result = yield* tx.withTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const at = new Date(now)
        const user = new User({ id: encodeId("usr", now, yield* randomBytes), email: input.email, active: false, createdAt: at, updatedAt: at })
        yield* repo.insertUser(user, key, passwordHash)
        yield* repo.insertEmailToken({ tokenHash, userId: user.id, createdAt: now, expiresAt: now + EMAIL_TOKEN_TTL_MS })
        const customer = yield* customers.createForUser(user.id)
        return { user, customer, expiresAt: new Date(now + EMAIL_TOKEN_TTL_MS) }
      }))
      yield* mailer.send({
        kind: "email-verification",
        to: input.email,
        subject: "Xác nhận địa chỉ e-mail / Verify your e-mail address",
        text: `Mã xác nhận e-mail của bạn / Your e-mail verification token: ${token}\n` +
          `Hết hạn / Expires: ${result.expiresAt.toISOString()}`,
        token,
        expiresAt: result.expiresAt
      }).pipe(Effect.catchAll((e) => Effect.logWarning("customer360: an e-mail verification was not delivered", { reason: e.reason })))
      return { user: result.user, customer: result.customer }
    })

  const verifyEmail: IdentityShape["verifyEmail"] = (raw) =>
    Effect.gen(function*() {
      const token = yield* decodeToken(raw)
      const tokenHash = yield* sha256(token)
      const userId = yield* tx.withTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const found = yield* repo.findEmailToken(tokenHash)
        if (Option.isNone(found) || found.value.usedAt !== null || now >= found.value.expiresAt) {
          return yield* new InvalidToken()
        }
        yield* repo.useEmailToken(found.value, new Date(now))
        return found.value.userId
      }))
      return yield* Effect.orDie(existingUser(userId))
    })

  const login: IdentityShape["login"] = (rawEmail, rawPassword) =>
    Effect.gen(function*() {
      const input = yield* decodeLogin({ email: rawEmail, password: rawPassword })
      const key = emailKey(input.email)
      const throttleKey = `login:${yield* sha256(key)}`
      const seq = yield* tx.withTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const [state] = yield* take([throttleKey], loginWindows, now, (s) => new TooManyAttempts({ retryAfterSeconds: s }))
        // the slot is committed before the password is checked: concurrent attempts cannot overtake it
        yield* reserve([state!], now, loginWindows)
        return state!.lastSeq + 1
      })).pipe(
        // a burst of attempts on one account queues on its next slot: a transaction that lost every
        // rerun to the others wrote nothing and is simply tried again (a few times)
        Effect.retry({ times: 4, while: (e) => e._tag === "StorageError" && e.reason === "contention" })
      )
      const password = normalizePassword(input.password)
      const found = yield* repo.findCredentials(key)
      const matches = Option.isSome(found)
        ? yield* verifyPassword(password, found.value.passwordHash, cfg.password)
        : (yield* verifyPassword(password, yield* dummyHash, cfg.password)) && false
      if (!matches || Option.isNone(found) || !found.value.user.active) return yield* new InvalidCredentials()
      const { passwordHash, user } = found.value
      const rehashed = needsRehash(passwordHash, cfg.password) ? yield* hashPassword(password, cfg.password) : undefined
      const at = new Date(yield* Clock.currentTimeMillis)
      yield* tx.withTransaction(Effect.gen(function*() {
        yield* repo.releaseThrottle(throttleKey, seq)
        if (rehashed !== undefined) yield* repo.setPasswordHash(user.id, rehashed, at)
      }))
      return rehashed === undefined ? user : new User({ ...user, updatedAt: at })
    })

  const completeProfile: IdentityShape["completeProfile"] = (rawUserId, raw) =>
    Effect.gen(function*() {
      const userId = yield* decodeUserId(rawUserId)
      const input = yield* decodeProfile(raw)
      const phone = yield* normalizePhone(input.phone)
      yield* existingUser(userId)
      const profileId = yield* profileOf(userId)
      /** Who holds the phone: nobody, the user, or a refusal. */
      const holder: Effect.Effect<"free" | "own", ProfileExists | PhoneTaken | Phone.InvalidPhone | ValidationError | StorageError> =
        Effect.flatMap(customers.findByPhone(phone), (found): Effect.Effect<"free" | "own", ProfileExists | PhoneTaken> => {
          if (Option.isNone(found)) return Effect.succeed("free" as const)
          const c = found.value
          if (c.userId === null) return Effect.fail(new ProfileExists({ phone }))
          if (c.userId !== userId) return Effect.fail(new PhoneTaken({ phone }))
          return Effect.succeed("own" as const)
        })
      const update = (patch: { readonly name: string; readonly phone?: string }) =>
        customers.update(profileId, patch, { actor: userId }).pipe(
          Effect.catchTags({
            CustomerNotFound: (e) => Effect.die(e),
            // taken between the read and the write: whoever took it decides the refusal
            CustomerExists: (e) =>
              e.field === "phone"
                ? Effect.flatMap(holder, (again) =>
                  again === "own"
                    ? Effect.die(e)
                    : Effect.fail(new PhoneTaken({ phone })))
                : Effect.die(e)
          })
        )
      const outcome = yield* holder
      return yield* (outcome === "own" ? update({ name: input.name }) : update({ name: input.name, phone }))
    })

  const requestLink: IdentityShape["requestLink"] = (rawUserId, raw) =>
    Effect.gen(function*() {
      const userId = yield* decodeUserId(rawUserId)
      const input = yield* decodeRequest(raw)
      const phone = yield* normalizePhone(input.phone)
      yield* existingUser(userId)
      const keys = [`send-phone:${yield* sha256(phone)}`, `send-user:${yield* sha256(userId)}`]
      // drawn for every request, known phone or not, outside the transaction
      const code = formatCode(yield* randomInt(1_000_000))
      const salt = yield* randomToken(16)
      const codeHash = yield* codeDigest(salt, code)
      const sent = yield* tx.withTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const states = yield* take(keys, sendWindows, now, (s) => new TooManyRequests({ retryAfterSeconds: s }))
        yield* reserve(states, now, sendWindows)
        const holder = yield* customers.findByPhone(phone)
        // only a walk-in profile can be claimed: no login, not merged
        if (Option.isNone(holder) || holder.value.userId !== null || holder.value.mergedInto !== null) return undefined
        const expiresAt = now + CODE_TTL_MS
        yield* repo.replaceChallenge({
          id: encodeId("lnk", now, yield* randomBytes),
          userId,
          phone,
          customerId: holder.value.id,
          codeHash,
          salt,
          attempts: 0,
          status: "active",
          createdAt: now,
          expiresAt,
          version: 0
        })
        return new Date(expiresAt)
      }))
      if (sent !== undefined) {
        yield* sms.send({
          kind: "link-code",
          to: phone,
          text: `Mã xác nhận liên kết tài khoản của bạn là ${code}, hiệu lực 5 phút. Không chia sẻ mã này.`,
          code,
          expiresAt: sent
        }).pipe(Effect.catchAll((e) => Effect.logWarning("customer360: a link code was not delivered", { reason: e.reason })))
      }
      return { status: "sent" as const, expiresInSeconds: CODE_TTL_MS / 1000 }
    })

  const confirmLink: IdentityShape["confirmLink"] = (rawUserId, raw) =>
    Effect.gen(function*() {
      const userId = yield* decodeUserId(rawUserId)
      const input = yield* decodeConfirm(raw)
      const phone = yield* normalizePhone(input.phone)
      yield* existingUser(userId)
      const keys = [`wrong-phone:${yield* sha256(phone)}`, `wrong-user:${yield* sha256(userId)}`]
      const candidate = canonicalCode(input.code)
      const outcome = yield* tx.withTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        // the budget first: over it, not even the right code is looked at
        const states = yield* take(keys, wrongWindows, now, (s) => new TooManyAttempts({ retryAfterSeconds: s }))
        const wrong = Effect.as(reserve(states, now, wrongWindows), { _tag: "wrong" as const })
        const latest = yield* repo.latestChallenge(phone, userId)
        if (Option.isNone(latest) || latest.value.status !== "active") return yield* wrong
        const challenge = latest.value
        if (now >= challenge.expiresAt) {
          yield* repo.updateChallenge(challenge, { status: "dead", attempts: challenge.attempts })
          return yield* wrong
        }
        const right = yield* Effect.flatMap(codeDigest(challenge.salt, candidate), (given) => digestsEqual(given, challenge.codeHash))
        if (!right) {
          yield* repo.updateChallenge(challenge, afterWrongTry(challenge.attempts))
          return yield* wrong
        }
        const target = yield* profile(challenge.customerId)
        if (target.mergedInto !== null || (target.userId !== null && target.userId !== userId)) {
          return yield* new ProfileClaimed()
        }
        yield* repo.updateChallenge(challenge, { status: "used", attempts: challenge.attempts })
        const own = yield* profileOf(userId)
        // `own` is the target when a concurrent confirmation linked it since the challenge was read:
        // the challenge's stale version then runs this again, and it finds the challenge used
        if (target.userId === null && own !== target.id) {
          yield* customers.merge({ survivorId: target.id, mergedIds: [own], dryRun: false, actor: userId }).pipe(
            // the profile was given a login between the reads: it is claimed
            Effect.catchTags({ MergeRefused: () => Effect.fail(new ProfileClaimed()), CustomerNotFound: Effect.die, ValidationError: Effect.die })
          )
        }
        return { _tag: "linked" as const, customerId: target.id }
      }))
      if (outcome._tag === "wrong") return yield* new InvalidCode()
      return { customer: yield* profile(outcome.customerId) }
    })

  return Identity.of(withSpans("Identity", { register, verifyEmail, login, completeProfile, requestLink, confirmLink }))
})

/**
 * The service as a layer. Its ports to the outside, `Mailer` and `SmsSender`, are optional: provide
 * them under the library's layer (the facade's `mailer` and `sms` options do).
 *
 * @since 0.4.0
 */
export const layer: Layer.Layer<Identity, never, IdentityRepository | Transactions | Customers | Customer360Config> = Layer.effect(
  Identity,
  make
)
