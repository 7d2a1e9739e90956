/**
 * What the file readers and the writer share: a cell, a row, the typed errors, and the byte sources
 * a reader accepts. A source is any `AsyncIterable<Uint8Array>` (a Node `Readable` is one);
 * `fromPath` and `fromWebStream` adapt a file and a web `ReadableStream`. Nothing here imports
 * `node:` modules at the top: the library also runs on Cloudflare Workers, so `fromPath` loads
 * `node:fs` only when it is called.
 *
 * @since 0.5.0
 */
import type * as NodeFs from "node:fs"
import { Schema } from "effect"

/**
 * One cell as a reader returns it and the writer takes it: CSV cells are always strings (an empty
 * field is `""`); XLSX cells are strings, numbers (as stored: a date is its Excel serial number),
 * booleans, or `null` for an absent cell.
 *
 * @since 0.5.0
 */
export type Cell = string | number | boolean | null

/**
 * One record of a sheet: `line` is where it starts — the 1-based physical line of a CSV file (the
 * header is line 1; skipped empty lines still count), or the row number `r` of an XLSX sheet.
 *
 * @since 0.5.0
 */
export interface SheetRow {
  readonly line: number
  readonly cells: ReadonlyArray<Cell>
}

/**
 * A byte source for the readers: any async iterable of byte chunks, which may be split anywhere.
 *
 * @since 0.5.0
 */
export type ByteSource = AsyncIterable<Uint8Array>

/**
 * The file is not what its reader accepts (invalid UTF-8, an unterminated quote, not a ZIP archive,
 * no such sheet …). `line` is the line (CSV) or row (XLSX) where the problem was found, `0` when it
 * is about the file as a whole. Thrown from the readers' iterators; never a hang, never a raw error.
 *
 * @since 0.5.0
 */
export class FileFormatError extends Schema.TaggedError<FileFormatError>()("FileFormatError", {
  line: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return this.line > 0 ? `Line ${this.line}: ${this.reason}` : this.reason
  }
}

/**
 * A file could not be opened, read or written (missing, no permission, disk full …); `reason` is
 * the system's explanation. Nothing about the file's content is implied.
 *
 * @since 0.5.0
 */
export class FileAccessError extends Schema.TaggedError<FileAccessError>()("FileAccessError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Cannot access ${this.path}: ${this.reason}`
  }
}

let loadedFs: Promise<typeof NodeFs> | undefined

/**
 * `node:fs`, loaded once on first use, without an `import` of it that a bundler or a Worker's module
 * loader would have to resolve (a Worker never opens a path): `process.getBuiltinModule` (Node
 * 20.16+), else a dynamic import the bundler does not see.
 *
 * @internal
 */
export const nodeFs = (): Promise<typeof NodeFs> => {
  if (loadedFs !== undefined) return loadedFs
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  const builtin = proc?.getBuiltinModule?.("node:fs") as typeof NodeFs | undefined
  // a Function body hides the import from bundlers (see above)
  loadedFs = builtin !== undefined
    ? Promise.resolve(builtin)
    : (new Function("s", "return import(s)") as (s: string) => Promise<typeof NodeFs>)("node:fs")
  return loadedFs
}

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * The bytes of a file, streamed in chunks of `chunkSize` bytes (default 256 KiB). Opens the file
 * lazily with `node:fs`; a missing or unreadable file throws a `FileAccessError` from the iterator.
 *
 * @since 0.5.0
 */
export async function* fromPath(path: string, options?: { readonly chunkSize?: number }): AsyncGenerator<Uint8Array> {
  const fs = await nodeFs()
  const stream = fs.createReadStream(path, { highWaterMark: options?.chunkSize ?? 256 * 1024 })
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array>) yield chunk
  } catch (cause) {
    throw new FileAccessError({ path, reason: describe(cause) })
  } finally {
    stream.destroy()
  }
}

/**
 * The chunks of a web `ReadableStream` (a `fetch` body, a Worker request). When the consumer stops
 * early the stream is cancelled; a failing stream throws a `FileAccessError` (path `"stream"`).
 *
 * @since 0.5.0
 */
export async function* fromWebStream(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader()
  let done = false
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>
      try {
        next = await reader.read()
      } catch (cause) {
        throw new FileAccessError({ path: "stream", reason: describe(cause) })
      }
      if (next.done) {
        done = true
        return
      }
      yield next.value
    }
  } finally {
    if (!done) await reader.cancel().catch(() => undefined)
    reader.releaseLock()
  }
}

/**
 * The bytes as one source, in chunks of at most `chunkSize` bytes — for tests and small in-memory
 * files.
 *
 * @since 0.5.0
 */
export async function* fromBytes(bytes: Uint8Array, chunkSize = 256 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += chunkSize) yield bytes.subarray(at, Math.min(bytes.length, at + chunkSize))
}

/**
 * The rows of batches one by one. Hand-written rather than an async generator's `yield*`: a row
 * already in the batch is answered with an already-resolved promise, which costs a fraction of a
 * generator's round trip — it is the per-row cost of a million-row import. Internal to the readers.
 *
 * @since 0.5.0
 */
export const flatten = <A>(batches: AsyncIterator<ReadonlyArray<A>>): AsyncIterableIterator<A> => {
  let batch: ReadonlyArray<A> = []
  let at = 0
  let finished = false
  const pull = async (): Promise<IteratorResult<A>> => {
    for (;;) {
      if (at < batch.length) return { done: false, value: batch[at++] as A }
      if (finished) return { done: true, value: undefined }
      const next = await batches.next()
      if (next.done === true) {
        finished = true
        batch = []
      } else {
        batch = next.value
      }
      at = 0
    }
  }
  const iterator: AsyncIterableIterator<A> = {
    next: () => (at < batch.length ? Promise.resolve({ done: false, value: batch[at++] as A }) : pull()),
    return: async (): Promise<IteratorResult<A>> => {
      if (!finished) {
        finished = true
        batch = []
        await batches.return?.()
      }
      return { done: true, value: undefined }
    },
    [Symbol.asyncIterator]: () => iterator
  }
  return iterator
}
