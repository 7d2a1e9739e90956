/**
 * What every service does with its input before any rule runs.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { ValidationError } from "./Errors.js"
import { randomBytes as randomBytesOf } from "./Random.js"

/**
 * A synchronous decoder for untyped input (an `Either` is an `Effect`): every issue is reported,
 * unknown keys are refused (a typo is not silently ignored), and a failure is a `ValidationError`
 * naming `what` was being decoded.
 *
 * @since 0.1.0
 */
export const decoder = <A, I>(schema: Schema.Schema<A, I>, what: string) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })
  return (input: unknown): Either.Either<A, ValidationError> =>
    Either.mapLeft(decode(input), (e) => ValidationError.fromParseError(what, e))
}

/**
 * Ten fresh random bytes, for ids.
 *
 * @since 0.1.0
 */
export const randomBytes: Effect.Effect<Uint8Array> = Effect.sync(() => randomBytesOf(10))
