/**
 * The registry: every module of the library, in dependency order, and everything each contributes —
 * its migrations, its repository layer (one SQL implementation for every engine), its service
 * layer, its HTTP group and handlers, its part of the 360 view, its event channels and its
 * Promise-facade namespace. Storage (`storage/Storage.ts`), the library layer (`Customer360.ts`),
 * the HTTP API (`http/`) and the facade (`Facade.ts`) are composed from this file alone. Adding a
 * module means adding its folder, its entry here and its place in {@link modules} (README, "Adding a
 * module").
 *
 * @internal
 */
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import { CustomersGroup } from "./customers/Api.js"
import * as CustomerRepository from "./customers/CustomerRepository.js"
import * as Customers from "./customers/Customers.js"
import * as CustomersHttp from "./customers/Http.js"
import * as WalletMerge from "./wallets/Merge.js"
import * as NotesMerge from "./notes/Merge.js"
import * as TicketMerge from "./tickets/Merge.js"
import * as TransferMerge from "./transfers/Merge.js"
import * as PurchaseMerge from "./purchases/Merge.js"
import * as FraudMerge from "./fraud/Merge.js"
import * as CustomerMigrations from "./customers/Migrations.js"
import { layerViewParts, type ViewPart, ViewParts } from "./customers/View360.js"
import { layerMergeParts, type MergePart, MergeParts } from "./customers/Merge.js"
import type { Channel } from "./kernel/Events.js"
import * as PlatformMigrations from "./platform/sql/Migrations.js"
import type { ScheduledJob } from "./platform/ScheduledJob.js"
import type { UnitOfWork } from "./platform/UnitOfWork.js"
import { WalletsGroup } from "./wallets/Api.js"
import * as WalletsHttp from "./wallets/Http.js"
import * as WalletJobs from "./wallets/Jobs.js"
import * as WalletMigrations from "./wallets/Migrations.js"
import * as WalletStore from "./wallets/WalletStore.js"
import * as Wallets from "./wallets/Wallets.js"
import * as WalletView from "./wallets/View.js"
import { NotesGroup } from "./notes/Api.js"
import * as NotesHttp from "./notes/Http.js"
import * as NoteMigrations from "./notes/Migrations.js"
import * as NoteRepository from "./notes/NoteRepository.js"
import * as NotesService from "./notes/Notes.js"
import * as NotesView from "./notes/View.js"
import { TicketsGroup } from "./tickets/Api.js"
import * as TicketsHttp from "./tickets/Http.js"
import * as TicketJobs from "./tickets/Jobs.js"
import * as TicketMigrations from "./tickets/Migrations.js"
import * as TicketRepository from "./tickets/TicketRepository.js"
import * as TicketsService from "./tickets/Tickets.js"
import * as TicketView from "./tickets/View.js"
import { TransfersGroup } from "./transfers/Api.js"
import * as TransfersHttp from "./transfers/Http.js"
import * as TransferMigrations from "./transfers/Migrations.js"
import * as TransferRepository from "./transfers/TransferRepository.js"
import * as TransfersService from "./transfers/Transfers.js"
import * as TransferView from "./transfers/View.js"
import { TimelineGroup } from "./timeline/Api.js"
import * as TimelineHttp from "./timeline/Http.js"
import * as TimelineService from "./timeline/Timeline.js"
import { PurchasesGroup } from "./purchases/Api.js"
import * as PurchasesHttp from "./purchases/Http.js"
import * as PurchaseJobs from "./purchases/Jobs.js"
import * as PurchaseMigrations from "./purchases/Migrations.js"
import * as PurchaseRepository from "./purchases/PurchaseRepository.js"
import * as PurchasesService from "./purchases/Purchases.js"
import * as RfmRepository from "./purchases/RfmRepository.js"
import * as RfmService from "./purchases/RfmService.js"
import * as PurchasesView from "./purchases/View.js"
import { StatsGroup } from "./stats/Api.js"
import * as StatsHttp from "./stats/Http.js"
import * as StatsService from "./stats/Stats.js"
import * as StatsRepository from "./stats/StatsRepository.js"
import { FraudGroup } from "./fraud/Api.js"
import * as FraudRepository from "./fraud/FraudRepository.js"
import * as FraudService from "./fraud/FraudService.js"
import * as FraudHttp from "./fraud/Http.js"
import * as FraudJobs from "./fraud/Jobs.js"
import * as FraudMigrations from "./fraud/Migrations.js"
import * as FraudView from "./fraud/View.js"
import { IdentityGroup } from "./identity/Api.js"
import * as IdentityHttp from "./identity/Http.js"
import * as IdentityService from "./identity/Identity.js"
import * as IdentityRepository from "./identity/IdentityRepository.js"
import * as IdentityMigrations from "./identity/Migrations.js"
import { ImportsGroup } from "./imports/Api.js"
import * as ImportsHttp from "./imports/Http.js"
import * as ImportsService from "./imports/Imports.js"
import * as ImportMigrations from "./imports/Migrations.js"
import * as ImportRepository from "./imports/ImportRepository.js"
import * as ImportMerge from "./imports/Merge.js"
import { LoyaltyGroup } from "./loyalty/Api.js"
import * as LoyaltyHttp from "./loyalty/Http.js"
import * as LoyaltyService from "./loyalty/Loyalty.js"
import * as LoyaltyMigrations from "./loyalty/Migrations.js"
import * as LoyaltyRepository from "./loyalty/LoyaltyRepository.js"
import * as LoyaltyJobs from "./loyalty/Jobs.js"
import { AnalyticsGroup } from "./analytics/Api.js"
import * as AnalyticsHttp from "./analytics/Http.js"
import * as AnalyticsService from "./analytics/Analytics.js"
import * as AnalyticsMigrations from "./analytics/Migrations.js"
import * as AnalyticsRepository from "./analytics/AnalyticsRepository.js"

