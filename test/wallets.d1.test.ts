import { walletContract } from "./contract/wallets.js"
import { d1Storage } from "./support/d1.js"

walletContract("wallets on Cloudflare D1 (Miniflare)", d1Storage)
