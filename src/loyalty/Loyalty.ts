/**
 * The loyalty service (skeleton).
 *
 * @since 0.5.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

/** The loyalty service's operations. @since 0.5.0 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in with the module
export interface LoyaltyShape {}

/** The loyalty service. @since 0.5.0 */
export class Loyalty extends Context.Tag("customer360/Loyalty")<Loyalty, LoyaltyShape>() {}

/** The service. @since 0.5.0 */
export const layer = Layer.succeed(Loyalty, {})