/**
 * What a module contributes. `Repositories`, `Services` and `Group` are its own types; the
 * requirements are what it needs from the modules before it and from the platform.
 *
 * @internal
 */
export interface Module<Repositories, Services, ServicesIn, Group extends HttpApiGroup.HttpApiGroup.Any, HandlersIn> {
  readonly name: string
  /**
   * Its migrations. Ids are global and only ever grow: the migrator runs the migrations whose id is
   * above the highest one a database has run, so a migration added later — to any module — takes
   * the next free id above every existing one (the first of each module started its own range:
   * customers 0100, wallets 0200, …; the merge's are 0850–0870, identity's 0900).
   */
  readonly migrations: PlatformMigrations.Migrations
  /** Its repositories: one SQL implementation over the client and the unit of work, every engine. */
  readonly repositories: Layer.Layer<Repositories, never, SqlClient.SqlClient | UnitOfWork>
  /** Its services (the use cases: transactions, pure rules, events). */
  readonly services: Layer.Layer<Services, never, ServicesIn>
  /** Its HTTP endpoints, and the handlers that serve them over its services. */
  readonly api: Group
  readonly handlers: Layer.Layer<HttpApiGroup.ApiGroup<"customer360", HttpApiGroup.HttpApiGroup.Name<Group>>, never, HandlersIn>
  /** Its parts of the 360 view, if any. */
  readonly viewParts?: Effect.Effect<ReadonlyArray<ViewPart>, never, Services> | undefined
  /** How it moves what it holds of a profile merged into another (docs/merge.md), if it holds anything. */
  readonly mergeParts?: Effect.Effect<ReadonlyArray<MergePart>, never, any> | undefined
  /** The outbox channels its events go to. */
  readonly channels: ReadonlyArray<Channel>
  /**
   * Its namespace of the Promise facade: the service's operations as Promise-returning functions
   * (see `Facade.ts`), with some renamed or left out.
   */
  readonly facade?: FacadeEntry | undefined
  /** More namespaces, for a module with more than one service (purchases: `purchases` and `rfm`). */
  readonly facades?: ReadonlyArray<FacadeEntry> | undefined
  /** Its scheduled jobs, by the key of their options in `JobsOptions` (`expiry` for `expire-credits`). */
  readonly jobs?: Readonly<Record<string, ScheduledJob<string, any, any>>> | undefined
}

