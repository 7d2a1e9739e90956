/**
 * Pure ticket rules (DOMAIN §4): the state table for every (status, string) pair, the ticket code and
 * its parser, and the year of an instant in the business time zone — as exhaustive checks and
 * fast-check properties, against references written independently of the implementation.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import {
  businessYear,
  CODE_PATTERN,
  InvalidTransition,
  isOpen,
  parseCode,
  ticketCode,
  type TicketStatus,
  TRANSITIONS,
  transition
} from "../src/tickets/Ticket.js"

const RUNS = { numRuns: 1_000 } as const
const HOUR = 3_600_000
const HANOI = "Asia/Ho_Chi_Minh"

const STATUSES: ReadonlyArray<TicketStatus> = ["new", "processing", "waiting_carrier", "completed", "cancelled"]

/** The table of DOMAIN §4, written out pair by pair: `new → processing → waiting_carrier → completed`, `cancelled` from any open status. */
const ALLOWED: ReadonlySet<string> = new Set([
  "new→processing",
  "new→cancelled",
  "processing→waiting_carrier",
  "processing→cancelled",
  "waiting_carrier→completed",
  "waiting_carrier→cancelled"
])

const leftOf = <R, L>(e: Either.Either<R, L>): L => Either.getOrThrow(Either.flip(e))

const arbStatus = fc.constantFrom(...STATUSES)
/** Any string: often a status (or one nearly so), sometimes a property name of plain objects, else anything. */
const arbTarget: fc.Arbitrary<string> = fc.oneof(
  arbStatus,
  arbStatus.map((s) => s.toUpperCase()),
  arbStatus.map((s) => ` ${s}`),
  fc.constantFrom("", "toString", "__proto__", "constructor", "length", "0", "open", "done", "waiting carrier"),
  fc.string(),
  fc.string({ unit: "grapheme" })
)

describe("the state table", () => {
  it("every (status, status) pair: allowed exactly when DOMAIN §4 allows it", () => {
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        const result = transition(from, to)
        const allowed = ALLOWED.has(`${from}→${to}`)
        expect(Either.isRight(result), `${from} → ${to}`).toBe(allowed)
        expect(TRANSITIONS[from].includes(to), `${from} → ${to} in TRANSITIONS`).toBe(allowed)
        if (allowed) expect(result).toEqual(Either.right(to))
      }
    }
  })

  it("property: transition(from, any string) is Right(to) exactly when TRANSITIONS[from] has it; else InvalidTransition carrying from and to", () => {
    fc.assert(
      fc.property(arbStatus, arbTarget, (from, to) => {
        const result = transition(from, to)
        if ((TRANSITIONS[from] as ReadonlyArray<string>).includes(to)) {
          expect(result).toEqual(Either.right(to))
          expect(ALLOWED.has(`${from}→${to}`)).toBe(true)
        } else {
          expect(ALLOWED.has(`${from}→${to}`)).toBe(false)
          expect(Either.isLeft(result)).toBe(true)
          const error = leftOf(result)
          expect(error).toBeInstanceOf(InvalidTransition)
          expect(error._tag).toBe("InvalidTransition")
          expect({ from: error.from, to: error.to }).toEqual({ from, to })
          expect(error.message).toContain(from)
        }
      }),
      RUNS
    )
  })

  it("cancelled is reachable in one step from every status but completed and cancelled", () => {
    for (const from of STATUSES) {
      const closed = from === "completed" || from === "cancelled"
      expect(Either.isRight(transition(from, "cancelled")), from).toBe(!closed)
      expect(isOpen(from), from).toBe(!closed)
    }
  })

  it("nothing leaves completed or cancelled, whatever the target; the message says the ticket is closed", () => {
    for (const from of ["completed", "cancelled"] as const) {
      expect(TRANSITIONS[from]).toEqual([])
      fc.assert(
        fc.property(arbTarget, (to) => {
          const result = transition(from, to)
          expect(result).toEqual(Either.left(new InvalidTransition({ from, to })))
        }),
        { numRuns: 300 }
      )
      expect(leftOf(transition(from, "new")).message).toContain("closed")
    }
  })

  it("the table's graph: every status is reachable from new; the only way to completed is through waiting_carrier; no status goes back", () => {
    const order = new Map(STATUSES.map((s, i) => [s, i]))
    const reached = new Set<TicketStatus>(["new"])
    const queue: Array<TicketStatus> = ["new"]
    while (queue.length > 0) {
      const s = queue.shift()!
      for (const next of TRANSITIONS[s]) {
        expect(order.get(next)!, `${s} → ${next} goes forward`).toBeGreaterThan(order.get(s)!)
        if (!reached.has(next)) {
          reached.add(next)
          queue.push(next)
        }
      }
    }
    expect([...reached].sort()).toEqual([...STATUSES].sort())
    const intoCompleted = STATUSES.filter((s) => TRANSITIONS[s].includes("completed"))
    expect(intoCompleted).toEqual(["waiting_carrier"])
  })

  it("property: a random walk of requested transitions ends in a status the table can reach, rejected steps change nothing", () => {
    fc.assert(
      fc.property(fc.array(arbStatus, { maxLength: 12 }), (steps) => {
        let status: TicketStatus = "new"
        for (const to of steps) {
          const result = transition(status, to)
          if (ALLOWED.has(`${status}→${to}`)) status = Either.getOrThrow(result)
          else expect(Either.isLeft(result)).toBe(true)
        }
        expect(STATUSES).toContain(status)
      }),
      RUNS
    )
  })
})

