/**
 * The imports service (skeleton).
 *
 * @since 0.5.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

/** The imports service's operations. @since 0.5.0 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in with the module
export interface ImportsShape {}

/** The imports service. @since 0.5.0 */
export class Imports extends Context.Tag("customer360/Imports")<Imports, ImportsShape>() {}

/** The service. @since 0.5.0 */
export const layer = Layer.succeed(Imports, {})