/** How a module's service appears in the Promise facade. @internal */
export interface FacadeEntry {
  readonly namespace: string
  readonly service: Context.Tag<any, any>
  readonly rename: Readonly<Record<string, string>>
  readonly omit: ReadonlyArray<string>
}

/** Customers (DOMAIN §2, docs/customers.md). @internal */
export const customers = {
  name: "customers",
  migrations: CustomerMigrations.migrations,
  repositories: CustomerRepository.layer,
  services: Customers.layer,
  api: CustomersGroup,
  handlers: CustomersHttp.layer,
  channels: ["customers"],
  facade: {
    namespace: "customers",
    service: Customers.Customers,
    rename: { view360: "view" },
    // the identity module's
    omit: ["createForUser"]
  } as const
} satisfies Module<any, any, any, typeof CustomersGroup, any>

/** Wallets (DOMAIN §3, docs/wallets.md). @internal */
export const wallets = {
  name: "wallets",
  migrations: WalletMigrations.migrations,
  repositories: WalletStore.layer,
  services: Wallets.layer,
  api: WalletsGroup,
  handlers: WalletsHttp.layer,
  viewParts: WalletView.viewParts,
  mergeParts: WalletMerge.mergeParts,
  channels: ["wallets"],
  // expiry is a job: the facade has it under `jobs`
  facade: { namespace: "wallets", service: Wallets.Wallets, rename: {}, omit: ["expireCredits", "ledgerOf"] } as const,
  jobs: { expiry: WalletJobs.expireCredits }
} satisfies Module<any, any, any, typeof WalletsGroup, any>

/** Notes and the activity log (DOMAIN §4a, docs/timeline.md). @internal */
export const notes = {
  name: "notes",
  migrations: NoteMigrations.migrations,
  repositories: NoteRepository.layer,
  services: NotesService.layer,
  api: NotesGroup,
  handlers: NotesHttp.layer,
  viewParts: NotesView.viewParts,
  mergeParts: NotesMerge.mergeParts,
  channels: [],
  facade: { namespace: "notes", service: NotesService.Notes, rename: {}, omit: ["notesOf", "activitiesOf"] } as const
} satisfies Module<any, any, any, typeof NotesGroup, any>

/** Tickets (DOMAIN §4, docs/tickets.md). @internal */
export const tickets = {
  name: "tickets",
  migrations: TicketMigrations.migrations,
  repositories: TicketRepository.layer,
  services: TicketsService.layer,
  api: TicketsGroup,
  handlers: TicketsHttp.layer,
  viewParts: TicketView.viewParts,
  mergeParts: TicketMerge.mergeParts,
  channels: ["tickets"],
  // the deadline check is a job: the facade has it under `jobs`; the timeline reads the history
  facade: {
    namespace: "tickets",
    service: TicketsService.Tickets,
    rename: {},
    omit: ["escalateDeadlines", "customerHistory", "recentForCustomer"]
  } as const,
  jobs: { deadlines: TicketJobs.ticketDeadlines }
} satisfies Module<any, any, any, typeof TicketsGroup, any>

/** Bank transfers (DOMAIN §5, docs/transfers.md). @internal */
export const transfers = {
  name: "transfers",
  migrations: TransferMigrations.migrations,
  repositories: TransferRepository.layer,
  services: TransfersService.layer,
  api: TransfersGroup,
  handlers: TransfersHttp.layer,
  viewParts: TransferView.viewParts,
  mergeParts: TransferMerge.mergeParts,
  channels: ["transfers"],
  facade: { namespace: "transfers", service: TransfersService.Transfers, rename: {}, omit: ["forCustomer"] } as const
} satisfies Module<any, any, any, typeof TransfersGroup, any>

/**
 * Purchases, returns, points and membership, and RFM scores and tiers (DOMAIN §6, §7, §7a,
 * docs/purchases.md): two services, `c360.purchases` and `c360.rfm`; the daily `rfm` job.
 *
 * @internal
 */
