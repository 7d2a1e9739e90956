/**
 * The purchases module (DOMAIN §6, §7, §7a; docs/purchases.md): what other modules may use of it —
 * purchases, returns, points and membership, and RFM scores and tiers.
 *
 * @since 0.3.0
 */
export {
  CustomerBlacklisted,
  type Level,
  levelFor,
  type Membership,
  type PointsEntry,
  Purchase,
  PurchaseItem,
  PurchaseNotFound,
  PurchaseReturn,
  ReturnExceedsPurchase
} from "./Purchase.js"
export { Purchases } from "./Purchases.js"
export { type RfmResult, type Score, type SegmentName } from "./Rfm.js"
export { Rfm, type RfmView } from "./RfmService.js"
