/**
 * A Promise API for applications that do not use Effect. Every method validates its input and
 * rejects with an `Error` whose `_tag` names the failure (`InvalidPhone`, `CustomerExists`,
 * `CustomerNotFound`, `ValidationError`, `InvalidAmount`, `InsufficientFunds`,
 * `IdempotencyConflict`, `TicketNotFound`, `InvalidTransition`, `InvalidTicketAction`,
 * `TransferNotFound`, `TransferAlreadyLinked`, `WebhookUnauthorized`, `InvalidVietQr`, the identity
 * module's (`InvalidCredentials`, `TooManyAttempts`, `TooManyRequests`, `EmailTaken`, `InvalidToken`,
 * `ProfileExists`, `PhoneTaken`, `ProfileClaimed`, `InvalidCode`, `UserNotFound`),
 * `StorageError`, `InternalError`) and whose `message` a
 * person can read. No driver error, stack of the database client or defect crosses this boundary.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { EventBus } from "./platform/EventBus.js"
import type { StoragePorts } from "./storage/Storage.js"
import * as Library from "./Customer360.js"
import * as Registry from "./modules.js"
import { StorageError, ValidationError } from "./kernel/Errors.js"
import type { Channel, StoredEvent } from "./kernel/Events.js"
import { nestsDeeperThan, tooDeep } from "./kernel/Nesting.js"
import * as Phone from "./kernel/Phone.js"
import * as Relay from "./platform/Relay.js"
import type { RfmConfig } from "./kernel/Config.js"
import { Wallets } from "./wallets/Wallets.js"
import { Tickets } from "./tickets/Tickets.js"
import * as Fiber from "effect/Fiber"
import { DeliveryFailed, type EmailMessage, Mailer, type SmsMessage, SmsSender } from "./identity/Ports.js"
import type { IdentityOptions } from "./kernel/Config.js"
import * as Cnv from "./loyalty/Cnv.js"
import { fromPromises, isLoyaltySourcePromises, type LoyaltySourcePromises } from "./loyalty/Source.js"

/**
 * Options of {@link createCustomer360}.
 *
 * - `database`: `{ sqlite: { filename } }` (a file path or `":memory:"`) or `{ postgres: { url } }`.
 * - `now`: the clock every rule uses (default: the system clock). Tests pass a fake one.
 * - `timeZone`: IANA zone for business days (default `Asia/Ho_Chi_Minh`).
 * - `phone`: a block list of numbers that are never a customer's (any format), and whether foreign
 *   numbers are accepted in E.164 form.
 *
 * @since 0.1.0
 */
export interface Customer360Options {
  readonly database:
    | { readonly sqlite: { readonly filename: string; readonly busyTimeoutMs?: number } }
    | { readonly postgres: { readonly url: string; readonly maxConnections?: number; readonly connectTimeoutMs?: number } }
  readonly now?: () => Date
  readonly timeZone?: string
  readonly phone?: { readonly blocked?: Iterable<string>; readonly foreign?: "reject" | "e164" }
  /**
   * `relay`: the name under which this instance records how far its subscribers got in the outbox
   * (default `"default"`); give each process that subscribes its own name.
   */
  readonly events?: { readonly relay?: string; readonly pollIntervalMs?: number }
  /**
   * The shop's bank side (DOMAIN §5): `sepayApiKey` (the webhook's `Authorization: Apikey` key;
   * without it every delivery is refused), `bankBin` and `bankAccount` (the account customers' QR
   * codes pay into), and `shopPhones` / `shopAccounts`, which a transfer's content never matches.
   */
  readonly transfers?: {
    readonly sepayApiKey?: string
    readonly bankBin?: string
    readonly bankAccount?: string
    readonly shopPhones?: Iterable<string>
    readonly shopAccounts?: Iterable<string>
  }
  /** RFM thresholds and mode (DOMAIN §6; docs/purchases.md#rfm); any left out are the defaults. */
  readonly rfm?: Partial<RfmConfig>
  /** Fraud rules replacing the three of DOMAIN §8 (docs/fraud.md). */
  readonly fraud?: { readonly rules?: ReadonlyArray<unknown> }
  /** Password hashing, the login limit and the link codes' limits (docs/identity.md); any left out are the defaults. */
  readonly identity?: IdentityOptions
  /**
   * Sends the link codes of `identity.requestLink` (DOMAIN §9): `send` is called after the commit with
   * `{ kind: "link-code", to, text, code, expiresAt }`; a rejection is logged (without the code) and
   * the caller's answer does not change. Without it no code is sent (each is logged as undelivered).
   */
  readonly sms?: { readonly send: (message: SmsMessage) => Promise<void> }
  /**
   * Sends the e-mail verifications of `identity.register`: `{ kind: "email-verification", to,
   * subject, text, token, expiresAt }`, after the commit; a rejection is logged (without the token).
   * Without it no e-mail is sent.
   */
  readonly mailer?: { readonly send: (message: EmailMessage) => Promise<void> }
  /**
   * Where `loyalty.sync()` reads the loyalty program's customers (docs/loyalty.md): `cnv`, the CNV
   * adapter's options (`{ token }` or `{ getToken }`, `baseUrl`, `pageSize`, timeouts, retries, the
   * query parameters' names), or `source`, a host's own source with Promise methods
   * (`customersUpdatedSince(query)`, `membership(cnvId)`); `source` wins when both are given. Without
   * either, `loyalty.sync()` rejects `LoyaltyNotConfigured`.
   */
  readonly loyalty?: { readonly source?: LoyaltySourcePromises; readonly cnv?: Cnv.CnvOptions }
}