export const purchases = {
  name: "purchases",
  migrations: PurchaseMigrations.migrations,
  repositories: Layer.merge(PurchaseRepository.layer, RfmRepository.layer),
  services: RfmService.layer.pipe(Layer.provideMerge(PurchasesService.layer)),
  api: PurchasesGroup,
  handlers: PurchasesHttp.layer,
  viewParts: PurchasesView.viewParts,
  mergeParts: PurchaseMerge.mergeParts,
  channels: [],
  facades: [
    { namespace: "purchases", service: PurchasesService.Purchases, rename: {}, omit: [] },
    // `refresh` is the fraud module's; `recomputeHeld` the `rfm` job's
    { namespace: "rfm", service: RfmService.Rfm, rename: {}, omit: ["refresh", "recomputeHeld"] }
  ] as const,
  jobs: { rfm: PurchaseJobs.rfm }
} satisfies Module<any, any, any, typeof PurchasesGroup, any>

/**
 * Fraud rules (DOMAIN §8, docs/fraud.md): decisions, flags, the daily `fraud` job;
 * `c360.fraud.run()`, `backtest()`, `decisions(phone)`, `clearFlag()`.
 *
 * @internal
 */
export const fraud = {
  name: "fraud",
  migrations: FraudMigrations.migrations,
  repositories: FraudRepository.layer,
  services: FraudService.layer,
  api: FraudGroup,
  handlers: FraudHttp.layer,
  viewParts: FraudView.viewParts,
  mergeParts: FraudMerge.mergeParts,
  channels: [],
  // the 360 view reads `forCustomer`
  facade: { namespace: "fraud", service: FraudService.Fraud, rename: {}, omit: ["forCustomer"] } as const,
  jobs: { fraud: FraudJobs.fraudRun }
} satisfies Module<any, any, any, typeof FraudGroup, any>

/**
 * Statistics (DOMAIN §7, docs/stats.md): no tables of its own; its repository reads the customers'
 * totals and the purchases. `c360.stats.overview()` and `c360.stats.customer(phone)`.
 *
 * @internal
 */
export const stats = {
  name: "stats",
  migrations: {},
  repositories: StatsRepository.layer as Layer.Layer<StatsRepository.StatsRepository, never, SqlClient.SqlClient | UnitOfWork>,
  services: StatsService.layer,
  api: StatsGroup,
  handlers: StatsHttp.layer,
  channels: [],
  facade: { namespace: "stats", service: StatsService.Stats, rename: {}, omit: [] } as const
} satisfies Module<any, any, any, typeof StatsGroup, any>

/**
 * Identity (DOMAIN §9, docs/identity.md): logins, lazy registration, e-mail verification, login
 * limits, completing a profile and linking a walk-in profile by SMS code. No HTTP endpoints of its
 * own (the customer-facing routes are a host's); `c360.identity.register`, `verifyEmail`, `login`,
 * `completeProfile`, `requestLink`, `confirmLink`.
 *
 * @internal
 */
export const identity = {
  name: "identity",
  migrations: IdentityMigrations.migrations,
  repositories: IdentityRepository.layer,
  services: IdentityService.layer,
  api: IdentityGroup,
  handlers: IdentityHttp.layer,
  channels: [],
  facade: { namespace: "identity", service: IdentityService.Identity, rename: {}, omit: [] } as const
} satisfies Module<any, any, any, typeof IdentityGroup, any>

/**
 * POS imports (DOMAIN §11, §11a, docs/imports.md): customers, sales and coupons from CSV or XLSX,
 * streamed, validated row by row, re-runnable; `c360.imports.run()`, `POST /api/imports/:kind`.
 *
 * @internal
 */
export const imports = {
  name: "imports",
  migrations: ImportMigrations.migrations,
  repositories: ImportRepository.layer,
  services: ImportsService.layer,
  api: ImportsGroup,
  handlers: ImportsHttp.layer,
  mergeParts: ImportMerge.mergeParts,
  channels: [],
  facade: { namespace: "imports", service: ImportsService.Imports, rename: {}, omit: [] } as const
} satisfies Module<ImportRepository.ImportRepository, any, any, typeof ImportsGroup, any>