describe("ticket codes", () => {
  const arbYear = fc.integer({ min: 1000, max: 9999 })
  const arbNumber = fc.oneof(
    fc.integer({ min: 1, max: 99_999 }),
    fc.integer({ min: 99_990, max: 100_010 }),
    fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })
  )

  it("examples: five digits padded, growing past 99999", () => {
    expect(ticketCode(2026, 1)).toBe("TV-2026-00001")
    expect(ticketCode(2026, 42)).toBe("TV-2026-00042")
    expect(ticketCode(2026, 99_999)).toBe("TV-2026-99999")
    expect(ticketCode(2026, 100_000)).toBe("TV-2026-100000")
    expect(ticketCode(2027, 123_456)).toBe("TV-2027-123456")
    expect(parseCode("TV-2026-00042")).toEqual({ year: 2026, number: 42 })
    expect(parseCode("TV-2026-100000")).toEqual({ year: 2026, number: 100_000 })
  })

  it("property: ticketCode(year, n) round-trips through parseCode and matches the pattern", () => {
    fc.assert(
      fc.property(arbYear, arbNumber, (year, n) => {
        const code = ticketCode(year, n)
        expect(CODE_PATTERN.test(code)).toBe(true)
        expect(parseCode(code)).toEqual({ year, number: n })
      }),
      RUNS
    )
  })

  it("property: the number part is n padded to five digits below 100000, and n's own digits (six or more) from 100000", () => {
    fc.assert(
      fc.property(arbYear, arbNumber, (year, n) => {
        const digits = ticketCode(year, n).split("-")[2]!
        if (n < 100_000) {
          expect(digits).toHaveLength(5)
          expect(digits).toBe(("0000" + String(n)).slice(-5))
        } else {
          expect(digits.length).toBeGreaterThanOrEqual(6)
          expect(digits).toBe(String(n))
          expect(digits[0]).not.toBe("0")
        }
        expect(Number(digits)).toBe(n)
      }),
      RUNS
    )
  })

  it("property: codes of one year sort as strings in the order of their numbers when n < 100000", () => {
    fc.assert(
      fc.property(arbYear, fc.uniqueArray(fc.integer({ min: 1, max: 99_999 }), { minLength: 2, maxLength: 30 }), (year, ns) => {
        const byString = ns.map((n) => ticketCode(year, n)).sort()
        const byNumber = [...ns].sort((a, b) => a - b).map((n) => ticketCode(year, n))
        expect(byString).toEqual(byNumber)
      }),
      RUNS
    )
  })

  it("parseCode refuses what is not a code: too few digits, zero, extra leading zeros, lower case, spaces, other prefixes", () => {
    for (
      const bad of [
        "",
        "TV-2026-0001",
        "TV-2026-00000",
        "TV-2026-000000",
        "TV-2026-012345",
        "TV-2026-0000001",
        "tv-2026-00001",
        " TV-2026-00001",
        "TV-2026-00001 ",
        "TV-26-00001",
        "TV-20260-00001",
        "TX-2026-00001",
        "TV_2026_00001",
        "TV-2026-1e5",
        "TV-2026-99999999999999999999"
      ]
    ) {
      expect(parseCode(bad), JSON.stringify(bad)).toBeUndefined()
    }
  })

  it("property: whatever parseCode accepts (with a year from 1000) is exactly the code ticketCode gives back", () => {
    const arbCodeLike = fc.oneof(
      fc.tuple(arbYear, fc.stringMatching(/^\d{1,8}$/)).map(([y, d]) => `TV-${y}-${d}`),
      fc.string().map((s) => `TV-2026-${s}`),
      fc.string()
    )
    fc.assert(
      fc.property(arbCodeLike, (s) => {
        const parsed = parseCode(s)
        if (parsed !== undefined) {
          expect(ticketCode(parsed.year, parsed.number)).toBe(s)
          expect(parsed.number).toBeGreaterThanOrEqual(1)
        }
      }),
      RUNS
    )
  })
})

