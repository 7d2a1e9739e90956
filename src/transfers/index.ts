/**
 * The transfers module (DOMAIN §5, docs/transfers.md): what other modules may use of it.
 *
 * @since 0.2.0
 */
export { BankTransfer, TransferAlreadyLinked, TransferNotFound, type TransferStatus, WebhookUnauthorized } from "./Transfer.js"
export { Transfers } from "./Transfers.js"
export { parseVietQr, vietQr, VietQrError } from "./VietQr.js"
