package testdb

import (
	"testing"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
)

// AssertLedgerConsistent proves the ledger invariants on db: every journal sums to
// zero, every materialised balance equals the sum of its account's entries, no
// balance is negative, and every withdrawal's pending lock is accounted for.
func AssertLedgerConsistent(t testing.TB, db *gorm.DB) {
	t.Helper()
	var unbalanced []string
	db.Raw(`SELECT journal_id FROM ledger_entries GROUP BY journal_id HAVING SUM(amount) <> 0`).Scan(&unbalanced)
	if len(unbalanced) > 0 {
		t.Errorf("journals not summing to zero: %v", unbalanced)
	}
	var mismatches []struct {
		MerchantID, Token                     string
		Available, Pending, LedgerAv, LedgerP decimal.Decimal
	}
	db.Raw(`
		SELECT b.merchant_id, b.token, b.available, b.pending,
		       COALESCE((SELECT SUM(amount) FROM ledger_entries WHERE account_id = 'merchant:' || b.merchant_id || ':available:' || b.token), 0) AS ledger_av,
		       COALESCE((SELECT SUM(amount) FROM ledger_entries WHERE account_id = 'merchant:' || b.merchant_id || ':pending:' || b.token), 0) AS ledger_p
		FROM balances b`).Scan(&mismatches)
	for _, m := range mismatches {
		if !m.Available.Equal(m.LedgerAv) || !m.Pending.Equal(m.LedgerP) {
			t.Errorf("balance %s/%s: available %s vs ledger %s, pending %s vs ledger %s", m.MerchantID, m.Token, m.Available, m.LedgerAv, m.Pending, m.LedgerP)
		}
		if m.Available.IsNegative() || m.Pending.IsNegative() {
			t.Errorf("negative balance %s/%s: %s/%s", m.MerchantID, m.Token, m.Available, m.Pending)
		}
	}
	var lockMismatch int64
	db.Raw(`
		SELECT COUNT(*) FROM balances b
		WHERE b.pending <> COALESCE((SELECT SUM(amount) FROM withdrawals w
			WHERE w.merchant_id = b.merchant_id AND w.token = b.token AND w.status IN ?), 0)`, models.OpenStatuses()).Scan(&lockMismatch)
	if lockMismatch > 0 {
		t.Errorf("%d balances whose pending differs from their open withdrawals", lockMismatch)
	}
}
