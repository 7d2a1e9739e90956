import { SqliteDatabase } from "../src/sqlite.js"
import { walletContract } from "./contract/wallets.js"

walletContract("wallets on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
