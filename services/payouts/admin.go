package payouts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/audit"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// BatchView is a batch with its withdrawals.
type BatchView struct {
	models.PayoutBatch
	Withdrawals []models.Withdrawal
}

// ListBatches pages through payout batches, newest first, each with its withdrawals
// (loaded in one query for the whole page). The total is counted up to
// services.CountBound.
func (p *Service) ListBatches(ctx context.Context, status string, r services.PageRequest) (services.Page[BatchView], error) {
	if status != "" {
		switch models.BatchStatus(status) {
		case models.BatchSubmitting, models.BatchSubmitted, models.BatchCompleted, models.BatchNeedsReview:
		default:
			return services.Page[BatchView]{}, services.Invalid(services.CodeInvalidRequest, "status", "status must be one of submitting, submitted, completed, needs_review")
		}
	}
	all := func() *gorm.DB { return p.db.Gorm(ctx).Model(&models.PayoutBatch{}) }
	rows := func() *gorm.DB {
		if status != "" {
			return all().Where("status = ?", status)
		}
		return all()
	}
	page := services.Page[models.PayoutBatch]{Limit: r.Limit, Offset: r.Offset}
	if err := services.CountUpTo(rows(), &page); err != nil {
		return services.Page[BatchView]{}, fmt.Errorf("count batches: %w", err)
	}
	if err := services.ReadPage(rows, all, r, "a payout batch", &page); err != nil {
		return services.Page[BatchView]{}, fmt.Errorf("list batches: %w", err)
	}
	ids := make([]string, len(page.Items))
	for i, b := range page.Items {
		ids[i] = b.ID
	}
	items, err := services.Children(p.db.Gorm(ctx), ids, "batch_id", "created_at, id", func(w models.Withdrawal) string { return *w.BatchID })
	if err != nil {
		return services.Page[BatchView]{}, fmt.Errorf("list batch items: %w", err)
	}
	views := make([]BatchView, len(page.Items))
	for i, b := range page.Items {
		views[i] = BatchView{PayoutBatch: b, Withdrawals: append([]models.Withdrawal{}, items[b.ID]...)}
	}
	return services.Carry(page, views), nil
}

// Resolution is an admin's decision on flagged work.
type Resolution struct {
	Action string // "confirm" (paid, with TxHash), "fail" (not paid, funds released), "retry" (batch only)
	TxHash string
	Reason string
	Actor  string
}

func (r Resolution) validate(allowRetry bool) error {
	switch r.Action {
	case "confirm":
		if r.TxHash == "" || len(r.TxHash) > 200 {
			return services.Invalid(services.CodeInvalidRequest, "txHash", "txHash (1 to 200 characters) is required to confirm")
		}
	case "fail":
		if r.Reason == "" || len(r.Reason) > 200 {
			return services.Invalid(services.CodeInvalidRequest, "reason", "reason (1 to 200 characters) is required to fail")
		}
	case "retry":
		if !allowRetry {
			return services.Invalid(services.CodeInvalidRequest, "action", "action must be confirm or fail")
		}
	default:
		return services.Invalid(services.CodeInvalidRequest, "action", "action must be confirm, fail or retry")
	}
	return nil
}

// ResolveWithdrawal settles one processing withdrawal of a batch flagged for review.
// Withdrawals of batches still handled by the worker cannot be resolved by hand. The
// batch row is locked first, so a resolution and a batch retry (or two resolutions)
// take turns, and every update is guarded on the status it expects.
func (p *Service) ResolveWithdrawal(ctx context.Context, id string, r Resolution) (models.Withdrawal, error) {
	if err := r.validate(false); err != nil {
		return models.Withdrawal{}, err
	}
	var w models.Withdrawal
	err := p.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		res := tx.Where("id = ?", id).Limit(1).Find(&w)
		if res.Error != nil {
			return fmt.Errorf("resolve: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("withdrawal %s: %w", id, services.ErrNotFound)
		}
		notFlagged := &services.InvalidStateError{ID: w.ID, Status: string(w.Status),
			Message: fmt.Sprintf("Withdrawal %s is %s; only processing withdrawals of a batch flagged for review can be resolved", w.ID, w.Status)}
		if w.BatchID == nil {
			return notFlagged
		}
		if _, err := lockFlaggedBatch(tx.DB, *w.BatchID, notFlagged); err != nil {
			return err
		}
		now := p.clock.Now()
		if err := p.resolveOne(ctx, tx, &w, r, now); err != nil {
			return err
		}
		return p.completeIfSettled(tx, *w.BatchID, now)
	})
	return w, err
}

