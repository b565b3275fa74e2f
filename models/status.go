package models

// WithdrawalStatus is where a withdrawal is in its lifecycle. services.Transition is
// the only code that moves a withdrawal between these values.
type WithdrawalStatus string

const (
	// StatusPendingApproval: set instead of pending when an approval rule holds the new
	// withdrawal; its amount is locked. Left by enough approvals (pending), a rejection
	// or the wait's expiry (failed), or the merchant (cancelled).
	StatusPendingApproval WithdrawalStatus = "pending_approval"
	// StatusPending: set when the merchant creates the withdrawal and its amount is locked
	// (or when it is approved).
	// Left by the payout batcher (processing), the merchant (cancelled) or a
	// rejection before payout (failed).
	StatusPending WithdrawalStatus = "pending"
	// StatusProcessing: set when the payout batcher claims the withdrawal into a batch.
	// Left only on the provider's definitive answer (confirmed or failed).
	StatusProcessing WithdrawalStatus = "processing"
	// StatusConfirmed: terminal. The provider paid; the locked amount left the balance.
	StatusConfirmed WithdrawalStatus = "confirmed"
	// StatusFailed: terminal. The locked amount went back to available.
	StatusFailed WithdrawalStatus = "failed"
	// StatusCancelled: terminal. The merchant cancelled while pending; funds released.
	StatusCancelled WithdrawalStatus = "cancelled"
)

// WithdrawalStatuses lists every status, in lifecycle order.
var WithdrawalStatuses = []WithdrawalStatus{StatusPendingApproval, StatusPending, StatusProcessing, StatusConfirmed, StatusFailed, StatusCancelled}

// OpenStatuses are the statuses a withdrawal's amount is locked in (not terminal).
func OpenStatuses() []string {
	var open []string
	for _, s := range WithdrawalStatuses {
		if !s.Terminal() {
			open = append(open, string(s))
		}
	}
	return open
}

// Terminal reports whether no transition leaves s.
func (s WithdrawalStatus) Terminal() bool {
	return s == StatusConfirmed || s == StatusFailed || s == StatusCancelled
}
