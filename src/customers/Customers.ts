/**
 * The customer use cases of DOMAIN §2: create, get-or-create, find, update, soft delete, search.
 * Inputs are decoded here (so untyped callers are safe), phones normalised under the configured
 * policy, and each creation writes the customer, its wallet and `customer.created` in one transaction.
 *
 * The rules, in full: docs/customers.md.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import {
  CreateCustomerInput,
  Customer,
  type CustomerExists,
  CustomerId,
  CustomerNotFound,
  CustomerPatch,
  customerToJson,
  foldText,
  GetOrCreateInput,
  makeCustomerId,
  type Page,
  SearchQuery,
  Text
} from "./Customer.js"
import { type StorageError, type ValidationError } from "../kernel/Errors.js"
import { encodeId } from "../kernel/Ids.js"
import type { CustomerCreated, CustomerMerged } from "../kernel/Events.js"
import * as Phone from "../kernel/Phone.js"
import { decoder, randomBytes } from "../kernel/Input.js"
import { normalizeCode } from "../kernel/PaymentCode.js"
import { withSpans } from "../kernel/Spans.js"
import { type CustomerChanges, CustomerRepository } from "./CustomerRepository.js"
import { EventPublisher } from "../platform/EventPublisher.js"
import { Transactions } from "../platform/Transactions.js"
import { ActivityLog, SYSTEM_ACTOR } from "../platform/ActivityLog.js"
import { Customer360Config } from "../kernel/Config.js"
import { type Customer360View, ViewParts } from "./View360.js"
import { MergeInput, MergeParts, type MergePartPlan, MergeRefused, type MergeResult, mergeFields } from "./Merge.js"
import { UnitOfWork } from "../platform/UnitOfWork.js"

/**
 * The customer service. Every method takes `unknown` input and validates it: bad input fails with
 * `ValidationError` or `InvalidPhone` and writes nothing.
 *
 * @since 0.1.0
 */
