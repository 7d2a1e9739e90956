/**
 * The library's configuration, read by every service.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ValidationError } from "./Errors.js"
import { normalize, type PhonePolicy } from "./Phone.js"

/**
 * - `timeZone`: the IANA zone that turns instants into business days (ticket year, "daily at 2 AM",
 *   RFM day counts). Default `Asia/Ho_Chi_Minh`.
 * - `phone`: what the shop accepts beyond DOMAIN §1 (block list, foreign numbers).
 * - `transfers`: the shop's bank side (DOMAIN §5): the SePay webhook key, the account customers pay
 *   into (for VietQR), and the shop's own phone numbers and account numbers, which a transfer's
 *   content never matches.
 * - `rfm`: the RFM thresholds and mode (DOMAIN §6; docs/purchases.md#rfm).
 * - `fraud`: the fraud rules, if not the three of DOMAIN §8 (validated by the fraud module).
 * - `identity`: password hashing, the login limit and the link codes' limits (docs/identity.md).
 *
 * @since 0.1.0
 */
export interface Customer360ConfigShape {
  readonly timeZone: string
  readonly phone: PhonePolicy
  readonly transfers: TransfersConfig
  readonly rfm: RfmConfig
  readonly fraud: FraudConfig
  /** Logins and link codes; absent means {@link defaultIdentityConfig}. */
  readonly identity?: IdentityConfig | undefined
}

/**
 * Logins and link codes (DOMAIN §9, docs/identity.md):
 * - `password`: scrypt's cost, N = 2^`ln`, block size `r`, parallelism `p` (default OWASP's 17, 8,
 *   1: 128 MiB per hash). A login under other parameters rehashes the password.
 * - `maxFailedLoginsPerHour`: failed logins per account in any hour (sliding), 1–100 (default 100,
 *   OWASP ASVS 2.2.1's ceiling).
 * - `otp.pepper`: a secret the link codes' HMAC is keyed by (optional; without it a stolen database
 *   lets an attacker test the 10^6 codes of a live challenge offline).
 * - `otp.sendLimits`: codes sent per phone and per user, each `{ limit, windowSeconds }` (default 3
 *   per 15 minutes and 10 per day).
 * - `otp.maxWrongPerHour`: wrong codes per phone and per user in any hour, across codes (default 10).
 *
 * @since 0.4.0
 */
export interface IdentityConfig {
  readonly password: { readonly ln: number; readonly r: number; readonly p: number }
  readonly maxFailedLoginsPerHour: number
  readonly otp: {
    readonly pepper: string | undefined
    readonly sendLimits: ReadonlyArray<{ readonly limit: number; readonly windowSeconds: number }>
    readonly maxWrongPerHour: number
  }
}

/** The identity defaults (see {@link IdentityConfig}). @since 0.4.0 */
export const defaultIdentityConfig: IdentityConfig = {
  password: { ln: 17, r: 8, p: 1 },
  maxFailedLoginsPerHour: 100,
  otp: {
    pepper: undefined,
    sendLimits: [{ limit: 3, windowSeconds: 15 * 60 }, { limit: 10, windowSeconds: 24 * 3600 }],
    maxWrongPerHour: 10
  }
}

/** Identity options as a host gives them: any part left out is the default. @since 0.4.0 */
export interface IdentityOptions {
  readonly password?: { readonly ln?: number; readonly r?: number; readonly p?: number } | undefined
  readonly maxFailedLoginsPerHour?: number | undefined
  readonly otp?: {
    readonly pepper?: string | undefined
    readonly sendLimits?: ReadonlyArray<{ readonly limit: number; readonly windowSeconds: number }> | undefined
    readonly maxWrongPerHour?: number | undefined
  } | undefined
}

const wholeIn = (v: unknown, min: number, max: number): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max

