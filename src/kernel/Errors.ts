/**
 * Typed failures shared by every module. Each is an `Error` with a `_tag` and a readable
 * `message`; none carries a driver error, a stack of the database client or a SQL text.
 *
 * @since 0.1.0
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * One problem in an input: where (`path`, dotted, empty for the whole input) and what.
 *
 * @since 0.1.0
 */
export class ValidationIssue extends Schema.Class<ValidationIssue>("ValidationIssue")({
  path: Schema.String,
  message: Schema.String
}) {}

/**
 * The input does not have the shape or the values an operation accepts. Nothing was written.
 *
 * @since 0.1.0
 */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  message: Schema.String,
  issues: Schema.Array(ValidationIssue)
}) {
  /** Builds the error from a Schema parse failure, one issue per failing path. */
  static fromParseError(what: string, error: ParseResult.ParseError): ValidationError {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(error).map((i) =>
      new ValidationIssue({ path: i.path.map(String).join("."), message: i.message })
    )
    const first = issues[0]
    const summary = first === undefined
      ? "is invalid"
      : first.path === "" ? first.message : `${first.path}: ${first.message}`
    return new ValidationError({ message: `Invalid ${what}: ${summary}`, issues })
  }

  /** A single-issue error. */
  static single(path: string, message: string): ValidationError {
    return new ValidationError({
      message: path === "" ? message : `${path}: ${message}`,
      issues: [new ValidationIssue({ path, message })]
    })
  }
}

/**
 * Why the storage could not do what was asked:
 * - `unavailable`: the database cannot be reached or the connection broke; retrying later may work.
 * - `contention`: the write lost a race (serialization failure, deadlock, busy database) more times
 *   than the retry budget allows; retrying later may work.
 * - `corrupt`: a stored row does not decode (the schema was changed outside the library).
 * - `unexpected`: anything else; the message says which operation failed.
 *
 * @since 0.1.0
 */
export const StorageErrorReason = Schema.Literal("unavailable", "contention", "corrupt", "unexpected")

/**
 * The database failed. Carries the operation and a reason, never the driver's error text.
 *
 * @since 0.1.0
 */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  reason: StorageErrorReason,
  operation: Schema.String
}) {
  override get message(): string {
    const why = {
      unavailable: "the database is unavailable",
      contention: "too many concurrent writes conflicted; try again",
      corrupt: "a stored row could not be read",
      unexpected: "the database reported an unexpected error"
    }[this.reason]
    return `Storage failed during ${this.operation}: ${why}`
  }
}
