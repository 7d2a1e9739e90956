/**
 * The PostgreSQL group-commit scheduler on its own, against a pool that answers when told to: how the
 * writes that wait are cut into batches. (Its statements run against PostgreSQL in
 * wallets.batch.pg.test.ts.)
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { describe, expect, it } from "vitest"
import { batchesInFlight, makeCombiner } from "../src/wallets/FastPaths.js"

interface Sent {
  readonly name: string
  readonly wallets: ReadonlyArray<string>
  readonly answer: (outcomes: ReadonlyArray<string>) => void
  readonly fail: (error: Error) => void
}

/** A pool whose queries wait until the test answers them. */
const fakePool = (max: number) => {
  const sent: Array<Sent> = []
  const pool = {
    options: { max },
    query: (config: { name: string; values: Array<string> }, callback: (error: Error | null, result: { rows: Array<Record<string, unknown>> }) => void) => {
      const items = JSON.parse(config.values[0]!) as Array<{ customer: string }>
      sent.push({
        name: config.name,
        wallets: items.map((i) => i.customer),
        answer: (outcomes) => callback(null, { rows: [{ results: outcomes }] }),
        fail: (error) => callback(error, { rows: [] })
      })
    }
  }
  return { pool: pool as unknown as Parameters<typeof makeCombiner>[0], sent }
}

const payload = (wallet: string, n: number) => JSON.stringify({ customer: wallet, n })
const turn = () => new Promise((resolve) => setImmediate(resolve))

describe("group commit scheduling", () => {
  it("an eighth of the pool in flight, at least two, never more than the pool", () => {
    expect([1, 2, 4, 10, 16, 24, 32, 64].map(batchesInFlight)).toEqual([1, 2, 2, 2, 2, 3, 4, 8])
  })

  it("spreads the writes that waited evenly over the free slots, one write per wallet, in wallet order", async () => {
    const { pool, sent } = fakePool(16)
    const combine = makeCombiner(pool, 2, 32)
    // 16 writers in one turn, on 16 wallets given out of order
    const wallets = Array.from({ length: 16 }, (_, i) => `cus_${String((i * 7) % 16).padStart(2, "0")}`)
    const fibers = wallets.map((w, i) => Effect.runFork(combine(w, payload(w, i))))
    await turn()
    expect(sent.map((s) => s.wallets.length)).toEqual([8, 8])
    for (const s of sent) expect([...s.wallets]).toEqual([...s.wallets].sort())
    expect(new Set(sent.flatMap((s) => s.wallets)).size).toBe(16)
    // nothing more goes out while both slots are busy; an answer frees a slot for what waits next
    const later = ["cus_a", "cus_b", "cus_c"].map((w, i) => Effect.runFork(combine(w, payload(w, 100 + i))))
    await turn()
    expect(sent).toHaveLength(2)
    sent[0]!.answer(Array(8).fill("applied"))
    await turn()
    expect(sent).toHaveLength(3)
    expect(sent[2]!.wallets).toEqual(["cus_a", "cus_b", "cus_c"])
    sent[1]!.answer(["applied", "stale", "applied", "applied", "applied", "applied", "applied", "applied"])
    sent[2]!.answer(["applied", "applied", "applied"])
    const outcomes = await Promise.all([...fibers, ...later].map((f) => Effect.runPromise(Fiber.await(f))))
    expect(outcomes.every(Exit.isSuccess)).toBe(true)
    expect(outcomes.filter((e) => Exit.isSuccess(e) && e.value === "stale")).toHaveLength(1)
  })

  it("two writes to one wallet never share a batch", async () => {
    const { pool, sent } = fakePool(16)
    const combine = makeCombiner(pool, 2, 32)
    const fibers = ["cus_1", "cus_1", "cus_1", "cus_2"].map((w, i) => Effect.runFork(combine(w, payload(w, i))))
    await turn()
    for (const s of sent) expect(new Set(s.wallets).size).toBe(s.wallets.length)
    expect(sent.flatMap((s) => s.wallets).filter((w) => w === "cus_1")).toHaveLength(2)
    sent[0]!.answer(sent[0]!.wallets.map(() => "applied"))
    await turn()
    for (const s of sent.slice(1)) s.answer(s.wallets.map(() => "applied"))
    await turn()
    for (const s of sent.slice(2)) s.answer(s.wallets.map(() => "applied"))
    const outcomes = await Promise.all(fibers.map((f) => Effect.runPromise(Fiber.await(f))))
    expect(outcomes.every(Exit.isSuccess)).toBe(true)
    expect(sent.flatMap((s) => s.wallets).sort()).toEqual(["cus_1", "cus_1", "cus_1", "cus_2"])
  })

  it("a batch the database refuses is sent again one write at a time: one bad write fails no other", async () => {
    const { pool, sent } = fakePool(16)
    const combine = makeCombiner(pool, 2, 32)
    const fibers = ["cus_1", "cus_2", "cus_3", "cus_4"].map((w, i) => Effect.runFork(combine(w, payload(w, i))))
    await turn()
    expect(sent.map((s) => [s.name, s.wallets.length])).toEqual([["c360_wallet_write_many", 2], ["c360_wallet_write_many", 2]])
    sent[0]!.fail(Object.assign(new Error("new row violates check constraint"), { code: "23514" }))
    await turn()
    expect(sent.slice(2).map((s) => [s.name, s.wallets])).toEqual([["c360_wallet_write_many", ["cus_1"]], ["c360_wallet_write_many", ["cus_2"]]])
    // the batch's slot stays taken until both are answered: a new write waits
    const later = Effect.runFork(combine("cus_5", payload("cus_5", 5)))
    await turn()
    expect(sent).toHaveLength(4)
    sent[2]!.fail(Object.assign(new Error("new row violates check constraint"), { code: "23514" }))
    sent[3]!.answer(["applied"])
    await turn()
    expect(sent.slice(4).map((s) => s.wallets)).toEqual([["cus_5"]])
    sent[1]!.answer(["applied", "duplicate"])
    sent[4]!.answer(["applied"])
    const [one, two, three, four, five] = await Promise.all([...fibers, later].map((f) => Effect.runPromise(Fiber.await(f))))
    expect(Exit.isFailure(one!)).toBe(true) // the refused write, alone
    expect([two, three, five].map((e) => Exit.isSuccess(e!) && e.value)).toEqual(["applied", "applied", "applied"])
    // a reference already recorded comes back as the unique violation the caller's path replays
    expect(Exit.isFailure(four!) && String(Cause.squash(four.cause))).toContain("already recorded")
  })
})