/**
 * The wallet operations of the facade, by the customer's phone in any format: those of the
 * `Wallets` service (see its documentation), as Promises. Expiry is under `jobs`.
 *
 * @since 0.1.0
 */
export type WalletsApi = Registry.ModuleFacades["wallets"]

/**
 * The customer operations of the facade: those of the `Customers` service (see its documentation),
 * as Promises — `findByPhone` and `findById` resolve to the customer or `null`, and `view(phone)`
 * is the service's `view360`. Inputs are checked at run time, so plain JavaScript callers get the
 * same guarantees as typed ones.
 *
 * @since 0.1.0
 */
export type CustomersApi = Registry.ModuleFacades["customers"]

/**
 * The ticket operations of the facade: those of the `Tickets` service, as Promises. The deadline
 * check is under `jobs`.
 *
 * @since 0.2.0
 */
export type TicketsApi = Registry.ModuleFacades["tickets"]

/** Purchases, returns, points and membership, as Promises (the `Purchases` service). @since 0.3.0 */
export type PurchasesApi = Registry.ModuleFacades["purchases"]

/** RFM scores as of now and the recomputation, as Promises (the `Rfm` service). @since 0.3.0 */
export type RfmApi = Registry.ModuleFacades["rfm"]

/** The bank-transfer operations of the facade: those of the `Transfers` service, as Promises. @since 0.2.0 */
export type TransfersApi = Registry.ModuleFacades["transfers"]

/** The notes and activities of a customer, as Promises (the `Notes` service). @since 0.2.0 */
export type NotesApi = Registry.ModuleFacades["notes"]

/**
 * Logins, registration, e-mail verification, completing a profile and linking a walk-in profile by
 * SMS code, as Promises (the `Identity` service; docs/identity.md).
 *
 * @since 0.4.0
 */
export type IdentityApi = Registry.ModuleFacades["identity"]

/** POS imports — `run({ kind, path | stream, format? })` and `get(id)` — as Promises (docs/imports.md). @since 0.5.0 */
export type ImportsApi = Registry.ModuleFacades["imports"]

/** The loyalty sync — `sync()`, `runs()` — as Promises (docs/loyalty.md). @since 0.5.0 */
export type LoyaltyApi = Registry.ModuleFacades["loyalty"]

/** Retail analytics — `sales`, `coupons`, `comparison`, `exportXlsx` — as Promises (docs/analytics.md). @since 0.5.0 */
export type AnalyticsApi = Registry.ModuleFacades["analytics"]

/**
 * The timeline: `c360.timeline(phone, { cursor, limit, kinds })` (also `c360.timeline.timeline`), the
 * `Timeline` service's one operation as a Promise.
 *
 * @since 0.2.0
 */
export type TimelineApi = Registry.ModuleFacades["timeline"]

/**
 * A running library instance. Call `close()` when done: it closes the database.
 *
 * @since 0.1.0
 */
