/**
 * The wallets module's handlers: decode, check the endpoint's role, call the service, encode.
 *
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { apiOf, authorized, domain } from "../platform/http/HttpKit.js"
import { WalletsGroup } from "./Api.js"
import { Wallets } from "./Wallets.js"

const role = (endpoint: string) => authorized(WalletsGroup, endpoint)

/** The handlers of {@link WalletsGroup}, over the `Wallets` service. @since 0.1.0 */
export const layer = HttpApiBuilder.group(apiOf(WalletsGroup), "wallets", (handlers) =>
  Effect.gen(function*() {
    const wallets = yield* Wallets
    return handlers
      .handle("get", ({ path }) => domain(wallets.get(path.phone)))
      .handle("transactions", ({ path, urlParams }) => domain(wallets.transactions(path.phone, urlParams)))
      .handle("deposit", ({ path, payload }) => role("deposit")(domain(wallets.deposit({ ...payload, phone: path.phone }))))
      .handle("withdraw", ({ path, payload }) => role("withdraw")(domain(wallets.withdraw({ ...payload, phone: path.phone }))))
      .handle("credit", ({ path, payload }) =>
        role("credit")(domain(wallets.issueVirtualCredit({ ...payload, phone: path.phone }))))
      .handle("expireCredits", () => role("expireCredits")(domain(wallets.expireCredits())))
  }))