/** Validates identity options over the defaults. @since 0.4.0 */
export const makeIdentityConfig = (raw: IdentityOptions | undefined): Effect.Effect<IdentityConfig, ValidationError> => {
  const d = defaultIdentityConfig
  const password = { ...d.password, ...(raw?.password ?? {}) }
  if (!wholeIn(password.ln, 1, 24)) return ValidationError.single("identity.password.ln", "must be a whole number from 1 to 24 (N = 2^ln)")
  if (!wholeIn(password.r, 1, 32)) return ValidationError.single("identity.password.r", "must be a whole number from 1 to 32")
  if (!wholeIn(password.p, 1, 16)) return ValidationError.single("identity.password.p", "must be a whole number from 1 to 16")
  const maxFailedLoginsPerHour = raw?.maxFailedLoginsPerHour ?? d.maxFailedLoginsPerHour
  if (!wholeIn(maxFailedLoginsPerHour, 1, 100)) {
    return ValidationError.single("identity.maxFailedLoginsPerHour", "must be a whole number from 1 to 100")
  }
  const pepper = raw?.otp?.pepper
  if (pepper !== undefined && (typeof pepper !== "string" || pepper.length < 16 || pepper.length > 512)) {
    return ValidationError.single("identity.otp.pepper", "must be a secret of 16 to 512 characters")
  }
  const sendLimits = raw?.otp?.sendLimits ?? d.otp.sendLimits
  if (
    !Array.isArray(sendLimits) || sendLimits.length < 1 || sendLimits.length > 5 ||
    !sendLimits.every((l) => typeof l === "object" && l !== null && wholeIn(l.limit, 1, 1000) && wholeIn(l.windowSeconds, 1, 31 * 86400))
  ) {
    return ValidationError.single("identity.otp.sendLimits", "must be 1 to 5 limits { limit: 1–1000, windowSeconds: 1–2678400 }")
  }
  const maxWrongPerHour = raw?.otp?.maxWrongPerHour ?? d.otp.maxWrongPerHour
  if (!wholeIn(maxWrongPerHour, 1, 100)) return ValidationError.single("identity.otp.maxWrongPerHour", "must be a whole number from 1 to 100")
  return Effect.succeed({
    password,
    maxFailedLoginsPerHour,
    otp: { pepper, sendLimits: sendLimits.map((l) => ({ limit: l.limit, windowSeconds: l.windowSeconds })), maxWrongPerHour }
  })
}

/**
 * RFM scoring (DOMAIN §6). Scores run 5 (best) to 1; each list gives the bound for 5, 4, 3 and 2, and
 * anything short of the last is 1.
 *
 * - `recencyDays`: the most business days since the last purchase for 5, 4, 3, 2 (default 7, 14,
 *   30, 60). No purchase at all is 1.
 * - `frequency`: the fewest purchases in the last `frequencyWindowDays` business days, today
 *   included (default 90), for 5, 4, 3, 2 (default 11, 6, 3, 2: "more than 10" is 11).
 * - `monetary`: the least total of purchases less their returns, in đồng, for 5, 4, 3, 2 (default
 *   10,000,001, 5,000,000, 2,000,000, 500,000).
 * - `tiers`: the least score `(R + F + M) / 3` for platinum, gold and silver (default 4.5, 3.5, 2.5).
 * - `newCustomerDays`: a customer younger than this (default 30 days) is `new` whatever its score.
 * - `mode`: `fixed` (the thresholds above, the default) or `quantile` (each score from the
 *   customer's place among all customers; equal values always get equal scores — see
 *   docs/purchases.md#quantile-mode).
 *
 * @since 0.3.0
 */
export interface RfmConfig {
  readonly recencyDays: readonly [number, number, number, number]
  readonly frequency: readonly [number, number, number, number]
  readonly monetary: readonly [number, number, number, number]
  readonly frequencyWindowDays: number
  readonly tiers: { readonly platinum: number; readonly gold: number; readonly silver: number }
  readonly newCustomerDays: number
  readonly mode: "fixed" | "quantile"
}

/** The RFM thresholds of DOMAIN §6. @since 0.3.0 */
export const defaultRfmConfig: RfmConfig = {
  recencyDays: [7, 14, 30, 60],
  frequency: [11, 6, 3, 2],
  monetary: [10_000_001, 5_000_000, 2_000_000, 500_000],
  frequencyWindowDays: 90,
  tiers: { platinum: 4.5, gold: 3.5, silver: 2.5 },
  newCustomerDays: 30,
  mode: "fixed"
}

/**
 * The fraud rules as given (`undefined`: the three of DOMAIN §8). The fraud module validates them
 * when it starts.
 *
 * @since 0.3.0
 */
export interface FraudConfig {
  readonly rules: ReadonlyArray<unknown> | undefined
}

