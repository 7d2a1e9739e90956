import { SqliteDatabase } from "../src/sqlite.js"
import { importsContract } from "./contract/imports.js"

importsContract(
  "imports on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
