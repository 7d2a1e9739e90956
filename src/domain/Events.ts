/**
 * Domain events: facts the library publishes after the change that caused them has committed.
 * Every event has a unique `id` so that a consumer can drop a duplicate delivery.
 *
 * @since 0.1.0
 */
import type { Customer, CustomerSource } from "./Customer.js"

/**
 * The streams an event belongs to; a subscriber picks the channels it wants.
 *
 * @since 0.1.0
 */
export type Channel = "customers" | "wallets" | "tickets"

/**
 * Emitted once for each customer created, whatever the source (DOMAIN §2).
 *
 * @since 0.1.0
 */
export interface CustomerCreated {
  readonly id: string
  readonly type: "customer.created"
  readonly channel: "customers"
  /** The customer's id: events about one customer share it. */
  readonly subject: string
  readonly occurredAt: Date
  readonly data: { readonly customer: Customer; readonly source: CustomerSource }
}

/**
 * Every event the library publishes.
 *
 * @since 0.1.0
 */
export type DomainEvent = CustomerCreated
