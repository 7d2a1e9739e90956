import { SqliteDatabase } from "../src/sqlite.js"
import { loyaltyContract } from "./contract/loyalty.js"

loyaltyContract(
  "the loyalty sync on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
