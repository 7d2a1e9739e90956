/**
 * The customers module (DOMAIN §2, docs/customers.md): what other modules may use of it.
 *
 * @since 0.1.0
 */
export { Customer, CustomerExists, CustomerId, CustomerNotFound, isCanonicalText, Text } from "./Customer.js"
export { CustomerRepository, memoKeys } from "./CustomerRepository.js"
export { type ActorOptions, Customers } from "./Customers.js"
export { asPartFailure, type Customer360View, type View360Parts, type ViewPart, ViewParts } from "./View360.js"
export {
  type FieldChange,
  journalRow,
  type MergeContext,
  type MergePart,
  type MergePartPlan,
  MergeRefused,
  type MergeResult,
  repoint
} from "./Merge.js"
