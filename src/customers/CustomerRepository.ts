/**
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type {
  Customer,
  CustomerExists,
  CustomerId,
  CustomerStatus,
  CustomerTier,
  CustomerType,
  Gender,
  MembershipLevel
} from "./Customer.js"
import type { StorageError } from "../kernel/Errors.js"
import type { Phone } from "../kernel/Phone.js"

/**
 * The columns an update may set, already validated and normalised; absent keys are left as they
 * are.
 *
 * @since 0.1.0
 */
export interface CustomerChanges {
  readonly phone?: Phone | null | undefined
  readonly name?: string | null | undefined
  readonly email?: string | null | undefined
  readonly address?: string | null | undefined
  readonly city?: string | null | undefined
  readonly province?: string | null | undefined
  readonly birthDate?: string | null | undefined
  readonly gender?: Gender | null | undefined
  readonly notes?: string | null | undefined
  readonly type?: CustomerType | undefined
  readonly status?: CustomerStatus | undefined
  readonly membershipLevel?: MembershipLevel | undefined
  readonly updatedAt: Date
}

/**
 * What to look for. `phoneFragment` (digits) and `text` (already folded by `foldText`) are
 * alternatives; filters are ANDed; results are newest first.
 *
 * @since 0.1.0
 */
export interface SearchCriteria {
  readonly phoneFragment?: string | undefined
  readonly text?: string | undefined
  readonly type?: ReadonlyArray<CustomerType> | undefined
  readonly status?: ReadonlyArray<CustomerStatus> | undefined
  readonly tier?: ReadonlyArray<CustomerTier> | undefined
  readonly membershipLevel?: ReadonlyArray<MembershipLevel> | undefined
  readonly offset: number
  readonly limit: number
}

/**
 * Storage of customer profiles. Phone and e-mail uniqueness is the storage's job (unique
 * constraints), never a read before a write.
 *
 * @since 0.1.0
 */
export interface CustomerRepository {
  /** Inserts a new customer; a taken phone or e-mail fails with `CustomerExists`. */
  readonly insert: (customer: Customer) => Effect.Effect<Customer, CustomerExists | StorageError>
  /**
   * Inserts the customer unless its phone is taken, in one statement (`ON CONFLICT DO NOTHING`);
   * returns the stored customer for that phone and whether this call created it. Under any
   * concurrency exactly one caller gets `created: true`.
   */
  readonly insertOrGet: (
    customer: Customer & { readonly phone: Phone }
  ) => Effect.Effect<{ readonly customer: Customer; readonly created: boolean }, StorageError>
  readonly findById: (id: CustomerId) => Effect.Effect<Option.Option<Customer>, StorageError>
  readonly findByPhone: (phone: Phone) => Effect.Effect<Option.Option<Customer>, StorageError>
  /** Applies the changes in one statement; `None` when no customer has the id. */
  readonly update: (
    id: CustomerId,
    changes: CustomerChanges
  ) => Effect.Effect<Option.Option<Customer>, CustomerExists | StorageError>
  readonly search: (
    criteria: SearchCriteria
  ) => Effect.Effect<{ readonly items: ReadonlyArray<Customer>; readonly total: number }, StorageError>
}

/** @since 0.1.0 */
export const CustomerRepository: Context.Tag<CustomerRepository, CustomerRepository> = Context.GenericTag<
  CustomerRepository
>("customer360/CustomerRepository")
