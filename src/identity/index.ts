/**
 * The identity module (DOMAIN §9, docs/identity.md): logins apart from customer profiles, lazy
 * registration, e-mail verification, login with a failure limit, completing the profile and linking
 * a walk-in profile by a code sent to its phone; the `Mailer` and `SmsSender` ports.
 *
 * @since 0.4.0
 */
export {
  CompleteProfileInput,
  ConfirmLinkInput,
  EmailTaken,
  emailKey,
  formatCode,
  InvalidCode,
  InvalidCredentials,
  InvalidToken,
  PhoneTaken,
  ProfileClaimed,
  ProfileExists,
  RegisterInput,
  RequestLinkInput,
  TooManyAttempts,
  TooManyRequests,
  User,
  UserNotFound
} from "./User.js"
export { Identity } from "./Identity.js"
export {
  DeliveryFailed,
  type EmailMessage,
  Mailer,
  mailerConsole,
  makeTest,
  SmsSender,
  type SmsMessage,
  smsConsole
} from "./Ports.js"
export { defaultKdfParams, formatHash, type KdfParams, needsRehash, parseHash } from "./Password.js"
// Types also used by other entry points' shared declarations (the service's shape, `requestLink`'s
// answer, a challenge's status) are exported at the package's top level (src/index.ts): in the
// `Identity` namespace the declaration bundler would make them values.
