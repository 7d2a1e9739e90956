/**
 * Merging duplicate profiles (DOMAIN §9a, docs/merge.md): the pure field rule, the result a merge
 * (or its dry run) returns, and the port through which every module moves what it holds.
 *
 * The customers module owns the merge — the profiles, the journal, the event — and knows none of the
 * other modules. Each module that holds something of a customer registers a {@link MergePart}
 * (wallets: the money; tickets, transfers, notes, activities, purchases, fraud: their rows). A merge
 * asks every part for its plan on the transaction's read, returns the plans as they are for a dry
 * run, and otherwise runs every plan's writes in the same unit of work as the profiles' changes and
 * the journal. A dry run and the merge it predicts run the same code on the same read: they cannot
 * differ.
 *
 * @since 0.4.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { StorageError } from "../kernel/Errors.js"
import { Text } from "../kernel/Text.js"
import { type Customer, CustomerId, type CustomerType } from "./Customer.js"

/**
 * Input of `customers.merge`: the survivor, 1 to 10 profiles to merge into it, and whether to only
 * preview (`dryRun`, **true unless `false` is given**: a merge is asked for explicitly).
 *
 * @since 0.4.0
 */
export const MergeInput = Schema.Struct({
  survivorId: CustomerId,
  mergedIds: Schema.Array(CustomerId).pipe(
    Schema.minItems(1, { message: () => "must name at least one profile to merge" }),
    Schema.maxItems(10, { message: () => "must name at most 10 profiles" })
  ),
  dryRun: Schema.optional(Schema.Boolean),
  actor: Schema.optional(Text(100))
})
/** @since 0.4.0 */
export type MergeInput = typeof MergeInput.Encoded

/**
 * The profile fields a survivor takes from a merged profile when its own is empty (`null`), from the
 * first merged profile (in the order given) that has one. Every other field is the survivor's.
 *
 * @since 0.4.0
 */
export const MERGE_FIELDS = [
  "name",
  "phone",
  "email",
  "address",
  "city",
  "province",
  "birthDate",
  "gender",
  "notes",
  "userId"
] as const satisfies ReadonlyArray<keyof Customer>

/** @since 0.4.0 */
export type MergeField = (typeof MERGE_FIELDS)[number]

/**
 * One field of one profile that a merge changes, before and after.
 *
 * @since 0.4.0
 */
export interface FieldChange {
  readonly customerId: string
  readonly field: string
  readonly before: unknown
  readonly after: unknown
}

/** The unique fields: a survivor that takes one takes it away from the merged profile. */
const UNIQUE_FIELDS: ReadonlySet<MergeField> = new Set(["phone", "email", "userId"])

const TYPE_RANK: Record<CustomerType, number> = { "walk-in": 0, member: 1, vip: 2 }

/**
 * The profile changes of merging `merged` into `survivor` (pure):
 * - the survivor keeps every value it has, and takes each of {@link MERGE_FIELDS} it lacks from the
 *   first merged profile that has it; a unique value it takes (phone, e-mail, login) is cleared on
 *   the profile it comes from, so that it stays unique;
 * - a survivor that ends up with a login is at least a `member` (a walk-in is a profile with no
 *   login, DOMAIN §9); otherwise its type is its own;
 * - every merged profile becomes `merged` into the survivor.
 *
 * Returns the survivor's values after the merge, each merged profile's, and every change.
 *
 * @since 0.4.0
 */
export const mergeFields = (survivor: Customer, merged: ReadonlyArray<Customer>): {
  readonly survivor: Readonly<Record<string, unknown>>
  readonly merged: ReadonlyArray<{ readonly id: string; readonly values: Readonly<Record<string, unknown>> }>
  readonly changes: ReadonlyArray<FieldChange>
} => {
  const after: Record<string, unknown> = {}
  const taken = new Map<string, Record<string, unknown>>(merged.map((m) => [m.id, {}]))
  const changes: Array<FieldChange> = []
  for (const field of MERGE_FIELDS) {
    if (survivor[field] !== null) continue
    const donor = merged.find((m) => m[field] !== null)
    if (donor === undefined) continue
    after[field] = donor[field]
    changes.push({ customerId: survivor.id, field, before: null, after: donor[field] })
    if (UNIQUE_FIELDS.has(field)) taken.get(donor.id)![field] = null
  }
  const userId = "userId" in after ? after.userId : survivor.userId
  if (userId !== null && TYPE_RANK[survivor.type] < TYPE_RANK.member) {
    after.type = "member"
    changes.push({ customerId: survivor.id, field: "type", before: survivor.type, after: "member" })
  }
  const mergedValues = merged.map((m) => {
    const values: Record<string, unknown> = { ...taken.get(m.id)!, status: "merged", mergedInto: survivor.id }
    for (const [field, value] of Object.entries(values)) {
      changes.push({ customerId: m.id, field, before: m[field as keyof Customer], after: value })
    }
    return { id: m.id, values }
  })
  return { survivor: after, merged: mergedValues, changes }
}

/**
 * What a module is told about one profile being merged.
 *
 * @since 0.4.0
 */
export interface MergeContext {
  /** The journal's id (`mrg_…`); a dry run has one too, never written. */
  readonly mergeId: string
  readonly survivor: Customer
  readonly merged: Customer
  readonly at: Date
  readonly actor: string
}

/**
 * A module's plan for one merged profile, made on the merge's read.
 *
 * @since 0.4.0
 */
