/**
 * The imports module (DOMAIN §11, §11a, docs/imports.md): POS customers, sales and coupons from CSV
 * or XLSX, validated row by row, re-runnable, linked to the library's customers and purchases; the
 * value rules and the retail rules the analytics share.
 *
 * @since 0.5.0
 */
import type * as M0 from "./Imports.js"
import type * as M1 from "./Kinds.js"
import type * as M2 from "./Retail.js"
export { ImportAborted, ImportNotFound, Imports } from "./Imports.js"
export { COLUMNS, ImportHeaderInvalid, ImportKind, KINDS } from "./Kinds.js"
export { GRADES, Grade, gradeRank, NON_VIP, parseGrade, seasonOf, shopGroupOf } from "./Retail.js"
export * as Values from "./Values.js"
// Types as local aliases: re-exported types of a namespace would be made values by the declaration
// bundler (their declarations live in a chunk shared with the other entry points).
/** The type of that name in `Imports.ts` (see there). @since 0.5.0 */
export type ImportError = M0.ImportError
/** The type of that name in `Imports.ts` (see there). @since 0.5.0 */
export type ImportFormat = M0.ImportFormat
/** The type of that name in `Imports.ts` (see there). @since 0.5.0 */
export type ImportInput = M0.ImportInput
/** The type of that name in `Imports.ts` (see there). @since 0.5.0 */
export type ImportProgress = M0.ImportProgress
/** The type of that name in `Imports.ts` (see there). @since 0.5.0 */
export type ImportReport = M0.ImportReport
/** The type of that name in `Imports.ts` (see there). @since 0.5.0 */
export type ImportsShape = M0.ImportsShape
/** The type of that name in `Kinds.ts` (see there). @since 0.5.0 */
export type Mapping = M1.Mapping
/** The type of that name in `Kinds.ts` (see there). @since 0.5.0 */
export type RowFailure = M1.RowFailure
/** The type of that name in `Retail.ts` (see there). @since 0.5.0 */
export type Season = M2.Season
