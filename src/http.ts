/**
 * The HTTP API (`customer360/http`): declared once with `@effect/platform` `HttpApi`, served by any
 * host (Express through `NodeHttpServer.makeHandler`, a Worker through `HttpApiBuilder.toWebHandler`).
 *
 * @since 0.1.0
 */
export * as Customer360Api from "./http/Api.js"
export * as Customer360Http from "./http/Handlers.js"