// ResolveBatch applies a decision to every open withdrawal of a flagged batch, or
// queues it for another submission under the same batch id ("retry"). A retry is
// refused once any of the batch's withdrawals was resolved by hand: resubmitted, the
// batch could pay an item whose funds were already released, or pay a second time one
// an admin confirmed as paid elsewhere.
func (p *Service) ResolveBatch(ctx context.Context, batchID string, r Resolution) (BatchView, error) {
	if err := r.validate(true); err != nil {
		return BatchView{}, err
	}
	err := p.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		batch, err := lockFlaggedBatch(tx.DB, batchID, nil)
		if err != nil {
			return err
		}
		now := p.clock.Now()
		if r.Action == "retry" {
			if batch.ManualResolutions > 0 {
				return &services.InvalidStateError{ID: batchID, Status: string(batch.Status),
					Message: fmt.Sprintf("Batch %s cannot be resubmitted: %d of its withdrawals were resolved by hand; resolve the others by hand too", batchID, batch.ManualResolutions)}
			}
			res := tx.Model(&models.PayoutBatch{}).Where("id = ? AND status = ? AND manual_resolutions = 0", batchID, models.BatchNeedsReview).
				UpdateColumns(map[string]any{"status": models.BatchSubmitting, "flagged_at": nil, "updated_at": now})
			if res.Error != nil {
				return fmt.Errorf("retry batch: %w", res.Error)
			}
			if res.RowsAffected != 1 {
				return fmt.Errorf("retry batch %s: the locked batch changed", batchID)
			}
			if err := audit.Record(tx.DB, r.Actor, audit.BatchRetry, "payout_batch", batchID, map[string]any{}, now); err != nil {
				return err
			}
			return p.enqueue(ctx, tx, SubmitArgs{BatchID: batchID}, nil)
		}
		var items []models.Withdrawal
		if err := tx.Where("batch_id = ? AND status = ?", batchID, models.StatusProcessing).Order("id").Find(&items).Error; err != nil {
			return fmt.Errorf("resolve batch items: %w", err)
		}
		for i := range items {
			if err := p.resolveOne(ctx, tx, &items[i], r, now); err != nil {
				return err
			}
		}
		return p.completeIfSettled(tx, batchID, now)
	})
	if err != nil {
		return BatchView{}, err
	}
	page, err := p.batchView(ctx, batchID)
	return page, err
}

func (p *Service) batchView(ctx context.Context, batchID string) (BatchView, error) {
	var v BatchView
	if err := p.db.Gorm(ctx).Where("id = ?", batchID).Take(&v.PayoutBatch).Error; err != nil {
		return v, fmt.Errorf("read batch: %w", err)
	}
	err := p.db.Gorm(ctx).Where("batch_id = ?", batchID).Order("created_at, id").Find(&v.Withdrawals).Error
	return v, err
}

// lockFlaggedBatch locks a batch row for the rest of the transaction and checks that it
// is flagged for review. notFlagged, when given, is the error for a batch in any other
// state (the caller's wording); nil words it for the batch.
func lockFlaggedBatch(tx *gorm.DB, batchID string, notFlagged error) (models.PayoutBatch, error) {
	var batch models.PayoutBatch
	res := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", batchID).Limit(1).Find(&batch)
	if res.Error != nil {
		return batch, fmt.Errorf("lock batch %s: %w", batchID, res.Error)
	}
	if res.RowsAffected == 0 {
		if notFlagged != nil {
			return batch, notFlagged
		}
		return batch, fmt.Errorf("batch %s: %w", batchID, services.ErrNotFound)
	}
	if batch.Status != models.BatchNeedsReview {
		if notFlagged != nil {
			return batch, notFlagged
		}
		return batch, &services.InvalidStateError{ID: batchID, Status: string(batch.Status),
			Message: fmt.Sprintf("Batch %s is %s; only batches flagged for review (needs_review) can be resolved", batchID, batch.Status)}
	}
	return batch, nil
}