export interface CustomersShape {
  /**
   * Creates a customer; a phone or e-mail already held by another customer fails `CustomerExists`
   * (when both are taken, which of the two it names is not specified).
   */
  readonly create: (
    input: CreateCustomerInput
  ) => Effect.Effect<Customer, Phone.InvalidPhone | CustomerExists | ValidationError | StorageError>
  /**
   * Returns the customer holding the phone, or creates it (with `name` when given). Exactly one
   * customer per phone however many callers race; exactly one of them sees `created: true`, and
   * only that call writes `customer.created` (in its transaction). An existing customer is returned as stored, even
   * when deleted (`status: "inactive"`): the phone stays theirs.
   */
  readonly getOrCreate: (
    input: GetOrCreateInput
  ) => Effect.Effect<
    { readonly customer: Customer; readonly created: boolean },
    Phone.InvalidPhone | ValidationError | StorageError
  >
  /** The customer holding the phone, written in any format of DOMAIN §1. */
  readonly findByPhone: (phone: string) => Effect.Effect<Option.Option<Customer>, Phone.InvalidPhone | ValidationError | StorageError>
  /** Like `findByPhone`, failing `CustomerNotFound` when no customer holds the phone. */
  readonly getByPhone: (
    phone: string
  ) => Effect.Effect<Customer, Phone.InvalidPhone | ValidationError | CustomerNotFound | StorageError>
  readonly findById: (id: string) => Effect.Effect<Option.Option<Customer>, ValidationError | StorageError>
  /** Like `findById`, failing `CustomerNotFound` when there is none. */
  readonly get: (id: string) => Effect.Effect<Customer, CustomerNotFound | ValidationError | StorageError>
  /**
   * Applies a partial update in one statement. A new phone is normalised and must be free; a new
   * e-mail must be free. Setting `status: "active"` restores a deleted customer.
   */
  readonly update: (
    id: string,
    patch: CustomerPatch,
    options?: ActorOptions
  ) => Effect.Effect<Customer, Phone.InvalidPhone | CustomerExists | CustomerNotFound | ValidationError | StorageError>
  /** Soft delete: the status becomes `inactive`; profile, phone and history stay. Idempotent. */
  readonly delete: (id: string, options?: ActorOptions) => Effect.Effect<Customer, CustomerNotFound | ValidationError | StorageError>
  /** Searches by phone fragment or name (see `SearchQuery`), newest first. */
  readonly search: (query?: SearchQuery) => Effect.Effect<Page<Customer>, ValidationError | StorageError>
  /**
   * The customers holding any of the payment codes (`N2…`, DOMAIN §5) — the way a bank transfer's
   * content finds its customer. Strings that are not codes are ignored.
   */
  readonly findByPaymentCodes: (codes: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Customer>, StorageError>
  /**
   * The 360 view of the customer holding the phone (any format): the profile and every module's
   * part (the wallet and its 20 latest ledger entries, …), read concurrently; `CustomerNotFound`
   * when no customer holds the phone. See docs/customers.md#the-360-view.
   */
  readonly view360: (
    phone: string
  ) => Effect.Effect<Customer360View, Phone.InvalidPhone | ValidationError | CustomerNotFound | StorageError>
  /**
   * Merges duplicate profiles into a survivor (DOMAIN §9a, docs/merge.md), or — unless `dryRun:
   * false` — only says what that would do. The survivor keeps its values and takes the merged
   * profiles' where its own are empty; every module moves what the merged profiles hold (money by new
   * ledger entries, rows re-pointed); the merged profiles stay, `merged` into the survivor, and their
   * phones and payment codes find it. One transaction (the caller's, when called inside one), with a
   * journal (`c360_merges`, `c360_merge_rows`) and `customer.merged`. Idempotent: profiles already
   * merged into the survivor are left alone, and naming only such profiles changes nothing
   * (`repeated: true`). A dry run writes nothing and returns exactly what the merge would return.
   * Refusals (`MergeRefused`: the survivor is merged, a profile is merged elsewhere, two logins)
   * write nothing.
   */
  readonly merge: (
    input: MergeInput
  ) => Effect.Effect<MergeResult, MergeRefused | CustomerNotFound | ValidationError | StorageError>
  /**
   * Creates the empty profile of a new login (DOMAIN §9, lazy registration): no phone, no name,
   * linked to `userId`, source `customer_hub`, type `member`; with its wallet and `customer.created`,
   * in the caller's transaction when there is one. @internal — the identity module's.
   */
  readonly createForUser: (userId: string) => Effect.Effect<Customer, StorageError>
}

/**
 * Who makes a change, for its activity record (DOMAIN §4a): a staff id, a user id, or a job's name;
 * `system` when not given.
 *
 * @since 0.2.0
 */
export interface ActorOptions {
  readonly actor?: string | undefined
}

/** The Customers service. @since 0.1.0 */
export class Customers extends Context.Tag("customer360/Customers")<Customers, CustomersShape>() {}


const decodeCreate = decoder(CreateCustomerInput, "customer")
const decodeGetOrCreate = decoder(GetOrCreateInput, "customer")
const decodePatch = decoder(CustomerPatch, "customer update")
const decodeSearch = decoder(SearchQuery, "search")
const decodeId = decoder(CustomerId, "customer id")
const decodePhoneString = decoder(Schema.String, "phone")
const decodeMerge = decoder(MergeInput, "merge")
const decodeActor = decoder(Schema.UndefinedOr(Text(100)), "actor")


/** Characters a phone fragment typed in a search box may contain. */
const PHONE_FRAGMENT = /^[\d\s+().\-\uFF10-\uFF19]+$/

const asArray = <A>(v: A | ReadonlyArray<A> | undefined): ReadonlyArray<A> | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v : [v as A]

/**
 * Builds the service from its ports.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const repo = yield* CustomerRepository
  const tx = yield* Transactions
  const events = yield* EventPublisher
  const config = yield* Customer360Config
  const parts = yield* ViewParts
  const activities = yield* ActivityLog
  const mergeParts = yield* MergeParts
  const uow = yield* UnitOfWork

  const normalizePhone = (raw: string) => Effect.suspend(() => Phone.normalize(raw, config.phone))

  const newCustomer = (fields: {
    readonly phone: Phone.Phone | null
    readonly name: string | null
    readonly source: Customer["source"]
    readonly rest?: Partial<CreateCustomerInput>
  }) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const id = makeCustomerId(now, yield* randomBytes)
      const at = new Date(now)
      const r = fields.rest ?? {}
      return new Customer({
        id,
        phone: fields.phone,
        name: fields.name,
        email: r.email ?? null,
        address: r.address ?? null,
        city: r.city ?? null,
        province: r.province ?? null,
        birthDate: r.birthDate ?? null,
        gender: r.gender ?? null,
        notes: r.notes ?? null,
        type: r.type ?? "walk-in",
        status: "active",
        tier: "new",
        membershipLevel: "bronze",
        points: 0,
        totalOrders: 0,
        totalSpent: 0,
        lastPurchaseAt: null,
        source: fields.source,
        // drawn again by the repository on every attempt of the insert
        paymentCode: "",
        userId: null,
        mergedInto: null,
        createdAt: at,
        updatedAt: at
      })
    })

  /** Written in the creating transaction: the event exists if and only if the customer does. */
  const created = (customer: Customer) =>
    Effect.gen(function*() {
      const event: CustomerCreated = {
        id: encodeId("evt", customer.createdAt.getTime(), yield* randomBytes),
        type: "customer.created",
        channel: "customers",
        subject: customer.id,
        occurredAt: customer.createdAt,
        data: { customer: customerToJson(customer), source: customer.source }
      }
      yield* events.publish([event])
      yield* activities.record([{
        customerId: customer.id,
        actor: `${SYSTEM_ACTOR}:${customer.source}`,
        kind: "customer.created",
        subjectType: "customer",
        subjectId: customer.id,
        summary: `created the customer (source ${customer.source})`,
        at: customer.createdAt
      }])
    })

