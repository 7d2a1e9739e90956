/**
 * The identity module's ports to the outside world: `Mailer` (e-mail verification) and `SmsSender`
 * (link codes). The library calls them only after the transaction that made the message has
 * committed, never inside one (a transaction may run again). A failed send is logged — without the
 * message's secret — and does not change what the caller is answered.
 *
 * Adapters: `layerConsole` prints each message, secret included, to standard output — **for
 * development only**; `makeTest` collects them in memory, for tests. When a host provides no adapter,
 * the library uses one that sends nothing and logs a warning (no secret) for each message.
 *
 * @since 0.4.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/** A port could not deliver a message. Never carries the message's secret. @since 0.4.0 */
export class DeliveryFailed extends Schema.TaggedError<DeliveryFailed>()("DeliveryFailed", {
  port: Schema.Literal("mailer", "sms"),
  reason: Schema.String
}) {
  override get message(): string {
    return `The ${this.port} could not deliver a message: ${this.reason}`
  }
}

/**
 * An e-mail to send: the address, a subject and a plain-text body; for a verification, its `token`
 * too (the host builds its own link with it) and when it expires.
 *
 * @since 0.4.0
 */
export interface EmailMessage {
  readonly kind: "email-verification"
  readonly to: string
  readonly subject: string
  readonly text: string
  readonly token: string
  readonly expiresAt: Date
}

/** A text message to send: the canonical phone, the body, and the link code it carries. @since 0.4.0 */
export interface SmsMessage {
  readonly kind: "link-code"
  readonly to: string
  readonly text: string
  readonly code: string
  readonly expiresAt: Date
}

/** Sends e-mail. @since 0.4.0 */
export class Mailer extends Context.Tag("customer360/identity/Mailer")<Mailer, {
  readonly send: (message: EmailMessage) => Effect.Effect<void, DeliveryFailed>
}>() {}

/** Sends text messages. @since 0.4.0 */
export class SmsSender extends Context.Tag("customer360/identity/SmsSender")<SmsSender, {
  readonly send: (message: SmsMessage) => Effect.Effect<void, DeliveryFailed>
}>() {}

/**
 * A `Mailer` that prints every e-mail, token included, to standard output. For development only:
 * it writes secrets to the console by design.
 *
 * @since 0.4.0
 */
export const mailerConsole: Layer.Layer<Mailer> = Layer.succeed(Mailer, {
  // eslint-disable-next-line no-console -- printing is this development adapter's whole purpose
  send: (m) => Effect.sync(() => console.log(`[customer360 mailer, development] to ${m.to}: ${m.subject}\n${m.text}`))
})

/**
 * An `SmsSender` that prints every text message, code included, to standard output. For development
 * only: it writes secrets to the console by design.
 *
 * @since 0.4.0
 */
export const smsConsole: Layer.Layer<SmsSender> = Layer.succeed(SmsSender, {
  // eslint-disable-next-line no-console -- printing is this development adapter's whole purpose
  send: (m) => Effect.sync(() => console.log(`[customer360 sms, development] to ${m.to}: ${m.text}`))
})

/**
 * Test adapters: both ports as layers, and the messages they were given, in order. `failing` makes
 * every send fail (to test that a failed send changes nothing a caller sees).
 *
 * @since 0.4.0
 */
export const makeTest = (options: { readonly failing?: boolean } = {}) => {
  const emails: Array<EmailMessage> = []
  const sms: Array<SmsMessage> = []
  const outcome = (port: "mailer" | "sms") =>
    options.failing === true ? Effect.fail(new DeliveryFailed({ port, reason: "the test adapter fails" })) : Effect.void
  return {
    emails,
    sms,
    layer: Layer.merge(
      Layer.succeed(Mailer, { send: (m) => Effect.zipRight(Effect.sync(() => emails.push(m)), outcome("mailer")) }),
      Layer.succeed(SmsSender, { send: (m) => Effect.zipRight(Effect.sync(() => sms.push(m)), outcome("sms")) })
    )
  }
}

/** The `Mailer` used when the host gives none: sends nothing, logs a warning without the token. @since 0.4.0 */
export const mailerUnconfigured: Context.Tag.Service<Mailer> = {
  send: () => Effect.fail(new DeliveryFailed({ port: "mailer", reason: "no mailer is configured" }))
}

/** The `SmsSender` used when the host gives none: sends nothing, logs a warning without the code. @since 0.4.0 */
export const smsUnconfigured: Context.Tag.Service<SmsSender> = {
  send: () => Effect.fail(new DeliveryFailed({ port: "sms", reason: "no SMS sender is configured" }))
}
