/**
 * The fraud module (DOMAIN §8, docs/fraud.md): what other modules may use of it.
 *
 * @since 0.3.0
 */
export {
  BLACKLIST,
  DEFAULT_RULES,
  type Evidence,
  FraudDecision,
  FraudFlag,
  FraudFlagNotFound,
  FraudRule,
  type RuleHit,
  type RuleKind,
  validateRules
} from "./Fraud.js"
export {
  type BacktestHit,
  type BacktestInput,
  type BacktestResult,
  type ClearFlagInput,
  type ClearFlagResult,
  type CustomerFraud,
  Fraud,
  type RunOptions,
  type RunReport
} from "./FraudService.js"
