/**
 * `CustomerRepository` on D1. Reads are the generic SQL repository's; writes are D1 batches through
 * the unit of work, so that a customer, its wallet and its `customer.created` event commit together.
 *
 * - `insert`: customer + wallet, appended to the transaction's batch (or one batch of their own);
 *   a unique phone or e-mail fails the batch and becomes `CustomerExists`.
 * - `insertOrGet` outside a transaction: one batch `INSERT … ON CONFLICT (phone) DO NOTHING
 *   RETURNING id` + a wallet insert that only runs if that id now exists; the losers of a race read
 *   the winner back. Inside a transaction (`getOrCreate`, whose event must join the same batch) the
 *   caller must know at once whether it creates: the phone is read, and a free phone is inserted by a
 *   plain `INSERT` in the transaction's batch. If another writer took the phone meanwhile, the unique
 *   key fails that batch — nothing of it is written — and the transaction runs again, and then finds
 *   the winner. The unique key decides; the read only lets the caller plan.
 * - `update`: one `UPDATE … RETURNING *`, run at once (it returns the stored row).
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Customer, CustomerId } from "./Customer.js"
import { StorageError } from "../kernel/Errors.js"
import type { Phone } from "../kernel/Phone.js"
import { type CustomerChanges, CustomerRepository } from "./CustomerRepository.js"
import * as CustomerRepositorySql from "./CustomerRepositorySql.js"
import { changesToColumns, customerExists, rowToCustomer, toRow } from "./CustomerRepositorySql.js"
import { rerun, UnitOfWork } from "../platform/UnitOfWork.js"

/**
 * Builds the repository over the D1 client and unit of work.
 *
 * @internal
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork
  const reads = yield* CustomerRepositorySql.make

  const insertCustomer = (customer: Customer) => sql`INSERT INTO c360_customers ${sql.insert(toRow(customer))}`

  /** Every customer has a wallet from its first moment (DOMAIN §2), written in the same batch. */
  const insertWallet = (customer: Customer) => {
    const at = customer.createdAt.getTime()
    return sql`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
      VALUES (${customer.id}, 0, 0, ${at}, ${at})`
  }

  const insert = (customer: Customer) =>
    uow.write({
      operation: "creating a customer",
      statements: [insertCustomer(customer), insertWallet(customer)],
      onFailure: (failure) => customerExists(failure, customer.phone, customer.email)
    }).pipe(Effect.as(customer))

  const insertOrGetInTransaction = (customer: Customer & { readonly phone: Phone }) =>
    Effect.gen(function*() {
      const existing = yield* reads.findByPhone(customer.phone)
      if (Option.isSome(existing)) return { customer: existing.value, created: false }
      yield* uow.write<never>({
        operation: "creating a customer",
        statements: [insertCustomer(customer), insertWallet(customer)],
        // the phone was taken after our read: run the transaction again, it will find the holder
        onFailure: (failure) =>
          failure._tag === "UniqueViolation" && failure.constraint.includes("phone") ? rerun : undefined
      })
      return { customer, created: true }
    })

  const insertOrGetNow = (customer: Customer & { readonly phone: Phone }) =>
    Effect.gen(function*() {
      const at = customer.createdAt.getTime()
      // Bounded: a retry is needed only when the phone's holder changed its phone between our
      // conflicting insert and our read, which cannot happen twice in a row without a writer storm.
      for (let attempt = 0; attempt < 3; attempt++) {
        const [inserted] = yield* uow.writeNow<never>({
          operation: "creating a customer",
          statements: [
            sql`INSERT INTO c360_customers ${sql.insert(toRow(customer))} ON CONFLICT (phone) DO NOTHING RETURNING id`,
            sql`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
              SELECT ${customer.id}, 0, 0, ${at}, ${at}
              WHERE EXISTS (SELECT 1 FROM c360_customers WHERE id = ${customer.id})`
          ]
        })
        if (inserted !== undefined && inserted.length === 1) return { customer: customer as Customer, created: true }
        const existing = yield* reads.findByPhone(customer.phone)
        if (Option.isSome(existing)) return { customer: existing.value, created: false }
      }
      return yield* new StorageError({ reason: "contention", operation: "creating a customer" })
    })

  const insertOrGet = (customer: Customer & { readonly phone: Phone }) =>
    Effect.flatMap(uow.inTransaction, (inTransaction) =>
      inTransaction ? insertOrGetInTransaction(customer) : insertOrGetNow(customer))

  const update = (id: CustomerId, changes: CustomerChanges) =>
    uow.writeNow({
      operation: "updating a customer",
      statements: [sql`UPDATE c360_customers SET ${sql.update(changesToColumns(changes))} WHERE id = ${id} RETURNING *`],
      onFailure: (failure) => customerExists(failure, changes.phone, changes.email)
    }).pipe(
      Effect.flatMap(([rows]) =>
        rows === undefined || rows.length === 0
          ? Effect.succeed(Option.none<Customer>())
          : Effect.map(rowToCustomer(rows[0]!), Option.some)
      )
    )

  return CustomerRepository.of({ ...reads, insert, insertOrGet, update })
})

/** @internal */
export const layer: Layer.Layer<CustomerRepository, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(
  CustomerRepository,
  make
)
