/**
 * Customer storage: the port and its one SQL implementation, the same on SQLite, PostgreSQL and D1.
 * Phone and e-mail uniqueness is the database's job (unique constraints), never a read before a
 * write. Every write goes through the unit of work (see docs/transactions.md), so a customer, its
 * wallet and its `customer.created` event commit together, with whatever else the caller's
 * transaction writes.
 *
 * - `insert`: customer + wallet; a unique phone or e-mail fails the write and becomes `CustomerExists`.
 * - `insertOrGet`: in a transaction (its own, or the caller's): the phone is read (what this
 *   transaction created first, then the database), and a free phone is inserted by a plain `INSERT`.
 *   If another writer took the phone meanwhile, the unique key fails the write — nothing of it is
 *   written — and the transaction runs again, and then finds the winner. The unique key decides;
 *   the read only lets the caller plan.
 * - `update`: one `UPDATE … RETURNING *`, run at once (it returns the stored row).
 *
 * What a transaction created or changed is remembered in it (`customer:id:…`, `customer:phone:…`, and
 * the new wallet's empty state for the wallet repository), so later reads in the same transaction
 * find it on every engine, deferred writes included.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { StorageError } from "../kernel/Errors.js"
import type { Phone } from "../kernel/Phone.js"
import { rerun, UnitOfWork } from "../platform/UnitOfWork.js"
import { makeCode } from "../kernel/PaymentCode.js"
import { randomBytes } from "../kernel/Random.js"
import { corrupt, type SqlFailure, storage } from "../platform/sql/SqlFailure.js"
import { instant, int } from "../platform/sql/Columns.js"
import {
  Customer,
  CustomerExists,
  type CustomerId,
  type CustomerStatus,
  type ProfileStatus,
  type CustomerTier,
  type CustomerType,
  emailKey,
  foldText,
  type Gender,
  type MembershipLevel
} from "./Customer.js"

/**
 * The columns an update may set, already validated and normalised; absent keys are left as they
 * are.
 *
 * @since 0.1.0
 */
export interface CustomerChanges {
  readonly phone?: Phone | null | undefined
  readonly name?: string | null | undefined
  readonly email?: string | null | undefined
  readonly address?: string | null | undefined
  readonly city?: string | null | undefined
  readonly province?: string | null | undefined
  readonly birthDate?: string | null | undefined
  readonly gender?: Gender | null | undefined
  readonly notes?: string | null | undefined
  readonly type?: CustomerType | undefined
  readonly status?: CustomerStatus | undefined
  readonly membershipLevel?: MembershipLevel | undefined
  readonly updatedAt: Date
}

/**
 * What to look for. `phoneFragment` (digits) and `text` (already folded by `foldText`) are
 * alternatives; filters are ANDed; results are newest first.
 *
 * @since 0.1.0
 */
export interface SearchCriteria {
  readonly phoneFragment?: string | undefined
  readonly text?: string | undefined
  readonly type?: ReadonlyArray<CustomerType> | undefined
  readonly status?: ReadonlyArray<ProfileStatus> | undefined
  readonly tier?: ReadonlyArray<CustomerTier> | undefined
  readonly membershipLevel?: ReadonlyArray<MembershipLevel> | undefined
  readonly offset: number
  readonly limit: number
}

/**
 * Storage of customer profiles. Phone and e-mail uniqueness is the storage's job (unique
 * constraints), never a read before a write.
 *
 * @since 0.1.0
 */
