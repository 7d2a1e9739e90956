import { SqliteDatabase } from "../src/sqlite.js"
import { identityContract } from "./contract/identity.js"

identityContract(
  "identity on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true }),
  { concurrentLogins: 130, concurrentConfirmations: 10 }
)
