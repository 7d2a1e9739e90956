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
export type Channel = "customers" | "wallets" | "tickets" | "transfers"

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

/** A ticket as JSON (see `Ticket`): instants are ISO strings. @since 0.2.0 */
export type TicketJson = { readonly [key: string]: unknown; readonly id: string; readonly code: string }

/** A ticket was opened (DOMAIN §4). @since 0.2.0 */
export type TicketCreated = EventOf<"ticket.created", "tickets", { readonly ticket: TicketJson }>

/**
 * A ticket changed: a transition other than completion, an assignment, a note, a priority or
 * carrier change, a special action. `action` names what happened.
 *
 * @since 0.2.0
 */
export type TicketUpdated = EventOf<"ticket.updated", "tickets", { readonly ticket: TicketJson; readonly action: string }>

/** A ticket reached `completed`. @since 0.2.0 */
export type TicketCompleted = EventOf<"ticket.completed", "tickets", { readonly ticket: TicketJson }>

/** A bank transfer as JSON (see `BankTransfer`). @since 0.2.0 */
export type TransferJson = { readonly [key: string]: unknown; readonly id: string; readonly providerId: string }

/**
 * A bank transfer was received (once per provider id), with how it was matched. `subject` is the
 * customer when it matched, else the transfer's id.
 *
 * @since 0.2.0
 */
export type TransferReceived = EventOf<"transfer.received", "transfers", { readonly transfer: TransferJson }>

/** A transfer was linked to a customer (by the matcher or by staff), with its deposit if any. @since 0.2.0 */
export type TransferLinked = EventOf<"transfer.linked", "transfers", {
  readonly transfer: TransferJson
  readonly depositTransactionId: string | null
}>

/** A note was added to a customer (DOMAIN §4a). @since 0.2.0 */
export type CustomerNoteAdded = EventOf<"customer.note_added", "customers", {
  readonly noteId: string
  readonly author: string
  readonly text: string
}>

/**
 * Every event the library publishes.
 *
 * @since 0.1.0
 */
export type DomainEvent =
  | CustomerCreated
  | CustomerNoteAdded
  | WalletDeposit
  | WalletWithdraw
  | WalletVirtualCredit
  | WalletCreditExpired
  | TicketCreated
  | TicketUpdated
  | TicketCompleted
  | TransferReceived
  | TransferLinked

/**
 * An event read back from the outbox, with its position in it (opaque, increasing in delivery
 * order; a relay resumes after a position).
 *
 * @since 0.1.0
 */
export type StoredEvent = DomainEvent & { readonly position: string }
