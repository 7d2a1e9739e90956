/**
 * Notes and activities storage: the port and its one SQL implementation (every engine), and the
 * platform's `ActivityLog` over the same table. Both tables are append-only; both are read newest
 * first per customer, by `(at, id)` cursors. Every write goes through the unit of work, so a note
 * and its event, or an activity and the change it records, commit together.
 *
 * @since 0.2.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Position } from "../kernel/Cursor.js"
import type { StorageError } from "../kernel/Errors.js"
import { type Activity, ActivityLog } from "../platform/ActivityLog.js"
import { int, jsonColumn } from "../platform/sql/Columns.js"
import { jsonRows } from "../platform/sql/JsonRows.js"
import { storage } from "../platform/sql/SqlFailure.js"
import { UnitOfWork } from "../platform/UnitOfWork.js"
import { encodeId } from "../kernel/Ids.js"
import { randomBytes } from "../kernel/Random.js"
import { type MergeContext, repoint } from "../customers/index.js"
import { ActivityRecord, Note } from "./Note.js"

/** What a newest-first read asks for: the items after `before` (older), at most `limit`. @since 0.2.0 */
export interface Slice {
  readonly before: Position | null
  readonly limit: number
}

/**
 * The notes repository.
 *
 * @since 0.2.0
 */
export class NoteRepository extends Context.Tag("customer360/NoteRepository")<NoteRepository, {
  readonly insert: (note: Note) => Effect.Effect<void, StorageError>
  readonly notes: (customerId: string, slice: Slice) => Effect.Effect<ReadonlyArray<Note>, StorageError>
  readonly activities: (
    customerId: string,
    slice: Slice & {
      readonly kinds?: ReadonlyArray<string> | undefined
      readonly exceptSubjects?: ReadonlyArray<string> | undefined
    }
  ) => Effect.Effect<ReadonlyArray<ActivityRecord>, StorageError>
  /** How many notes and activities the customer has now (a merge's plan, docs/merge.md). */
  readonly mergeCounts: (customerId: string) => Effect.Effect<{ readonly notes: number; readonly activities: number }, StorageError>
  /**
   * Re-points every note and activity of the merged profile to the survivor, set-based, each row
   * journaled as `moved` by the same statements (docs/merge.md).
   */
  readonly mergeInto: (context: MergeContext) => Effect.Effect<void, StorageError>
}>() {}

const toNote = (r: Record<string, unknown>) =>
  new Note({
    id: String(r.id),
    customerId: String(r.customer_id),
    author: String(r.author),
    text: String(r.text),
    createdAt: new Date(int(r.created_at))
  })

const toActivity = (r: Record<string, unknown>) =>
  new ActivityRecord({
    id: String(r.id),
    customerId: String(r.customer_id),
    actor: String(r.actor),
    kind: String(r.kind),
    subjectType: String(r.subject_type),
    subjectId: String(r.subject_id),
    summary: String(r.summary),
    data: jsonColumn(r.data),
    at: new Date(int(r.at))
  })

/** @since 0.2.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork

  const after = (column: "created_at" | "at", before: Position | null) =>
    before === null
      ? sql`1 = 1`
      : sql`(${sql(column)} < ${before.at} OR (${sql(column)} = ${before.at} AND id < ${before.id}))`

  const insert = (note: Note) =>
    uow.write<never>({
      operation: "adding a note",
      statements: [sql`INSERT INTO c360_notes ${sql.insert({
        id: note.id,
        customer_id: note.customerId,
        author: note.author,
        text: note.text,
        created_at: note.createdAt.getTime()
      })}`]
    })

  const notes = (customerId: string, slice: Slice) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_notes WHERE customer_id = ${customerId}
      AND ${after("created_at", slice.before)} ORDER BY created_at DESC, id DESC LIMIT ${slice.limit}`.pipe(
      storage("reading notes"),
      Effect.map((rows) => rows.map(toNote))
    )

  const activities = (
    customerId: string,
    slice: Slice & {
      readonly kinds?: ReadonlyArray<string> | undefined
      readonly exceptSubjects?: ReadonlyArray<string> | undefined
    }
  ) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_activities WHERE customer_id = ${customerId}
      AND ${after("at", slice.before)}
      AND ${slice.kinds === undefined || slice.kinds.length === 0 ? sql`1 = 1` : sql.in("kind", slice.kinds)}
      AND ${
      slice.exceptSubjects === undefined || slice.exceptSubjects.length === 0
        ? sql`1 = 1`
        : sql`subject_type NOT IN ${sql.in(slice.exceptSubjects)}`
    }
      ORDER BY at DESC, id DESC LIMIT ${slice.limit}`.pipe(
      storage("reading activities"),
      Effect.map((rows) => rows.map(toActivity))
    )

  const record = (list: ReadonlyArray<Activity>) =>
    list.length === 0 ? Effect.void : uow.write<never>({
      operation: "recording activities",
      statements: [sql`INSERT INTO c360_activities (id, customer_id, actor, kind, subject_type, subject_id, summary, data, at)
        SELECT value->>'id', value->>'customer_id', value->>'actor', value->>'kind', value->>'subject_type',
          value->>'subject_id', value->>'summary', value->>'data', CAST(value->>'at' AS BIGINT)
        FROM ${jsonRows(sql, list.map((a) => ({
          id: encodeId("act", a.at.getTime(), randomBytes(10)),
          customer_id: a.customerId,
          actor: a.actor,
          kind: a.kind,
          subject_type: a.subjectType,
          subject_id: a.subjectId,
          summary: a.summary,
          data: JSON.stringify(a.data ?? {}),
          at: a.at.getTime()
        })))}
        WHERE EXISTS (SELECT 1 FROM c360_customers c WHERE c.id = value->>'customer_id')
        ORDER BY key`]
    })

  const mergeCounts = (customerId: string) =>
    sql<{ notes: unknown; activities: unknown }>`SELECT
        (SELECT count(*) FROM c360_notes WHERE customer_id = ${customerId}) AS notes,
        (SELECT count(*) FROM c360_activities WHERE customer_id = ${customerId}) AS activities`.pipe(
      storage("counting the notes and activities of a merged profile"),
      Effect.map((rows) => ({ notes: int(rows[0]?.notes ?? 0), activities: int(rows[0]?.activities ?? 0) }))
    )

  const mergeInto = (context: MergeContext) =>
    uow.write<never>({
      operation: "moving notes and activities to a merge's survivor",
      statements: [
        ...repoint(sql, context, { part: "notes", table: "c360_notes" }),
        ...repoint(sql, context, { part: "notes", table: "c360_activities" })
      ]
    })

  return {
    repository: NoteRepository.of({ insert, notes, activities, mergeCounts, mergeInto }),
    log: ActivityLog.of({ record })
  }
})

/**
 * The repository and the activity log as layers over the client and the unit of work.
 *
 * @since 0.2.0
 */
export const layer: Layer.Layer<NoteRepository | ActivityLog, never, SqlClient.SqlClient | UnitOfWork> = Layer
  .effectContext(Effect.map(make, ({ log, repository }) => Context.make(NoteRepository, repository).pipe(Context.add(ActivityLog, log))))
