/**
 * Runs the Express host. Configuration from the environment:
 * - `DATABASE_URL`: PostgreSQL; otherwise the SQLite file `C360_SQLITE_FILE` (default `.data/customer360.sqlite`).
 * - `C360_TOKENS`: `"tok1:manager,tok2:staff,tok3:viewer"` (required).
 * - `C360_SEPAY_API_KEY`, `C360_BANK_BIN`, `C360_BANK_ACCOUNT`, `C360_SHOP_PHONES` (comma-separated),
 *   `C360_SHOP_ACCOUNTS`: the shop's bank side (SePay's webhook key, the account QR codes pay into).
 * - `C360_ACCOUNT_JWT_SECRET`: the key the customer-facing `/api/account/*` routes sign their tokens
 *   with, at least 32 bytes (e.g. `openssl rand -base64 48`); unset, those routes answer 503 (account.ts).
 *   Their e-mails and text messages go to the console adapters, which print tokens and codes: for
 *   development only — a real host passes its own `mailer` and `sms` layers.
 * - `C360_CNV_TOKEN`: the CNV loyalty API's bearer token; with it, `POST /api/jobs/loyalty-sync` syncs the
 *   loyalty program's customers (docs/loyalty.md), without it that answers 503. `C360_CNV_BASE_URL`
 *   (default https://apis.cnvloyalty.com), `C360_CNV_PAGE_SIZE`, `C360_CNV_TIMEOUT_MS`, `C360_CNV_MAX_ATTEMPTS`.
 * - `PORT` (default 3000), `HOST` (default 127.0.0.1).
 * The HTTP server's limits are the host's defaults (see app.ts): headers within 10 s, the whole
 * request within 30 s, 16 KiB of headers, 5 s keep-alive, 1,024 connections.
 * SIGINT/SIGTERM: stop listening; answers in flight get `Connection: close`, idle kept-alive
 * connections are closed and a request still arriving on one gets 503; the requests in flight
 * finish and are answered (at most 10 s), then the event streams end and the database closes.
 */
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import { Customer360Http } from "../../src/http.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Identity } from "../../src/index.js"
import { Cnv, LoyaltySource } from "../../src/loyalty/index.js"
import { createApp } from "./app.js"

const env = process.env
if (!env.C360_TOKENS) {
  console.error("C360_TOKENS is required, e.g. C360_TOKENS=\"$(openssl rand -hex 16):manager\"")
  process.exit(2)
}
const sqlite = env.C360_SQLITE_FILE ?? ".data/customer360.sqlite"
if (!env.DATABASE_URL && sqlite !== ":memory:") mkdirSync(dirname(sqlite), { recursive: true })

// The loyalty program's source: CNV's API when its token is given; bad C360_CNV_* values stop the start.
const cnvOptions = Cnv.optionsFromEnv(env)
const cnv = cnvOptions === undefined ? undefined : Effect.runSync(Effect.either(Cnv.make(cnvOptions)))
if (cnv !== undefined && cnv._tag === "Left") {
  console.error(`C360_CNV_*: ${cnv.left.message}`)
  process.exit(2)
}
const loyalty = cnv === undefined ? undefined : Layer.succeed(LoyaltySource, cnv.right)

const app = await createApp({
  database: env.DATABASE_URL ? { postgres: env.DATABASE_URL } : { sqlite },
  tokens: env.C360_TOKENS,
  transfers: Customer360Http.transfersFromEnv(env),
  identity: { mailer: Identity.mailerConsole, sms: Identity.smsConsole },
  ...(loyalty === undefined ? {} : { loyalty }),
  account: { jwtSecret: env.C360_ACCOUNT_JWT_SECRET || undefined }
})
if (!env.C360_ACCOUNT_JWT_SECRET) console.warn("C360_ACCOUNT_JWT_SECRET is not set: the /api/account routes answer 503")
const { url, close } = await app.listen(Number(env.PORT ?? 3000), env.HOST ?? "127.0.0.1")
console.log(`customer360 API listening on ${url} (${env.DATABASE_URL ? "PostgreSQL" : `SQLite ${sqlite}`})`)

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.log(`${signal}: draining requests and closing the database`)
    close().then(() => process.exit(0), (e) => {
      console.error(e)
      process.exit(1)
    })
  })
}
