/**
 * The loyalty module (DOMAIN §11, docs/loyalty.md): the loyalty program's customers synced
 * incrementally from a `LoyaltySource` — the CNV adapter (`Cnv`), or a host's own — with a runs log,
 * a checkpoint, crash-safe pages and the exclusive `loyalty-sync` job.
 *
 * @since 0.5.0
 */
import type * as M0 from "./Loyalty.js"
import type * as M1 from "./Source.js"
import type * as M2 from "./LoyaltyRepository.js"
export { Loyalty, LOYALTY_SYNC_LEASE, SyncFailed, SyncInProgress } from "./Loyalty.js"
export { fromPromises, isLoyaltySourcePromises, LoyaltyNotConfigured, LoyaltyRecordRejected, LoyaltySource, LoyaltySourceFailed } from "./Source.js"
export * as Cnv from "./Cnv.js"
export { loyaltySync, loyaltySyncCron } from "./Jobs.js"
// Types as local aliases: re-exported types of a namespace would be made values by the declaration
// bundler (their declarations live in a chunk shared with the other entry points).
/** The type of that name in `Loyalty.ts` (see there). @since 0.5.0 */
export type LoyaltyShape = M0.LoyaltyShape
/** The type of that name in `Loyalty.ts` (see there). @since 0.5.0 */
export type SyncOptions = M0.SyncOptions
/** The type of that name in `Loyalty.ts` (see there). @since 0.5.0 */
export type SyncPosition = M0.SyncPosition
/** The type of that name in `Loyalty.ts` (see there). @since 0.5.0 */
export type SyncReport = M0.SyncReport
/** The type of that name in `Loyalty.ts` (see there). @since 0.5.0 */
export type SyncRun = M0.SyncRun
/** The type of that name in `Source.ts` (see there). @since 0.5.0 */
export type LoyaltyCustomerRecord = M1.LoyaltyCustomerRecord
/** The type of that name in `Source.ts` (see there). @since 0.5.0 */
export type LoyaltyMembership = M1.LoyaltyMembership
/** The type of that name in `Source.ts` (see there). @since 0.5.0 */
export type LoyaltyPage = M1.LoyaltyPage
/** The type of that name in `Source.ts` (see there). @since 0.5.0 */
export type LoyaltySourcePromises = M1.LoyaltySourcePromises
/** The type of that name in `Source.ts` (see there). @since 0.5.0 */
export type LoyaltySourceShape = M1.LoyaltySourceShape
/** The type of that name in `Source.ts` (see there). @since 0.5.0 */
export type PageQuery = M1.PageQuery
/** The type of that name in `Source.ts` (see there). @since 0.5.0 */
export type RejectedRecord = M1.RejectedRecord
/** The type of that name in `LoyaltyRepository.ts` (see there). @since 0.5.0 */
export type SyncFailure = M2.SyncFailure
