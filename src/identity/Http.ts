/**
 * The identity group's handlers: none, as the group has no endpoints (see `Api.ts`).
 *
 * @since 0.4.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { apiOf } from "../platform/http/HttpKit.js"
import { IdentityGroup } from "./Api.js"

/** The (empty) handlers of {@link IdentityGroup}. @since 0.4.0 */
export const layer = HttpApiBuilder.group(apiOf(IdentityGroup), "identity", (handlers) => handlers)
