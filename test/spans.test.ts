/**
 * Every operation of every service runs in a span of its own name (`customer360.<Service>.<op>`),
 * so a host's OpenTelemetry exporter sees each call. The test provides a tracer that records the
 * names of the spans it is asked for, then calls every operation of every service once — with
 * input good or bad: a refused call is a traced call too.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Tracer from "effect/Tracer"
import { Customers } from "../src/customers/Customers.js"
import * as Jobs from "../src/jobs/Jobs.js"
import { SqliteDatabase } from "../src/sqlite.js"
import { Wallets } from "../src/wallets/Wallets.js"
import { servicesOver } from "./contract/customers.js"

const recorded: Array<string> = []
let next = 0
const recordingTracer = Tracer.make({
  span: (name, parent, context, links, startTime, kind) => {
    recorded.push(name)
    const spanId = `span${next++}`
    return {
      _tag: "Span",
      name,
      spanId,
      traceId: "trace",
      parent,
      context,
      status: { _tag: "Started", startTime },
      attributes: new Map(),
      links,
      sampled: true,
      kind,
      end: () => {},
      attribute: () => {},
      event: () => {},
      addLinks: () => {}
    }
  },
  context: (f) => f()
})

const services = Jobs.layer({ holder: "spans" }).pipe(
  Layer.provide(Jobs.logSink),
  Layer.provideMerge(servicesOver(SqliteDatabase.layer({ filename: ":memory:" })))
)

/** Calls every function of the service with `{}`-like arguments, ignoring the outcome. */
const callAll = (service: object) =>
  Effect.forEach(Object.entries(service), ([, operation]) =>
    typeof operation === "function"
      ? Effect.exit(Effect.suspend(() => operation("0912345678", {}) as Effect.Effect<unknown, unknown>))
      : Effect.exit(operation as Effect.Effect<unknown, unknown>), { discard: true })

describe("tracing", () => {
  it.layer(services)((it) => {
    it.effect("every operation of Customers, Wallets and Jobs runs in a span named customer360.<Service>.<operation>", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const jobs = yield* Jobs.Jobs
        recorded.length = 0
        yield* Effect.withTracer(
          Effect.all([callAll(customers), callAll(wallets), callAll({ ...jobs, run: () => jobs.run("relay") })]),
          recordingTracer
        )
        const expected = [
          ...Object.keys(customers).map((op) => `customer360.Customers.${op}`),
          ...Object.keys(wallets).map((op) => `customer360.Wallets.${op}`),
          ...["expireCredits", "relay", "run", "runExclusive"].map((op) => `customer360.Jobs.${op}`)
        ]
        expect(Object.keys(customers)).toContain("create")
        expect(Object.keys(wallets)).toContain("deposit")
        for (const name of expected) expect(recorded, name).toContain(name)
      }))
  })
})
