/**
 * Domain events: facts written to the outbox in the transaction of the change that caused them,
 * then delivered by a relay at least once. Every event has a unique `id`, so a consumer drops a
 * duplicate delivery by remembering the ids it has handled; events of one wallet (one `subject`)
 * are delivered in the order they were committed. `data` is plain JSON (instants as ISO strings).
 *
 * @since 0.1.0
 */

/**
 * The streams an event belongs to; a subscriber picks the channels it wants.
 *
 * @since 0.1.0
 */
export type Channel = "customers" | "wallets" | "tickets"

interface EventOf<Type extends string, C extends Channel, Data> {
  readonly id: string
  readonly type: Type
  readonly channel: C
  /** The customer the event is about: events about one customer share it. */
  readonly subject: string
  readonly occurredAt: Date
  readonly data: Data
}

/** A customer as JSON (see `Customer`): instants are ISO strings. @since 0.1.0 */
export type CustomerJson = { readonly [key: string]: unknown; readonly id: string; readonly phone: string | null }

/** Emitted once for each customer created, whatever the source (DOMAIN §2). @since 0.1.0 */
export type CustomerCreated = EventOf<"customer.created", "customers", {
  readonly customer: CustomerJson
  readonly source: string
}>

/** Money came into the real balance. @since 0.1.0 */
export type WalletDeposit = EventOf<"wallet.deposit", "wallets", {
  readonly transactionId: string
  readonly amount: number
  readonly source: string
  readonly reference: string
  readonly balanceAfter: number
}>

/** Money left the wallet: from credits first, then the real balance. @since 0.1.0 */
export type WalletWithdraw = EventOf<"wallet.withdraw", "wallets", {
  readonly transactionId: string
  readonly amount: number
  readonly fromCredits: ReadonlyArray<{ readonly creditId: string; readonly amount: number }>
  readonly fromReal: number
  readonly reference: string
  readonly balanceAfter: number
}>

/** A virtual credit was issued. @since 0.1.0 */
export type WalletVirtualCredit = EventOf<"wallet.virtual_credit", "wallets", {
  readonly transactionId: string
  readonly creditId: string
  readonly amount: number
  readonly reason: string
  readonly ticketId: string | null
  readonly expiresAt: string
  readonly reference: string
}>

/** A credit's remainder expired and left the wallet. @since 0.1.0 */
export type WalletCreditExpired = EventOf<"wallet.credit_expired", "wallets", {
  readonly creditId: string
  readonly amount: number
  readonly expiresAt: string
}>

/**
 * Every event the library publishes.
 *
 * @since 0.1.0
 */
export type DomainEvent = CustomerCreated | WalletDeposit | WalletWithdraw | WalletVirtualCredit | WalletCreditExpired

/**
 * An event read back from the outbox, with its position in it (opaque, increasing in delivery
 * order; a relay resumes after a position).
 *
 * @since 0.1.0
 */
export type StoredEvent = DomainEvent & { readonly position: string }