export type Customer360 = Registry.ModuleFacades & {
  readonly jobs: {
    /** Expires the credits due at the configured clock's now: `{ expired, amount }`. */
    readonly expireCredits: (options?: { batchSize?: number; maxBatches?: number }) => Promise<{ expired: number; amount: number }>
    /** Raises to `high`, once, open tickets whose carrier deadline is less than 24 h away: `{ escalated }`. */
    readonly ticketDeadlines: (options?: { batchSize?: number; maxBatches?: number }) => Promise<{ escalated: number }>
  }
  readonly events: {
    /**
     * Calls `handler` for each committed event of `channels`, in commit order per customer, at
     * least once (de-duplicate by `event.id`); returns a function that stops the subscription.
     * While this instance has subscribers, its relay reads the outbox from where it last stopped
     * (the first time a relay name is used: from the instance's creation), so events committed
     * while nobody listened, or while the process was down, are delivered late, not lost. A handler
     * that throws is logged and does not stop it.
     */
    readonly subscribe: (channels: ReadonlyArray<Channel>, handler: (event: StoredEvent) => void) => () => void
  }
  /** Closes the database and stops subscriptions. Idempotent. */
  readonly close: () => Promise<void>
}

/**
 * Anything that went wrong inside the library that is not one of its typed failures. Its message
 * is generic by design; nothing internal leaks through it.
 *
 * @since 0.1.0
 */
export class InternalError extends Error {
  readonly _tag = "InternalError" as const
  constructor() {
    super("customer360: an unexpected internal error occurred")
    this.name = "InternalError"
  }
}

const clockFrom = (now: () => Date): Clock.Clock => {
  const millis = () => {
    const t = now()
    const ms = t instanceof Date ? t.getTime() : NaN
    return Number.isFinite(ms) ? ms : Date.now()
  }
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: millis,
    currentTimeMillis: Effect.sync(millis),
    unsafeCurrentTimeNanos: () => BigInt(millis()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(millis()) * 1_000_000n),
    sleep: (duration) => Effect.sleep(duration).pipe(Effect.withClock(Clock.make()))
  }
}

/** The typed failure of an exit, or `InternalError` for a defect or an interruption. */
const rejection = (cause: Cause.Cause<unknown>): Error => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && failure.value instanceof Error && "_tag" in failure.value) return failure.value
  return new InternalError()
}

const isSender = (u: unknown): u is { readonly send: (message: never) => Promise<void> } =>
  typeof u === "object" && u !== null && typeof (u as { send?: unknown }).send === "function"

/** The ports the host gives as objects with an async `send`, as layers. */
const portsLayer = (options: Customer360Options) => {
  for (const name of ["sms", "mailer"] as const) {
    if (options[name] !== undefined && !isSender(options[name])) {
      throw ValidationError.single(name, "must be an object with a send(message) method returning a Promise")
    }
  }
  const deliver = <M>(port: "sms" | "mailer", send: (message: M) => Promise<void>) => (message: M) =>
    Effect.tryPromise({
      try: () => send(message),
      // the host's error is not kept: it may quote the message, secret included
      catch: () => new DeliveryFailed({ port, reason: "the host's send rejected" })
    })
  const sms = options.sms
  const mailer = options.mailer
  const loyalty = options.loyalty
  if (loyalty !== undefined && (typeof loyalty !== "object" || loyalty === null)) {
    throw ValidationError.single("loyalty", "must be { cnv: { token, … } } or { source }")
  }
  if (loyalty?.source !== undefined && !isLoyaltySourcePromises(loyalty.source)) {
    throw ValidationError.single("loyalty.source", "must be an object with customersUpdatedSince(query) and membership(cnvId) methods returning Promises")
  }
  return Layer.mergeAll(
    sms === undefined ? Layer.empty : Layer.succeed(SmsSender, { send: deliver("sms", (m: SmsMessage) => sms.send(m)) }),
    mailer === undefined ? Layer.empty : Layer.succeed(Mailer, { send: deliver("mailer", (m: EmailMessage) => mailer.send(m)) }),
    loyalty?.source !== undefined ? fromPromises(loyalty.source) : loyalty?.cnv !== undefined ? Cnv.layer(loyalty.cnv) : Layer.empty
  )
}