/**
 * The loyalty program's customers (DOMAIN §11, docs/loyalty.md): the `LoyaltySource` port, the CNV
 * adapter, the incremental `loyalty-sync` job; `c360.loyalty.sync()`, `POST /api/jobs/loyalty-sync`.
 *
 * @internal
 */
export const loyalty = {
  name: "loyalty",
  migrations: LoyaltyMigrations.migrations,
  repositories: LoyaltyRepository.layer,
  services: LoyaltyService.layer,
  api: LoyaltyGroup,
  handlers: LoyaltyHttp.layer,
  channels: [],
  // `syncHeld` is the `loyalty-sync` job's
  facade: { namespace: "loyalty", service: LoyaltyService.Loyalty, rename: {}, omit: ["syncHeld"] } as const,
  jobs: { loyaltySync: LoyaltyJobs.loyaltySync }
} satisfies Module<any, any, any, typeof LoyaltyGroup, any>

/**
 * Retail analytics (DOMAIN §11, §11a, docs/analytics.md): sales and coupons by VIP grade, season and
 * shop group, POS vs loyalty comparison, Excel export — every figure one SQL aggregation over the
 * imports' and loyalty's tables; `c360.analytics`, `/api/analytics/*`.
 *
 * @internal
 */
export const analytics = {
  name: "analytics",
  migrations: AnalyticsMigrations.migrations,
  repositories: AnalyticsRepository.layer as Layer.Layer<
    AnalyticsRepository.AnalyticsRepository,
    never,
    SqlClient.SqlClient | UnitOfWork
  >,
  services: AnalyticsService.layer,
  api: AnalyticsGroup,
  handlers: AnalyticsHttp.layer,
  channels: [],
  facade: { namespace: "analytics", service: AnalyticsService.Analytics, rename: {}, omit: [] } as const
} satisfies Module<any, any, any, typeof AnalyticsGroup, any>

/**
 * The timeline (DOMAIN §4a, docs/timeline.md): no tables of its own; it reads every module before it.
 * `c360.timeline(phone, options)` is its one operation.
 *
 * @internal
 */
export const timeline = {
  name: "timeline",
  migrations: {},
  repositories: Layer.empty as Layer.Layer<never, never, SqlClient.SqlClient | UnitOfWork>,
  services: TimelineService.layer,
  api: TimelineGroup,
  handlers: TimelineHttp.layer,
  channels: [],
  facade: { namespace: "timeline", service: TimelineService.Timeline, rename: {}, omit: [] } as const
} satisfies Module<never, any, any, typeof TimelineGroup, any>

/** Every module, in dependency order. @internal */
export const modules = [
  customers,
  notes,
  wallets,
  tickets,
  transfers,
  purchases,
  fraud,
  stats,
  identity,
  imports,
  loyalty,
  analytics,
  timeline
] as const

type AnyModule = (typeof modules)[number]

type SuccessOf<L> = L extends Layer.Layer<infer A, infer _E, infer _R> ? A : never
type ContextOf<L> = L extends Layer.Layer<infer _A, infer _E, infer R> ? R : never

/** The repositories every module provides. @internal */
export type ModuleRepositories = SuccessOf<AnyModule["repositories"]>
/** The services every module provides. @internal */
export type ModuleServices = SuccessOf<AnyModule["services"]>
/** Every module's HTTP group. @internal */
export type ModuleGroups = AnyModule["api"]

/** Every migration: the platform's, then each module's. @internal */
export const migrations: PlatformMigrations.Migrations = Object.assign(
  {},
  PlatformMigrations.migrations,
  ...modules.map((m) => m.migrations)
)

/** Every module's repositories. @internal */
export const repositories = Layer.mergeAll(
  ...(modules.map((m) => m.repositories) as [AnyModule["repositories"], ...Array<AnyModule["repositories"]>])
) as Layer.Layer<ModuleRepositories, never, SqlClient.SqlClient | UnitOfWork>

