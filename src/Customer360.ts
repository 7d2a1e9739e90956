/**
 * The whole library as one layer for Effect users: configuration, the services and the
 * in-process event bus, over a storage layer (`SqliteDatabase.layer` or `PgDatabase.layer`).
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import * as EventBus from "./platform/EventBus.js"
import type { StoragePorts } from "./storage/Storage.js"
import type { StorageError, ValidationError } from "./kernel/Errors.js"
import type { JobLeases } from "./platform/JobLeases.js"
import type { Outbox } from "./platform/Outbox.js"
import * as Config from "./kernel/Config.js"
import type * as Customers from "./customers/Customers.js"
import * as Registry from "./modules.js"
import type * as Wallets from "./wallets/Wallets.js"

/**
 * Everything a host can use once the layer is built.
 *
 * @since 0.1.0
 */
export type Services =
  | Customers.Customers
  | Wallets.Wallets
  | Registry.ModuleServices
  | EventBus.EventBus
  | Outbox
  | JobLeases
  | Config.Customer360Config

/**
 * Builds the services over `storage`. Fails with `ValidationError` for bad options and with
 * `StorageError` when the database cannot be opened or migrated.
 *
 * The identity module's ports to the outside — `Identity.Mailer` (e-mail verification) and
 * `Identity.SmsSender` (link codes) — are optional: provide them under this layer
 * (`Customer360.layer(storage).pipe(Layer.provide(mySmsSenderLayer))`); without them nothing is sent
 * and each message is logged as undelivered, without its secret (docs/identity.md).
 *
 * The loyalty module's port, `Loyalty.LoyaltySource` (the program whose customers `Loyalty.sync` and
 * the `loyalty-sync` job read), is optional the same way: provide `Loyalty.Cnv.layer({ token })` —
 * CNV's API — or a host's own source under this layer; without one a sync fails
 * `LoyaltyNotConfigured` and writes nothing (docs/loyalty.md).
 *
 * @example
 * ```ts
 * import { Customer360, Customers } from "customer360"
 * import { SqliteDatabase } from "customer360/sqlite"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const customers = yield* Customers.Customers
 *   return yield* customers.create({ phone: "+84 912 345 678", name: "Nguyễn Văn An" })
 * })
 * Effect.runPromise(program.pipe(
 *   Effect.provide(Customer360.layer(SqliteDatabase.layer({ filename: "shop.db" })))
 * ))
 * ```
 *
 * @since 0.1.0
 */
export const layer = <E, R>(
  storage: Layer.Layer<StoragePorts, E, R>,
  options: Config.ConfigOptions = {}
): Layer.Layer<Services, E | StorageError | ValidationError, R> => {
  const config = Layer.effect(Config.Customer360Config, Config.make(options))
  return Registry.services.pipe(
    Layer.provideMerge(Layer.mergeAll(config, EventBus.layer)),
    Layer.provideMerge(storage)
  ) as Layer.Layer<Services | StoragePorts, E | StorageError | ValidationError, R>
}