  const create: CustomersShape["create"] = (raw) =>
    Effect.gen(function*() {
      const input = yield* decodeCreate(raw)
      const phone = yield* normalizePhone(input.phone)
      const draft = yield* newCustomer({ phone, name: input.name, source: input.source ?? "customer_hub", rest: input })
      return yield* tx.withTransaction(Effect.tap(repo.insert(draft), created))
    })

  const getOrCreate: CustomersShape["getOrCreate"] = (raw) =>
    Effect.gen(function*() {
      const input = yield* decodeGetOrCreate(raw)
      const phone = yield* normalizePhone(input.phone)
      const existing = yield* repo.findByPhone(phone)
      if (Option.isSome(existing)) return { customer: existing.value, created: false }
      const candidate = yield* newCustomer({ phone, name: input.name ?? null, source: input.source })
      return yield* tx.withTransaction(
        Effect.tap(
          repo.insertOrGet(candidate as Customer & { phone: Phone.Phone }),
          (result) => (result.created ? created(result.customer) : Effect.void)
        )
      )
    })

  const findByPhone: CustomersShape["findByPhone"] = (raw) =>
    decodePhoneString(raw).pipe(Effect.flatMap(normalizePhone), Effect.flatMap(repo.findByPhone))

  const getByPhone: CustomersShape["getByPhone"] = (raw) =>
    Effect.flatMap(
      findByPhone(raw),
      Option.match({
        onNone: () => Effect.fail(new CustomerNotFound({ by: "phone", value: String(raw) })),
        onSome: Effect.succeed
      })
    )

  const findById: CustomersShape["findById"] = (raw) => Effect.flatMap(decodeId(raw), repo.findById)

  const get: CustomersShape["get"] = (raw) =>
    Effect.flatMap(
      findById(raw),
      Option.match({
        onNone: () => Effect.fail(new CustomerNotFound({ by: "id", value: String(raw) })),
        onSome: Effect.succeed
      })
    )