describe("the business year", () => {
  it("at the year boundary in Asia/Ho_Chi_Minh (UTC+7): 16:30 UTC on 31 December is still 2026; 17:00 and 17:30 UTC are 2027", () => {
    expect(businessYear(Date.UTC(2026, 11, 31, 16, 30), HANOI)).toBe(2026)
    expect(businessYear(Date.UTC(2026, 11, 31, 16, 59, 59, 999), HANOI)).toBe(2026)
    expect(businessYear(Date.UTC(2026, 11, 31, 17, 0), HANOI)).toBe(2027)
    expect(businessYear(Date.UTC(2026, 11, 31, 17, 30), HANOI)).toBe(2027)
    // and in UTC itself the boundary is midnight
    expect(businessYear(Date.UTC(2026, 11, 31, 23, 59, 59, 999), "UTC")).toBe(2026)
    expect(businessYear(Date.UTC(2027, 0, 1), "UTC")).toBe(2027)
  })

  // Vietnam has kept UTC+7 since 13 June 1975 (before, the south used UTC+8): the reference holds from 1976
  const FROM = Date.UTC(1976, 0, 1)
  const TO = Date.UTC(2200, 0, 1)
  /** The reference: the UTC calendar year of the instant moved 7 hours on. */
  const referenceYear = (ms: number) => new Date(ms + 7 * HOUR).getUTCFullYear()

  it("property: businessYear in Asia/Ho_Chi_Minh is the UTC year of the instant + 7 h, near year boundaries and anywhere", () => {
    const nearBoundary = fc.tuple(fc.integer({ min: 1976, max: 2199 }), fc.integer({ min: -3 * HOUR, max: 3 * HOUR }))
      .map(([year, offset]) => Date.UTC(year, 11, 31, 17) + offset)
    const anywhere = fc.integer({ min: FROM, max: TO })
    fc.assert(
      fc.property(fc.oneof(nearBoundary, anywhere), (ms) => {
        expect(businessYear(ms, HANOI)).toBe(referenceYear(ms))
      }),
      { numRuns: 2_000 }
    )
  })

  it("property: in UTC, the business year is the UTC year", () => {
    fc.assert(
      fc.property(fc.integer({ min: FROM, max: TO }), (ms) => {
        expect(businessYear(ms, "UTC")).toBe(new Date(ms).getUTCFullYear())
      }),
      RUNS
    )
  })
})
