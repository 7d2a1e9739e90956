/**
 * The tickets module (DOMAIN §4, docs/tickets.md): what other modules may use of it.
 *
 * @since 0.2.0
 */
export {
  InvalidTicketAction,
  InvalidTransition,
  Ticket,
  TicketAction,
  TicketNotFound,
  TicketStats,
  type TicketStatus,
  type TicketType
} from "./Ticket.js"
export { type CustomerTicketAction } from "./TicketRepository.js"
export { Tickets } from "./Tickets.js"
