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
 *
 * @since 0.1.0
 */
export interface Customer360ConfigShape {
  readonly timeZone: string
  readonly phone: PhonePolicy
  readonly transfers: TransfersConfig
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
    return {
      timeZone,
      phone: { blocked, foreign },
      transfers: { sepayApiKey, bankBin, bankAccount, shopPhones, shopAccounts }
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
  transfers: { sepayApiKey: undefined, bankBin: undefined, bankAccount: undefined, shopPhones: new Set(), shopAccounts: new Set() }
})
