/**
 * Password hashing and the other secrets of the identity module (docs/identity.md#secrets).
 *
 * The KDF is **scrypt from `node:crypto`**: memory-hard, in every Node release the library supports,
 * no native dependency to build (Argon2id, OWASP's first choice, is not in Node 20's crypto and would
 * need a native or WebAssembly package). Parameters: OWASP's N = 2^17, r = 8, p = 1 (128 MiB per
 * hash), a 16-byte salt and a 32-byte key, configurable (`identity.password`). A hash is stored as a
 * self-describing string, `scrypt$ln=17,r=8,p=1$<salt base64>$<key base64>`, so a hash made under
 * older parameters is still verified, and `login` rehashes it under the configured ones.
 *
 * `node:crypto` is loaded on first use, not when the library loads, and without an `import` a
 * bundler must resolve: a host without it (a Worker without `nodejs_compat`) runs every other module
 * and fails only here.
 *
 * @since 0.4.0
 */
import type * as NodeCrypto from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** scrypt's cost parameters: N = 2^`ln`, block size `r`, parallelism `p`. @since 0.4.0 */
export interface KdfParams {
  readonly ln: number
  readonly r: number
  readonly p: number
}

/** OWASP's scrypt parameters (N = 2^17, r = 8, p = 1). @since 0.4.0 */
export const defaultKdfParams: KdfParams = { ln: 17, r: 8, p: 1 }

/** Bytes of a salt and of a derived key. @since 0.4.0 */
export const SALT_BYTES = 16
/** @since 0.4.0 */
export const KEY_BYTES = 32

/** A stored hash, parsed. @since 0.4.0 */
export interface ParsedHash {
  readonly params: KdfParams
  readonly salt: Uint8Array
  readonly key: Uint8Array
}

const b64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes))
const unb64 = (text: string): Uint8Array | undefined => {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
  } catch {
    return undefined
  }
}

/** Whether parameters are ones this module accepts (ln 1–24, r 1–32, p 1–16). Pure. @since 0.4.0 */
export const validParams = (p: KdfParams): boolean =>
  Number.isSafeInteger(p.ln) && p.ln >= 1 && p.ln <= 24 && Number.isSafeInteger(p.r) && p.r >= 1 && p.r <= 32 &&
  Number.isSafeInteger(p.p) && p.p >= 1 && p.p <= 16

/**
 * The stored form of a hash: `scrypt$ln=…,r=…,p=…$<salt>$<key>` (standard base64). Pure; the inverse
 * of {@link parseHash}.
 *
 * @since 0.4.0
 */
export const formatHash = (h: ParsedHash): string => `scrypt$ln=${h.params.ln},r=${h.params.r},p=${h.params.p}$${b64(h.salt)}$${b64(h.key)}`

/** A stored hash, or `None` when the text is not one this module writes. Pure. @since 0.4.0 */
export const parseHash = (stored: string): Option.Option<ParsedHash> => {
  const m = /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([^$]+)\$([^$]+)$/.exec(stored)
  if (m === null) return Option.none()
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) }
  const salt = unb64(m[4]!)
  const key = unb64(m[5]!)
  if (!validParams(params) || salt === undefined || key === undefined || salt.length === 0 || key.length === 0) {
    return Option.none()
  }
  return Option.some({ params, salt, key })
}

/**
 * Whether a stored hash should be made again under `configured`: its parameters differ (stronger or
 * weaker — the configuration decides), or it cannot be parsed. Pure.
 *
 * @since 0.4.0
 */
export const needsRehash = (stored: string, configured: KdfParams): boolean =>
  Option.match(parseHash(stored), {
    onNone: () => true,
    onSome: (h) =>
      h.params.ln !== configured.ln || h.params.r !== configured.r || h.params.p !== configured.p ||
      h.key.length !== KEY_BYTES
  })

let loaded: Promise<typeof NodeCrypto> | undefined

/**
 * `node:crypto` without an `import` of it a bundler or a Worker's module loader would have to
 * resolve: `process.getBuiltinModule` (Node 20.16+, Workers with `nodejs_compat`), else — on an older
 * Node 20 — a dynamic import the bundler does not see.
 */
