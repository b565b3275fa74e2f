package services

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
)

// Test hooks: the payout worker (a later issue) drives these transitions; until then the
// tests drive them directly.

func Process(tx *gorm.DB, w *models.Withdrawal, batchID string, now time.Time) error {
	if err := tx.Exec(`INSERT INTO payout_batches (id, token, status, item_count, total_amount, provider, created_at, updated_at)
		VALUES (?, ?, 'submitting', 1, ?, 'test', ?, ?) ON CONFLICT DO NOTHING`, batchID, w.Token, w.NetAmount, now, now).Error; err != nil {
		return err
	}
	return transition(context.Background(), tx, &Outbox{}, w, change{to: models.StatusProcessing, batchID: &batchID, actor: "test"}, now)
}

func Confirm(tx *gorm.DB, w *models.Withdrawal, txHash string, now time.Time) error {
	return transition(context.Background(), tx, &Outbox{}, w, change{to: models.StatusConfirmed, txHash: &txHash, actor: "test"}, now)
}

func Fail(tx *gorm.DB, w *models.Withdrawal, reason string, now time.Time) error {
	return transition(context.Background(), tx, &Outbox{}, w, change{to: models.StatusFailed, failureReason: &reason, actor: "test"}, now)
}
