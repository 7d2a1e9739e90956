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

/** A purchase as JSON (see `Purchase`): instants are ISO strings. @since 0.3.0 */
export type PurchaseJson = { readonly [key: string]: unknown; readonly id: string; readonly reference: string }

/** A purchase was recorded (DOMAIN §7a), once per reference. @since 0.3.0 */
export type CustomerPurchaseRecorded = EventOf<"customer.purchase_recorded", "customers", {
  readonly purchase: PurchaseJson
  readonly totalSpent: number
  readonly points: number
}>

/** A return of a purchase was recorded (DOMAIN §7a), once per reference. @since 0.3.0 */
export type CustomerReturnRecorded = EventOf<"customer.return_recorded", "customers", {
  readonly returnId: string
  readonly reference: string
  readonly purchaseReference: string
  readonly amount: number
  readonly pointsTakenBack: number
  readonly totalSpent: number
  readonly points: number
}>

/** The customer's membership level changed with its total spent (DOMAIN §7). @since 0.3.0 */
export type CustomerLevelChanged = EventOf<"customer.level_changed", "customers", {
  readonly from: string
  readonly to: string
  readonly totalSpent: number
}>

/**
 * The customer's tier changed (DOMAIN §6): by a purchase or return, an RFM recomputation, a fraud
 * blacklist or its clearing — once per real change, never on a re-run.
 *
 * @since 0.3.0
 */
export type CustomerTierChanged = EventOf<"customer.tier_changed", "customers", {
  readonly from: string
  readonly to: string
  readonly r: number | null
  readonly f: number | null
  readonly m: number | null
  readonly reason: string
}>

/** A fraud rule fired on the customer (DOMAIN §8): its decision, with the evidence. @since 0.3.0 */
export type CustomerFlagged = EventOf<"customer.flagged", "customers", {
  readonly decisionId: string
  readonly ruleId: string
  readonly ruleVersion: number
  readonly action: string
  readonly severity: string
}>

/** Staff cleared a fraud flag of the customer, with a reason. @since 0.3.0 */
export type CustomerFlagCleared = EventOf<"customer.flag_cleared", "customers", {
  readonly flag: string
  readonly actor: string
  readonly reason: string
}>

/**
 * Duplicate profiles were merged into a survivor (DOMAIN §9a): the journal's id, every field that
 * changed and what each module moved. Published on the survivor (`subject`), once per merge.
 *
 * @since 0.4.0
 */
export type CustomerMerged = EventOf<"customer.merged", "customers", {
  readonly mergeId: string
  readonly survivorId: string
  readonly mergedIds: ReadonlyArray<string>
  readonly actor: string
  readonly fields: ReadonlyArray<{ readonly customerId: string; readonly field: string; readonly before: unknown; readonly after: unknown }>
  readonly moved: ReadonlyArray<{ readonly customerId: string; readonly parts: Readonly<Record<string, unknown>> }>
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
  | CustomerPurchaseRecorded
  | CustomerReturnRecorded
  | CustomerLevelChanged
  | CustomerTierChanged
  | CustomerFlagged
  | CustomerFlagCleared
  | CustomerMerged

/**
 * An event read back from the outbox, with its position in it (opaque, increasing in delivery
 * order; a relay resumes after a position).
 *
 * @since 0.1.0
 */
export type StoredEvent = DomainEvent & { readonly position: string }
