/**
 * The imports module (DOMAIN §11, §11a, docs/imports.md): POS customers, sales and coupons from CSV
 * or XLSX, validated row by row, re-runnable, linked to the library's customers and purchases; the
 * value rules and the retail rules the analytics share.
 *
 * @since 0.5.0
 */
export { ImportAborted, type ImportError, type ImportFormat, type ImportInput, ImportNotFound, type ImportProgress, type ImportReport, Imports, type ImportsShape } from "./Imports.js"
export { COLUMNS, ImportHeaderInvalid, ImportKind, KINDS, type Mapping, type RowFailure } from "./Kinds.js"
export { GRADES, Grade, gradeRank, NON_VIP, parseGrade, type Season, seasonOf, shopGroupOf } from "./Retail.js"
export * as Values from "./Values.js"