/**
 * The shop's bank side. Without `sepayApiKey` every webhook delivery is refused (401); without
 * `bankBin` and `bankAccount` a customer's QR payload is `null`.
 *
 * @since 0.2.0
 */
export interface TransfersConfig {
  readonly sepayApiKey: string | undefined
  readonly bankBin: string | undefined
  readonly bankAccount: string | undefined
  /** Canonical phones. */
  readonly shopPhones: ReadonlySet<string>
  /** Digit strings. */
  readonly shopAccounts: ReadonlySet<string>
}

/** The Customer360Config service. @since 0.1.0 */
export class Customer360Config extends Context.Tag("customer360/Config")<Customer360Config, Customer360ConfigShape>() {}

/** @since 0.1.0 */
export const defaultTimeZone = "Asia/Ho_Chi_Minh"

/**
 * True when the runtime knows the IANA zone `tz`.
 *
 * @since 0.1.0
 */
export const isTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/**
 * Options accepted by {@link layer}; the block list may be written in any phone format.
 *
 * @since 0.1.0
 */
export interface ConfigOptions {
  readonly timeZone?: string | undefined
  readonly phone?: {
    readonly blocked?: Iterable<string> | undefined
    readonly foreign?: "reject" | "e164" | undefined
  } | undefined
  readonly transfers?: {
    readonly sepayApiKey?: string | undefined
    readonly bankBin?: string | undefined
    readonly bankAccount?: string | undefined
    readonly shopPhones?: Iterable<string> | undefined
    readonly shopAccounts?: Iterable<string> | undefined
  } | undefined
  readonly rfm?: Partial<RfmConfig> | undefined
  readonly fraud?: { readonly rules?: ReadonlyArray<unknown> | undefined } | undefined
  readonly identity?: IdentityOptions | undefined
}

const isScoreBounds = (v: unknown, ascending: boolean): v is readonly [number, number, number, number] =>
  Array.isArray(v) && v.length === 4 && v.every((n) => Number.isSafeInteger(n) && n >= 0) &&
  v.every((n, i) => i === 0 || (ascending ? n > v[i - 1] : n < v[i - 1]))

/** Validates RFM options over the defaults. @since 0.3.0 */
export const makeRfmConfig = (raw: Partial<RfmConfig> | undefined): Effect.Effect<RfmConfig, ValidationError> => {
  const c = { ...defaultRfmConfig, ...(raw ?? {}) } as RfmConfig
  if (!isScoreBounds(c.recencyDays, true)) {
    return ValidationError.single("rfm.recencyDays", "must be 4 increasing whole numbers of days (for R 5, 4, 3, 2)")
  }
  if (!isScoreBounds(c.frequency, false) || c.frequency[3] < 1) {
    return ValidationError.single("rfm.frequency", "must be 4 decreasing whole counts, the last at least 1 (for F 5, 4, 3, 2)")
  }
  if (!isScoreBounds(c.monetary, false) || c.monetary[3] < 1) {
    return ValidationError.single("rfm.monetary", "must be 4 decreasing whole amounts in đồng, the last at least 1 (for M 5, 4, 3, 2)")
  }
  if (!Number.isSafeInteger(c.frequencyWindowDays) || c.frequencyWindowDays < 1 || c.frequencyWindowDays > 3660) {
    return ValidationError.single("rfm.frequencyWindowDays", "must be a whole number of days from 1 to 3660")
  }
  const t = c.tiers as Partial<RfmConfig["tiers"]> | undefined
  const inRange = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n >= 1 && n <= 5
  if (!t || !inRange(t.platinum) || !inRange(t.gold) || !inRange(t.silver) || !(t.platinum! > t.gold! && t.gold! > t.silver!)) {
    return ValidationError.single("rfm.tiers", "must be scores from 1 to 5 with platinum > gold > silver")
  }
  if (!Number.isSafeInteger(c.newCustomerDays) || c.newCustomerDays < 0 || c.newCustomerDays > 3660) {
    return ValidationError.single("rfm.newCustomerDays", "must be a whole number of days from 0 to 3660")
  }
  if (c.mode !== "fixed" && c.mode !== "quantile") return ValidationError.single("rfm.mode", "must be \"fixed\" or \"quantile\"")
  return Effect.succeed({ ...c, tiers: { platinum: t.platinum!, gold: t.gold!, silver: t.silver! } })
}

