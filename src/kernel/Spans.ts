/**
 * Tracing: every operation of a service runs in a span named `customer360.<Service>.<operation>`,
 * so a host that provides a tracer (`@effect/opentelemetry`'s, or any `Tracer`) sees each call, with
 * the spans of the SQL statements it runs (`@effect/sql` traces those) under it.
 *
 * Under Effect's built-in tracer — no tracer provided, so nothing exports spans — no span is made:
 * making one costs the write hot path about a fifth of its Node CPU (measured by
 * `npm run bench -- wallet`), for spans nobody reads.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

// The span's name says which operation it is; capturing the call site would cost a stack trace
// (an `Error`) on every call of the hot path.
const NO_STACK_TRACE = { captureStackTrace: false } as const

/** Effect's own tracer, in place when the host provides none. */
const builtInTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/**
 * Runs `effect` in the span `name` when the host provides a tracer (see the module documentation).
 *
 * @since 0.1.0
 */
export const traced = <A, E, R>(effect: Effect.Effect<A, E, R>, name: string): Effect.Effect<A, E, R> =>
  Tracer.tracerWith((tracer) => (tracer === builtInTracer ? effect : Effect.withSpan(effect, name, NO_STACK_TRACE)))

/**
 * The service with each of its operations (a function returning an `Effect`) run in a span of its
 * own name. Properties that are not functions are kept as they are.
 *
 * @since 0.1.0
 */
export const withSpans = <S extends object>(service: string, operations: S): S => {
  const wrapped: Record<string, unknown> = {}
  for (const [name, operation] of Object.entries(operations)) {
    if (typeof operation !== "function") {
      wrapped[name] = operation
      continue
    }
    const span = `customer360.${service}.${name}`
    wrapped[name] = (...args: Array<unknown>) => traced(operation(...args) as Effect.Effect<unknown, unknown, unknown>, span)
  }
  return wrapped as S
}
