/**
 * An `EventSink` that POSTs each batch of events to a webhook as JSON, through the `HttpClient` in
 * context (`FetchHttpClient.layer`, or the host's own).
 *
 * The body is `{ "events": [{ id, type, channel, subject, occurredAt, position, data }, …] }`, in
 * delivery order (per customer, commit order). Any 2xx answer takes the whole batch; anything else,
 * no answer within `timeoutMs` or an unreachable host fails the batch, which the relay sends again
 * on its next run. Delivery is therefore at least once: the receiver de-duplicates by event `id`
 * (batch boundaries are not stable across retries, event ids are).
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ValidationError } from "../../kernel/Errors.js"
import type { StoredEvent } from "../../kernel/Events.js"
import { EventDeliveryFailed, EventSink } from "../EventSink.js"

/**
 * - `url`: where to POST (`http:` or `https:`).
 * - `timeoutMs`: how long to wait for an answer (default 10000).
 * - `headers`: sent with every request (an authorization token, for instance).
 *
 * @since 0.1.0
 */
export interface WebhookOptions {
  readonly url: string
  readonly timeoutMs?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * The JSON form of an event in a webhook body.
 *
 * @since 0.1.0
 */
export const eventJson = (event: StoredEvent) => ({
  id: event.id,
  type: event.type,
  channel: event.channel,
  subject: event.subject,
  occurredAt: event.occurredAt.toISOString(),
  position: event.position,
  data: event.data
})

/**
 * Builds the sink; fails with `ValidationError` for a URL that is not `http:`/`https:` or a bad
 * timeout.
 *
 * @since 0.1.0
 */
export const make = (options: WebhookOptions) =>
  Effect.gen(function*() {
    const url = yield* Effect.try({
      try: () => new URL(options.url),
      catch: () => ValidationError.single("url", "must be an absolute http: or https: URL")
    })
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return yield* ValidationError.single("url", "must be an absolute http: or https: URL")
    }
    const timeoutMs = options.timeoutMs ?? 10_000
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
      return yield* ValidationError.single("timeoutMs", "must be a positive integer")
    }
    // Errors name the origin only: a path or query may carry a secret token.
    const destination = url.origin
    const client = HttpClient.filterStatusOk(yield* HttpClient.HttpClient)
    const base = HttpClientRequest.post(url).pipe(
      HttpClientRequest.setHeaders({ "user-agent": "customer360", ...options.headers })
    )
    return EventSink.of({
      deliver: (events) =>
        events.length === 0 ? Effect.void : client.execute(
          HttpClientRequest.bodyUnsafeJson(base, { events: events.map(eventJson) })
        ).pipe(
          Effect.asVoid,
          Effect.timeoutFail({
            duration: Duration.millis(timeoutMs),
            onTimeout: () => new EventDeliveryFailed({ reason: "timeout", destination })
          }),
          Effect.catchTags({
            RequestError: () => Effect.fail(new EventDeliveryFailed({ reason: "unreachable", destination })),
            ResponseError: (e) =>
              Effect.fail(
                e.reason === "StatusCode"
                  ? new EventDeliveryFailed({ reason: "rejected", destination, status: e.response.status })
                  : new EventDeliveryFailed({ reason: "unexpected", destination })
              )
          })
        )
    })
  })

/**
 * The webhook sink as a layer; provide an `HttpClient` (`FetchHttpClient.layer` from
 * `@effect/platform` uses the platform's `fetch`).
 *
 * @since 0.1.0
 */
export const layer = (options: WebhookOptions): Layer.Layer<EventSink, ValidationError, HttpClient.HttpClient> =>
  Layer.effect(EventSink, make(options))
