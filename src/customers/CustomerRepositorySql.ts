/**
 * `CustomerRepository` on the generic `SqlClient`: the same statements run on SQLite and
 * PostgreSQL. Uniqueness is left to the unique constraints; `insertOrGet` is one
 * `INSERT … ON CONFLICT (phone) DO NOTHING RETURNING` followed, for the losers of a race, by a read.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Customer, CustomerExists, type CustomerId, emailKey, foldText } from "./Customer.js"
import { StorageError } from "../kernel/Errors.js"
import type { Phone } from "../kernel/Phone.js"
import { type CustomerChanges, CustomerRepository, type SearchCriteria } from "./CustomerRepository.js"
import { classify, type SqlFailure, storage, toStorageError } from "../platform/sql/SqlFailure.js"

/** A `BIGINT` as a number: pg returns int8 as text, better-sqlite3 as a number. */
const int = (v: unknown): number =>
  typeof v === "number" ? v : typeof v === "string" ? Number(v) : typeof v === "bigint" ? Number(v) : NaN
const instant = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(int(v)))

const decodeCustomer = Schema.decodeUnknownEither(Customer)

/** Reads one stored row; a row that does not decode is a `corrupt` storage failure. */
export const rowToCustomer = (row: Record<string, unknown>): Either.Either<Customer, StorageError> =>
  Either.mapLeft(
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
      status: row.status,
      tier: row.tier,
      membershipLevel: row.membership_level,
      points: int(row.points),
      totalOrders: int(row.total_orders),
      totalSpent: int(row.total_spent),
      lastPurchaseAt: instant(row.last_purchase_at),
      source: row.source,
      createdAt: instant(row.created_at),
      updatedAt: instant(row.updated_at)
    }),
    () => new StorageError({ reason: "corrupt", operation: "reading a customer" })
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
  status: c.status,
  tier: c.tier,
  membership_level: c.membershipLevel,
  points: c.points,
  total_orders: c.totalOrders,
  total_spent: c.totalSpent,
  last_purchase_at: c.lastPurchaseAt === null ? null : c.lastPurchaseAt.getTime(),
  source: c.source,
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
 * Builds the repository over the `SqlClient` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient

  const decodeRows = (rows: ReadonlyArray<Record<string, unknown>>) =>
    Effect.forEach(rows, (row) => rowToCustomer(row))

  /** A unique violation on phone or e-mail becomes `CustomerExists`; anything else a storage failure. */
  const uniqueToExists = (operation: string, phone: string | null | undefined, email: string | null | undefined) =>
  <A, R>(self: Effect.Effect<A, SqlError.SqlError, R>): Effect.Effect<A, CustomerExists | StorageError, R> =>
    Effect.catchAll(self, (e): Effect.Effect<never, CustomerExists | StorageError> =>
      Effect.fail(customerExists(classify(e), phone, email) ?? toStorageError(operation)(e)))

  const selectByPhone = (phone: Phone) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_customers WHERE phone = ${phone}`.pipe(
      storage("finding a customer by phone"),
      Effect.flatMap((rows) => rows.length === 0 ? Effect.succeed(Option.none()) : Effect.map(rowToCustomer(rows[0]!), Option.some))
    )

  /** Every customer has a wallet from its first moment (DOMAIN §2), created in the same transaction. */
  const insertWallet = (customer: Customer) => {
    const at = customer.createdAt.getTime()
    return sql`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
      VALUES (${customer.id}, 0, 0, ${at}, ${at})`.pipe(storage("creating a wallet"))
  }

  const insert = (customer: Customer) =>
    sql`INSERT INTO c360_customers ${sql.insert(toRow(customer))}`.pipe(
      uniqueToExists("creating a customer", customer.phone, customer.email),
      Effect.zipRight(insertWallet(customer)),
      Effect.as(customer)
    )

  const insertOrGet = (customer: Customer & { readonly phone: Phone }) =>
    Effect.gen(function*() {
      // Bounded: a retry is needed only when the phone's holder changed its phone between our
      // conflicting insert and our read, which cannot happen twice in a row without a writer storm.
      for (let attempt = 0; attempt < 3; attempt++) {
        const inserted = yield* sql<{ id: string }>`INSERT INTO c360_customers ${
          sql.insert(toRow(customer))
        } ON CONFLICT (phone) DO NOTHING RETURNING id`.pipe(storage("creating a customer"))
        if (inserted.length === 1) {
          yield* insertWallet(customer)
          return { customer, created: true }
        }
        const existing = yield* selectByPhone(customer.phone)
        if (Option.isSome(existing)) return { customer: existing.value, created: false }
      }
      return yield* new StorageError({ reason: "contention", operation: "creating a customer" })
    })

  const findById = (id: CustomerId) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_customers WHERE id = ${id}`.pipe(
      storage("finding a customer by id"),
      Effect.flatMap((rows) => rows.length === 0 ? Effect.succeed(Option.none()) : Effect.map(rowToCustomer(rows[0]!), Option.some))
    )

  const update = (id: CustomerId, changes: CustomerChanges) =>
    sql<Record<string, unknown>>`UPDATE c360_customers SET ${sql.update(changesToColumns(changes))} WHERE id = ${id} RETURNING *`.pipe(
      uniqueToExists("updating a customer", changes.phone, changes.email),
      Effect.flatMap((rows) => rows.length === 0 ? Effect.succeed(Option.none()) : Effect.map(rowToCustomer(rows[0]!), Option.some))
    )

  const search = (criteria: SearchCriteria) => {
    const where: Array<Statement.Fragment> = []
    if (criteria.phoneFragment !== undefined) {
      where.push(sql`phone LIKE ${likeContains(criteria.phoneFragment)} ESCAPE '\\'`)
    } else if (criteria.text !== undefined) {
      const pattern = likeContains(criteria.text)
      where.push(sql`(name_search LIKE ${pattern} ESCAPE '\\' OR email_key LIKE ${pattern} ESCAPE '\\')`)
    }
    if (criteria.type) where.push(sql.in("type", criteria.type))
    if (criteria.status) where.push(sql.in("status", criteria.status))
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
        Effect.map(decodeRows(rows), (items) => ({ items, total: int(count[0]?.n ?? 0) }))
      )
    )
  }

  return CustomerRepository.of({ insert, insertOrGet, findById, findByPhone: selectByPhone, update, search })
})

/**
 * The repository as a layer over any `SqlClient`.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<CustomerRepository, never, SqlClient.SqlClient> = Layer.effect(
  CustomerRepository,
  make
)
