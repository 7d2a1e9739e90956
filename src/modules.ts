/**
 * The registry: every module of the library, in dependency order, and what each contributes —
 * migrations and its repository layer here; services, API groups, handlers, jobs and facade
 * namespaces where those are assembled (`Customer360.ts`, `http/`, `jobs/`, `Facade.ts`), each of
 * which reads this list. Adding a module means adding its folder and one entry here (README,
 * "Adding a module").
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Layer from "effect/Layer"
import * as CustomerMigrations from "./customers/Migrations.js"
import * as CustomerRepository from "./customers/CustomerRepository.js"
import * as PlatformMigrations from "./platform/sql/Migrations.js"
import type { UnitOfWork } from "./platform/UnitOfWork.js"
import * as WalletMigrations from "./wallets/Migrations.js"
import * as WalletStore from "./wallets/WalletStore.js"

/** What a module contributes to storage. @internal */
export interface StorageModule<Repositories> {
  readonly name: string
  /** Its migrations, ids in its own range (customers 0100–0199, wallets 0200–0299, …). */
  readonly migrations: PlatformMigrations.Migrations
  /** Its repositories: one SQL implementation over the client and the unit of work, every engine. */
  readonly repositories: Layer.Layer<Repositories, never, SqlClient.SqlClient | UnitOfWork>
}

/** @internal */
export const customers: StorageModule<CustomerRepository.CustomerRepository> = {
  name: "customers",
  migrations: CustomerMigrations.migrations,
  repositories: CustomerRepository.layer
}

/** @internal */
export const wallets: StorageModule<WalletStore.WalletStore> = {
  name: "wallets",
  migrations: WalletMigrations.migrations,
  repositories: WalletStore.layer
}

/** Every module, in dependency order. @internal */
export const modules = [customers, wallets] as const

/** The repositories every module provides. @internal */
export type ModuleRepositories = RepositoriesOf<(typeof modules)[number]>
type RepositoriesOf<M> = M extends StorageModule<infer R> ? R : never

/** Every migration: the platform's, then each module's. @internal */
export const migrations: PlatformMigrations.Migrations = Object.assign(
  {},
  PlatformMigrations.migrations,
  ...modules.map((m) => m.migrations)
)
