/**
 * How the imports module takes part in merges (DOMAIN §9a, docs/merge.md): the POS customers, VIPs
 * and sales linked to the merged profile are re-pointed to the survivor, each moved row journaled in
 * `c360_merge_rows` (POS customers by `vip_id:phone_key`, VIPs by vip id, sales by invoice number).
 * Fingerprints are left as they are: a re-import of the same files after a merge stays a no-op.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { type MergePart } from "../customers/index.js"
import { int } from "../platform/sql/Columns.js"
import { storage } from "../platform/sql/SqlFailure.js"
import { UnitOfWork } from "../platform/UnitOfWork.js"

const TABLES = [
  { table: "c360_pos_customers", row: "CAST(vip_id AS TEXT) || ':' || phone_key", summary: "posCustomers" },
  { table: "c360_pos_vips", row: "CAST(vip_id AS TEXT)", summary: "vips" },
  { table: "c360_pos_sales", row: "invoice_number", summary: "sales" }
] as const

/**
 * The imports part: summary `{ posCustomers, vips, sales }`, the rows linked to the merged profile
 * on the merge's read, all of which the merge moves.
 *
 * @internal
 */
export const mergeParts: Effect.Effect<ReadonlyArray<MergePart>, never, SqlClient.SqlClient | UnitOfWork> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork
  return [{
    name: "imports",
    plan: (context) =>
      Effect.gen(function*() {
        const from = context.merged.id
        const to = context.survivor.id
        const rows = yield* storage("counting a merged profile's POS rows")(sql<Record<string, unknown>>`SELECT
          (SELECT count(*) FROM c360_pos_customers WHERE customer_id = ${from}) AS c,
          (SELECT count(*) FROM c360_pos_vips WHERE customer_id = ${from}) AS v,
          (SELECT count(*) FROM c360_pos_sales WHERE customer_id = ${from}) AS s`)
        const r = rows[0] ?? {}
        return {
          summary: { posCustomers: int(r.c), vips: int(r.v), sales: int(r.s) },
          apply: uow.write({
            operation: "moving a merged profile's POS rows",
            statements: TABLES.flatMap(({ row, table }) => [
              sql`INSERT INTO c360_merge_rows (merge_id, part, table_name, row_id, action, from_customer, to_customer)
                SELECT ${context.mergeId}, 'imports', ${table}, ${sql.literal(row)}, 'moved', ${from}, ${to}
                FROM ${sql.literal(table)} WHERE customer_id = ${from}`,
              sql`UPDATE ${sql.literal(table)} SET customer_id = ${to} WHERE customer_id = ${from}`
            ])
          })
        }
      })
  }]
})
