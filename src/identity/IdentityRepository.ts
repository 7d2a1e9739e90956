/**
 * Identity storage: the port and its one SQL implementation (SQLite, PostgreSQL, D1). Every write
 * goes through the unit of work; what a guard's failure means is said here — a taken e-mail key is
 * `EmailTaken`, a throttle slot or an active challenge taken meanwhile, or a token's or challenge's
 * version moved, runs the transaction again. Reads never see the transaction's own pending writes,
 * and nothing here reads one back.
 *
 * It also reads one column of the customers module's table: which profile holds a login
 * (`c360_customers.user_id`, unique), to find a user's profile without a service of that module
 * exposing it.
 *
 * @since 0.4.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { StorageError } from "../kernel/Errors.js"
import { int } from "../platform/sql/Columns.js"
import { storage } from "../platform/sql/SqlFailure.js"
import { rerun, UnitOfWork } from "../platform/UnitOfWork.js"
import * as Throttle from "./Throttle.js"
import { type ChallengeStatus, EmailTaken, User } from "./User.js"

/** A user with its password hash: only the login reads it. @since 0.4.0 */
export interface Credentials {
  readonly user: User
  readonly passwordHash: string
}

/** A stored e-mail verification token (by its hash). @since 0.4.0 */
export interface EmailToken {
  readonly tokenHash: string
  readonly userId: string
  readonly expiresAt: number
  readonly usedAt: number | null
  readonly version: number
}

/** A stored link challenge. @since 0.4.0 */
export interface Challenge {
  readonly id: string
  readonly userId: string
  readonly phone: string
  readonly customerId: string
  readonly codeHash: string
  readonly salt: string
  readonly attempts: number
  readonly status: ChallengeStatus
  readonly createdAt: number
  readonly expiresAt: number
  readonly version: number
}

/**
 * The identity repository.
 *
 * @since 0.4.0
 */
export class IdentityRepository extends Context.Tag("customer360/IdentityRepository")<IdentityRepository, {
  /** Inserts a user; its e-mail key taken (now or at commit) fails `EmailTaken`. */
  readonly insertUser: (user: User, emailKey: string, passwordHash: string) => Effect.Effect<void, EmailTaken | StorageError>
  readonly findUser: (id: string) => Effect.Effect<Option.Option<User>, StorageError>
  readonly findCredentials: (emailKey: string) => Effect.Effect<Option.Option<Credentials>, StorageError>
  readonly setPasswordHash: (userId: string, passwordHash: string, at: Date) => Effect.Effect<void, StorageError>
  readonly insertEmailToken: (token: Omit<EmailToken, "version" | "usedAt"> & { readonly createdAt: number }) => Effect.Effect<void, StorageError>
  readonly findEmailToken: (tokenHash: string) => Effect.Effect<Option.Option<EmailToken>, StorageError>
  /** Marks the token used (its version stepped from the read) and the user active. */
  readonly useEmailToken: (token: EmailToken, at: Date) => Effect.Effect<void, StorageError>
  /** The id of the profile that holds the login, if any. */
  readonly profileOf: (userId: string) => Effect.Effect<Option.Option<string>, StorageError>
  /** A throttle key's state as of now (see `Throttle.ts`). */
  readonly readThrottle: (
    key: string,
    windows: ReadonlyArray<Throttle.Window>,
    now: number
  ) => Effect.Effect<Throttle.ThrottleState, StorageError>
  /** Takes the key's next slot; taken meanwhile: the transaction runs again. */
  readonly reserveThrottle: (
    state: Throttle.ThrottleState,
    at: number,
    windows: ReadonlyArray<Throttle.Window>
  ) => Effect.Effect<void, StorageError>
  readonly releaseThrottle: (key: string, seq: number) => Effect.Effect<void, StorageError>
  /** The active challenge of (phone, user), or else its latest, whatever its status. */
  readonly latestChallenge: (phone: string, userId: string) => Effect.Effect<Option.Option<Challenge>, StorageError>
  /**
   * Supersedes the phone's active challenge (whoever's) and inserts the new one; another active one
   * inserted meanwhile runs the transaction again.
   */
  readonly replaceChallenge: (challenge: Challenge) => Effect.Effect<void, StorageError>
  /** Sets a challenge's status and wrong tries, its version stepped from the read one. */
  readonly updateChallenge: (
    challenge: Challenge,
    changes: { readonly status: ChallengeStatus; readonly attempts: number }
  ) => Effect.Effect<void, StorageError>
}>() {}

