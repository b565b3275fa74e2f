package accounts

import (
	"context"
	"fmt"
	"strings"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/audit"
)

// SetPayoutsFrozen freezes a merchant's payouts (with the reason, 1 to 200 characters)
// or unfreezes them, and records who did it. Frozen, new withdrawals are refused
// (PAYOUTS_FROZEN) and batching leaves the pending ones alone; withdrawals already in a
// batch are paid. Freezing a frozen merchant updates the reason; unfreezing one that is
// not frozen changes nothing but is recorded.
func (s *Service) SetPayoutsFrozen(ctx context.Context, merchantID string, frozen bool, reason, actor string) (models.Merchant, error) {
	reason = strings.TrimSpace(reason)
	if frozen && (reason == "" || len(reason) > 200) {
		return models.Merchant{}, services.Invalid(services.CodeInvalidRequest, "reason", "reason (1 to 200 characters) is required to freeze payouts")
	}
	var m models.Merchant
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		res := tx.Raw(`SELECT * FROM merchants WHERE id = ? FOR UPDATE`, merchantID).Scan(&m)
		if res.Error != nil {
			return fmt.Errorf("freeze: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("merchant %s: %w", merchantID, services.ErrNotFound)
		}
		now := s.clock.Now()
		action, details := audit.PayoutsUnfreeze, map[string]any{"wasFrozen": m.PayoutsFrozenAt != nil}
		m.PayoutsFrozenAt, m.PayoutsFrozenReason = nil, nil
		if frozen {
			action, details = audit.PayoutsFreeze, map[string]any{"reason": reason}
			m.PayoutsFrozenAt, m.PayoutsFrozenReason = &now, &reason
		}
		if err := tx.Exec(`UPDATE merchants SET payouts_frozen_at = ?, payouts_frozen_reason = ? WHERE id = ?`,
			m.PayoutsFrozenAt, m.PayoutsFrozenReason, merchantID).Error; err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
		return audit.Record(tx.DB, actor, action, "merchant", merchantID, details, now)
	})
	return m, err
}
