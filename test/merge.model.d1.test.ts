import { mergeModelContract } from "./contract/merge.model.js"
import { d1Storage } from "./support/d1.js"

// D1 under Miniflare takes ~150 ms a wallet write: a few shops
mergeModelContract("merge, model-based, on Cloudflare D1 (Miniflare)", d1Storage, { runs: 2 })
