/**
 * The file formats of the imports and exports: a streaming CSV reader, an XLSX reader and a
 * streaming XLSX writer, over byte sources that run on Node and on Workers alike.
 *
 * @since 0.5.0
 */
export { type ByteSource, type Cell, FileAccessError, FileFormatError, fromBytes, fromPath, fromWebStream, type SheetRow } from "./Source.js"
export { type CsvOptions, readCsv, readCsvBatches } from "./Csv.js"
export {
  type ByteSink,
  type Column,
  type ColumnFormat,
  columnLetters,
  serialOfDay,
  type SheetOptions,
  toPath,
  toWebStream,
  WorkbookError,
  type WritableCell,
  type XlsxWriter,
  xlsxWriter
} from "./XlsxWriter.js"
export { readXlsx, readXlsxBatches, type XlsxOptions } from "./Xlsx.js"
