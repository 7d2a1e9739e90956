import { identityContract } from "./contract/identity.js"
import { d1Storage } from "./support/d1.js"

// D1 under Miniflare answers a statement in milliseconds: a lower login limit (the rule is the same
// for any limit; 100 runs on the other engines), a shorter brute force, no concurrency runs
identityContract("identity on Cloudflare D1 (Miniflare)", d1Storage, { loginLimit: 20, bruteForceHours: 2 })
