/**
 * The identity module's HTTP group: empty on purpose. The library serves staff endpoints; signing
 * customers in is a host's business (its sessions, its rate limits per IP), so the customer-facing
 * routes live in the host (the Express example's `/api/account/*`), over the `Identity` service.
 *
 * @since 0.4.0
 */
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"

/** No endpoints (see the module documentation). @since 0.4.0 */
export class IdentityGroup extends HttpApiGroup.make("identity") {}