export interface CustomerRepositoryShape {
  /** Inserts a new customer; a taken phone or e-mail fails with `CustomerExists`. */
  readonly insert: (customer: Customer) => Effect.Effect<Customer, CustomerExists | StorageError>
  /**
   * Inserts the customer unless its phone is taken, in one statement (`ON CONFLICT DO NOTHING`);
   * returns the stored customer for that phone and whether this call created it. Under any
   * concurrency exactly one caller gets `created: true`.
   */
  readonly insertOrGet: (
    customer: Customer & { readonly phone: Phone }
  ) => Effect.Effect<{ readonly customer: Customer; readonly created: boolean }, StorageError>
  readonly findById: (id: CustomerId) => Effect.Effect<Option.Option<Customer>, StorageError>
  readonly findByPhone: (phone: Phone) => Effect.Effect<Option.Option<Customer>, StorageError>
  /** Applies the changes in one statement; `None` when no customer has the id. */
  readonly update: (
    id: CustomerId,
    changes: CustomerChanges
  ) => Effect.Effect<Option.Option<Customer>, CustomerExists | StorageError>
  readonly search: (
    criteria: SearchCriteria
  ) => Effect.Effect<{ readonly items: ReadonlyArray<Customer>; readonly total: number }, StorageError>
  /** The customers holding any of the payment codes (canonical, upper case). */
  readonly findByPaymentCodes: (codes: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Customer>, StorageError>
  /**
   * The profiles with these ids as stored now, with their versions (never what the transaction
   * remembered: a merge plans on the database's rows and guards on their versions).
   */
  readonly readForMerge: (
    ids: ReadonlyArray<CustomerId>
  ) => Effect.Effect<ReadonlyArray<{ readonly customer: Customer; readonly version: number }>, StorageError>
  /** Writes a merge's journal entry (before any of its journal rows). */
  readonly journalMerge: (entry: {
    readonly mergeId: string
    readonly survivorId: CustomerId
    readonly mergedIds: ReadonlyArray<CustomerId>
    readonly actor: string
    readonly result: unknown
    readonly at: Date
  }) => Effect.Effect<void, StorageError>
  /**
   * Writes a merge's profile changes: each merged profile's values (and the profiles merged into it
   * before now point at the survivor, journaled), then the survivor's; every profile's version steps
   * from the one read, so a merge planned on an outdated read runs again.
   */
  readonly applyMerge: (merge: {
    readonly mergeId: string
    readonly survivor: { readonly id: CustomerId; readonly version: number; readonly values: Readonly<Record<string, unknown>> }
    readonly merged: ReadonlyArray<
      { readonly id: CustomerId; readonly version: number; readonly values: Readonly<Record<string, unknown>> }
    >
    readonly at: Date
  }) => Effect.Effect<void, StorageError>
}

/**
 * The customer repository as a service.
 *
 * @since 0.1.0
 */
export class CustomerRepository extends Context.Tag("customer360/CustomerRepository")<
  CustomerRepository,
  CustomerRepositoryShape
>() {}

/** A `BIGINT` as a number: pg returns int8 as text, better-sqlite3 as a number. */

const decodeCustomer = Schema.decodeUnknownEither(Customer)

/**
 * @internal Reads one stored row; a row that does not decode is a `corrupt` storage failure, logged
 * with the decoding failure.
 */
export const rowToCustomer = (row: Record<string, unknown>): Effect.Effect<Customer, StorageError> =>
  Effect.catchAll(
    decodeCustomer({
      id: row.id,
      phone: row.phone,
      name: row.name,
      email: row.email,
      address: row.address,
      city: row.city,
      province: row.province,
      birthDate: row.birth_date,
      gender: row.gender,
      notes: row.notes,
      type: row.type,
      // a merged profile is stored `inactive` (every filter on active profiles leaves it out)
      status: row.merged_into === null || row.merged_into === undefined ? row.status : "merged",
      tier: row.tier,
      membershipLevel: row.membership_level,
      points: int(row.points),
      totalOrders: int(row.total_orders),
      totalSpent: int(row.total_spent),
      lastPurchaseAt: instant(row.last_purchase_at),
      source: row.source,
      paymentCode: row.payment_code,
      userId: row.user_id ?? null,
      mergedInto: row.merged_into ?? null,
      createdAt: instant(row.created_at),
      updatedAt: instant(row.updated_at)
    }),
    corrupt("reading a customer")
  )

/** @internal The stored row of a customer. */
export const toRow = (c: Customer) => ({
  id: c.id,
  phone: c.phone,
  name: c.name,
  name_search: c.name === null ? "" : foldText(c.name),
  email: c.email,
  email_key: c.email === null ? null : emailKey(c.email),
  address: c.address,
  city: c.city,
  province: c.province,
  birth_date: c.birthDate,
  gender: c.gender,
  notes: c.notes,
  type: c.type,
  status: c.status === "merged" ? "inactive" : c.status,
  tier: c.tier,
  membership_level: c.membershipLevel,
  points: c.points,
  total_orders: c.totalOrders,
  total_spent: c.totalSpent,
  last_purchase_at: c.lastPurchaseAt === null ? null : c.lastPurchaseAt.getTime(),
  source: c.source,
  payment_code: c.paymentCode,
  user_id: c.userId,
  merged_into: c.mergedInto,
  created_at: c.createdAt.getTime(),
  updated_at: c.updatedAt.getTime()
})

/** @internal The columns an update sets. */
export const changesToColumns = (changes: CustomerChanges): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  if (changes.phone !== undefined) out.phone = changes.phone
  if (changes.name !== undefined) {
    out.name = changes.name
    out.name_search = changes.name === null ? "" : foldText(changes.name)
  }
  if (changes.email !== undefined) {
    out.email = changes.email
    out.email_key = changes.email === null ? null : emailKey(changes.email)
  }
  if (changes.address !== undefined) out.address = changes.address
  if (changes.city !== undefined) out.city = changes.city
  if (changes.province !== undefined) out.province = changes.province
  if (changes.birthDate !== undefined) out.birth_date = changes.birthDate
  if (changes.gender !== undefined) out.gender = changes.gender
  if (changes.notes !== undefined) out.notes = changes.notes
  if (changes.type !== undefined) out.type = changes.type
  if (changes.status !== undefined) out.status = changes.status
  if (changes.membershipLevel !== undefined) out.membership_level = changes.membershipLevel
  out.updated_at = changes.updatedAt.getTime()
  return out
}