const toUser = (r: Record<string, unknown>) =>
  new User({
    id: String(r.id),
    email: String(r.email),
    active: int(r.active) === 1,
    createdAt: new Date(int(r.created_at)),
    updatedAt: new Date(int(r.updated_at))
  })

const toChallenge = (r: Record<string, unknown>): Challenge => ({
  id: String(r.id),
  userId: String(r.user_id),
  phone: String(r.phone),
  customerId: String(r.customer_id),
  codeHash: String(r.code_hash),
  salt: String(r.salt),
  attempts: int(r.attempts),
  status: String(r.status) as ChallengeStatus,
  createdAt: int(r.created_at),
  expiresAt: int(r.expires_at),
  version: int(r.version)
})

/**
 * Builds the repository over the client and the unit of work (see the module documentation for
 * what each guard's failure means).
 *
 * @since 0.4.0
 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork
  const throttle = Throttle.statements(sql)

  const staleOrTaken = (f: { readonly _tag: string }) => f._tag === "UniqueViolation" || f._tag === "StaleWrite" ? rerun : undefined

  const insertUser = (user: User, emailKey: string, passwordHash: string) =>
    uow.write<EmailTaken>({
      operation: "registering a user",
      statements: [sql`INSERT INTO c360_users (id, email, email_key, password_hash, active, created_at, updated_at)
        VALUES (${user.id}, ${user.email}, ${emailKey}, ${passwordHash}, ${user.active ? 1 : 0},
          ${user.createdAt.getTime()}, ${user.updatedAt.getTime()})`],
      onFailure: (f) => (f._tag === "UniqueViolation" && f.constraint.includes("email_key") ? new EmailTaken() : undefined)
    })

  const findUser = (id: string) =>
    sql<Record<string, unknown>>`SELECT id, email, active, created_at, updated_at FROM c360_users WHERE id = ${id}`.pipe(
      storage("reading a user"),
      Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toUser))
    )

  const findCredentials = (emailKey: string) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_users WHERE email_key = ${emailKey}`.pipe(
      storage("reading a login"),
      Effect.map((rows) =>
        Option.map(Option.fromNullable(rows[0]), (r) => ({ user: toUser(r), passwordHash: String(r.password_hash) }))
      )
    )

  const setPasswordHash = (userId: string, passwordHash: string, at: Date) =>
    uow.write<never>({
      operation: "rehashing a password",
      statements: [sql`UPDATE c360_users SET password_hash = ${passwordHash}, updated_at = ${at.getTime()} WHERE id = ${userId}`]
    })

  const insertEmailToken = (t: Omit<EmailToken, "version" | "usedAt"> & { readonly createdAt: number }) =>
    uow.write<never>({
      operation: "storing an e-mail verification token",
      statements: [sql`INSERT INTO c360_email_tokens (token_hash, user_id, created_at, expires_at, used_at, version)
        VALUES (${t.tokenHash}, ${t.userId}, ${t.createdAt}, ${t.expiresAt}, NULL, 0)`]
    })

  const findEmailToken = (tokenHash: string) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_email_tokens WHERE token_hash = ${tokenHash}`.pipe(
      storage("reading an e-mail verification token"),
      Effect.map((rows) =>
        Option.map(Option.fromNullable(rows[0]), (r): EmailToken => ({
          tokenHash: String(r.token_hash),
          userId: String(r.user_id),
          expiresAt: int(r.expires_at),
          usedAt: r.used_at === null || r.used_at === undefined ? null : int(r.used_at),
          version: int(r.version)
        }))
      )
    )

  const useEmailToken = (token: EmailToken, at: Date) =>
    uow.write<never>({
      operation: "verifying an e-mail address",
      statements: [
        sql`UPDATE c360_email_tokens SET used_at = ${at.getTime()}, version = ${token.version + 1}
          WHERE token_hash = ${token.tokenHash}`,
        sql`UPDATE c360_users SET active = 1, updated_at = ${at.getTime()} WHERE id = ${token.userId}`
      ],
      onFailure: staleOrTaken
    })

  const profileOf = (userId: string) =>
    sql<{ id: string }>`SELECT id FROM c360_customers WHERE user_id = ${userId}`.pipe(
      storage("finding a user's profile"),
      Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => String(r.id)))
    )

  const readThrottle = (key: string, windows: ReadonlyArray<Throttle.Window>, now: number) =>
    uow.read(throttle.read(key, windows, now)).pipe(
      storage("reading a limit"),
      Effect.map((rows) => throttle.state(key, rows))
    )

  const reserveThrottle = (state: Throttle.ThrottleState, at: number, windows: ReadonlyArray<Throttle.Window>) =>
    uow.write<never>({
      operation: "counting an attempt",
      statements: throttle.reserve(state, at, windows),
      // another attempt took this slot since the read: read again, decide again
      onFailure: (f) => (f._tag === "UniqueViolation" ? rerun : undefined)
    })

  const releaseThrottle = (key: string, seq: number) =>
    uow.write<never>({ operation: "giving an attempt back", statements: [throttle.release(key, seq)] })

  const latestChallenge = (phone: string, userId: string) =>
    // the active one if there is one (at most one per phone), else the newest
    sql<Record<string, unknown>>`SELECT * FROM c360_link_challenges WHERE phone = ${phone} AND user_id = ${userId}
      ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, created_at DESC, id DESC LIMIT 1`.pipe(
      storage("reading a link challenge"),
      Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toChallenge))
    )

  const replaceChallenge = (c: Challenge) =>
    uow.write<never>({
      operation: "creating a link challenge",
      statements: [
        // the version steps by one from whatever it is: the guard lets it through
        sql`UPDATE c360_link_challenges SET status = 'superseded', version = version + 1
          WHERE phone = ${c.phone} AND status = 'active'`,
        sql`INSERT INTO c360_link_challenges
          (id, user_id, phone, customer_id, code_hash, salt, attempts, status, created_at, expires_at, version)
          VALUES (${c.id}, ${c.userId}, ${c.phone}, ${c.customerId}, ${c.codeHash}, ${c.salt}, 0, 'active',
            ${c.createdAt}, ${c.expiresAt}, 0)`
      ],
      onFailure: staleOrTaken
    })

  const updateChallenge = (c: Challenge, changes: { readonly status: ChallengeStatus; readonly attempts: number }) =>
    uow.write<never>({
      operation: "updating a link challenge",
      statements: [sql`UPDATE c360_link_challenges SET status = ${changes.status}, attempts = ${changes.attempts},
        version = ${c.version + 1} WHERE id = ${c.id}`],
      // a concurrent confirmation or a new request changed it since the read: read again
      onFailure: staleOrTaken
    })

  return IdentityRepository.of({
    insertUser,
    findUser,
    findCredentials,
    setPasswordHash,
    insertEmailToken,
    findEmailToken,
    useEmailToken,
    profileOf,
    readThrottle,
    reserveThrottle,
    releaseThrottle,
    latestChallenge,
    replaceChallenge,
    updateChallenge
  })
})

/**
 * The repository as a layer over the client and the unit of work.
 *
 * @since 0.4.0
 */
export const layer: Layer.Layer<IdentityRepository, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(
  IdentityRepository,
  make
)
