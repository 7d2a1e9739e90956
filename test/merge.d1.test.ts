import { mergeContract } from "./contract/merge.js"
import { d1Storage } from "./support/d1.js"

mergeContract("merge on Cloudflare D1 (Miniflare)", d1Storage)
