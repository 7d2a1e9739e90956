/**
 * The wallets module's HTTP endpoints (`/api/wallet/:phone…`, `/api/jobs/expire-credits`), each with
 * the role it requires declared once (docs/wallets.md).
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as Schema from "effect/Schema"
import { Authentication, IntFromString, PhoneParam, withRole } from "../platform/http/HttpKit.js"
import { CreditResult, DepositResult, DepositSource, LedgerEntry, WalletView, WithdrawResult } from "./Wallet.js"

/** A page of ledger entries, newest first; pass `nextCursor` as `cursor` to read on. @since 0.1.0 */
export const TransactionsPage = Schema.Struct({
  items: Schema.Array(LedgerEntry),
  nextCursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "TransactionsPage" })

// Bodies are declared with their JSON shape only; the services validate every value and answer
// with the library's own error codes (INVALID_PHONE, INVALID_AMOUNT, VALIDATION_ERROR).

/** Body of `POST /api/wallet/:phone/deposit`. @since 0.1.0 */
export const DepositBody = Schema.Struct({
  amount: Schema.Number,
  reference: Schema.String,
  source: Schema.encodedSchema(DepositSource),
  note: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "DepositBody" })

/** Body of `POST /api/wallet/:phone/withdraw`. @since 0.1.0 */
export const WithdrawBody = Schema.Struct({
  amount: Schema.Number,
  reference: Schema.String,
  note: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "WithdrawBody" })

/** Body of `POST /api/wallet/:phone/virtual-credit`. @since 0.1.0 */
export const CreditBody = Schema.Struct({
  amount: Schema.Number,
  reason: Schema.String,
  reference: Schema.String,
  expiresInDays: Schema.optional(Schema.Number),
  expiresAt: Schema.optional(Schema.String),
  ticketId: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "CreditBody" })

/** Result of `POST /api/jobs/expire-credits`. @since 0.1.0 */
export const ExpiryResult = Schema.Struct({ expired: Schema.Int, amount: Schema.Int }).annotations({
  identifier: "ExpiryResult"
})

/** `/api/wallet/:phone…` and `/api/jobs/expire-credits`. @since 0.1.0 */
export class WalletsGroup extends HttpApiGroup.make("wallets")
  .add(HttpApiEndpoint.get("get")`/wallet/${PhoneParam}`.addSuccess(WalletView))
  .add(
    HttpApiEndpoint.get("transactions")`/wallet/${PhoneParam}/transactions`
      .setUrlParams(Schema.Struct({ limit: Schema.optional(IntFromString), cursor: Schema.optional(Schema.String) }))
      .addSuccess(TransactionsPage)
  )
  .add(
    HttpApiEndpoint.post("deposit")`/wallet/${PhoneParam}/deposit`
      .setPayload(DepositBody)
      .addSuccess(DepositResult)
      .pipe(withRole("staff", "Deposit real money; idempotent by reference"))
  )
  .add(
    HttpApiEndpoint.post("withdraw")`/wallet/${PhoneParam}/withdraw`
      .setPayload(WithdrawBody)
      .addSuccess(WithdrawResult)
      .pipe(withRole("manager", "Withdraw: credits first, then real money; idempotent by reference"))
  )
  .add(
    HttpApiEndpoint.post("credit")`/wallet/${PhoneParam}/virtual-credit`
      .setPayload(CreditBody)
      .addSuccess(CreditResult)
      .pipe(withRole("manager", "Issue a virtual credit; idempotent by reference"))
  )
  .add(
    HttpApiEndpoint.post("expireCredits", "/jobs/expire-credits")
      .addSuccess(ExpiryResult)
      .pipe(withRole("manager", "Expire the credits due now"))
  )
  .middleware(Authentication)
  .prefix("/api")
{}