/**
 * @internal A unique violation on phone or e-mail as the `CustomerExists` it means, or `undefined`
 * for any other failure.
 */
export const customerExists = (
  failure: SqlFailure,
  phone: string | null | undefined,
  email: string | null | undefined
): CustomerExists | undefined => {
  if (failure._tag === "UniqueViolation" && failure.constraint.includes("email")) {
    return new CustomerExists({ field: "email", value: email ?? "" })
  }
  if (failure._tag === "UniqueViolation" && failure.constraint.includes("phone")) {
    return new CustomerExists({ field: "phone", value: phone ?? "" })
  }
  return undefined
}

/** `%`, `_` and the escape character itself match literally in a `LIKE … ESCAPE '\'` pattern. */
const likeContains = (s: string): string => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/**
 * The keys under which a transaction remembers what it wrote (see UnitOfWork): a customer by id and
 * by phone, and a wallet's state by customer id and by phone (read by the wallet repository).
 *
 * @internal
 */
export const memoKeys = {
  customerById: (id: string) => `customer:id:${id}`,
  customerByPhone: (phone: string) => `customer:phone:${phone}`,
  walletById: (id: string) => `wallet:id:${id}`,
  walletByPhone: (phone: string) => `wallet:phone:${phone}`
} as const

/**
 * Builds the repository over the `SqlClient` and the unit of work in context.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork

  const one = (rows: ReadonlyArray<Record<string, unknown>>) =>
    rows.length === 0 ? Effect.succeed(Option.none<Customer>()) : Effect.map(rowToCustomer(rows[0]!), Option.some)

  /** The customer whose `column` is `value`: what this transaction wrote under `key`, else the database's. */
  const findBy = (column: "phone" | "id", value: string, key: string) =>
    Effect.flatMap(uow.recall<Customer>(key), (remembered) =>
      remembered !== undefined
        ? Effect.succeed(Option.some(remembered))
        : (column === "phone"
          // a merged profile's phone finds its survivor (DOMAIN §9a)
          ? sql<Record<string, unknown>>`SELECT s.* FROM c360_customers c
            JOIN c360_customers s ON s.id = COALESCE(c.merged_into, c.id) WHERE c.phone = ${value}`
          : sql<Record<string, unknown>>`SELECT * FROM c360_customers WHERE id = ${value}`).pipe(
          storage(`finding a customer by ${column}`),
          Effect.flatMap(one)
        ))

  const findByPhone = (phone: Phone) => findBy("phone", phone, memoKeys.customerByPhone(phone))
  const findById = (id: CustomerId) => findBy("id", id, memoKeys.customerById(id))

  /**
   * Remembers the customer (and, when `created`, its new empty wallet) for the rest of the
   * transaction. A phone change forgets everything remembered by phone: the old phone no longer
   * leads to this customer or its wallet.
   */
  const rememberCustomer = (customer: Customer, change: "created" | "updated" | "phone changed") =>
    Effect.gen(function*() {
      if (change === "phone changed") {
        yield* uow.forget(memoKeys.customerByPhone(""))
        yield* uow.forget(memoKeys.walletByPhone(""))
      }
      yield* uow.remember(memoKeys.customerById(customer.id), customer)
      if (customer.phone !== null) yield* uow.remember(memoKeys.customerByPhone(customer.phone), customer)
      if (change === "created") {
        const wallet = { customerId: customer.id, balance: 0, version: 0, credits: [] }
        yield* uow.remember(memoKeys.walletById(customer.id), wallet)
        if (customer.phone !== null) yield* uow.remember(memoKeys.walletByPhone(customer.phone), wallet)
      }
    })

  /** The customer's row and its wallet's (every customer has a wallet from its first moment, DOMAIN §2). */
  const insertStatements = (customer: Customer): ReadonlyArray<Statement.Statement<unknown>> => {
    const at = customer.createdAt.getTime()
    return [
      sql`INSERT INTO c360_customers ${sql.insert(toRow(customer))}`,
      sql`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
        VALUES (${customer.id}, 0, 0, ${at}, ${at})`
    ]
  }

  /**
   * The customer with a fresh payment code: drawn on every attempt, so that a transaction run again
   * after a code collision (the unique key decides) draws another.
   */
  const withFreshCode = (customer: Customer) => new Customer({ ...customer, paymentCode: makeCode(randomBytes(8)) })
  const codeTaken = (failure: SqlFailure) => failure._tag === "UniqueViolation" && failure.constraint.includes("payment_code")

  const insert = (draft: Customer) =>
    Effect.suspend(() => {
      const customer = withFreshCode(draft)
      return uow.write({
        operation: "creating a customer",
        statements: insertStatements(customer),
        onFailure: (failure) => (codeTaken(failure) ? rerun : customerExists(failure, customer.phone, customer.email))
      }).pipe(Effect.zipRight(rememberCustomer(customer, "created")), Effect.as(customer))
    })

  const insertOrGet = (draft: Customer & { readonly phone: Phone }) =>
    uow.withTransaction(Effect.gen(function*() {
      const existing = yield* findByPhone(draft.phone)
      if (Option.isSome(existing)) return { customer: existing.value, created: false }
      const customer = withFreshCode(draft)
      yield* uow.write<CustomerExists>({
        operation: "creating a customer",
        statements: insertStatements(customer),
        // the phone was taken after our read: run the transaction again, it will find the holder
        onFailure: (failure) =>
          (failure._tag === "UniqueViolation" && failure.constraint.includes("phone")) || codeTaken(failure)
            ? rerun
            : customerExists(failure, customer.phone, customer.email)
      })
      yield* rememberCustomer(customer, "created")
      return { customer: customer as Customer, created: true }
    })).pipe(
      // a new customer has no e-mail: only its phone can collide, and that reruns
      Effect.catchTag("CustomerExists", (e) => Effect.die(e))
    )

  const update = (id: CustomerId, changes: CustomerChanges) =>
    Effect.gen(function*() {
      const [rows] = yield* uow.writeNow({
        operation: "updating a customer",
        // `version + 1` always passes the guard, and outdates a merge planned before this edit
        statements: [sql`UPDATE c360_customers SET ${sql.update(changesToColumns(changes))}, version = version + 1
          WHERE id = ${id} RETURNING *`],
        onFailure: (failure) => customerExists(failure, changes.phone, changes.email)
      })
      const updated = yield* one(rows ?? [])
      if (Option.isSome(updated)) {
        yield* rememberCustomer(updated.value, changes.phone === undefined ? "updated" : "phone changed")
      }
      return updated
    })

  const search = (criteria: SearchCriteria) => {
    const where: Array<Statement.Fragment> = []
    if (criteria.phoneFragment !== undefined) {
      where.push(sql`phone LIKE ${likeContains(criteria.phoneFragment)} ESCAPE '\\'`)
    } else if (criteria.text !== undefined) {
      const pattern = likeContains(criteria.text)
      where.push(sql`(name_search LIKE ${pattern} ESCAPE '\\' OR email_key LIKE ${pattern} ESCAPE '\\')`)
    }
    if (criteria.type) where.push(sql.in("type", criteria.type))
    if (criteria.status) {
      // a merged profile is stored `inactive` with `merged_into` set
      const stored = criteria.status.filter((s): s is CustomerStatus => s !== "merged")
      const either: Array<Statement.Fragment> = []
      if (stored.length > 0) either.push(sql`(${sql.in("status", stored)} AND merged_into IS NULL)`)
      if (criteria.status.includes("merged")) either.push(sql`merged_into IS NOT NULL`)
      where.push(sql.or(either))
    }
    if (criteria.tier) where.push(sql.in("tier", criteria.tier))
    if (criteria.membershipLevel) where.push(sql.in("membership_level", criteria.membershipLevel))
    const clause = where.length === 0 ? sql.literal("") : sql`WHERE ${sql.and(where)}`
    return Effect.all({
      rows: sql<Record<string, unknown>>`SELECT * FROM c360_customers ${clause}
        ORDER BY created_at DESC, id DESC LIMIT ${criteria.limit} OFFSET ${criteria.offset}`,
      count: sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_customers ${clause}`
    }).pipe(
      storage("searching customers"),
      Effect.flatMap(({ count, rows }) =>
        Effect.map(Effect.forEach(rows, (row) => rowToCustomer(row)), (items) => ({ items, total: int(count[0]?.n ?? 0) }))
      )
    )
  }

  const findByPaymentCodes = (codes: ReadonlyArray<string>) =>
    codes.length === 0
      ? Effect.succeed([])
      // a merged profile's code finds its survivor (DOMAIN §9a)
      : sql<Record<string, unknown>>`SELECT DISTINCT s.* FROM c360_customers c
        JOIN c360_customers s ON s.id = COALESCE(c.merged_into, c.id) WHERE ${sql.in("c.payment_code", codes)}`.pipe(
        storage("finding customers by payment code"),
        Effect.flatMap((rows) => Effect.forEach(rows, (row) => rowToCustomer(row)))
      )

  const readForMerge = (ids: ReadonlyArray<CustomerId>) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_customers WHERE ${sql.in("id", ids)}`.pipe(
      storage("reading profiles to merge"),
      Effect.flatMap((rows) =>
        Effect.forEach(rows, (row) => Effect.map(rowToCustomer(row), (customer) => ({ customer, version: int(row.version) })))
      )
    )

  const journalMerge = (entry: {
    readonly mergeId: string
    readonly survivorId: CustomerId
    readonly mergedIds: ReadonlyArray<CustomerId>
    readonly actor: string
    readonly result: unknown
    readonly at: Date
  }) =>
    uow.write<never>({
      operation: "journaling a merge",
      statements: [sql`INSERT INTO c360_merges (id, survivor_id, merged_ids, actor, result, created_at)
        VALUES (${entry.mergeId}, ${entry.survivorId}, ${JSON.stringify(entry.mergedIds)}, ${entry.actor},
          ${JSON.stringify(entry.result)}, ${entry.at.getTime()})`]
    })

  /** A merge's values of a profile as columns. */
  const mergeColumns = (values: Readonly<Record<string, unknown>>, at: Date): Record<string, unknown> => {
    const { mergedInto, status, type, userId, ...profile } = values
    const out: Record<string, unknown> = changesToColumns({ ...(profile as unknown as CustomerChanges), updatedAt: at })
    if (userId !== undefined) out.user_id = userId
    if (type !== undefined) out.type = type
    if (mergedInto !== undefined) out.merged_into = mergedInto
    // a merged profile is stored `inactive` (see rowToCustomer)
    if (status !== undefined) out.status = status === "merged" ? "inactive" : status
    return out
  }

  const applyMerge = (merge: {
    readonly mergeId: string
    readonly survivor: { readonly id: CustomerId; readonly version: number; readonly values: Readonly<Record<string, unknown>> }
    readonly merged: ReadonlyArray<
      { readonly id: CustomerId; readonly version: number; readonly values: Readonly<Record<string, unknown>> }
    >
    readonly at: Date
  }) =>
    Effect.gen(function*() {
      const statements: Array<Statement.Statement<unknown>> = []
      const s = merge.survivor
      for (const m of merge.merged) {
        // the unique values the survivor takes leave the merged profile first
        statements.push(sql`UPDATE c360_customers SET ${sql.update(mergeColumns(m.values, merge.at))}, version = ${m.version + 1}
          WHERE id = ${m.id}`)
        // profiles merged into this one before now find the survivor: one hop, always
        statements.push(
          sql`INSERT INTO c360_merge_rows (merge_id, part, table_name, row_id, action, from_customer, to_customer)
            SELECT ${merge.mergeId}, 'customers', 'c360_customers', id, 'moved', ${m.id}, ${s.id}
            FROM c360_customers WHERE merged_into = ${m.id}`,
          sql`UPDATE c360_customers SET merged_into = ${s.id} WHERE merged_into = ${m.id}`
        )
      }
      statements.push(sql`UPDATE c360_customers SET ${sql.update(mergeColumns(s.values, merge.at))}, version = ${s.version + 1}
        WHERE id = ${s.id}`)
      yield* uow.write<never>({
        operation: "merging profiles",
        statements,
        // a version moved since the read (another merge, an edit): plan again
        onFailure: (failure) => failure._tag === "UniqueViolation" || failure._tag === "StaleWrite" ? rerun : undefined
      })
      // what this transaction remembered of these profiles is outdated (their wallets' states are the
      // wallets part's: it remembers the survivor's new state under every merged phone and id)
      yield* uow.forget("customer:")
    })

  return CustomerRepository.of({
    insert,
    insertOrGet,
    findById,
    findByPhone,
    update,
    search,
    findByPaymentCodes,
    readForMerge,
    journalMerge,
    applyMerge
  })
})

/**
 * The repository as a layer over the client and the unit of work.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<CustomerRepository, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(
  CustomerRepository,
  make
)
