/**
 * The notes, activities and timeline contract (DOMAIN §4a, docs/timeline.md), run against SQLite,
 * SQLite with deferred writes, PostgreSQL and D1 (timeline.*.test.ts): notes written once and read
 * newest first, with their event, validated before anything is written; activities recorded for
 * customer changes, ticket actions and transfer links in the transaction of the change (and only if
 * it commits); and the timeline — one stream, newest first, of ledger entries, bank transfers, ticket
 * history, notes and activities — read page by page with its composite cursor, which must give the
 * same entries as one big page, each once, whatever the page size and whatever is added meanwhile.
 * A property test runs random interleavings of deposits, notes and ticket actions at random clock
 * steps (equal instants included) and compares every page walk with the full list.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import type { Customer } from "../../src/customers/Customer.js"
import { Customers } from "../../src/customers/Customers.js"
import * as Config from "../../src/kernel/Config.js"
import type { StoredEvent } from "../../src/kernel/Events.js"
import * as Registry from "../../src/modules.js"
import type { ActivityRecord, Page } from "../../src/notes/Note.js"
import { Notes } from "../../src/notes/Notes.js"
import * as EventBus from "../../src/platform/EventBus.js"
import { Outbox } from "../../src/platform/Outbox.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { Tickets } from "../../src/tickets/Tickets.js"
import { Timeline, type TimelineEntry, type TimelineKind, type TimelineOptions, type TimelinePage } from "../../src/timeline/Timeline.js"
import { Transfers } from "../../src/transfers/Transfers.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { freshPhone, freshWord } from "./customers.js"

const SECOND = 1_000
const KINDS: ReadonlyArray<TimelineKind> = ["ledger", "transfer", "ticket", "note", "activity"]
/** Subjects of activities the timeline leaves out: their records are entries of their own. */
const OWN_ENTRIES = ["ticket", "transfer", "wallet"] as const
const KIND_ORDER: Record<TimelineKind, number> = { ledger: 0, transfer: 1, ticket: 2, note: 3, activity: 4 }

// --- the shop's bank side: a SePay key, so that transfers can be received -----------------------

export const TIMELINE_SEPAY_KEY = "timeline-contract-sepay-key"
const AUTHORIZATION = `Apikey ${TIMELINE_SEPAY_KEY}`
const BANK_ACCOUNT = "0071000555444"

/** The configuration with a SePay key and a bank account. */
const config = Config.layer({
  timeZone: Config.defaultTimeZone,
  phone: {},
  transfers: {
    sepayApiKey: TIMELINE_SEPAY_KEY,
    bankBin: "970436",
    bankAccount: BANK_ACCOUNT,
    shopPhones: new Set(["0909555444"]),
    shopAccounts: new Set([BANK_ACCOUNT])
  },
  rfm: Config.defaultRfmConfig,
  fraud: { rules: undefined }
})

/** Every service over the given storage, with the transfers configured, the storage exposed for assertions. */
export const timelineServices = <E>(storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>) =>
  Registry.services.pipe(
    Layer.provideMerge(Layer.mergeAll(config, EventBus.layer)),
    Layer.provideMerge(storage)
  )

let sepayIds = 7_000_000 + Math.floor(Math.random() * 1_000_000) * 100
/** A SePay webhook body for an incoming transfer; `transactionDate` is the bank's local time. */
const sepayBody = (content: string, amount: number, transactionDate: string) => ({
  id: sepayIds++,
  gateway: "Vietcombank",
  transactionDate,
  accountNumber: BANK_ACCOUNT,
  code: null,
  content,
  transferType: "in",
  transferAmount: amount,
  accumulated: 10_000_000,
  subAccount: null,
  referenceCode: `FT${sepayIds}`,
  description: `BankAPINotify ${content}`
})

/** The local time (Hanoi, UTC+7) of an instant, as SePay writes it: `2026-05-10 10:00:08`. */
const hanoiTime = (millis: number) => new Date(millis + 7 * 3_600_000).toISOString().slice(0, 19).replace("T", " ")

// --- reading ---------------------------------------------------------------------------------------

const scalar = (query: Effect.Effect<ReadonlyArray<{ readonly n: unknown }>, unknown>) =>
  Effect.map(query, (rows) => Number(rows[0]?.n ?? 0)).pipe(Effect.orDie)

