import { customerContract } from "./contract/customers.js"
import { d1Storage } from "./support/d1.js"

customerContract("customers on Cloudflare D1 (Miniflare)", d1Storage)