  /** The profile edit's activity goes first: on a deferred engine the update must be the last write. */
  const applyChanges = (id: CustomerId, changes: CustomerChanges, actor: string | undefined, kind: string) =>
    tx.withTransaction(Effect.zipRight(
      activities.record([{
        customerId: id,
        actor: actor ?? SYSTEM_ACTOR,
        kind,
        subjectType: "customer",
        subjectId: id,
        summary: kind === "customer.deleted"
          ? "deleted the customer (soft delete)"
          : `changed ${Object.keys(changes).filter((k) => k !== "updatedAt").join(", ")}`,
        data: { fields: Object.keys(changes).filter((k) => k !== "updatedAt") },
        at: changes.updatedAt
      }]),
      repo.update(id, changes)
    )).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.fail(new CustomerNotFound({ by: "id", value: id })),
        onSome: Effect.succeed
      }))
    )

  const update: CustomersShape["update"] = (rawId, rawPatch, options) =>
    Effect.gen(function*() {
      const id = yield* decodeId(rawId)
      const actor = yield* decodeActor(options?.actor)
      const patch = yield* decodePatch(rawPatch)
      const { phone: rawPhone, ...rest } = patch
      const phone = rawPhone === undefined ? undefined : yield* normalizePhone(rawPhone)
      const fields = Object.keys(rest).length + (phone === undefined ? 0 : 1)
      if (fields === 0) return yield* get(id)
      const updatedAt = new Date(yield* Clock.currentTimeMillis)
      return yield* applyChanges(id, { ...rest, ...(phone === undefined ? {} : { phone }), updatedAt }, actor, "customer.updated")
    })

  const remove: CustomersShape["delete"] = (rawId, options) =>
    Effect.gen(function*() {
      const id = yield* decodeId(rawId)
      const actor = yield* decodeActor(options?.actor)
      const updatedAt = new Date(yield* Clock.currentTimeMillis)
      return yield* applyChanges(id, { status: "inactive", updatedAt }, actor, "customer.deleted").pipe(
        // Only a phone or e-mail change can collide; a status change cannot.
        Effect.catchTag("CustomerExists", (e) => Effect.die(e))
      )
    })

  const search: CustomersShape["search"] = (raw) =>
    Effect.gen(function*() {
      const query = yield* decodeSearch(raw ?? {})
      const page = query.page ?? 1
      const limit = query.limit ?? 20
      const q = query.q?.trim() ?? ""
      let phoneFragment: string | undefined
      let text: string | undefined
      if (q !== "" && PHONE_FRAGMENT.test(q) && /[\d\uFF10-\uFF19]/.test(q)) {
        const full = Phone.normalize(q, config.phone)
        if (full._tag === "Right") {
          phoneFragment = full.right
        } else {
          const digits = q.replace(/[\uFF10-\uFF19]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xff10 + 48))
            .replace(/\D/g, "")
          // "+84 91…" and "0084 91…" are typed with the country code; stored numbers start with 0.
          phoneFragment = /^\s*(\+|00)\s*84/.test(q) ? "0" + digits.replace(/^(00)?84/, "") : digits
        }
      } else if (q !== "") {
        text = foldText(q)
      }
      const { items, total } = yield* repo.search({
        phoneFragment,
        text,
        type: asArray(query.type),
        status: asArray(query.status) ?? ["active", "blocked"],
        tier: asArray(query.tier),
        membershipLevel: asArray(query.membershipLevel),
        offset: (page - 1) * limit,
        limit
      })
      return { items, total, page, limit }
    })

  const view360: CustomersShape["view360"] = (raw) =>
    Effect.gen(function*() {
      const customer = yield* getByPhone(raw)
      const current = parts.current()
      const loaded = yield* Effect.forEach(current, (part) => part.load(customer), { concurrency: "unbounded" })
      const view: Record<string, unknown> = { customer }
      current.forEach((part, i) => {
        view[part.name] = loaded[i]
      })
      return view as Customer360View
    })

  const findByPaymentCodes: CustomersShape["findByPaymentCodes"] = (codes) =>
    Effect.suspend(() => {
      const strings = (Array.isArray(codes) ? codes : []).filter((c): c is string => typeof c === "string")
      const canonical = [...new Set(strings.map(normalizeCode).filter((c) => c !== undefined))]
      return repo.findByPaymentCodes(canonical.slice(0, 50))
    })

  const merge: CustomersShape["merge"] = (raw) =>
    Effect.gen(function*() {
      const input = yield* decodeMerge(raw)
      const dryRun = input.dryRun !== false
      const actor = input.actor ?? SYSTEM_ACTOR
      const mergedIds = [...new Set(input.mergedIds)]
      if (mergedIds.includes(input.survivorId)) {
        return yield* new MergeRefused({ reason: "the survivor cannot be merged into itself" })
      }
      const outer = yield* uow.inTransaction
      const { result, after } = yield* tx.withTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const at = new Date(now)
        const mergeId = encodeId("mrg", now, yield* randomBytes)
        const rows = yield* repo.readForMerge([input.survivorId, ...mergedIds])
        const byId = new Map(rows.map((r) => [r.customer.id as string, r]))
        const survivor = byId.get(input.survivorId)
        if (survivor === undefined) return yield* new CustomerNotFound({ by: "id", value: input.survivorId })
        if (survivor.customer.mergedInto !== null) {
          return yield* new MergeRefused({ reason: `the survivor ${survivor.customer.id} is itself merged into ${survivor.customer.mergedInto}` })
        }
        const toMerge: Array<{ customer: Customer; version: number }> = []
        const alreadyMerged: Array<string> = []
        for (const id of mergedIds) {
          const row = byId.get(id)
          if (row === undefined) return yield* new CustomerNotFound({ by: "id", value: id })
          if (row.customer.mergedInto === survivor.customer.id) alreadyMerged.push(id)
          else if (row.customer.mergedInto !== null) {
            return yield* new MergeRefused({ reason: `${id} is already merged into ${row.customer.mergedInto}` })
          } else toMerge.push(row)
        }
        const logins = new Set([survivor.customer, ...toMerge.map((r) => r.customer)].map((c) => c.userId).filter((u) => u !== null))
        if (logins.size > 1) {
          return yield* new MergeRefused({ reason: "the profiles are linked to different logins; a profile has at most one" })
        }
        const fields = mergeFields(survivor.customer, toMerge.map((r) => r.customer))
        const survivorAfter = new Customer({ ...survivor.customer, ...fields.survivor, updatedAt: at } as Customer)
        const plans: Array<{ customerId: string; plans: ReadonlyArray<readonly [string, MergePartPlan]> }> = []
        for (const m of toMerge) {
          const context = { mergeId, survivor: survivorAfter, merged: m.customer, at, actor }
          plans.push({
            customerId: m.customer.id,
            plans: yield* Effect.forEach(mergeParts.current(), (part) => Effect.map(part.plan(context), (p) => [part.name, p] as const))
          })
        }
        const result: MergeResult = {
          mergeId: dryRun || toMerge.length === 0 ? null : mergeId,
          dryRun,
          repeated: toMerge.length === 0,
          survivorId: survivor.customer.id,
          mergedIds: toMerge.map((r) => r.customer.id),
          alreadyMerged,
          fields: fields.changes,
          moved: plans.map((p) => ({ customerId: p.customerId, parts: Object.fromEntries(p.plans.map(([name, plan]) => [name, plan.summary])) })),
          survivor: toMerge.length === 0 ? survivor.customer : survivorAfter
        }
        const after = plans.flatMap((p) => p.plans.flatMap(([, plan]) => (plan.after === undefined ? [] : [plan.after])))
        if (dryRun || toMerge.length === 0) return { result, after: [] }
        const { survivor: _s, ...journal } = result
        yield* repo.journalMerge({
          mergeId,
          survivorId: survivor.customer.id,
          mergedIds: result.mergedIds as ReadonlyArray<CustomerId>,
          actor,
          result: journal,
          at
        })
        for (const p of plans) for (const [, plan] of p.plans) yield* plan.apply
        const event: CustomerMerged = {
          id: encodeId("evt", now, yield* randomBytes),
          type: "customer.merged",
          channel: "customers",
          subject: survivor.customer.id,
          occurredAt: at,
          data: { mergeId, survivorId: survivor.customer.id, mergedIds: result.mergedIds, actor, fields: result.fields, moved: result.moved }
        }
        yield* events.publish([event])
        yield* activities.record([
          {
            customerId: survivor.customer.id,
            actor,
            kind: "customer.merged",
            subjectType: "merge",
            subjectId: mergeId,
            summary: `merged ${result.mergedIds.join(", ")} into this customer`,
            data: { mergedIds: result.mergedIds },
            at
          },
          ...toMerge.map((m) => ({
            customerId: m.customer.id,
            actor,
            kind: "customer.merged",
            subjectType: "merge",
            subjectId: mergeId,
            summary: `merged into ${survivor.customer.id}`,
            data: { survivorId: survivor.customer.id },
            at
          }))
        ])
        // the profiles last: on a deferred engine nothing here is read back
        yield* repo.applyMerge({
          mergeId,
          survivor: { id: survivor.customer.id, version: survivor.version, values: fields.survivor },
          merged: toMerge.map((m) => ({
            id: m.customer.id,
            version: m.version,
            values: fields.merged.find((v) => v.id === m.customer.id)!.values
          })),
          at
        })
        return { result, after }
      }))
      // what must wait for the commit (an RFM refresh): only when this call committed it
      if (!outer) for (const effect of after) yield* effect
      return result
    })

  const createForUser: CustomersShape["createForUser"] = (userId) =>
    Effect.gen(function*() {
      const draft = yield* newCustomer({ phone: null, name: null, source: "customer_hub", rest: { type: "member" } })
      const customer = new Customer({ ...draft, userId })
      return yield* tx.withTransaction(Effect.tap(repo.insert(customer), created)).pipe(
        // a profile with no phone and no e-mail collides with nothing a caller controls
        Effect.catchTag("CustomerExists", (e) => Effect.die(e))
      )
    })

  return Customers.of(
    withSpans("Customers", {
      findByPaymentCodes,
      create,
      getOrCreate,
      findByPhone,
      getByPhone,
      findById,
      get,
      update,
      delete: remove,
      search,
      view360,
      merge,
      createForUser
    })
  )
})

/**
 * The service as a layer over its ports and the configuration.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<
  Customers,
  never,
  CustomerRepository | Transactions | EventPublisher | Customer360Config | ViewParts | ActivityLog | MergeParts | UnitOfWork
> =
  Layer.effect(Customers, make)
