/**
 * The identity model (DOMAIN §9, docs/identity.md): the login (`User`), kept apart from the customer
 * profile; the inputs of the use cases; the typed refusals; and the pure rules of e-mail keys,
 * passwords, one-time codes and verification tokens. Nothing here touches the database, the clock
 * or a random generator: callers bring them.
 *
 * @since 0.4.0
 */
import * as Schema from "effect/Schema"
import { Text } from "../kernel/Text.js"

/**
 * A login: an e-mail address (unique case-insensitively), a password hash and whether the address
 * has been verified (`active`). A user has exactly one customer profile (its `userId`); the password
 * hash never leaves the repository — this class has no field for it.
 *
 * @since 0.4.0
 */
export class User extends Schema.Class<User>("User")({
  id: Schema.String,
  email: Schema.String,
  active: Schema.Boolean,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}

/** `usr_` + a time-ordered id. @since 0.4.0 */
export const USER_ID = /^usr_[0-9A-HJKMNP-TV-Z]{26}$/

/** A user id as input. @since 0.4.0 */
export const UserId = Schema.String.pipe(Schema.pattern(USER_ID, { message: () => "must be a user id (usr_…)" }))

// --- the rules -----------------------------------------------------------------------------------

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

/**
 * The key an e-mail address is unique by: trimmed, NFKC-normalised and lower-cased, so
 * `An@Example.VN` and `an@example.vn` are one account. Pure.
 *
 * @since 0.4.0
 */
export const emailKey = (email: string): string => email.trim().normalize("NFKC").toLowerCase()

/** The fewest and most characters (code points, after NFKC) of a password. @since 0.4.0 */
export const PASSWORD_LENGTH = { min: 8, max: 128 } as const

/**
 * A password as the KDF sees it: NFKC-normalised, so the same password typed on two keyboards
 * (full-width digits, composed or decomposed accents) is one password. Pure.
 *
 * @since 0.4.0
 */
export const normalizePassword = (password: string): string => password.normalize("NFKC")

/** Whether a normalised password has an accepted length (8–128 code points). @since 0.4.0 */
export const passwordLengthOk = (normalized: string): boolean => {
  const n = [...normalized].length
  return n >= PASSWORD_LENGTH.min && n <= PASSWORD_LENGTH.max
}

/** The digits of a link code. @since 0.4.0 */
export const CODE_DIGITS = 6

/**
 * A link code as sent: the number `n` (0 ≤ n < 10^6) with leading zeros, always 6 digits. Pure.
 *
 * @since 0.4.0
 */
export const formatCode = (n: number): string => {
  if (!Number.isSafeInteger(n) || n < 0 || n >= 10 ** CODE_DIGITS) throw new RangeError("a link code is 0 to 999999")
  return String(n).padStart(CODE_DIGITS, "0")
}

/** A code as typed, canonical: spaces and dashes dropped, full-width digits made ASCII. Pure. @since 0.4.0 */
export const canonicalCode = (typed: string): string =>
  typed.replace(/[\uFF10-\uFF19]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xff10 + 48)).replace(/[\s-]/g, "")

/** The status of a link challenge. @since 0.4.0 */
export type ChallengeStatus = "active" | "used" | "dead" | "superseded"

/** The wrong tries after which a link code is dead (DOMAIN §9). @since 0.4.0 */
export const MAX_WRONG_PER_CODE = 5

/** How long a link code is valid: 5 minutes. @since 0.4.0 */
export const CODE_TTL_MS = 5 * 60_000

/** How long an e-mail verification token is valid: 24 hours. @since 0.4.0 */
export const EMAIL_TOKEN_TTL_MS = 24 * 3_600_000

/**
 * What a wrong try does to a challenge that had `attempts` wrong tries: one more, and it is dead at
 * the fifth. Pure.
 *
 * @since 0.4.0
 */
export const afterWrongTry = (attempts: number): { readonly attempts: number; readonly status: ChallengeStatus } => ({
  attempts: attempts + 1,
  status: attempts + 1 >= MAX_WRONG_PER_CODE ? "dead" : "active"
})

// --- inputs --------------------------------------------------------------------------------------

/** Input of `register`. The password is checked for length after NFKC. @since 0.4.0 */
export const RegisterInput = Schema.Struct({
  email: Schema.Trim.pipe(
    Schema.maxLength(254, { message: () => "must be at most 254 characters" }),
    Schema.filter((s) => EMAIL.test(s), { message: () => "must be an e-mail address" })
  ),
  password: Schema.String
})
/** @since 0.4.0 */
export type RegisterInput = typeof RegisterInput.Encoded

