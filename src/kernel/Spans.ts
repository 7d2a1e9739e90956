/**
 * Tracing: every operation of a service runs in a span named `customer360.<Service>.<operation>`,
 * so a host that provides an OpenTelemetry tracer (`@effect/opentelemetry`) sees each call, with
 * the spans of the SQL statements it runs (`@effect/sql` traces those) under it.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

// The span's name says which operation it is; capturing the call site would cost a stack trace
// (an `Error`) on every call of the hot path.
const NO_STACK_TRACE = { captureStackTrace: false } as const

/**
 * The service with each of its operations (a function returning an `Effect`) run in a span of its
 * own name. Properties that are not functions are kept as they are.
 *
 * @since 0.1.0
 */
export const withSpans = <S extends object>(service: string, operations: S): S => {
  const traced: Record<string, unknown> = {}
  for (const [name, operation] of Object.entries(operations)) {
    if (typeof operation !== "function") {
      traced[name] = operation
      continue
    }
    const span = `customer360.${service}.${name}`
    traced[name] = (...args: Array<unknown>) =>
      Effect.withSpan(operation(...args) as Effect.Effect<unknown, unknown, unknown>, span, NO_STACK_TRACE)
  }
  return traced as S
}
