package withdrawals

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/ledger"
	"github.com/paycore/withdrawals/services/webhooks"
)

// transitions is the whole withdrawal state machine (docs/ARCHITECTURE.md). Terminal
// states have no entry, so nothing ever leaves them.
var transitions = map[models.WithdrawalStatus][]models.WithdrawalStatus{
	models.StatusPendingApproval: {models.StatusPending, models.StatusCancelled, models.StatusFailed},
	models.StatusPending:         {models.StatusProcessing, models.StatusCancelled, models.StatusFailed},
	models.StatusProcessing:      {models.StatusConfirmed, models.StatusFailed},
}

// Change is one requested status change and the facts that come with it.
type Change struct {
	To                models.WithdrawalStatus
	BatchID           *string // processing
	ProviderReference *string // processing or confirmed
	TxHash            *string // confirmed
	FailureReason     *string // failed
	Actor             string  // who asked: a key id, "merchant", "payout-worker"
}

// Lifecycle is the only code that changes withdrawal statuses (their creation aside).
type Lifecycle struct {
	ledger *ledger.Ledger
	outbox *webhooks.Outbox
}

// NewLifecycle wires the status changes to the ledger and the outbox.
func NewLifecycle(l *ledger.Ledger, o *webhooks.Outbox) *Lifecycle {
	return &Lifecycle{ledger: l, outbox: o}
}

// Apply changes withdrawals that share a status, in the caller's transaction, with a
// few statements whatever their number:
//   - a guarded update (WHERE id IN ... AND status = <from>): if any of them moved
//     meanwhile, nothing changes and the caller gets INVALID_STATE;
//   - the journal each one implies (ledger.Apply moves the balances by it):
//     -> pending | processing no money moves (the amount stays locked)
//     -> cancelled | failed   release: pending -> available
//     -> confirmed            settle: pending -> external payouts (net) + platform fees (fee)
//   - the webhook event announcing each change, with its deliveries.
func (l *Lifecycle) Apply(ctx context.Context, tx *dbtx.Tx, ws []*models.Withdrawal, c Change, now time.Time) error {
	if len(ws) == 0 {
		return nil
	}
	from := ws[0].Status
	ids := make([]string, len(ws))
	for i, w := range ws {
		if w.Status != from || !slices.Contains(transitions[from], c.To) {
			return &services.InvalidStateError{ID: w.ID, Status: string(w.Status),
				Message: fmt.Sprintf("withdrawal %s is %s and cannot become %s", w.ID, w.Status, c.To)}
		}
		ids[i] = w.ID
	}

	// The columns the new status stamps, then the guarded update, which also counts the
	// withdrawals out of their old status and into the new one (CountsSQL).
	set := []string{"status = $3", "updated_at = $4"}
	args := []any{ids, string(from), string(c.To), now}
	stamp := func(column string, value any) {
		args = append(args, value)
		set = append(set, fmt.Sprintf("%s = $%d", column, len(args)))
	}
	switch c.To {
	case models.StatusProcessing:
		stamp("processing_at", now)
		stamp("batch_id", c.BatchID)
	case models.StatusConfirmed:
		stamp("confirmed_at", now)
		stamp("tx_hash", c.TxHash)
	case models.StatusFailed:
		stamp("failed_at", now)
		stamp("failure_reason", c.FailureReason)
	case models.StatusCancelled:
		stamp("cancelled_at", now)
	}
	if c.ProviderReference != nil {
		stamp("provider_reference", c.ProviderReference)
	}
	var moved int
	if err := tx.SQLTx().QueryRowContext(ctx, `
		WITH moved AS (
			UPDATE withdrawals SET `+strings.Join(set, ", ")+`
			 WHERE id = ANY($1::text[]) AND status = $2
			RETURNING merchant_id, token, network),
		count_deltas AS (
			SELECT merchant_id, token, network, $2::text AS status, -1 AS delta FROM moved
			UNION ALL
			SELECT merchant_id, token, network, $3::text, 1 FROM moved),
		`+CountsSQL+`
		SELECT count(*) FROM moved`, args...).Scan(&moved); err != nil {
		return fmt.Errorf("transition %d withdrawals %s->%s: %w", len(ws), from, c.To, err)
	}
	if moved != len(ws) {
		// Someone else moved one first; the caller's view is stale. The caller's
		// transaction must roll back, which undoes the others too.
		return &services.InvalidStateError{ID: ws[0].ID, Status: string(from),
			Message: fmt.Sprintf("withdrawal %s is no longer %s", strings.Join(ids, ", "), from)}
	}

	journals := make([]ledger.Journal, 0, len(ws))
	events := make([]models.WebhookEvent, len(ws))
	for i, w := range ws {
		w.Status, w.UpdatedAt = c.To, now
		switch c.To {
		case models.StatusProcessing:
			w.ProcessingAt, w.BatchID = &now, c.BatchID
		case models.StatusConfirmed:
			w.ConfirmedAt, w.TxHash = &now, c.TxHash
			journals = append(journals, ledger.Settle(*w, c.Actor, now))
		case models.StatusFailed:
			w.FailedAt, w.FailureReason = &now, c.FailureReason
			journals = append(journals, ledger.Release(*w, c.Actor, now))
		case models.StatusCancelled:
			w.CancelledAt = &now
			journals = append(journals, ledger.Release(*w, c.Actor, now))
		}
		if c.ProviderReference != nil {
			w.ProviderReference = c.ProviderReference
		}
		evt, err := webhooks.NewEvent(w.MerchantID, eventFor[c.To], w.ID, eventData(*w), now)
		if err != nil {
			return err
		}
		events[i] = evt
	}
	if err := l.ledger.Apply(ctx, tx, journals); err != nil {
		return err
	}
	if c.To.Terminal() {
		completed, err := l.completeBatches(ctx, tx.DB, ws, now)
		if err != nil {
			return err
		}
		events = append(events, completed...)
	}
	return l.outbox.Write(ctx, tx, events, "")
}

// Cancel moves a withdrawal that is pending or waiting for approval to cancelled and
// returns its amount to available.
func (s *Service) Cancel(ctx context.Context, merchantID, id string) (models.Withdrawal, error) {
	var w models.Withdrawal
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		// Locked, so a cancel racing an admin's approval sees its outcome (and cancels the
		// approved withdrawal) instead of failing on a status that just changed.
		res := tx.Raw(`SELECT * FROM withdrawals WHERE id = ? AND merchant_id = ? FOR UPDATE`, id, merchantID).Scan(&w)
		if res.Error != nil {
			return fmt.Errorf("get withdrawal: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("withdrawal %s: %w", id, services.ErrNotFound)
		}
		if w.Status != models.StatusPending && w.Status != models.StatusPendingApproval {
			return &services.InvalidStateError{ID: w.ID, Status: string(w.Status),
				Message: fmt.Sprintf("Withdrawal %s is %s; only pending or pending_approval withdrawals can be cancelled", w.ID, w.Status)}
		}
		return s.lifecycle.Apply(ctx, tx, []*models.Withdrawal{&w}, Change{To: models.StatusCancelled, Actor: "merchant"}, s.clock.Now())
	})
	return w, err
}