/**
 * Every module's services, with the 360 view's parts registered once they are all built.
 *
 * @internal
 */
export const services = Layer.effectDiscard(Effect.gen(function*() {
  const parts = yield* ViewParts
  const merging = yield* MergeParts
  for (const m of modules) {
    if ("viewParts" in m) parts.register(yield* m.viewParts)
    if ("mergeParts" in m) merging.register(yield* (m.mergeParts as Effect.Effect<ReadonlyArray<MergePart>>))
  }
})).pipe(
  // in dependency order: a module's services may use the services of the modules before it
  Layer.provideMerge(
    (modules.map((m) => m.services) as ReadonlyArray<Layer.Layer<any, never, any>>).reduce((built, next) =>
      next.pipe(Layer.provideMerge(built))
    )
  ),
  Layer.provideMerge(layerViewParts),
  Layer.provideMerge(layerMergeParts)
) as Layer.Layer<
  ModuleServices | ViewParts,
  never,
  Exclude<ContextOf<AnyModule["services"]>, ModuleServices | ViewParts | MergeParts>
>

/** Every module's HTTP handlers. @internal */
export const handlers = Layer.mergeAll(
  ...(modules.map((m) => m.handlers) as [AnyModule["handlers"], ...Array<AnyModule["handlers"]>])
) as Layer.Layer<SuccessOf<AnyModule["handlers"]>, never, ContextOf<AnyModule["handlers"]>>

/** Every module's HTTP groups, in order. @internal */
export const groups: ReadonlyArray<ModuleGroups> = modules.map((m) => m.api)

/** Every channel an event can be published to. @internal */
export const channels: ReadonlyArray<Channel> = modules.flatMap((m) => m.channels)

/**
 * A service's operations as Promise-returning functions: the same parameters; the success value of
 * the `Effect`, an `Option` becoming `A | null`; a typed failure becomes the rejection.
 *
 * @internal
 */
export type Promised<S> = {
  readonly [K in keyof S]: S[K] extends (...args: infer A) => Effect.Effect<infer R, infer _E, infer _C>
    ? (...args: A) => Promise<R extends Option.Option<infer X> ? X | null : R>
    : never
}

type Renamed<S, R> = { readonly [K in keyof S as K extends keyof R ? (R[K] extends string ? R[K] : K) : K]: S[K] }

type FacadeOfEntry<E> = E extends {
  readonly namespace: infer N extends string
  readonly service: Context.Tag<any, infer S>
  readonly rename: infer R
  readonly omit: ReadonlyArray<infer O extends string>
} ? { readonly [K in N]: CallableAs<K, Promised<Renamed<Omit<S, O>, R>>> }
  : unknown

type FacadeOf<M> = M extends unknown ?
    & (M extends { readonly facade: infer E } ? FacadeOfEntry<E> : unknown)
    & (M extends { readonly facades: infer L extends ReadonlyArray<unknown> } ? Intersection<FacadeOfEntry<L[number]>> : unknown)
  : never

/** A namespace with an operation of its own name is also that operation (`c360.timeline(phone)`). */
type CallableAs<N, P> = N extends keyof P ? P[N] & P : P

type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never

/** Every module's facade namespace, by name. @internal */
export type ModuleFacades = Intersection<FacadeOf<AnyModule>>

type JobsOf<M> = M extends { readonly jobs: infer J } ? J[keyof J] : never

/** Every module's scheduled job. @internal */
export type ModuleJob = JobsOf<AnyModule>

/**
 * Every module's scheduled job, with the key of its options in `JobsOptions`.
 *
 * @internal
 */
export const jobs: ReadonlyArray<{ readonly optionsKey: string; readonly job: ModuleJob }> = modules.flatMap((m) =>
  "jobs" in m ? Object.entries(m.jobs).map(([optionsKey, job]) => ({ optionsKey, job })) : []
)

/** What the modules' jobs need: their modules' services. @internal */
export type ModuleJobServices = ModuleJob extends ScheduledJob<string, any, infer R> ? R : never
