package services

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
)

// transitions is the whole withdrawal state machine (DESIGN.md 8b). Terminal states
// have no entry, so nothing ever leaves them.
var transitions = map[models.WithdrawalStatus][]models.WithdrawalStatus{
	models.StatusPending:    {models.StatusProcessing, models.StatusCancelled, models.StatusFailed},
	models.StatusProcessing: {models.StatusConfirmed, models.StatusFailed},
}

// change describes one requested status change and the facts that come with it.
type change struct {
	to                models.WithdrawalStatus
	batchID           *string // processing
	providerReference *string // processing or confirmed
	txHash            *string // confirmed
	failureReason     *string // failed
	actor             string  // who asked: a key id, "merchant", "payout-worker"
}

// transition is the only function that changes a withdrawal's status. In the caller's
// transaction it guards the update on the current status (so it cannot run twice),
// stamps the status time, and writes the ledger journal the change implies:
//
//	pending -> processing   no money moves
//	-> cancelled | failed   pending -> available (release)
//	-> confirmed            pending -> external payouts (net) + platform fees (fee)
//
// and writes the webhook event announcing the change, all in the same transaction.
func transition(ctx context.Context, tx *gorm.DB, o *Outbox, w *models.Withdrawal, c change, now time.Time) error {
	from := w.Status
	if !slices.Contains(transitions[from], c.to) {
		return &InvalidStateError{ID: w.ID, Status: string(from),
			Message: fmt.Sprintf("withdrawal %s is %s and cannot become %s", w.ID, from, c.to)}
	}

	updates := map[string]any{"status": c.to, "updated_at": now}
	switch c.to {
	case models.StatusProcessing:
		updates["processing_at"] = now
		updates["batch_id"] = c.batchID
	case models.StatusConfirmed:
		updates["confirmed_at"] = now
		updates["tx_hash"] = c.txHash
	case models.StatusFailed:
		updates["failed_at"] = now
		updates["failure_reason"] = c.failureReason
	case models.StatusCancelled:
		updates["cancelled_at"] = now
	}
	if c.providerReference != nil {
		updates["provider_reference"] = c.providerReference
	}
	// UpdateColumns: no GORM hooks and no automatic updated_at from the wall clock.
	res := tx.Model(&models.Withdrawal{}).Where("id = ? AND status = ?", w.ID, from).UpdateColumns(updates)
	if res.Error != nil {
		return fmt.Errorf("transition %s %s->%s: %w", w.ID, from, c.to, res.Error)
	}
	if res.RowsAffected != 1 {
		// Someone else moved it first; the caller's view of the status is stale.
		return &InvalidStateError{ID: w.ID, Status: string(from),
			Message: fmt.Sprintf("withdrawal %s is no longer %s", w.ID, from)}
	}

	if err := postTransitionJournal(tx, w, c, now); err != nil {
		return err
	}

	w.Status = c.to
	w.UpdatedAt = now
	switch c.to {
	case models.StatusProcessing:
		w.ProcessingAt, w.BatchID = &now, c.batchID
	case models.StatusConfirmed:
		w.ConfirmedAt, w.TxHash = &now, c.txHash
	case models.StatusFailed:
		w.FailedAt, w.FailureReason = &now, c.failureReason
	case models.StatusCancelled:
		w.CancelledAt = &now
	}
	if c.providerReference != nil {
		w.ProviderReference = c.providerReference
	}
	_, err := o.record(ctx, tx, w.MerchantID, eventFor[c.to], w.ID, eventData(*w), now, nil)
	return err
}

func postTransitionJournal(tx *gorm.DB, w *models.Withdrawal, c change, now time.Time) error {
	id := w.ID
	actor := c.actor
	j := models.LedgerJournal{ID: newJournalID(), MerchantID: w.MerchantID, Token: w.Token, WithdrawalID: &id, CreatedBy: &actor, CreatedAt: now}
	pending := merchantPendingAccount(w.MerchantID, w.Token)
	switch c.to {
	case models.StatusCancelled, models.StatusFailed:
		j.Kind = models.JournalWithdrawalRelease
		if err := releaseFunds(tx, w.MerchantID, w.Token, w.Amount, now); err != nil {
			return err
		}
		return postJournal(tx, j, []posting{
			{pending, w.Amount.Neg()},
			{merchantAvailableAccount(w.MerchantID, w.Token), w.Amount},
		})
	case models.StatusConfirmed:
		j.Kind = models.JournalWithdrawalSettle
		if err := settleFunds(tx, w.MerchantID, w.Token, w.Amount, now); err != nil {
			return err
		}
		return postJournal(tx, j, []posting{
			{pending, w.Amount.Neg()},
			{externalPayoutsAccount(w.Token), w.NetAmount},
			{platformFeesAccount(w.Token), w.FeeTotal},
		})
	}
	return nil
}
