import { loyaltyContract } from "./contract/loyalty.js"
import { d1Storage } from "./support/d1.js"

// D1 under Miniflare answers a statement in milliseconds: a smaller data set
loyaltyContract("the loyalty sync on Cloudflare D1 (Miniflare)", d1Storage, { customers: 4 })
