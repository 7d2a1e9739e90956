import { mergeModulesContract } from "./contract/merge.modules.js"
import { d1Storage } from "./support/d1.js"

// D1 under Miniflare answers a statement in tens of milliseconds: one note instead of three
mergeModulesContract("the modules' merge parts on Cloudflare D1 (Miniflare)", d1Storage, { notes: 1 })
