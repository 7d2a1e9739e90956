import { SqliteDatabase } from "../src/sqlite.js"
import { walletContract } from "./contract/wallets.js"

walletContract(
  "wallets on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
