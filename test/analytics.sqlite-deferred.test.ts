import { SqliteDatabase } from "../src/sqlite.js"
import { analyticsContract } from "./contract/analytics.js"

analyticsContract(
  "retail analytics on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
