/**
 * The wallets module's part of the 360 view: the wallet as of now and its latest ledger entries.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { asPartFailure, type Customer, type ViewPart } from "../customers/index.js"
import type { WalletView } from "./Wallet.js"
import { type TransactionsPage, Wallets } from "./Wallets.js"

declare module "../customers/View360.js" {
  interface View360Parts {
    /** The wallet as of now. */
    readonly wallet: WalletView
    /** The 20 latest ledger entries, newest first. */
    readonly transactions: TransactionsPage
  }
}

/** How many ledger entries the view shows. */
const LATEST = 20

const asStorage = asPartFailure

/**
 * The wallet parts of the view, over the `Wallets` service.
 *
 * @since 0.1.0
 */
export const viewParts: Effect.Effect<ReadonlyArray<ViewPart>, never, Wallets> = Effect.map(Wallets, (wallets) => [
  {
    name: "wallet",
    load: (customer: Customer) => asStorage("reading the wallet of a 360 view")(wallets.get(customer.phone ?? ""))
  },
  {
    name: "transactions",
    load: (customer: Customer) =>
      asStorage("reading the transactions of a 360 view")(wallets.transactions(customer.phone ?? "", { limit: LATEST }))
  }
])
