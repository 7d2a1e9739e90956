import { SqliteDatabase } from "../src/sqlite.js"
import { mergeWalletsContract } from "./contract/merge.wallets.js"

mergeWalletsContract(
  "the wallets merge part on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
