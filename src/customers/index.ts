/**
 * The customers module (DOMAIN §2, docs/customers.md): what other modules may use of it.
 *
 * @since 0.1.0
 */
export { Customer, CustomerExists, CustomerId, CustomerNotFound, isCanonicalText, Text } from "./Customer.js"
export { CustomerRepository, memoKeys } from "./CustomerRepository.js"
export { Customers } from "./Customers.js"
export { type Customer360View, type View360Parts, type ViewPart, ViewParts } from "./View360.js"