/**
 * Validates the options (a known time zone; block-listed numbers that are phone numbers) and
 * provides the configuration. Blocked numbers are normalised with `normalize`, so `028 3812 3456`
 * blocks `02838123456`.
 *
 * @since 0.1.0
 */
export const make = (options: ConfigOptions): Effect.Effect<Customer360ConfigShape, ValidationError> =>
  Effect.gen(function*() {
    const timeZone = options.timeZone ?? defaultTimeZone
    if (typeof timeZone !== "string" || !isTimeZone(timeZone)) {
      return yield* ValidationError.single("timeZone", "must be an IANA time zone such as Asia/Ho_Chi_Minh")
    }
    const foreign = options.phone?.foreign ?? "reject"
    if (foreign !== "reject" && foreign !== "e164") {
      return yield* ValidationError.single("phone.foreign", "must be \"reject\" or \"e164\"")
    }
    const blocked = new Set<string>()
    for (const raw of options.phone?.blocked ?? []) {
      const r = normalize(String(raw), { foreign })
      if (r._tag === "Left") return yield* ValidationError.single("phone.blocked", `${JSON.stringify(raw)} is not a phone number`)
      blocked.add(r.right)
    }
    const t = options.transfers ?? {}
    const optionalText = (field: string, v: unknown, pattern: RegExp, what: string) =>
      v === undefined || v === null || v === ""
        ? Effect.succeed(undefined)
        : typeof v === "string" && pattern.test(v)
        ? Effect.succeed(v)
        : ValidationError.single(`transfers.${field}`, what)
    const sepayApiKey = yield* optionalText("sepayApiKey", t.sepayApiKey, /^[\x21-\x7e]{8,200}$/, "must be 8–200 visible ASCII characters")
    const bankBin = yield* optionalText("bankBin", t.bankBin, /^\d{6}$/, "must be the bank's 6-digit BIN")
    const bankAccount = yield* optionalText("bankAccount", t.bankAccount, /^[A-Za-z0-9]{1,19}$/, "must be 1–19 letters or digits")
    const shopPhones = new Set<string>()
    for (const raw of t.shopPhones ?? []) {
      const r = normalize(String(raw), { foreign })
      if (r._tag === "Left") return yield* ValidationError.single("transfers.shopPhones", `${JSON.stringify(raw)} is not a phone number`)
      shopPhones.add(r.right)
    }
    const shopAccounts = new Set<string>()
    for (const raw of [...(t.shopAccounts ?? []), ...(bankAccount === undefined ? [] : [bankAccount])]) {
      const digits = String(raw).replace(/[\s.-]/g, "")
      if (!/^[A-Za-z0-9]{1,30}$/.test(digits)) {
        return yield* ValidationError.single("transfers.shopAccounts", `${JSON.stringify(raw)} is not an account number`)
      }
      shopAccounts.add(digits.toUpperCase())
    }
    const rfm = yield* makeRfmConfig(options.rfm)
    const rules = options.fraud?.rules
    if (rules !== undefined && !Array.isArray(rules)) return yield* ValidationError.single("fraud.rules", "must be a list of rules")
    const identity = yield* makeIdentityConfig(options.identity)
    return {
      timeZone,
      phone: { blocked, foreign },
      transfers: { sepayApiKey, bankBin, bankAccount, shopPhones, shopAccounts },
      rfm,
      fraud: { rules },
      identity
    }
  })

/**
 * The configuration as a layer.
 *
 * @since 0.1.0
 */
export const layer = (config: Customer360ConfigShape): Layer.Layer<Customer360Config> =>
  Layer.succeed(Customer360Config, config)

/**
 * Defaults: `Asia/Ho_Chi_Minh`, no block list, foreign numbers rejected.
 *
 * @since 0.1.0
 */
export const layerDefault: Layer.Layer<Customer360Config> = layer({
  timeZone: defaultTimeZone,
  phone: {},
  transfers: { sepayApiKey: undefined, bankBin: undefined, bankAccount: undefined, shopPhones: new Set(), shopAccounts: new Set() },
  rfm: defaultRfmConfig,
  fraud: { rules: undefined },
  identity: defaultIdentityConfig
})
