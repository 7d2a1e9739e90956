/**
 * Text input: every string a caller sends is trimmed, bounded, and free of control characters and
 * unpaired surrogates (PostgreSQL refuses NUL; SQLite would store it silently).
 *
 * @since 0.2.0
 */
import * as Schema from "effect/Schema"


const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
 
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/
 
const CONTROL_OR_NEWLINE = /[\u0000-\u001F\u007F]/

/**
 * A trimmed, non-empty single-line text of at most `max` characters (or multi-line when
 * `multiline`), without control characters or unpaired surrogates.
 *
 * @since 0.1.0
 */
export const Text = (max: number, options?: { readonly multiline?: boolean }) =>
  Schema.Trim.pipe(
    Schema.minLength(1, { message: () => "must not be empty" }),
    Schema.maxLength(max, { message: () => `must be at most ${max} characters` }),
    Schema.filter((s) => !(options?.multiline ? CONTROL : CONTROL_OR_NEWLINE).test(s), {
      message: () => "must not contain control characters"
    }),
    Schema.filter((s) => !LONE_SURROGATE.test(s), { message: () => "must be valid Unicode text" })
  )

/**
 * Whether `Text(max, options)` decodes `u` to `u` itself: a string that needs no trimming and passes
 * every check. Lets a hot path take canonical input as is; anything else goes through the schema.
 *
 * @since 0.1.0
 */
export const isCanonicalText = (u: unknown, max: number, options?: { readonly multiline?: boolean }): u is string =>
  typeof u === "string" && u.length >= 1 && u.length <= max && u.trim().length === u.length &&
  !(options?.multiline ? CONTROL : CONTROL_OR_NEWLINE).test(u) && !LONE_SURROGATE.test(u)