/** Input of `completeProfile`: the profile's name and phone (any format of DOMAIN §1). @since 0.4.0 */
export const CompleteProfileInput = Schema.Struct({
  name: Text(100),
  phone: Schema.String.pipe(Schema.maxLength(40, { message: () => "must be at most 40 characters" }))
})
/** @since 0.4.0 */
export type CompleteProfileInput = typeof CompleteProfileInput.Encoded

/** Input of `requestLink`: the phone of the walk-in profile to claim. @since 0.4.0 */
export const RequestLinkInput = Schema.Struct({
  phone: Schema.String.pipe(Schema.maxLength(40, { message: () => "must be at most 40 characters" }))
})
/** @since 0.4.0 */
export type RequestLinkInput = typeof RequestLinkInput.Encoded

/** Input of `confirmLink`: the phone and the code received on it. @since 0.4.0 */
export const ConfirmLinkInput = Schema.Struct({
  phone: Schema.String.pipe(Schema.maxLength(40, { message: () => "must be at most 40 characters" })),
  code: Schema.String.pipe(Schema.maxLength(20, { message: () => "must be at most 20 characters" }))
})
/** @since 0.4.0 */
export type ConfirmLinkInput = typeof ConfirmLinkInput.Encoded

/**
 * The one answer of `requestLink`, whoever holds the phone: a code was sent if a walk-in profile holds
 * it, and the caller cannot tell whether one does.
 *
 * @since 0.4.0
 */
export interface LinkRequested {
  readonly status: "sent"
  readonly expiresInSeconds: number
}

// --- refusals ------------------------------------------------------------------------------------

/**
 * The e-mail is unknown, the password is wrong, or the account is not verified yet — on purpose one
 * error for the three, so a caller cannot learn which.
 *
 * @since 0.4.0
 */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()("InvalidCredentials", {}) {
  override get message(): string {
    return "The e-mail address or the password is wrong, or the account is not verified yet"
  }
}

/** Too many failed attempts in the window; nothing was checked. @since 0.4.0 */
export class TooManyAttempts extends Schema.TaggedError<TooManyAttempts>()("TooManyAttempts", {
  retryAfterSeconds: Schema.Number
}) {
  override get message(): string {
    return `Too many failed attempts; try again in ${this.retryAfterSeconds} s`
  }
}

/** Too many codes asked for in the window; nothing was sent. @since 0.4.0 */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", {
  retryAfterSeconds: Schema.Number
}) {
  override get message(): string {
    return `Too many codes requested; try again in ${this.retryAfterSeconds} s`
  }
}

/** Another account has this e-mail address (case-insensitively); nothing was written. @since 0.4.0 */
export class EmailTaken extends Schema.TaggedError<EmailTaken>()("EmailTaken", {}) {
  override get message(): string {
    return "An account with this e-mail address exists"
  }
}

/** The verification token is unknown, expired or already used. @since 0.4.0 */
export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {}) {
  override get message(): string {
    return "The verification link is invalid, expired or already used"
  }
}

/**
 * A profile without a login holds this phone: the host should offer to link it (`requestLink`); it
 * is never merged silently. Nothing was written.
 *
 * @since 0.4.0
 */
export class ProfileExists extends Schema.TaggedError<ProfileExists>()("ProfileExists", { phone: Schema.String }) {
  override get message(): string {
    return "A customer profile with this phone exists; link it by a code sent to the phone"
  }
}

/** Another user's profile holds this phone; nothing was written. @since 0.4.0 */
export class PhoneTaken extends Schema.TaggedError<PhoneTaken>()("PhoneTaken", { phone: Schema.String }) {
  override get message(): string {
    return "This phone belongs to another account"
  }
}

/** The profile to link was linked to another user (or merged) meanwhile; nothing was written. @since 0.4.0 */
export class ProfileClaimed extends Schema.TaggedError<ProfileClaimed>()("ProfileClaimed", {}) {
  override get message(): string {
    return "This customer profile is already linked to an account"
  }
}

/** The code is wrong, expired, replaced by a newer one, used, or there is none. @since 0.4.0 */
export class InvalidCode extends Schema.TaggedError<InvalidCode>()("InvalidCode", {}) {
  override get message(): string {
    return "The code is wrong or no longer valid; ask for a new one"
  }
}

/** No user has this id. @since 0.4.0 */
export class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", { userId: Schema.String }) {
  override get message(): string {
    return `No user ${this.userId}`
  }
}
