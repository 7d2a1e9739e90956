import { SqliteDatabase } from "../src/sqlite.js"
import { mergeWalletsContract } from "./contract/merge.wallets.js"

mergeWalletsContract("the wallets merge part on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
