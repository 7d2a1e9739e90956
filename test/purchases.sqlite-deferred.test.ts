import { SqliteDatabase } from "../src/sqlite.js"
import { purchaseContract } from "./contract/purchases.js"

purchaseContract(
  "purchases on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
