/**
 * The file formats of the imports and exports: a streaming CSV reader, an XLSX reader and a
 * streaming XLSX writer, over byte sources that run on Node and on Workers alike.
 *
 * @since 0.5.0
 */
import type * as M0 from "./Source.js"
import type * as M1 from "./Csv.js"
import type * as M2 from "./XlsxWriter.js"
import type * as M3 from "./Xlsx.js"
export { FileAccessError, FileFormatError, fromBytes, fromPath, fromWebStream } from "./Source.js"
export { readCsv, readCsvBatches } from "./Csv.js"
export { columnLetters, serialOfDay, toPath, toWebStream, WorkbookError, xlsxWriter } from "./XlsxWriter.js"
export { readXlsx, readXlsxBatches } from "./Xlsx.js"
// Types as local aliases: re-exported types of a namespace would be made values by the declaration
// bundler (their declarations live in a chunk shared with the other entry points).
/** The type of that name in `Source.ts` (see there). @since 0.5.0 */
export type ByteSource = M0.ByteSource
/** The type of that name in `Source.ts` (see there). @since 0.5.0 */
export type Cell = M0.Cell
/** The type of that name in `Source.ts` (see there). @since 0.5.0 */
export type SheetRow = M0.SheetRow
/** The type of that name in `Csv.ts` (see there). @since 0.5.0 */
export type CsvOptions = M1.CsvOptions
/** The type of that name in `XlsxWriter.ts` (see there). @since 0.5.0 */
export type ByteSink = M2.ByteSink
/** The type of that name in `XlsxWriter.ts` (see there). @since 0.5.0 */
export type Column = M2.Column
/** The type of that name in `XlsxWriter.ts` (see there). @since 0.5.0 */
export type ColumnFormat = M2.ColumnFormat
/** The type of that name in `XlsxWriter.ts` (see there). @since 0.5.0 */
export type SheetOptions = M2.SheetOptions
/** The type of that name in `XlsxWriter.ts` (see there). @since 0.5.0 */
export type WritableCell = M2.WritableCell
/** The type of that name in `XlsxWriter.ts` (see there). @since 0.5.0 */
export type XlsxWriter = M2.XlsxWriter
/** The type of that name in `Xlsx.ts` (see there). @since 0.5.0 */
export type XlsxOptions = M3.XlsxOptions
