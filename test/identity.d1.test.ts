import { identityContract } from "./contract/identity.js"
import { d1Storage } from "./support/d1.js"

// D1 under Miniflare answers a statement in milliseconds: a shorter brute force, no concurrency runs
identityContract("identity on Cloudflare D1 (Miniflare)", d1Storage, { bruteForceHours: 2 })