export interface MergePartPlan {
  /**
   * What it moves, as plain JSON (counts, amounts, the rows' ids where they are few): exactly what
   * the dry run shows and the merge does — no random value, no instant other than the merge's.
   */
  readonly summary: Readonly<Record<string, unknown>>
  /**
   * Its writes, run in the merge's unit of work (never by a dry run). Rows it moves or writes are
   * recorded in the journal (`c360_merge_rows`, see {@link repoint}) by the same statements.
   */
  readonly apply: Effect.Effect<void, StorageError>
  /** Run once the merge has committed, when the merge is not part of a caller's transaction. */
  readonly after?: Effect.Effect<void> | undefined
}

/**
 * How one module takes part in merges.
 *
 * @since 0.4.0
 */
export interface MergePart {
  /** The module's name: the key of its summary in a merge's result. */
  readonly name: string
  /** Plans the move of what `merged` holds to `survivor`, reading only. */
  readonly plan: (context: MergeContext) => Effect.Effect<MergePartPlan, StorageError>
}

/**
 * Every module's merge part, registered once every service is built (as the 360 view's parts are).
 *
 * @since 0.4.0
 */
export class MergeParts extends Context.Tag("customer360/customers/MergeParts")<MergeParts, {
  readonly current: () => ReadonlyArray<MergePart>
  readonly register: (parts: ReadonlyArray<MergePart>) => void
}>() {}

/**
 * An empty set of merge parts, to register into.
 *
 * @since 0.4.0
 */
export const layerMergeParts: Layer.Layer<MergeParts> = Layer.sync(MergeParts, () => {
  let parts: ReadonlyArray<MergePart> = []
  return {
    current: () => parts,
    register: (more) => {
      parts = [...parts, ...more]
    }
  }
})

/**
 * The two statements that re-point a table's rows from the merged profile to the survivor, set-based
 * (nothing is read into memory, whatever the number of rows): the journal rows first (`moved`, one
 * per row, by its id as text), then the `UPDATE`. `where` narrows the rows (rows that would break a
 * unique key on the survivor stay where they are).
 *
 * @since 0.4.0
 */
export const repoint = (
  sql: SqlClient.SqlClient,
  context: MergeContext,
  spec: {
    readonly part: string
    readonly table: string
    readonly id?: string | undefined
    readonly column?: string | undefined
    readonly where?: Statement.Fragment | undefined
  }
): ReadonlyArray<Statement.Statement<unknown>> => {
  const column = spec.column ?? "customer_id"
  const from = context.merged.id
  const to = context.survivor.id
  const extra = spec.where === undefined ? sql.literal("") : sql`AND ${spec.where}`
  return [
    sql`INSERT INTO c360_merge_rows (merge_id, part, table_name, row_id, action, from_customer, to_customer)
      SELECT ${context.mergeId}, ${spec.part}, ${spec.table}, CAST(${sql(spec.id ?? "id")} AS TEXT), 'moved', ${from}, ${to}
      FROM ${sql(spec.table)} WHERE ${sql(column)} = ${from} ${extra}`,
    sql`UPDATE ${sql(spec.table)} SET ${sql(column)} = ${to} WHERE ${sql(column)} = ${from} ${extra}`
  ]
}

/**
 * A journal row for a row a merge wrote or closed (a new credit, a ledger entry, a closed credit).
 *
 * @since 0.4.0
 */
export const journalRow = (
  sql: SqlClient.SqlClient,
  context: MergeContext,
  row: {
    readonly part: string
    readonly table: string
    readonly rowId: string
    readonly action: "created" | "closed" | "changed"
    readonly data?: unknown
  }
): Statement.Statement<unknown> =>
  sql`INSERT INTO c360_merge_rows (merge_id, part, table_name, row_id, action, from_customer, to_customer, data)
    VALUES (${context.mergeId}, ${row.part}, ${row.table}, ${row.rowId}, ${row.action}, ${context.merged.id},
      ${context.survivor.id}, ${row.data === undefined ? null : JSON.stringify(row.data)})`

/**
 * What a merge did — or, for a dry run, would do. A dry run and the merge after it (on the same
 * data) return the same value but for `mergeId` and `dryRun`.
 *
 * @since 0.4.0
 */
export interface MergeResult {
  /** The journal's id; `null` for a dry run and for a merge with nothing left to do. */
  readonly mergeId: string | null
  readonly dryRun: boolean
  /** Every named profile was already merged into the survivor: nothing was (or would be) done. */
  readonly repeated: boolean
  readonly survivorId: string
  /** The profiles merged by this call. */
  readonly mergedIds: ReadonlyArray<string>
  /** The profiles named that were already merged into the survivor (left as they are). */
  readonly alreadyMerged: ReadonlyArray<string>
  /** Every field of every profile that changes, before and after. */
  readonly fields: ReadonlyArray<FieldChange>
  /** What each module moves, per merged profile, by module name. */
  readonly moved: ReadonlyArray<{ readonly customerId: string; readonly parts: Readonly<Record<string, unknown>> }>
  /** The survivor as it is after the merge. */
  readonly survivor: Customer
}

/**
 * A merge cannot be done as asked; nothing was written. `reason` says why (the survivor is itself
 * merged; a profile is merged into another; the profiles are linked to two different logins; the
 * survivor is among the merged).
 *
 * @since 0.4.0
 */
export class MergeRefused extends Schema.TaggedError<MergeRefused>()("MergeRefused", {
  reason: Schema.String
}) {
  override get message(): string {
    return `Merge refused: ${this.reason}`
  }
}