const storageLayer = async (
  database: Customer360Options["database"]
): Promise<Layer.Layer<StoragePorts, StorageError>> => {
  if (typeof database !== "object" || database === null) {
    throw ValidationError.single("database", "must be { sqlite: { filename } } or { postgres: { url } }")
  }
  if ("sqlite" in database && typeof database.sqlite?.filename === "string") {
    const { SqliteDatabase } = await import("./sqlite.js")
    return SqliteDatabase.layer(database.sqlite)
  }
  if ("postgres" in database && typeof database.postgres?.url === "string") {
    const { PgDatabase } = await import("./pg.js")
    return PgDatabase.layer(database.postgres)
  }
  throw ValidationError.single("database", "must be { sqlite: { filename } } or { postgres: { url } }")
}

/**
 * The operation, unless an argument nests arrays or objects more than 64 levels deep (see
 * `kernel/Nesting.ts`): that is refused with a `ValidationError` before the operation sees it.
 */
const shallow = <A, E>(args: ReadonlyArray<unknown>, operation: () => Effect.Effect<A, E>): Effect.Effect<A, E | ValidationError> =>
  Effect.suspend((): Effect.Effect<A, E | ValidationError> =>
    args.some((arg) => nestsDeeperThan(arg)) ? Effect.fail(tooDeep("The input")) : operation()
  )

/**
 * A service's operations as Promise-returning functions (the facade namespace of its module): each
 * runs its `Effect` on the library's runtime, its arguments checked by {@link shallow}; an
 * `Option` result becomes the value or `null`.
 */
const promised = (
  service: Record<string, unknown>,
  entry: Registry.FacadeEntry,
  execute: (effect: Effect.Effect<unknown, unknown>) => Promise<unknown>
) => {
  const namespace: Record<string, (...args: Array<any>) => Promise<unknown>> = {}
  for (const [name, operation] of Object.entries(service)) {
    if (typeof operation !== "function" || entry.omit.includes(name)) continue
    namespace[entry.rename[name] ?? name] = (...args) =>
      execute(Effect.map(
        shallow(args, () => operation(...args) as Effect.Effect<unknown, unknown>),
        (value) => (Option.isOption(value) ? Option.getOrNull(value) : value)
      ))
  }
  return namespace
}

/**
 * Opens the database, runs its migrations and returns the library. Rejects `ValidationError` for
 * bad options and `StorageError` when the database cannot be opened.
 *
 * @example
 * ```ts
 * const c360 = await createCustomer360({ database: { sqlite: { filename: ":memory:" } } })
 * const customer = await c360.customers.create({ phone: "0912 345 678", name: "Nguyễn Văn An" })
 * await c360.close()
 * ```
 *
 * @since 0.1.0
 */
