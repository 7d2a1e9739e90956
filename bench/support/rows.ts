/** A virtual credit row as the hand-written baselines read it (instants as epoch milliseconds). */
export interface CreditRow {
  id: string
  amount: number
  remaining: number
  issued_at: number
  expires_at: number
  reason: string
  ticket_id: string | null
}
