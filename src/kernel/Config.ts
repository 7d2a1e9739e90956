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
 *
 * @since 0.1.0
 */
export interface Customer360ConfigShape {
  readonly timeZone: string
  readonly phone: PhonePolicy
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
    return { timeZone, phone: { blocked, foreign } }
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
export const layerDefault: Layer.Layer<Customer360Config> = layer({ timeZone: defaultTimeZone, phone: {} })