export const createCustomer360 = async (options: Customer360Options): Promise<Customer360> => {
  if (typeof options !== "object" || options === null) throw ValidationError.single("", "options are required")
  if (options.now !== undefined && typeof options.now !== "function") {
    throw ValidationError.single("now", "must be a function returning a Date")
  }
  const ports = portsLayer(options)
  const storage = await storageLayer(options.database)
  const clock = options.now === undefined ? Layer.empty : Layer.setClock(clockFrom(options.now))
  const runtime = ManagedRuntime.make(
    Library.layer(storage, {
      timeZone: options.timeZone,
      phone: options.phone,
      transfers: options.transfers,
      rfm: options.rfm,
      fraud: options.fraud,
      identity: options.identity
    }).pipe(Layer.provide(Layer.merge(clock, ports)), Layer.merge(clock))
  )
  const built = await Effect.runPromiseExit(runtime.runtimeEffect)
  if (Exit.isFailure(built)) {
    await runtime.dispose()
    throw rejection(built.cause)
  }

  // The relay's starting point is fixed now, before this instance writes anything: a first
  // subscriber then sees every event committed since the instance was created.
  const relayOptions: Relay.RelayOptions = {
    name: typeof options.events?.relay === "string" ? options.events.relay : "default",
    pollInterval: typeof options.events?.pollIntervalMs === "number" ? options.events.pollIntervalMs : 100
  }
  const started = await runtime.runPromiseExit(Relay.start(relayOptions))
  if (Exit.isFailure(started)) {
    await runtime.dispose()
    throw rejection(started.cause)
  }

  let closed = false
  const subscriptions = new Set<Scope.CloseableScope>()
  const execute = <A>(effect: Effect.Effect<A, unknown>): Promise<A> => {
    if (closed) {
      return Promise.reject(new StorageError({ reason: "unavailable", operation: "a call after close()" }))
    }
    return runtime.runPromiseExit(effect).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      throw rejection(exit.cause)
    })
  }
  // Every module's namespace, from the registry: its service's operations as Promises.
  const namespaces: Record<string, Record<string, (...args: Array<any>) => Promise<unknown>>> = {}
  const entries: ReadonlyArray<Registry.FacadeEntry> = Registry.modules.flatMap((m): ReadonlyArray<Registry.FacadeEntry> => [
    ...("facade" in m && m.facade !== undefined ? [m.facade as Registry.FacadeEntry] : []),
    ...("facades" in m ? (m.facades as ReadonlyArray<Registry.FacadeEntry>) : [])
  ])
  for (const entry of entries) {
    const namespace = promised(await runtime.runPromise(entry.service), entry, execute)
    // a namespace with an operation of its own name is also that operation: `c360.timeline(phone)`
    const own = namespace[entry.namespace]
    namespaces[entry.namespace] = own === undefined ? namespace : Object.assign((...args: Array<any>) => own(...args), namespace)
  }
  const wallets = await runtime.runPromise(Wallets)
  const tickets = await runtime.runPromise(Tickets)
  const jobs = {
    expireCredits: (options?: { batchSize?: number; maxBatches?: number }) =>
      execute(shallow([options], () => wallets.expireCredits(options ?? {}))),
    ticketDeadlines: (options?: { batchSize?: number; maxBatches?: number }) =>
      execute(shallow([options], () => tickets.escalateDeadlines(options ?? {})))
  }

  // The relay runs while this instance has subscribers; its checkpoint survives restarts.
  let relay: Fiber.RuntimeFiber<never, unknown> | undefined
  const syncRelay = () => {
    if (subscriptions.size > 0 && relay === undefined) {
      relay = runtime.runFork(Effect.flatMap(EventBus, (bus) => Relay.run(relayOptions, bus.deliver)))
    } else if (subscriptions.size === 0 && relay !== undefined) {
      const fiber = relay
      relay = undefined
      runtime.runFork(Fiber.interrupt(fiber))
    }
  }

  const subscribe = (channels: ReadonlyArray<Channel>, handler: (event: StoredEvent) => void) => {
    if (closed) throw new StorageError({ reason: "unavailable", operation: "a subscription after close()" })
    if (!Array.isArray(channels) || typeof handler !== "function") {
      throw ValidationError.single("", "subscribe(channels: string[], handler: (event) => void)")
    }
    const scope = runtime.runSync(Scope.make())
    subscriptions.add(scope)
    const queue = runtime.runSync(Scope.extend(Effect.flatMap(EventBus, (bus) => bus.subscribe(channels)), scope))
    const deliver = Queue.take(queue).pipe(
      Effect.flatMap((event) =>
        Effect.try(() => handler(event)).pipe(Effect.catchAll((e) => Effect.logError("event handler threw", e)))
      ),
      Effect.forever
    )
    runtime.runSync(Scope.extend(Effect.forkScoped(deliver), scope))
    syncRelay()
    return () => {
      if (subscriptions.delete(scope)) {
        runtime.runFork(Scope.close(scope, Exit.void))
        syncRelay()
      }
    }
  }

  return {
    ...(namespaces as unknown as Registry.ModuleFacades),
    jobs,
    events: { subscribe },
    close: async () => {
      if (closed) return
      closed = true
      if (relay !== undefined) await runtime.runPromise(Fiber.interrupt(relay))
      relay = undefined
      for (const scope of subscriptions) await runtime.runPromise(Scope.close(scope, Exit.void))
      subscriptions.clear()
      await runtime.dispose()
    }
  }
}

/**
 * Normalises a phone number (DOMAIN §1) and returns the canonical string, or throws
 * `InvalidPhone` (an `Error` with `_tag` and `reason`).
 *
 * @since 0.1.0
 */
export const normalizePhone = (input: string, policy?: Phone.PhonePolicy): string => {
  const result = Phone.normalize(input, policy)
  if (result._tag === "Left") throw result.left
  return result.right
}
