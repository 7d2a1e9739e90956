/**
 * The merge contract, at the level of profiles (DOMAIN §9a, docs/merge.md): the field rule, the
 * merged profile's status, its phone and payment code finding the survivor, the journal and the
 * event, dry runs that write nothing and predict the merge, idempotency, refusals that write
 * nothing, chains of merges. Each module's own moves are tested by its part's suite
 * (merge.wallets, merge.modules); the model-based test over everything is merge.model.
 * Run on SQLite, deferred SQLite, PostgreSQL and D1 (merge.*.test.ts).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { Customers } from "../../src/customers/Customers.js"
import type { MergeResult } from "../../src/customers/Merge.js"
import { Outbox } from "../../src/platform/Outbox.js"
import { Transactions } from "../../src/platform/Transactions.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { freshPhone, freshWord, servicesOver } from "./customers.js"
import { differences, snapshot } from "./purchases.js"

const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.either(effect), (e) =>
    Either.isLeft(e) ? Effect.succeed(e.left) : Effect.die(new Error("expected a failure, but it succeeded")))
const tagOf = (e: unknown) => (typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e))

/** A merge result without what only the real merge has (its journal id) and the flag itself. */
export const comparable = (r: MergeResult) => {
  const { dryRun: _d, mergeId: _m, survivor, ...rest } = r
  return { ...rest, survivor: { ...survivor } }
}

