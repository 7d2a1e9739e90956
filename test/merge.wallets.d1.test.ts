import { mergeWalletsContract } from "./contract/merge.wallets.js"
import { d1Storage } from "./support/d1.js"

mergeWalletsContract("the wallets merge part on Cloudflare D1 (Miniflare)", d1Storage)
