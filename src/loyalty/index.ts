/**
 * The loyalty module (DOMAIN §11, docs/loyalty.md): the loyalty program's customers synced
 * incrementally from a `LoyaltySource` — the CNV adapter (`Cnv`), or a host's own — with a runs log,
 * a checkpoint, crash-safe pages and the exclusive `loyalty-sync` job.
 *
 * @since 0.5.0
 */
export {
  Loyalty,
  LOYALTY_SYNC_LEASE,
  type LoyaltyShape,
  SyncFailed,
  SyncInProgress,
  type SyncOptions,
  type SyncPosition,
  type SyncReport,
  type SyncRun
} from "./Loyalty.js"
export type { SyncFailure } from "./LoyaltyRepository.js"
export {
  fromPromises,
  isLoyaltySourcePromises,
  type LoyaltyCustomerRecord,
  type LoyaltyMembership,
  LoyaltyNotConfigured,
  type LoyaltyPage,
  LoyaltyRecordRejected,
  LoyaltySource,
  LoyaltySourceFailed,
  type LoyaltySourcePromises,
  type LoyaltySourceShape,
  type PageQuery,
  type RejectedRecord
} from "./Source.js"
export * as Cnv from "./Cnv.js"
export { loyaltySync, loyaltySyncCron } from "./Jobs.js"
