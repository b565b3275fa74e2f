package services

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
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

// transition changes one withdrawal's status; see transitionAll.
func transition(ctx context.Context, tx *gorm.DB, o *Outbox, w *models.Withdrawal, c change, now time.Time) error {
	return transitionAll(ctx, tx, o, []*models.Withdrawal{w}, c, now)
}

// transitionAll is the only code that changes withdrawal statuses. In the caller's
// transaction it applies one change to withdrawals that share a status, with a few
// statements whatever their number:
//   - a guarded update (WHERE id IN ... AND status = <from>): if any of them moved
//     meanwhile, nothing changes and the caller gets INVALID_STATE;
//   - the ledger journal each one implies, balances updated once per merchant and token:
//     pending -> processing   no money moves
//     -> cancelled | failed   pending -> available (release)
//     -> confirmed            pending -> external payouts (net) + platform fees (fee)
//   - the webhook event announcing each change, with its deliveries.
func transitionAll(ctx context.Context, tx *gorm.DB, o *Outbox, ws []*models.Withdrawal, c change, now time.Time) error {
	if len(ws) == 0 {
		return nil
	}
	from := ws[0].Status
	ids := make([]string, len(ws))
	for i, w := range ws {
		if w.Status != from || !slices.Contains(transitions[from], c.to) {
			return &InvalidStateError{ID: w.ID, Status: string(w.Status),
				Message: fmt.Sprintf("withdrawal %s is %s and cannot become %s", w.ID, w.Status, c.to)}
		}
		ids[i] = w.ID
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
	res := tx.Model(&models.Withdrawal{}).Where("id IN ? AND status = ?", ids, from).UpdateColumns(updates)
	if res.Error != nil {
		return fmt.Errorf("transition %d withdrawals %s->%s: %w", len(ws), from, c.to, res.Error)
	}
	if res.RowsAffected != int64(len(ws)) {
		// Someone else moved one first; the caller's view is stale. The caller's
		// transaction must roll back, which undoes the others too.
		return &InvalidStateError{ID: ws[0].ID, Status: string(from),
			Message: fmt.Sprintf("withdrawal %s is no longer %s", strings.Join(ids, ", "), from)}
	}

	for _, w := range ws {
		w.Status, w.UpdatedAt = c.to, now
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
	}
	if err := postTransitionJournals(tx, ws, c, now); err != nil {
		return err
	}
	return o.recordMany(ctx, tx, ws, eventFor[c.to], now)
}

// postTransitionJournals writes one journal per withdrawal and moves the balances,
// aggregated per merchant and token.
func postTransitionJournals(tx *gorm.DB, ws []*models.Withdrawal, c change, now time.Time) error {
	var kind models.JournalKind
	switch c.to {
	case models.StatusCancelled, models.StatusFailed:
		kind = models.JournalWithdrawalRelease
	case models.StatusConfirmed:
		kind = models.JournalWithdrawalSettle
	default:
		return nil
	}
	actor := c.actor
	journals := make([]models.LedgerJournal, 0, len(ws))
	var entries []models.LedgerEntry
	totals := map[[2]string]decimal.Decimal{}
	for _, w := range ws {
		id := w.ID
		j := models.LedgerJournal{ID: newJournalID(), Kind: kind, MerchantID: w.MerchantID, Token: w.Token, WithdrawalID: &id, CreatedBy: &actor, CreatedAt: now}
		legs := []posting{{merchantPendingAccount(w.MerchantID, w.Token), w.Amount.Neg()}}
		if kind == models.JournalWithdrawalRelease {
			legs = append(legs, posting{merchantAvailableAccount(w.MerchantID, w.Token), w.Amount})
		} else {
			legs = append(legs, posting{externalPayoutsAccount(w.Token), w.NetAmount}, posting{platformFeesAccount(w.Token), w.FeeTotal})
		}
		je, err := journalEntries(j, legs)
		if err != nil {
			return err
		}
		journals = append(journals, j)
		entries = append(entries, je...)
		key := [2]string{w.MerchantID, w.Token}
		totals[key] = totals[key].Add(w.Amount)
	}
	if err := moveBalances(tx, kind, totals, now); err != nil {
		return err
	}
	if err := tx.CreateInBatches(&journals, 1000).Error; err != nil {
		return fmt.Errorf("ledger: insert journals: %w", err)
	}
	if err := tx.CreateInBatches(&entries, 1000).Error; err != nil {
		return fmt.Errorf("ledger: insert entries: %w", err)
	}
	return nil
}
