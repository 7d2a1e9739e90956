/**
 * The 360 view of a customer (docs/customers.md#the-360-view): the profile and, from every module
 * that has something to say about the customer, its part — the wallet and its latest ledger
 * entries today; tickets, activities, notes and RFM as those modules land.
 *
 * A module contributes a part in two steps: it adds the part's type to {@link View360Parts} by
 * declaration merging, and its registry entry provides a {@link ViewPart} that loads it. The
 * customers module knows none of them.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { StorageError } from "../kernel/Errors.js"
import type { Customer } from "./Customer.js"

/**
 * The parts of the 360 view beyond the profile, by name: each module that contributes one adds
 * its property here (`declare module "…/customers/View360.js" { interface View360Parts { … } }`).
 *
 * @since 0.1.0
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface View360Parts {}

/**
 * The 360 view: the customer and every module's part.
 *
 * @since 0.1.0
 */
export type Customer360View = { readonly customer: Customer } & { readonly [K in keyof View360Parts]: View360Parts[K] }

/**
 * How one module loads its part of the view, for a customer that exists.
 *
 * @since 0.1.0
 */
export interface ViewPart {
  readonly name: keyof View360Parts & string
  readonly load: (customer: Customer) => Effect.Effect<unknown, StorageError>
}

/**
 * Every module's view part. Bound late: the registry registers the parts once every module's
 * service is built (a part needs its module's service, and a module's service may need `Customers`).
 *
 * @since 0.1.0
 */
export class ViewParts extends Context.Tag("customer360/customers/ViewParts")<ViewParts, {
  readonly current: () => ReadonlyArray<ViewPart>
  readonly register: (parts: ReadonlyArray<ViewPart>) => void
}>() {}

/**
 * An empty set of view parts, to register into.
 *
 * @since 0.1.0
 */
export const layerViewParts: Layer.Layer<ViewParts> = Layer.sync(ViewParts, () => {
  let parts: ReadonlyArray<ViewPart> = []
  return {
    current: () => parts,
    register: (more) => {
      parts = [...parts, ...more]
    }
  }
})

/**
 * A part's loader with every failure reported as storage's: for a customer that exists, a part's
 * read can only fail in storage; anything else becomes an `unexpected` storage failure of `operation`.
 *
 * @since 0.2.0
 */
export const asPartFailure = (operation: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, StorageError, R> =>
  Effect.mapError(self, (e) => (e instanceof StorageError ? e : new StorageError({ reason: "unexpected", operation })))