const setUser = (customerId: string, userId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE c360_customers SET user_id = ${userId} WHERE id = ${customerId}`).pipe(
    Effect.orDie
  )

export const mergeContract = <E>(name: string, storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>) =>
  layer(servicesOver(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("the survivor keeps its values and takes the merged profile's where its own are empty; unique values (e-mail) leave the merged profile; the merged profile reads `merged` into the survivor; journal, event and activities once", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(Date.UTC(2031, 2, 1, 3))
        const word = freshWord()
        const survivor = yield* customers.create({ phone: freshPhone(), name: `Survivor ${word}`, city: "Hà Nội" })
        const merged = yield* customers.create({
          phone: freshPhone(),
          name: `Duplicate ${word}`,
          email: `${word}@example.vn`,
          city: "Huế",
          address: "12 Lê Lợi",
          birthDate: "1990-05-06"
        })
        const mark = yield* Effect.flatMap(Outbox, (o) => o.end)
        yield* TestClock.adjust("1 minute")
        const result = yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false, actor: "staff:lan" })
        expect(result).toMatchObject({ dryRun: false, repeated: false, survivorId: survivor.id, mergedIds: [merged.id], alreadyMerged: [] })
        expect(result.mergeId).toMatch(/^mrg_/)
        // the survivor keeps its name and city, takes e-mail, address and birth date
        const after = yield* customers.get(survivor.id)
        expect(after).toMatchObject({
          name: `Survivor ${word}`,
          city: "Hà Nội",
          email: `${word}@example.vn`,
          address: "12 Lê Lợi",
          birthDate: "1990-05-06",
          status: "active",
          mergedInto: null
        })
        expect(result.survivor).toMatchObject({ email: `${word}@example.vn`, address: "12 Lê Lợi" })
        const gone = yield* customers.get(merged.id)
        expect(gone).toMatchObject({ status: "merged", mergedInto: survivor.id, email: null, name: `Duplicate ${word}`, phone: merged.phone })
        // every change, before and after
        const changed = result.fields.map((f) => `${f.customerId === survivor.id ? "S" : "M"}.${f.field}`).sort()
        expect(changed).toEqual(["M.email", "M.mergedInto", "M.status", "S.address", "S.birthDate", "S.email"])
        expect(result.fields).toContainEqual({ customerId: merged.id, field: "status", before: "active", after: "merged" })
        // the journal holds the result
        const journal = yield* sql<{ id: string; survivor_id: string; actor: string; result: string }>`
          SELECT id, survivor_id, actor, result FROM c360_merges WHERE survivor_id = ${survivor.id}`
        expect(journal).toHaveLength(1)
        expect(journal[0]).toMatchObject({ id: result.mergeId, actor: "staff:lan" })
        expect(JSON.parse(journal[0]!.result)).toMatchObject({ fields: JSON.parse(JSON.stringify(result.fields)), mergedIds: [merged.id] })
        // one event, on the survivor
        const events = (yield* Effect.flatMap(Outbox, (o) => o.read(mark, 1000))).filter((e) => e.type === "customer.merged")
        expect(events).toHaveLength(1)
        expect(events[0]).toMatchObject({ subject: survivor.id, data: { mergeId: result.mergeId, survivorId: survivor.id, mergedIds: [merged.id] } })
        // an activity on each profile
        const activities = yield* sql<{ customer_id: string }>`SELECT customer_id FROM c360_activities
          WHERE kind = 'customer.merged' AND subject_id = ${result.mergeId!}`
        expect(activities.map((a) => a.customer_id).sort()).toEqual([survivor.id, merged.id].sort())
      }).pipe(Effect.orDie))

    it.effect("a merged profile's phone and payment code find the survivor: findByPhone, getOrCreate (nothing created), the 360 view; get by id still shows the merged profile", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const survivor = yield* customers.create({ phone: freshPhone(), name: "Keeps" })
        const merged = yield* customers.create({ phone: freshPhone(), name: "Goes" })
        yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false })
        const found = yield* customers.findByPhone(merged.phone!)
        expect(Option.map(found, (c) => c.id)).toEqual(Option.some(survivor.id))
        const again = yield* customers.getOrCreate({ phone: merged.phone!, source: "ticket" })
        expect(again).toMatchObject({ created: false, customer: { id: survivor.id } })
        const view = yield* customers.view360(merged.phone!)
        expect(view.customer.id).toBe(survivor.id)
        const byCode = yield* customers.findByPaymentCodes([merged.paymentCode])
        expect(byCode.map((c) => c.id)).toEqual([survivor.id])
        expect((yield* customers.get(merged.id)).status).toBe("merged")
      }).pipe(Effect.orDie))

    it.effect("the dry run (the default) writes nothing at all and returns exactly what the merge then does", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        yield* TestClock.setTime(Date.UTC(2031, 3, 1, 3))
        const survivor = yield* customers.create({ phone: freshPhone(), name: "S" })
        const merged = yield* customers.create({ phone: freshPhone(), name: "M", email: `${freshWord()}@example.vn`, notes: "VIP" })
        const before = yield* snapshot
        const preview = yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id] })
        expect(preview.dryRun).toBe(true)
        expect(preview.mergeId).toBeNull()
        expect(differences(before, yield* snapshot)).toEqual([])
        const real = yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false })
        expect(comparable(real)).toEqual(comparable(preview))
      }).pipe(Effect.orDie))

    it.effect("a repeated merge changes nothing and says so; a dry run of it too", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const survivor = yield* customers.create({ phone: freshPhone(), name: "S" })
        const merged = yield* customers.create({ phone: freshPhone(), name: "M" })
        yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false })
        const before = yield* snapshot
        const repeat = yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false })
        expect(repeat).toMatchObject({ repeated: true, mergeId: null, mergedIds: [], alreadyMerged: [merged.id], fields: [], moved: [] })
        const dry = yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id, merged.id] })
        expect(dry).toMatchObject({ repeated: true, alreadyMerged: [merged.id] })
        expect(differences(before, yield* snapshot)).toEqual([])
      }).pipe(Effect.orDie))

    it.effect("refusals write nothing: the survivor among the merged, a profile merged into another, a merged survivor, two logins, an unknown id, malformed ids", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const a = yield* customers.create({ phone: freshPhone(), name: "A" })
        const b = yield* customers.create({ phone: freshPhone(), name: "B" })
        const c = yield* customers.create({ phone: freshPhone(), name: "C" })
        const d = yield* customers.create({ phone: freshPhone(), name: "D" })
        yield* customers.merge({ survivorId: a.id, mergedIds: [b.id], dryRun: false })
        yield* setUser(c.id, `usr_${freshWord()}`)
        yield* setUser(d.id, `usr_${freshWord()}`)
        const before = yield* snapshot
        const refusals = [
          yield* failureOf(customers.merge({ survivorId: c.id, mergedIds: [c.id], dryRun: false })),
          yield* failureOf(customers.merge({ survivorId: c.id, mergedIds: [b.id], dryRun: false })),
          yield* failureOf(customers.merge({ survivorId: b.id, mergedIds: [c.id], dryRun: false })),
          yield* failureOf(customers.merge({ survivorId: c.id, mergedIds: [d.id], dryRun: false })),
          yield* failureOf(customers.merge({ survivorId: c.id, mergedIds: [d.id] }))
        ]
        expect(refusals.map(tagOf)).toEqual(["MergeRefused", "MergeRefused", "MergeRefused", "MergeRefused", "MergeRefused"])
        expect(refusals.map((e) => (e as Error).message)).toEqual([
          "Merge refused: the survivor cannot be merged into itself",
          `Merge refused: ${b.id} is already merged into ${a.id}`,
          `Merge refused: the survivor ${b.id} is itself merged into ${a.id}`,
          "Merge refused: the profiles are linked to different logins; a profile has at most one",
          "Merge refused: the profiles are linked to different logins; a profile has at most one"
        ])
        const unknown = `cus_${"0".repeat(26)}`
        expect(tagOf(yield* failureOf(customers.merge({ survivorId: a.id, mergedIds: [unknown], dryRun: false })))).toBe("CustomerNotFound")
        expect(tagOf(yield* failureOf(customers.merge({ survivorId: unknown, mergedIds: [a.id], dryRun: false })))).toBe("CustomerNotFound")
        for (const bad of [{}, { survivorId: a.id, mergedIds: [] }, { survivorId: "x", mergedIds: [c.id] }, { survivorId: a.id, mergedIds: [c.id], dryRun: "no" }]) {
          expect(tagOf(yield* failureOf(customers.merge(bad as never)))).toBe("ValidationError")
        }
        expect(differences(before, yield* snapshot)).toEqual([])
      }).pipe(Effect.orDie))

    it.effect("chains: a profile merged into one that is merged later finds the last survivor (one hop, always); several profiles at once", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const a = yield* customers.create({ phone: freshPhone(), name: "A" })
        const b = yield* customers.create({ phone: freshPhone(), name: "B" })
        const c = yield* customers.create({ phone: freshPhone(), name: "C" })
        const d = yield* customers.create({ phone: freshPhone(), name: "D" })
        yield* customers.merge({ survivorId: b.id, mergedIds: [a.id], dryRun: false })
        const second = yield* customers.merge({ survivorId: c.id, mergedIds: [b.id, d.id], dryRun: false })
        expect(second.mergedIds).toEqual([b.id, d.id])
        for (const id of [a.id, b.id, d.id]) expect((yield* customers.get(id)).mergedInto).toBe(c.id)
        for (const phone of [a.phone!, b.phone!, d.phone!]) {
          expect(Option.map(yield* customers.findByPhone(phone), (x) => x.id)).toEqual(Option.some(c.id))
        }
        const sql = yield* SqlClient.SqlClient
        const journaled = yield* sql<{ row_id: string }>`SELECT row_id FROM c360_merge_rows
          WHERE merge_id = ${second.mergeId!} AND table_name = 'c360_customers'`
        expect(journaled.map((r) => r.row_id)).toEqual([a.id])
      }).pipe(Effect.orDie))

    it.effect("a login moves to a survivor that has none (it becomes a member); the phone of a profile without one moves too; search leaves merged profiles out unless asked for", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const sql = yield* SqlClient.SqlClient
        const word = freshWord()
        const walkIn = yield* customers.create({ phone: freshPhone(), name: `Walk ${word}` })
        const stub = yield* customers.createForUser(`usr_${word}`)
        expect(stub).toMatchObject({ phone: null, userId: `usr_${word}`, type: "member" })
        const result = yield* customers.merge({ survivorId: walkIn.id, mergedIds: [stub.id], dryRun: false })
        expect(yield* customers.get(walkIn.id)).toMatchObject({ userId: `usr_${word}`, type: "member" })
        expect(yield* customers.get(stub.id)).toMatchObject({ userId: null, status: "merged" })
        expect(result.fields).toContainEqual({ customerId: walkIn.id, field: "type", before: "walk-in", after: "member" })
        // a survivor without a phone takes the merged profile's, and the phone stays unique
        const phoneless = yield* customers.createForUser(`usr_${word}2`)
        const donor = yield* customers.create({ phone: freshPhone(), name: `Donor ${word}` })
        yield* customers.merge({ survivorId: phoneless.id, mergedIds: [donor.id], dryRun: false })
        expect((yield* customers.get(phoneless.id)).phone).toBe(donor.phone)
        expect((yield* customers.get(donor.id)).phone).toBeNull()
        const holders = yield* sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_customers WHERE phone = ${donor.phone!}`
        expect(Number(holders[0]!.n)).toBe(1)
        // search
        const names = (page: { items: ReadonlyArray<{ name: string | null }> }) => page.items.map((c) => c.name).sort()
        // the phoneless survivor took the donor's name too; the merged donor is left out
        const byDefault = yield* customers.search({ q: word })
        expect(names(byDefault)).toEqual([`Donor ${word}`, `Walk ${word}`])
        expect(byDefault.items.map((c) => c.id).sort()).toEqual([phoneless.id, walkIn.id].sort())
        expect((yield* customers.search({ q: word, status: "merged" })).items.map((c) => c.id)).toEqual([donor.id])
        expect(names(yield* customers.search({ q: word, status: "inactive" }))).toEqual([])
      }).pipe(Effect.orDie))

    it.effect("in one transaction, a merge and then a wallet write by the merged profile's phone: the write reads the survivor's new state and lands on it (the wallets part's remembered state survives the profiles' write)", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const tx = yield* Transactions
        const survivor = yield* customers.create({ phone: freshPhone(), name: "S" })
        const merged = yield* customers.create({ phone: freshPhone(), name: "M" })
        yield* wallets.deposit({ phone: survivor.phone!, amount: 100_000, reference: `s-${freshWord()}`, source: "manual" })
        yield* wallets.deposit({ phone: merged.phone!, amount: 40_000, reference: `m-${freshWord()}`, source: "manual" })
        yield* tx.withTransaction(Effect.gen(function*() {
          yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false })
          yield* wallets.deposit({ phone: merged.phone!, amount: 5_000, reference: `after-${freshWord()}`, source: "manual" })
        }))
        expect((yield* wallets.get(survivor.phone!)).balance).toBe(145_000)
        expect((yield* wallets.get(merged.phone!)).balance).toBe(145_000)
        const sql = yield* SqlClient.SqlClient
        const left = yield* sql<{ balance: unknown }>`SELECT balance FROM c360_wallets WHERE customer_id = ${merged.id}`
        expect(Number(left[0]!.balance)).toBe(0)
      }).pipe(Effect.orDie))

    it.effect("concurrent merges of one profile into one survivor: one merges it, the others find it merged (one journal entry, one event)", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const sql = yield* SqlClient.SqlClient
        const survivor = yield* customers.create({ phone: freshPhone(), name: "S" })
        const merged = yield* customers.create({ phone: freshPhone(), name: "M" })
        const results = yield* Effect.all(
          Array.from({ length: 4 }, () => customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false })),
          { concurrency: "unbounded" }
        )
        expect(results.filter((r) => !r.repeated)).toHaveLength(1)
        const journal = yield* sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_merges WHERE survivor_id = ${survivor.id}`
        expect(Number(journal[0]!.n)).toBe(1)
      }).pipe(Effect.orDie))
  })
