/**
 * customer360: an embeddable Customer 360 core for Vietnamese shops.
 *
 * Effect users compose the namespaces below (`Customer360.layer` over a storage layer from
 * `customer360/sqlite` or `customer360/pg`); everyone else calls {@link createCustomer360}.
 *
 * @since 0.1.0
 */

/** Vietnamese phone numbers: normalisation and validation (DOMAIN §1). @since 0.1.0 */
export * as Phone from "./kernel/Phone.js"
/** The customer model, input schemas and errors (DOMAIN §2). @since 0.1.0 */
export * as Customer from "./customers/Customer.js"
/** Typed failures shared by all modules. @since 0.1.0 */
export * as Errors from "./kernel/Errors.js"
/** Money: integer đồng. @since 0.1.0 */
export * as Money from "./kernel/Money.js"
/** Wallets, credits, the ledger, and the withdrawal and expiry planners (DOMAIN §3). @since 0.1.0 */
export * as Wallet from "./wallets/Wallet.js"
/** Domain events. @since 0.1.0 */
export * as Events from "./kernel/Events.js"
/** Time-ordered ids. @since 0.1.0 */
export * as Ids from "./kernel/Ids.js"
/** The customer service. @since 0.1.0 */
export * as Customers from "./customers/Customers.js"
/**
 * Merging duplicate profiles: the input, the result, the field rule, `MergeRefused`, and the part
 * through which a module moves what it holds (DOMAIN §9a, docs/merge.md). @since 0.4.0
 */
export * as Merge from "./customers/Merge.js"
/** The wallet service. @since 0.1.0 */
export * as Wallets from "./wallets/Wallets.js"
/** The outbox relay. @since 0.1.0 */
export * as Relay from "./platform/Relay.js"
/** Library configuration. @since 0.1.0 */
export * as Config from "./kernel/Config.js"
/** Port: customer storage. @since 0.1.0 */
export * as CustomerRepository from "./customers/CustomerRepository.js"
/** Port: event publishing. @since 0.1.0 */
export * as EventPublisher from "./platform/EventPublisher.js"
/** Port: wallet storage. @since 0.1.0 */
export * as WalletStore from "./wallets/WalletStore.js"
/** Port: reading the outbox. @since 0.1.0 */
export * as Outbox from "./platform/Outbox.js"
/** Port: transactions. @since 0.1.0 */
export * as Transactions from "./platform/Transactions.js"
/** In-process delivery of relayed events to subscribers. @since 0.1.0 */
export * as EventBus from "./platform/EventBus.js"
/** SQL storage over any `SqlClient`: migrations and repositories. @since 0.1.0 */
export * as SqlStorage from "./storage/Storage.js"
/** The whole library as one Effect layer. @since 0.1.0 */
export * as Customer360 from "./Customer360.js"
/** Jobs for a runner: credit expiry, ticket deadlines and the outbox relay, exclusive across processes. @since 0.1.0 */
export * as Jobs from "./jobs/Jobs.js"
/** Tickets: the model, the state table and the code rules (DOMAIN §4). @since 0.2.0 */
export * as Ticket from "./tickets/Ticket.js"
/** The ticket service (DOMAIN §4). @since 0.2.0 */
export * as Tickets from "./tickets/Tickets.js"
/** Notes and activities: the model (DOMAIN §4a). @since 0.2.0 */
export * as Note from "./notes/Note.js"
/** The notes service (DOMAIN §4a). @since 0.2.0 */
export * as Notes from "./notes/Notes.js"
/** The activity log's port (DOMAIN §4a). @since 0.2.0 */
export * as ActivityLog from "./platform/ActivityLog.js"
/** The customer timeline (DOMAIN §4a). @since 0.2.0 */
export * as Timeline from "./timeline/Timeline.js"
/** Bank transfers: the model and the SePay payload (DOMAIN §5). @since 0.2.0 */
export * as Transfer from "./transfers/Transfer.js"
/** The transfer matcher: payment codes and phones in a transfer's content (DOMAIN §5). @since 0.2.0 */
export * as TransferMatcher from "./transfers/Matcher.js"
/** The bank-transfer service (DOMAIN §5). @since 0.2.0 */
export * as Transfers from "./transfers/Transfers.js"
/** VietQR payloads (NAPAS EMVCo). @since 0.2.0 */
export * as VietQr from "./transfers/VietQr.js"
/** Purchases, returns, points and membership levels: the records and pure rules (DOMAIN §7, §7a). @since 0.3.0 */
export * as Purchase from "./purchases/Purchase.js"
/** The purchases service. @since 0.3.0 */
export * as Purchases from "./purchases/Purchases.js"
/** The pure RFM scorer: scores, tiers, segments, explanations, the quantile tie policy (DOMAIN §6). @since 0.3.0 */
export * as RfmModel from "./purchases/Rfm.js"
/** The RFM service: a customer's scores as of now, and the recomputation. @since 0.3.0 */
export * as Rfm from "./purchases/RfmService.js"
/** Business days in the configured time zone, as whole numbers. @since 0.3.0 */
export * as BusinessDay from "./kernel/BusinessDay.js"
/** Customers' payment codes (`N2…`). @since 0.2.0 */
export * as PaymentCode from "./kernel/PaymentCode.js"
/**
 * Identity: logins apart from customer profiles, registration, e-mail verification, login limits,
 * completing a profile, linking a walk-in profile by SMS code; the `Mailer` and `SmsSender` ports
 * (DOMAIN §9, docs/identity.md). @since 0.4.0
 */
export * as Identity from "./identity/index.js"
/** The identity service's shape, `requestLink`'s answer and a link code's status (docs/identity.md). @since 0.4.0 */
export type { IdentityShape } from "./identity/Identity.js"
/** @since 0.4.0 */
export type { ChallengeStatus, LinkRequested } from "./identity/User.js"
/**
 * POS imports: customers, sales and coupons from CSV or XLSX, streamed, validated row by row,
 * re-runnable, linked to customers and purchases (DOMAIN §11, §11a, docs/imports.md). @since 0.5.0
 */
export * as Imports from "./imports/index.js"
/**
 * The loyalty program's customers, synced incrementally from a `LoyaltySource` (the CNV adapter or a
 * host's own), with a runs log and the exclusive `loyalty-sync` job (docs/loyalty.md). @since 0.5.0
 */
export * as Loyalty from "./loyalty/index.js"
/**
 * Retail analytics: sales and coupons by VIP grade, season and shop group, the POS vs loyalty
 * comparison, and their Excel workbooks (docs/analytics.md). @since 0.5.0
 */
export * as Analytics from "./analytics/index.js"
/**
 * The file formats: a streaming CSV reader, an XLSX reader and a streaming XLSX writer with bounded
 * memory (docs/files.md). @since 0.5.0
 */
export * as Files from "./platform/files/index.js"

export {
  createCustomer360,
  type Customer360 as Customer360Instance,
  type Customer360Options,
  type CustomersApi,
  type IdentityApi,
  type ImportsApi,
  type LoyaltyApi,
  type AnalyticsApi,
  type NotesApi,
  type PurchasesApi,
  type RfmApi,
  type TicketsApi,
  type TimelineApi,
  type TransfersApi,
  type WalletsApi,
  InternalError,
  normalizePhone
} from "./Facade.js"