/** Rows of the notes module's tables and of the outbox. */
const rowCounts = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all({
    notes: scalar(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_notes`),
    activities: scalar(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_activities`),
    outbox: scalar(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_outbox`)
  }))

const outboxEnd = Effect.flatMap(Outbox, (o) => o.end)
const eventsSince = (mark: string) => Effect.flatMap(Outbox, (o) => o.read(mark, 10_000)).pipe(Effect.orDie)

const newCustomer = (name = "Timeline customer") =>
  Effect.flatMap(Customers, (c) => c.create({ phone: freshPhone(), name })).pipe(
    Effect.orDie,
    Effect.map((c) => c as Customer & { readonly phone: string })
  )

const keyOf = (e: TimelineEntry) => `${e.kind}:${e.id}`

/** Reads the timeline page by page until `nextCursor` is null; returns the entries and the number of pages. */
export const walk = (phone: string, options: { readonly limit: number; readonly kinds?: ReadonlyArray<TimelineKind> }) =>
  Effect.gen(function*() {
    const timeline = yield* Timeline
    const items: Array<TimelineEntry> = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page: TimelinePage = yield* timeline.timeline(phone, { ...options, cursor })
      expect(page.items.length).toBeLessThanOrEqual(options.limit)
      items.push(...page.items)
      cursor = page.nextCursor
      pages++
      expect(pages, "the walk does not end").toBeLessThan(1_000)
    } while (cursor !== null)
    return { items, pages }
  })

/** The whole timeline in one page (at most 100 entries). */
const full = (phone: string, kinds?: ReadonlyArray<TimelineKind>) =>
  Effect.flatMap(Timeline, (t) => t.timeline(phone, { limit: 100, ...(kinds === undefined ? {} : { kinds }) })).pipe(
    Effect.map((page) => {
      expect(page.nextCursor).toBeNull()
      return page.items
    })
  )

/**
 * The documented order: newest first; at one instant, by kind (ledger, transfer, ticket, note,
 * activity), then ledger entries in reverse commit order (their `seq`, given here as the position in
 * `ledgerOrder`, newest first) and other entries by id, descending.
 */
const expectSorted = (items: ReadonlyArray<TimelineEntry>, ledgerOrder?: ReadonlyArray<string>) => {
  for (let i = 1; i < items.length; i++) {
    const a = items[i - 1]!
    const b = items[i]!
    const at = a.at.getTime() - b.at.getTime()
    expect(at, `${keyOf(a)} before ${keyOf(b)}`).toBeGreaterThanOrEqual(0)
    if (at !== 0) continue
    expect(KIND_ORDER[a.kind], `${keyOf(a)} before ${keyOf(b)} at one instant`).toBeLessThanOrEqual(KIND_ORDER[b.kind])
    if (a.kind !== b.kind) continue
    if (a.kind === "ledger") {
      if (ledgerOrder !== undefined) expect(ledgerOrder.indexOf(a.id)).toBeLessThan(ledgerOrder.indexOf(b.id))
    } else {
      expect(a.id > b.id, `${keyOf(a)} before ${keyOf(b)} at one instant`).toBe(true)
    }
  }
}

/** Every walk (page sizes `limits`) equals the single big page: same entries, same order, each once. */
const expectWalksEqual = (phone: string, all: ReadonlyArray<TimelineEntry>, limits: ReadonlyArray<number>, kinds?: ReadonlyArray<TimelineKind>) =>
  Effect.gen(function*() {
    for (const limit of limits) {
      const { items, pages } = yield* walk(phone, { limit, ...(kinds === undefined ? {} : { kinds }) })
      expect(items.map(keyOf), `limit ${limit}`).toEqual(all.map(keyOf))
      expect(items, `limit ${limit}`).toEqual(all)
      expect(new Set(items.map(keyOf)).size).toBe(items.length)
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(all.length / limit))
      expect(pages).toBeLessThanOrEqual(Math.ceil(all.length / limit) + 1)
    }
  })

const countByKind = (items: ReadonlyArray<TimelineEntry>) => {
  const counts: Record<TimelineKind, number> = { ledger: 0, transfer: 0, ticket: 0, note: 0, activity: 0 }
  for (const e of items) counts[e.kind]++
  return counts
}

/** The ids each module holds for the customer, read from the modules themselves. */
const sourcesOf = (customerId: string) =>
  Effect.gen(function*() {
    const wallets = yield* Wallets
    const transfers = yield* Transfers
    const tickets = yield* Tickets
    const notes = yield* Notes
    const slice = { before: null, limit: 1_000 }
    return {
      ledger: (yield* wallets.ledgerOf(customerId, slice)).map((r) => r.entry.id),
      transfer: (yield* transfers.forCustomer(customerId, slice)).map((t) => t.id),
      ticket: (yield* tickets.customerHistory(customerId, slice)).map((r) => r.action.id),
      note: (yield* notes.notesOf(customerId, slice)).map((n) => n.id),
      // the stream leaves out activities whose subject has entries of its own
      activity: (yield* notes.activitiesOf(customerId, { ...slice, exceptSubjects: [...OWN_ENTRIES] })).map((a) => a.id)
    } satisfies Record<TimelineKind, ReadonlyArray<string>>
  }).pipe(Effect.orDie)

const idsOfKind = (items: ReadonlyArray<TimelineEntry>, kind: TimelineKind) =>
  items.filter((e) => e.kind === kind).map((e) => e.id)

// --- the contract ------------------------------------------------------------------------------------

/**
 * `propertyRuns`: the property test's number of runs (default 15); `quick`: fewer extra walks beyond
 * the page sizes 1, 2, 3 and 7 (for an engine whose every statement is slow).
 */
export const timelineContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly propertyRuns?: number; readonly quick?: boolean } = {}
) =>
  layer(timelineServices(storage), { timeout: "120 seconds" })(name, (it) => {
    const quick = options.quick === true
    // --- notes -------------------------------------------------------------------------------------

    it.effect("add writes a note (trimmed, several lines allowed) with customer.note_added; list reads them newest first; the author defaults to the actor, else system", () =>
      Effect.gen(function*() {
        const notes = yield* Notes
        const T = Date.UTC(2026, 4, 1, 3)
        yield* TestClock.setTime(T)
        const customer = yield* newCustomer()
        const mark = yield* outboxEnd
        const first = yield* notes.add(`+84 ${customer.phone.slice(1)}`, { text: "  gọi lại sau 5 giờ  " })
        expect(first).toMatchObject({ customerId: customer.id, author: "system", text: "gọi lại sau 5 giờ" })
        expect(first.createdAt.getTime()).toBe(T)
        expect(first.id).toMatch(/^not_[0-9A-HJKMNP-TV-Z]{26}$/)
        yield* TestClock.adjust(SECOND)
        const second = yield* notes.add(customer.phone, { text: "dòng một\ndòng hai\r\n\tdòng ba" }, { actor: "staff:lan" })
        expect(second).toMatchObject({ author: "staff:lan", text: "dòng một\ndòng hai\r\n\tdòng ba" })
        yield* TestClock.adjust(SECOND)
        const third = yield* notes.add(customer.phone, { text: "x".repeat(2_000), author: " Hoa " }, { actor: "staff:lan" })
        expect(third).toMatchObject({ author: "Hoa", text: "x".repeat(2_000) })
        // two at one instant: newest first means by id, descending
        const fourth = yield* notes.add(customer.phone, { text: "same instant" })
        expect(fourth.createdAt).toEqual(third.createdAt)

        const all = yield* notes.list(customer.phone)
        const expected = [third, fourth].sort((a, b) => (a.id < b.id ? 1 : -1))
        expect(all.items).toEqual([...expected, second, first])
        expect(all.nextCursor).toBeNull()
        // page by page
        const page1 = yield* notes.list(customer.phone, { limit: 3 })
        expect(page1.items).toEqual(all.items.slice(0, 3))
        expect(page1.nextCursor).not.toBeNull()
        const page2 = yield* notes.list(customer.phone, { limit: 3, cursor: page1.nextCursor })
        expect(page2).toEqual({ items: [first], nextCursor: null })
        const exact = yield* notes.list(customer.phone, { limit: 4 })
        expect(exact).toEqual({ items: all.items, nextCursor: null })

        // one event per note, in the customers channel, in the note's transaction
        const events = (yield* eventsSince(mark)).filter((e: StoredEvent) => e.type === "customer.note_added")
        expect(events.map((e) => [e.channel, e.subject, e.data])).toEqual(
          [first, second, third, fourth].map((n) => ["customers", customer.id, { noteId: n.id, author: n.author, text: n.text }])
        )
        expect(events.map((e) => e.occurredAt.getTime())).toEqual([T, T + SECOND, T + 2 * SECOND, T + 2 * SECOND])
        // a note is not an activity
        const activities = yield* notes.activities(customer.phone)
        expect(activities.items.map((a) => a.kind)).toEqual(["customer.created"])
      }))

    it.effect("notes are never edited: the service has no operation that changes or removes one; a correction is a new note", () =>
      Effect.gen(function*() {
        const notes = yield* Notes
        expect(Object.keys(notes).sort()).toEqual(["activities", "activitiesOf", "add", "list", "notesOf"])
        const customer = yield* newCustomer()
        const wrong = yield* notes.add(customer.phone, { text: "giao hàng thứ 3" })
        yield* TestClock.adjust(SECOND)
        const fixed = yield* notes.add(customer.phone, { text: "sửa: giao hàng thứ 4" })
        const page = yield* notes.list(customer.phone)
        expect(page.items).toEqual([fixed, wrong])
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ text: string }>`SELECT text FROM c360_notes WHERE id = ${wrong.id}`.pipe(Effect.orDie)
        expect(rows.map((r) => r.text)).toEqual(["giao hàng thứ 3"])
      }))

    it.effect("bad note input (empty, blank, too long, control characters, wrong types, extra fields, a bad actor) is a ValidationError and writes nothing; an unknown phone is CustomerNotFound", () =>
      Effect.gen(function*() {
        const notes = yield* Notes
        const customer = yield* newCustomer()
        const before = yield* rowCounts
        const bad: ReadonlyArray<[unknown, unknown?]> = [
          [{ text: "" }],
          [{ text: "   \n\t  " }],
          [{ text: "x".repeat(2_001) }],
          [{ text: "a\u0000b" }],
          [{ text: "bell\u0007" }],
          [{ text: "escape\u001b[31m" }],
          [{ text: "del\u007f" }],
          [{ text: "\uD800lone" }],
          [{ text: 42 }],
          [{ text: null }],
          [{}],
          [null],
          ["just a string"],
          [{ text: "ok", author: "" }],
          [{ text: "ok", author: "two\nlines" }],
          [{ text: "ok", author: "x".repeat(101) }],
          [{ text: "ok", author: 7 }],
          [{ text: "ok", pinned: true }],
          [{ text: "ok" }, { actor: " " }],
          [{ text: "ok" }, { actor: "a\u0000" }],
          [{ text: "ok" }, { actor: "x".repeat(101) }]
        ]
        for (const [input, opts] of bad) {
          const error = yield* Effect.flip(notes.add(customer.phone, input as never, opts as never))
          expect(error._tag, JSON.stringify(input)).toBe("ValidationError")
        }
        expect((yield* Effect.flip(notes.add(freshPhone(), { text: "nobody" })))._tag).toBe("CustomerNotFound")
        expect((yield* Effect.flip(notes.add("0111 234 567", { text: "bad phone" })))._tag).toBe("InvalidPhone")
        expect((yield* Effect.flip(notes.add(42 as never, { text: "bad phone" })))._tag).toMatch(/^(InvalidPhone|ValidationError)$/)
        expect(yield* rowCounts).toEqual(before)
        expect((yield* notes.list(customer.phone)).items).toEqual([])
        // reads validate too
        for (const opts of [{ limit: 0 }, { limit: 101 }, { limit: 1.5 }, { cursor: "nope" }, { cursor: 3 }, { extra: 1 }]) {
          expect((yield* Effect.flip(notes.list(customer.phone, opts as never)))._tag, JSON.stringify(opts)).toBe("ValidationError")
          expect((yield* Effect.flip(notes.activities(customer.phone, opts as never)))._tag, JSON.stringify(opts)).toBe("ValidationError")
        }
        expect((yield* Effect.flip(notes.activities(customer.phone, { kinds: "customer.created" } as never)))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(notes.list(freshPhone())))._tag).toBe("CustomerNotFound")
        expect((yield* Effect.flip(notes.activities(freshPhone())))._tag).toBe("CustomerNotFound")
      }))

    // --- activities --------------------------------------------------------------------------------

    it.effect("activities: customer.created (system:<source>), customer.updated (the changed fields, the actor), customer.deleted; newest first; kinds filters", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const notes = yield* Notes
        const T = Date.UTC(2026, 4, 2, 3)
        yield* TestClock.setTime(T)
        const customer = yield* newCustomer()
        const fromTicket = yield* customers.getOrCreate({ phone: freshPhone(), source: "ticket" })
        const created = yield* notes.activities(customer.phone)
        expect(created.items.map((a) => [a.kind, a.actor, a.subjectType, a.subjectId, a.customerId, a.at.getTime()])).toEqual([
          ["customer.created", "system:customer_hub", "customer", customer.id, customer.id, T]
        ])
        expect(created.items[0]!.summary).toContain("customer_hub")
        expect((yield* notes.activities(fromTicket.customer.phone!)).items.map((a) => [a.kind, a.actor])).toEqual([
          ["customer.created", "system:ticket"]
        ])

        yield* TestClock.adjust(SECOND)
        yield* customers.update(customer.id, { name: "Trần Thị Mai", city: "Huế" }, { actor: "staff:an" })
        yield* TestClock.adjust(SECOND)
        yield* customers.update(customer.id, { email: `${freshWord()}@shop.vn` })
        yield* TestClock.adjust(SECOND)
        yield* customers.delete(customer.id, { actor: "staff:binh" })

        const all = yield* notes.activities(customer.phone)
        expect(all.nextCursor).toBeNull()
        expect(all.items.map((a) => [a.kind, a.actor, a.at.getTime() - T])).toEqual([
          ["customer.deleted", "staff:binh", 3 * SECOND],
          ["customer.updated", "system", 2 * SECOND],
          ["customer.updated", "staff:an", SECOND],
          ["customer.created", "system:customer_hub", 0]
        ])
        const [deleted, email, named] = all.items
        expect((named!.data as { fields: ReadonlyArray<string> }).fields.slice().sort()).toEqual(["city", "name"])
        expect(named!.summary).toContain("name")
        expect(named!.summary).toContain("city")
        expect(email!.data).toEqual({ fields: ["email"] })
        expect(deleted!.summary).toContain("delete")
        for (const a of all.items) expect([a.subjectType, a.subjectId]).toEqual(["customer", customer.id])

        // kinds
        const updates = yield* notes.activities(customer.phone, { kinds: ["customer.updated"] })
        expect(updates.items).toEqual([email, named])
        const two = yield* notes.activities(customer.phone, { kinds: ["customer.deleted", "customer.created", "customer.deleted"] })
        expect(two.items.map((a) => a.kind)).toEqual(["customer.deleted", "customer.created"])
        expect((yield* notes.activities(customer.phone, { kinds: [] })).items).toEqual(all.items)
        expect((yield* notes.activities(customer.phone, { kinds: ["no.such.kind"] })).items).toEqual([])
        // page by page, with and without kinds
        const seen: Array<string> = []
        let cursor: string | null = null
        do {
          const page: Page<ActivityRecord> = yield* notes.activities(customer.phone, { limit: 1, cursor })
          seen.push(...page.items.map((a) => a.id))
          cursor = page.nextCursor
        } while (cursor !== null)
        expect(seen).toEqual(all.items.map((a) => a.id))
        const firstUpdate = yield* notes.activities(customer.phone, { limit: 1, kinds: ["customer.updated"] })
        expect(firstUpdate.items).toEqual([email])
        const secondUpdate = yield* notes.activities(customer.phone, { limit: 1, kinds: ["customer.updated"], cursor: firstUpdate.nextCursor })
        expect(secondUpdate).toEqual({ items: [named], nextCursor: null })
      }))

    it.effect("an activity is written only when its change commits: a refused update (CustomerExists, CustomerNotFound, bad input), an empty patch and a refused ticket action leave none", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const notes = yield* Notes
        const tickets = yield* Tickets
        const email = `${freshWord()}@shop.vn`
        const a = yield* Effect.orDie(customers.create({ phone: freshPhone(), name: "A", email }))
        const b = yield* newCustomer("B")
        const before = yield* notes.activities(b.phone)
        const rowsBefore = yield* rowCounts
        expect((yield* Effect.flip(customers.update(b.id, { email: email.toUpperCase() }, { actor: "staff:an" })))._tag).toBe("CustomerExists")
        expect((yield* Effect.flip(customers.update(b.id, { phone: a.phone!, name: "B2" }, { actor: "staff:an" })))._tag).toBe("CustomerExists")
        expect((yield* Effect.flip(customers.update(b.id, { name: "" }, { actor: "staff:an" })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(customers.update(b.id, { name: "B3" }, { actor: "" })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(customers.update("cus_00000000000000000000000000", { name: "X" }, { actor: "staff:an" })))._tag)
          .toBe("CustomerNotFound")
        expect((yield* customers.update(b.id, {}, { actor: "staff:an" })).name).toBe("B")
        expect(yield* notes.activities(b.phone)).toEqual(before)
        expect(yield* rowCounts).toEqual(rowsBefore)
        expect((yield* customers.get(b.id)).name).toBe("B")

        // a ticket action the state table refuses
        yield* TestClock.adjust(SECOND)
        const { ticket } = yield* tickets.create({ phone: b.phone, type: "KHAC" }, { actor: "staff:an" })
        const withTicket = yield* notes.activities(b.phone)
        expect(withTicket.items.map((x) => x.kind)).toEqual(["ticket.created", "customer.created"])
        const counts = yield* rowCounts
        expect((yield* Effect.flip(tickets.act(ticket.code, { action: "transition", to: "completed" }, { actor: "staff:an" })))._tag)
          .toBe("InvalidTransition")
        expect((yield* Effect.flip(tickets.act(ticket.code, { action: "approve_boom", amount: 5_000 }, { actor: "staff:an" })))._tag)
          .toBe("InvalidTicketAction")
        expect((yield* Effect.flip(tickets.act(ticket.code, { action: "note", text: "" })))._tag).toBe("ValidationError")
        expect(yield* notes.activities(b.phone)).toEqual(withTicket)
        expect(yield* rowCounts).toEqual(counts)
      }))

    it.effect("ticket actions and transfer links are activities (in activities(), not in the timeline, which shows the ticket's history and the transfer)", () =>
      Effect.gen(function*() {
        const notes = yield* Notes
        const tickets = yield* Tickets
        const transfers = yield* Transfers
        const T = Date.UTC(2026, 4, 3, 3)
        yield* TestClock.setTime(T)
        const customer = yield* newCustomer()
        const { ticket } = yield* tickets.create({ phone: customer.phone, type: "BOOM", amount: 40_000, note: "khách không nhận" }, { actor: "staff:lan" })
        yield* TestClock.adjust(SECOND)
        yield* tickets.act(ticket.code, { action: "transition", to: "processing" }, { actor: "staff:lan" })
        yield* tickets.act(ticket.code, { action: "note", text: "đã gọi khách" }, { actor: "staff:lan" })
        yield* tickets.update(ticket.code, { priority: "high" }, { actor: "staff:lan" })
        yield* TestClock.adjust(SECOND)
        const approved = yield* tickets.act(ticket.code, { action: "approve_boom" }, { actor: "staff:lan" })
        expect(approved.credit).not.toBeNull()
        // a transfer matched by the phone in its content (system:sepay) and one linked by staff
        yield* TestClock.adjust(SECOND)
        const matched = yield* transfers.receiveSepay(sepayBody(`CK ${customer.phone} tien hang`, 50_000, hanoiTime(T + 3 * SECOND)), AUTHORIZATION)
        expect(matched.transfer).toMatchObject({ status: "matched", customerId: customer.id })
        const pending = yield* transfers.receiveSepay(sepayBody("THANH TOAN DON HANG", 20_000, hanoiTime(T + 3 * SECOND)), AUTHORIZATION)
        expect(pending.transfer).toMatchObject({ status: "pending", customerId: null })
        yield* TestClock.adjust(SECOND)
        const linked = yield* transfers.link({ transactionId: pending.transfer.id, phone: customer.phone }, { actor: "staff:binh" })
        expect(linked.transfer.customerId).toBe(customer.id)

        const activities = yield* notes.activities(customer.phone, { limit: 100 })
        const ticketKinds = activities.items.filter((a) => a.subjectType === "ticket")
        expect(new Set(ticketKinds.map((a) => a.subjectId))).toEqual(new Set([ticket.id]))
        expect(ticketKinds.map((a) => a.kind)).toEqual(
          expect.arrayContaining(["ticket.created", "ticket.transition", "ticket.note", "ticket.approve_boom"])
        )
        expect(ticketKinds.some((a) => a.kind === "ticket.updated" || a.kind === "ticket.assigned")).toBe(true)
        for (const a of ticketKinds) expect(a.actor).toBe("staff:lan")
        const transferKinds = activities.items.filter((a) => a.subjectType === "transfer")
        expect(transferKinds.map((a) => [a.kind, a.actor, a.subjectId])).toEqual([
          ["transfer.linked", "staff:binh", pending.transfer.id],
          ["transfer.linked", "system:sepay", matched.transfer.id]
        ])
        const kindsOnly = yield* notes.activities(customer.phone, { kinds: ["transfer.linked"] })
        expect(kindsOnly.items).toEqual(transferKinds)

        // the timeline: the ticket's history and the transfers, but no ticket or transfer activity
        const items = yield* full(customer.phone)
        const inTimeline = items.filter((e) => e.kind === "activity").map((e) => e.data as { subjectType: string; kind: string })
        expect(inTimeline.map((a) => a.kind)).toEqual(["customer.created"])
        const history = (yield* tickets.get(ticket.code)).history
        expect(idsOfKind(items, "ticket").sort()).toEqual(history.map((h) => h.id).sort())
        expect(idsOfKind(items, "transfer").sort()).toEqual([matched.transfer.id, pending.transfer.id].sort())
        // the ticket entries name the ticket's code
        for (const e of items.filter((x) => x.kind === "ticket")) {
          expect((e.data as { code: string }).code).toBe(ticket.code)
          expect(e.summary).toContain(ticket.code)
        }
        // the activities are still in activities(): the kinds filter of the timeline does not bring them back
        expect((yield* full(customer.phone, ["activity"])).map((e) => e.id)).toEqual(
          activities.items.filter((a) => a.subjectType === "customer").map((a) => a.id)
        )
      }))

    // --- the timeline ------------------------------------------------------------------------------

    it.effect("timeline: ledger entries, transfers, ticket history, notes and activities of one customer, newest first; walks of 1, 2, 3 and 7 equal one big page; kinds filter", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const wallets = yield* Wallets
        const tickets = yield* Tickets
        const transfers = yield* Transfers
        const notes = yield* Notes
        const T = Date.UTC(2026, 4, 10, 3) // 10:00 in Hanoi
        yield* TestClock.setTime(T)
        const customer = yield* newCustomer()
        const phone = customer.phone
        const ref = (s: string) => `tl-${phone}-${s}`
        yield* TestClock.setTime(T + SECOND)
        yield* wallets.deposit({ phone, amount: 100_000, reference: ref("d1"), source: "manual" })
        yield* notes.add(phone, { text: "same instant as the deposit" }, { actor: "staff:lan" })
        yield* TestClock.setTime(T + 2 * SECOND)
        yield* wallets.issueVirtualCredit({ phone, amount: 30_000, reason: "goodwill", reference: ref("c1") })
        yield* TestClock.setTime(T + 3 * SECOND)
        // one withdrawal, two entries at one instant: credit_spent, then withdrawal
        const w = yield* wallets.withdraw({ phone, amount: 50_000, reference: ref("w1") })
        expect(w.fromCredits).toHaveLength(1)
        yield* TestClock.setTime(T + 4 * SECOND)
        const { ticket } = yield* tickets.create({ phone, type: "BOOM", amount: 20_000, note: "refused the parcel" }, { actor: "staff:lan" })
        yield* TestClock.setTime(T + 5 * SECOND)
        yield* tickets.act(ticket.code, { action: "transition", to: "processing" }, { actor: "staff:lan" })
        yield* tickets.act(ticket.code, { action: "note", text: "called the customer" }, { actor: "staff:lan" })
        yield* TestClock.setTime(T + 6 * SECOND)
        yield* tickets.act(ticket.code, { action: "approve_boom" }, { actor: "staff:lan" })
        yield* TestClock.setTime(T + 7 * SECOND)
        yield* customers.update(customer.id, { city: "Huế" }, { actor: "staff:lan" })
        yield* notes.add(phone, { text: "second note" })
        yield* notes.add(phone, { text: "third note" })
        yield* TestClock.setTime(T + 8 * SECOND)
        const sepay = yield* transfers.receiveSepay(sepayBody(`CK ${phone} don 1`, 75_000, hanoiTime(T + 8 * SECOND)), AUTHORIZATION)
        expect(sepay.transfer).toMatchObject({ status: "matched", customerId: customer.id })
        yield* TestClock.setTime(T + 9 * SECOND)
        // received now, made at the bank the day before: the transfer sorts by its bank date
        const late = yield* transfers.receiveSepay(sepayBody(`CK ${phone} don 0`, 5_000, hanoiTime(T - 86_400_000)), AUTHORIZATION)
        expect(late.transfer).toMatchObject({ status: "matched", customerId: customer.id })
        yield* TestClock.setTime(T + 10 * SECOND)
        yield* notes.add(phone, { text: "fourth note" })

        const all = yield* full(phone)
        // every record once, counted by kind from what was done
        expect(countByKind(all)).toEqual({ ledger: 7, transfer: 2, ticket: 5, note: 4, activity: 2 })
        expect(new Set(all.map(keyOf)).size).toBe(all.length)
        // and the same records the modules hold
        const sources = yield* sourcesOf(customer.id)
        for (const kind of KINDS) expect(idsOfKind(all, kind).sort(), kind).toEqual([...sources[kind]].sort())
        // newest first, in the documented order, ledger entries by their commit order
        expectSorted(all, sources.ledger)
        expect(all[0]).toMatchObject({ kind: "note", at: new Date(T + 10 * SECOND) })
        expect(all[all.length - 1]).toMatchObject({ kind: "transfer", id: late.transfer.id, at: late.transfer.transactionDate })
        const withdrawal = all.filter((e) => e.at.getTime() === T + 3 * SECOND)
        expect(withdrawal.map((e) => (e.data as { kind: string }).kind)).toEqual(["withdrawal", "credit_spent"])
        const atOne = all.filter((e) => e.at.getTime() === T + SECOND).map((e) => e.kind)
        expect(atOne).toEqual(["ledger", "note"])
        // the entries carry their records
        const note = all.find((e) => e.kind === "note")!
        expect(note.data).toEqual((yield* notes.list(phone, { limit: 1 })).items[0])
        expect(note.summary).toContain("fourth note")
        const transfer = all.find((e) => e.id === sepay.transfer.id)!
        expect(transfer.data).toEqual(sepay.transfer)
        expect(all.find((e) => e.kind === "ledger")!.data).toMatchObject({ reference: `sepay:${late.transfer.providerId}`, kind: "deposit" })
        const updated = all.find((e) => e.kind === "activity")!
        expect(updated.data).toMatchObject({ kind: "customer.updated", actor: "staff:lan" })

        // page by page, at every size, and the default size (20) against the same list
        yield* expectWalksEqual(phone, all, quick ? [1, 2, 3, 7] : [1, 2, 3, 7, 19, 20, 100])
        // 20 entries, none of the streams full: the default page is all of it, and the last
        expect(yield* Effect.flatMap(Timeline, (t) => t.timeline(phone))).toEqual({ items: all, nextCursor: null })
        // the same query twice gives the same page: ties are stable
        expect(yield* full(phone)).toEqual(all)

        // kinds: each alone, a pair walked by 2, all of them named, none named
        for (const kind of KINDS) {
          const only = yield* full(phone, [kind])
          expect(only, kind).toEqual(all.filter((e) => e.kind === kind))
        }
        const pair = all.filter((e) => e.kind === "note" || e.kind === "ticket")
        expect(yield* full(phone, ["ticket", "note", "note"])).toEqual(pair)
        yield* expectWalksEqual(phone, pair, quick ? [2] : [1, 2, 4], ["note", "ticket"])
        if (!quick) yield* expectWalksEqual(phone, all.filter((e) => e.kind !== "ledger"), [3], ["transfer", "ticket", "note", "activity"])
        expect(yield* full(phone, [...KINDS])).toEqual(all)
        expect(yield* full(phone, [])).toEqual(all)
      }))

    it.effect("timeline: a bad cursor, limit or kind is a ValidationError; an unknown phone CustomerNotFound; a bad phone InvalidPhone; a customer with nothing but its creation", () =>
      Effect.gen(function*() {
        const timeline = yield* Timeline
        const notes = yield* Notes
        const customer = yield* newCustomer()
        yield* notes.add(customer.phone, { text: "one" })
        yield* TestClock.adjust(SECOND)
        yield* notes.add(customer.phone, { text: "two" })
        const page = yield* timeline.timeline(customer.phone, { limit: 1 })
        expect(page.nextCursor).not.toBeNull()
        const notesCursor = (yield* notes.list(customer.phone, { limit: 1 })).nextCursor!
        const b64 = (v: unknown) => btoa(JSON.stringify(v)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
        const badCursors: ReadonlyArray<unknown> = [
          "",
          "nope!",
          "!!!!",
          "a b",
          notesCursor,
          `${page.nextCursor}=`,
          page.nextCursor!.slice(0, -3),
          "x".repeat(2_001),
          b64([]),
          b64(null),
          b64("note"),
          b64({ bogus: "end" }),
          b64({ note: 5 }),
          b64({ note: "not a position" }),
          b64({ ledger: "abc" }),
          b64({ ledger: "1e400" }),
          b64({ ticket: "zzzzzzzzzzzz.x" }),
          42,
          { note: "end" }
        ]
        for (const cursor of badCursors) {
          const error = yield* Effect.flip(timeline.timeline(customer.phone, { cursor } as TimelineOptions))
          expect(error._tag, String(cursor)).toBe("ValidationError")
        }
        for (const opts of [{ limit: 0 }, { limit: 101 }, { limit: 2.5 }, { limit: "5" }, { kinds: ["notes"] }, { kinds: "note" }, { extra: true }]) {
          const error = yield* Effect.flip(timeline.timeline(customer.phone, opts as never))
          expect(error._tag, JSON.stringify(opts)).toBe("ValidationError")
        }
        expect((yield* Effect.flip(timeline.timeline(freshPhone())))._tag).toBe("CustomerNotFound")
        expect((yield* Effect.flip(timeline.timeline("0111 234 567")))._tag).toBe("InvalidPhone")
        // a cursor that says every stream is read: an empty last page
        expect(yield* timeline.timeline(customer.phone, { cursor: b64({ note: "end", activity: "end" }), kinds: ["note", "activity"] }))
          .toEqual({ items: [], nextCursor: null })

        const bare = yield* newCustomer()
        const only = yield* timeline.timeline(bare.phone, { limit: 2 })
        expect(only.items.map((e) => [e.kind, (e.data as { kind: string }).kind])).toEqual([["activity", "customer.created"]])
        expect(only.nextCursor).toBeNull()
        // a full page may be the last one: the next is empty, and says so
        const one = yield* timeline.timeline(bare.phone, { limit: 1 })
        expect(one.items).toEqual(only.items)
        if (one.nextCursor !== null) {
          expect(yield* timeline.timeline(bare.phone, { limit: 1, cursor: one.nextCursor })).toEqual({ items: [], nextCursor: null })
        }
        expect(yield* timeline.timeline(bare.phone, { kinds: ["ledger", "note"] })).toEqual({ items: [], nextCursor: null })
      }))

    it.effect("timeline: entries added after a page was read never appear in the later pages of that walk (they are newer); a new walk shows them first", () =>
      Effect.gen(function*() {
        const wallets = yield* Wallets
        const notes = yield* Notes
        const tickets = yield* Tickets
        const customers = yield* Customers
        const transfers = yield* Transfers
        const timeline = yield* Timeline
        const T = Date.UTC(2026, 4, 11, 3)
        // a customer of its own for each walk: 15 entries in every stream
        const rounds = quick ? 2 : 4
        for (const [w, limit] of (quick ? [3] : [1, 2, 3, 7]).entries()) {
          const base = T + w * 3_600_000
          yield* TestClock.setTime(base)
          const customer = yield* newCustomer()
          const phone = customer.phone
          for (let i = 0; i < 3; i++) {
            yield* TestClock.adjust(SECOND)
            yield* wallets.deposit({ phone, amount: 1_000 + i, reference: `tla-${phone}-${i}`, source: "manual" })
            yield* notes.add(phone, { text: `note ${i}` })
            yield* tickets.create({ phone, type: "KHAC", note: `ticket ${i}` })
          }
          yield* TestClock.adjust(SECOND)
          yield* transfers.receiveSepay(sepayBody(`CK ${phone}`, 9_000, hanoiTime(base + 5 * SECOND)), AUTHORIZATION)
          const before = yield* full(phone)
          expect(countByKind(before)).toEqual({ ledger: 4, transfer: 1, ticket: 6, note: 3, activity: 1 })

          const walked: Array<TimelineEntry> = []
          let page = yield* timeline.timeline(phone, { limit })
          walked.push(...page.items)
          let round = 0
          while (page.nextCursor !== null) {
            // something new in every stream (in the first rounds), later than anything read
            round++
            if (round <= rounds) {
              const now = base + 60 * SECOND + round * SECOND
              yield* TestClock.setTime(now)
              yield* wallets.deposit({ phone, amount: 1, reference: `tla-${phone}-late-${round}`, source: "manual" })
              yield* notes.add(phone, { text: `late note ${round}` })
              yield* tickets.create({ phone, type: "KHAC" })
              yield* customers.update(customer.id, { city: `City ${round}` })
              yield* transfers.receiveSepay(sepayBody(`late CK ${phone}`, 2, hanoiTime(now + 60 * SECOND)), AUTHORIZATION)
            }
            page = yield* timeline.timeline(phone, { limit, cursor: page.nextCursor })
            walked.push(...page.items)
          }
          expect(round).toBeGreaterThan(0)
          expect(walked.map(keyOf), `limit ${limit}`).toEqual(before.map(keyOf))
          expect(walked, `limit ${limit}`).toEqual(before)
          // a new walk shows the new entries first, then the old ones
          const after = yield* full(phone)
          const added = Math.min(round, rounds)
          expect(countByKind(after)).toEqual({
            ledger: 4 + 2 * added,
            transfer: 1 + added,
            ticket: 6 + added,
            note: 3 + added,
            activity: 1 + added
          })
          expect(after.slice(after.length - before.length)).toEqual(before)
        }
      }))

    it.effect("property: random interleavings of deposits, notes and ticket actions at random clock steps (equal instants too) walk, at a random page size, to the full sorted list", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Customers | Wallets | Notes | Tickets | Timeline | Transfers>()
        const run = Runtime.runPromise(runtime)
        type Op =
          | { readonly op: "deposit"; readonly amount: number }
          | { readonly op: "note"; readonly text: string }
          | { readonly op: "ticket"; readonly note: string | null }
          | { readonly op: "ticketNote"; readonly text: string }
          | { readonly op: "transition" }
        const text = fc.string({ minLength: 1, maxLength: 30 }).map((s) => s.replace(/[\u0000-\u001f\u007f]/g, "").trim() || "n")
        const op: fc.Arbitrary<Op> = fc.oneof(
          fc.integer({ min: 1, max: 1_000_000 }).map((amount) => ({ op: "deposit", amount }) as const),
          text.map((t) => ({ op: "note", text: t }) as const),
          fc.option(text, { nil: null }).map((note) => ({ op: "ticket", note }) as const),
          text.map((t) => ({ op: "ticketNote", text: t }) as const),
          fc.constant({ op: "transition" } as const)
        )
        const step = fc.constantFrom(0, 0, 0, 1, 2, 1_000, 60_000)
        const scenario = fc.record({
          ops: fc.array(fc.tuple(step, op), { minLength: 1, maxLength: quick ? 8 : 14 }),
          limit: fc.integer({ min: 1, max: 8 }),
          kinds: fc.option(fc.subarray([...KINDS], { minLength: 1 }), { nil: undefined })
        })
        let start = Date.UTC(2026, 5, 1, 3)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(scenario, ({ kinds, limit, ops }) =>
              run(Effect.gen(function*() {
                start += 86_400_000
                yield* TestClock.setTime(start)
                const customer = yield* newCustomer("Property")
                const phone = customer.phone
                const wallets = yield* Wallets
                const notes = yield* Notes
                const tickets = yield* Tickets
                const expected: Record<TimelineKind, number> = { ledger: 0, transfer: 0, ticket: 0, note: 0, activity: 1 }
                const open: Array<string> = []
                let deposits = 0
                for (const [ms, o] of ops) {
                  yield* TestClock.adjust(ms)
                  switch (o.op) {
                    case "deposit":
                      yield* wallets.deposit({ phone, amount: o.amount, reference: `tlp-${phone}-${deposits++}`, source: "manual" })
                      expected.ledger++
                      break
                    case "note":
                      yield* notes.add(phone, { text: o.text })
                      expected.note++
                      break
                    case "ticket": {
                      const { history, ticket } = yield* tickets.create({ phone, type: "KHAC", ...(o.note === null ? {} : { note: o.note }) })
                      open.push(ticket.code)
                      expected.ticket += history.length
                      break
                    }
                    case "ticketNote":
                    case "transition": {
                      const code = open[open.length - 1]
                      if (code === undefined) break
                      yield* o.op === "ticketNote"
                        ? tickets.act(code, { action: "note", text: o.text })
                        : tickets.act(code, { action: "transition", to: "processing" }).pipe(
                          Effect.catchTag("InvalidTransition", () => tickets.act(code, { action: "note", text: "again" }))
                        )
                      expected.ticket++
                      break
                    }
                  }
                }
                const all = yield* full(phone)
                expect(countByKind(all)).toEqual(expected)
                const sources = yield* sourcesOf(customer.id)
                for (const kind of KINDS) expect(idsOfKind(all, kind).sort(), kind).toEqual([...sources[kind]].sort())
                expectSorted(all, sources.ledger)
                yield* expectWalksEqual(phone, all, [limit])
                if (kinds !== undefined) {
                  const filtered = all.filter((e) => kinds.includes(e.kind))
                  expect(yield* full(phone, kinds)).toEqual(filtered)
                  yield* expectWalksEqual(phone, filtered, [limit], kinds)
                }
              }).pipe(Effect.orDie))
            ),
            { numRuns: options.propertyRuns ?? 15 }
          )
        )
      }))
  })