func (p *Service) resolveOne(ctx context.Context, tx *dbtx.Tx, w *models.Withdrawal, r Resolution, now time.Time) error {
	c := withdrawals.Change{Actor: r.Actor}
	details := map[string]any{"withdrawalId": w.ID, "batchId": *w.BatchID}
	switch r.Action {
	case "confirm":
		txHash := r.TxHash
		c.To, c.TxHash = models.StatusConfirmed, &txHash
		details["txHash"] = txHash
	case "fail":
		reason := r.Reason
		c.To, c.FailureReason = models.StatusFailed, &reason
		details["reason"] = reason
	}
	if err := p.lifecycle.Apply(ctx, tx, []*models.Withdrawal{w}, c, now); err != nil {
		return err
	}
	if err := tx.Exec(`UPDATE payout_batches SET manual_resolutions = manual_resolutions + 1, updated_at = ?
		WHERE id = ? AND status = 'needs_review'`, now, *w.BatchID).Error; err != nil {
		return fmt.Errorf("count resolution: %w", err)
	}
	return audit.Record(tx.DB, r.Actor, audit.WithdrawalPrefix+r.Action, "withdrawal", w.ID, details, now)
}

// completeIfSettled closes a flagged batch once no withdrawal of it is processing.
func (p *Service) completeIfSettled(tx *dbtx.Tx, batchID string, now time.Time) error {
	return tx.Exec(`UPDATE payout_batches SET status = 'completed', completed_at = ?, updated_at = ?
		WHERE id = ? AND status = 'needs_review' AND NOT EXISTS (SELECT 1 FROM withdrawals WHERE batch_id = ? AND status = 'processing')`,
		now, now, batchID, batchID).Error
}

// RunNow queues a batch run at once instead of waiting for the next interval: for an
// operator who has just resolved an incident, and for measuring settlement.
func (p *Service) RunNow(ctx context.Context, actor string) error {
	return p.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		if err := audit.Record(tx.DB, actor, audit.PayoutsRun, "payouts", "all", map[string]any{}, p.clock.Now()); err != nil {
			return err
		}
		if _, err := p.jobs.InsertTx(ctx, tx.SQLTx(), TickArgs{}, nil); err != nil {
			return fmt.Errorf("enqueue payout run: %w", err)
		}
		return nil
	})
}

// SandboxFault is the incident the sandbox rehearses while the service runs ("": none).
// SANDBOX_FAULT, when set, takes precedence over it.
func (p *Service) SandboxFault(ctx context.Context) (string, error) {
	var fault string
	if err := p.db.Gorm(ctx).Raw(`SELECT fault FROM sandbox_settings`).Scan(&fault).Error; err != nil {
		return "", fmt.Errorf("sandbox settings: %w", err)
	}
	return fault, nil
}

// SetSandboxFault switches the sandbox's rehearsed incident on every instance, audited.
func (p *Service) SetSandboxFault(ctx context.Context, fault, actor string) error {
	if fault != "" && !slices.Contains(rails.Faults, fault) {
		return services.Invalid(services.CodeInvalidRequest, "fault", "fault must be empty or one of %s", strings.Join(rails.Faults, ", "))
	}
	return p.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		now := p.clock.Now()
		if err := tx.Exec(`UPDATE sandbox_settings SET fault = ?, updated_at = ?, updated_by = ?`, fault, now, actor).Error; err != nil {
			return fmt.Errorf("sandbox settings: %w", err)
		}
		return audit.Record(tx.DB, actor, audit.SandboxFault, "sandbox", "fault", map[string]any{"fault": fault}, now)
	})
}
