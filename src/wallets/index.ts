/**
 * The wallets module (DOMAIN §3, docs/wallets.md): what other modules may use of it — the service
 * (a ticket that issues a credit, a transfer that deposits, in the caller's unit of work), the
 * model's results and errors.
 *
 * @since 0.1.0
 */
export {
  CreditResult,
  DepositResult,
  IdempotencyConflict,
  InsufficientFunds,
  LedgerEntry,
  WalletView,
  WithdrawResult
} from "./Wallet.js"
export { Wallets } from "./Wallets.js"
