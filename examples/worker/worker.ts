/**
 * The Cloudflare Worker host: the same HTTP API declaration as the Express host, served with
 * `HttpApiBuilder.toWebHandler` over D1 (`customer360/d1`). Bindings (wrangler.toml):
 * - `DB`: the D1 database;
 * - `C360_TOKENS`: `"tok1:manager,tok2:staff,tok3:viewer"` (a secret);
 * - `C360_SEPAY_API_KEY` (a secret), `C360_BANK_BIN`, `C360_BANK_ACCOUNT`, `C360_SHOP_PHONES`,
 *   `C360_SHOP_ACCOUNTS`: the shop's bank side (see `Customer360Http.transfersFromEnv`).
 * The library's layers are built once per isolate, on the first request (migrations included), and
 * reused by every request the isolate serves. No rule lives here.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Customer360 from "../../src/Customer360.js"
import { D1Database } from "../../src/d1.js"
import { Customer360Http } from "../../src/http.js"

export interface Env {
  readonly DB: D1Database.D1DatabaseLike
  readonly C360_TOKENS: string
  readonly C360_SEPAY_API_KEY?: string
  readonly C360_BANK_BIN?: string
  readonly C360_BANK_ACCOUNT?: string
  readonly C360_SHOP_PHONES?: string
  readonly C360_SHOP_ACCOUNTS?: string
}

let handler: ((request: Request) => Promise<Response>) | undefined

const build = (env: Env): (request: Request) => Promise<Response> => {
  const tokens = Customer360Http.parseTokens(env.C360_TOKENS)
  if (Either.isLeft(tokens)) throw new Error(`C360_TOKENS: ${tokens.left.message}`)
  const api = Customer360Http.layer({
    tokens: tokens.right,
    // each event stream polls D1 itself: a Worker request must not wait on another request's work
    eventSharing: "stream",
    eventPollInterval: 500
  }).pipe(
    Layer.provide(Customer360.layer(D1Database.layer({ binding: env.DB }), {
      transfers: Customer360Http.transfersFromEnv(env as unknown as Record<string, string | undefined>)
    }))
  )
  return HttpApiBuilder.toWebHandler(Layer.mergeAll(api, HttpServer.layerContext)).handler
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    handler ??= build(env)
    return handler(request)
  }
}