const loadNodeCrypto = (): Promise<typeof NodeCrypto> => {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  const builtin = proc?.getBuiltinModule?.("node:crypto") as typeof NodeCrypto | undefined
  if (builtin !== undefined) return Promise.resolve(builtin)
  // a Function body hides the import from bundlers (see above)
  return (new Function("s", "return import(s)") as (s: string) => Promise<typeof NodeCrypto>)("node:crypto")
}

/**
 * `node:crypto`, loaded once on first use (see the module documentation).
 *
 * @since 0.4.0
 */
export const nodeCrypto: Effect.Effect<typeof NodeCrypto> = Effect.promise(() => {
  loaded ??= loadNodeCrypto()
  return loaded
})

/** The memory scrypt needs for these parameters, with room to spare (Node refuses past `maxmem`). */
const maxmem = (p: KdfParams) => 256 * 2 ** p.ln * p.r + 16 * 1024 * 1024

const derive = (password: string, salt: Uint8Array, params: KdfParams, length: number) =>
  Effect.flatMap(nodeCrypto, (crypto) =>
    Effect.async<Uint8Array>((resume) => {
      crypto.scrypt(
        password,
        salt,
        length,
        { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: maxmem(params) },
        (error, key) => resume(error === null ? Effect.succeed(new Uint8Array(key)) : Effect.die(error))
      )
    }))

/**
 * A new hash of the (already normalised) password under `params`, with a fresh random salt.
 *
 * @since 0.4.0
 */
export const hashPassword = (password: string, params: KdfParams): Effect.Effect<string> =>
  Effect.gen(function*() {
    const crypto = yield* nodeCrypto
    const salt = new Uint8Array(crypto.randomBytes(SALT_BYTES))
    const key = yield* derive(password, salt, params, KEY_BYTES)
    return formatHash({ params, salt, key })
  })

/**
 * Whether the (already normalised) password matches the stored hash, compared with
 * `timingSafeEqual`. An unparsable hash matches nothing, after the same work as a real one.
 *
 * @since 0.4.0
 */
export const verifyPassword = (password: string, stored: string, fallback: KdfParams): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const crypto = yield* nodeCrypto
    const parsed = parseHash(stored)
    const h = Option.getOrElse(parsed, () => ({ params: fallback, salt: new Uint8Array(SALT_BYTES), key: new Uint8Array(KEY_BYTES) }))
    const key = yield* derive(password, h.salt, h.params, h.key.length)
    return crypto.timingSafeEqual(key, h.key) && Option.isSome(parsed)
  })

/** SHA-256 of a text, as lower-case hex: how tokens and throttle keys are stored. @since 0.4.0 */
export const sha256 = (text: string): Effect.Effect<string> =>
  Effect.map(nodeCrypto, (crypto) => crypto.createHash("sha256").update(text, "utf8").digest("hex"))

/** HMAC-SHA256 of `message` under `key`, as hex. @since 0.4.0 */
export const hmacSha256 = (key: string, message: string): Effect.Effect<string> =>
  Effect.map(nodeCrypto, (crypto) => crypto.createHmac("sha256", key).update(message, "utf8").digest("hex"))

/** Whether two hex digests are equal, in constant time (`timingSafeEqual`). @since 0.4.0 */
export const digestsEqual = (a: string, b: string): Effect.Effect<boolean> =>
  Effect.map(nodeCrypto, (crypto) => {
    const x = Buffer.from(a, "utf8")
    const y = Buffer.from(b, "utf8")
    // equal lengths by construction (both SHA-256 hex); a different length compares y with itself
    return x.length === y.length ? crypto.timingSafeEqual(x, y) : (crypto.timingSafeEqual(y, y) && false)
  })

/** `n` random bytes from the CSPRNG as base64url. @since 0.4.0 */
export const randomToken = (n: number): Effect.Effect<string> =>
  Effect.map(nodeCrypto, (crypto) => crypto.randomBytes(n).toString("base64url"))

/** A uniform integer in [0, `max`) from the CSPRNG (`crypto.randomInt`). @since 0.4.0 */
export const randomInt = (max: number): Effect.Effect<number> => Effect.map(nodeCrypto, (crypto) => crypto.randomInt(0, max))
