import { importsContract } from "./contract/imports.js"
import { d1Storage } from "./support/d1.js"

// D1 under Miniflare answers a statement in milliseconds: smaller files
importsContract("imports on Cloudflare D1 (Miniflare)", d1Storage, { small: true })
