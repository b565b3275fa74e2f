package withdrawals

import (
	"context"
	"fmt"
	"time"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/audit"
)

// Approval is one admin's decision on a withdrawal held for approval.
type Approval struct {
	WithdrawalID string
	KeyID        string
	Decision     string // approved or rejected
	Reason       *string
	CreatedAt    time.Time
}

// TableName is the decisions' table.
func (Approval) TableName() string { return "withdrawal_approvals" }

// Awaiting is a withdrawal held for approval, the approvals it has, and when the wait
// expires.
type Awaiting struct {
	models.Withdrawal
	Approvals []Approval
	ExpiresAt time.Time
}

// Decision is an admin's approval or rejection of withdrawals held for approval.
type Decision struct {
	Approve bool
	KeyID   string // the admin key deciding
	Reason  string // optional; a rejection's reason reaches the merchant
}

// Decide records an admin's decision on a withdrawal held for approval. An approval
// that brings it to the approvals it needs moves it to pending (the payout batcher takes
// it from there); a rejection fails it and returns its funds. The withdrawal's row is
// locked first, so two admins deciding at once, or a decision racing the merchant's
// cancel, are taken one after the other: the later one finds the first one's outcome.
func (s *Service) Decide(ctx context.Context, id string, d Decision) (models.Withdrawal, error) {
	var w models.Withdrawal
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		res := tx.Raw(`SELECT * FROM withdrawals WHERE id = ? FOR UPDATE`, id).Scan(&w)
		if res.Error != nil {
			return fmt.Errorf("decide: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("withdrawal %s: %w", id, services.ErrNotFound)
		}
		ws := []*models.Withdrawal{&w}
		return s.decide(ctx, tx, ws, d, s.clock.Now())
	})
	return w, err
}

// DecideBatch records an admin's decision on every withdrawal of a mass payout that is
// held for approval: one approval covers the whole request.
func (s *Service) DecideBatch(ctx context.Context, batchID string, d Decision) (BatchView, error) {
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		var ws []models.Withdrawal
		if err := tx.Raw(`SELECT * FROM withdrawals WHERE batch_request_id = ? AND status = ? ORDER BY id FOR UPDATE`,
			batchID, models.StatusPendingApproval).Scan(&ws).Error; err != nil {
			return fmt.Errorf("decide batch: %w", err)
		}
		if len(ws) == 0 {
			var n int64
			if err := tx.Model(&models.BatchRequest{}).Where("id = ?", batchID).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("batch request %s: %w", batchID, services.ErrNotFound)
			}
			return &services.InvalidStateError{ID: batchID, Status: "no_approval_pending",
				Message: fmt.Sprintf("No withdrawal of batch request %s is waiting for approval", batchID)}
		}
		held := make([]*models.Withdrawal, len(ws))
		for i := range ws {
			held[i] = &ws[i]
		}
		return s.decide(ctx, tx, held, d, s.clock.Now())
	})
	if err != nil {
		return BatchView{}, err
	}
	return s.batchView(ctx, "", batchID)
}

// decide records d on ws, locked and held for approval, and applies what follows.
func (s *Service) decide(ctx context.Context, tx *dbtx.Tx, ws []*models.Withdrawal, d Decision, now time.Time) error {
	decision, action := "rejected", audit.WithdrawalReject
	if d.Approve {
		decision, action = "approved", audit.WithdrawalApprove
	}
	var reason *string
	if d.Reason != "" {
		if len(d.Reason) > 200 {
			return services.Invalid(services.CodeInvalidRequest, "reason", "reason must be at most 200 characters")
		}
		reason = &d.Reason
	}
	var approved []*models.Withdrawal
	for _, w := range ws {
		if w.Status != models.StatusPendingApproval {
			return &services.InvalidStateError{ID: w.ID, Status: string(w.Status),
				Message: fmt.Sprintf("Withdrawal %s is %s; only withdrawals in pending_approval can be approved or rejected", w.ID, w.Status)}
		}
		if w.CreatedByKey != nil && *w.CreatedByKey == d.KeyID {
			return services.ErrSelfApproval
		}
		// A key approves once; any key may still reject, its own approval included.
		inserted, err := tx.ExecuteCount(ctx, `
			INSERT INTO withdrawal_approvals AS a (withdrawal_id, key_id, decision, reason, created_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (withdrawal_id, key_id) DO UPDATE SET decision = EXCLUDED.decision, reason = EXCLUDED.reason,
			   created_at = EXCLUDED.created_at WHERE EXCLUDED.decision = 'rejected'`, w.ID, d.KeyID, decision, reason, now)
		if err != nil {
			return fmt.Errorf("record decision: %w", err)
		}
		if inserted == 0 {
			return &services.ConflictError{Code: "ALREADY_DECIDED",
				Message: fmt.Sprintf("This key already approved withdrawal %s; another admin key must give the next approval", w.ID)}
		}
		var approvals int
		if err := tx.Raw(`SELECT count(*) FROM withdrawal_approvals WHERE withdrawal_id = ? AND decision = 'approved'`, w.ID).
			Scan(&approvals).Error; err != nil {
			return err
		}
		if err := audit.Record(tx.DB, d.KeyID, action, "withdrawal", w.ID,
			map[string]any{"approvals": approvals, "approvalsRequired": w.ApprovalsRequired, "reason": reason}, now); err != nil {
			return err
		}
		if approvals >= w.ApprovalsRequired {
			approved = append(approved, w)
		}
	}
	if !d.Approve {
		failure := "rejected by an approver"
		if reason != nil {
			failure += ": " + *reason
		}
		return s.lifecycle.Apply(ctx, tx, ws, Change{To: models.StatusFailed, FailureReason: &failure, Actor: d.KeyID}, now)
	}
	return s.lifecycle.Apply(ctx, tx, approved, Change{To: models.StatusPending, Actor: d.KeyID}, now)
}

// ListAwaiting returns the withdrawals held for approval (of one merchant, or every
// merchant's with merchantID empty), oldest first, with the approvals each has.
func (s *Service) ListAwaiting(ctx context.Context, merchantID string, limit, offset int) (services.Page[Awaiting], error) {
	page := services.Page[Awaiting]{Limit: limit, Offset: offset, Items: []Awaiting{}}
	q := s.db.Gorm(ctx).Model(&models.Withdrawal{}).Where("status = ?", models.StatusPendingApproval)
	if merchantID != "" {
		q = q.Where("merchant_id = ?", merchantID)
	}
	if err := q.Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count approvals: %w", err)
	}
	var ws []models.Withdrawal
	if err := q.Order("created_at, id").Limit(limit).Offset(offset).Find(&ws).Error; err != nil {
		return page, fmt.Errorf("list approvals: %w", err)
	}
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	var decisions []Approval
	if err := s.db.Gorm(ctx).Where("withdrawal_id IN ?", ids).Order("created_at").Find(&decisions).Error; err != nil {
		return page, fmt.Errorf("list decisions: %w", err)
	}
	for _, w := range ws {
		a := Awaiting{Withdrawal: w, Approvals: []Approval{}, ExpiresAt: w.CreatedAt.Add(s.approvalTTL)}
		for _, d := range decisions {
			if d.WithdrawalID == w.ID {
				a.Approvals = append(a.Approvals, d)
			}
		}
		page.Items = append(page.Items, a)
	}
	return page, nil
}

// expireBatch bounds the withdrawals one expiry transaction fails.
const expireBatch = 500

// ExpireApprovals fails the withdrawals that waited for approval longer than the
// approval TTL and returns their funds, as a rejection would, and reports how many. Rows
// another transaction holds (an admin deciding now) are left for the next run.
func (s *Service) ExpireApprovals(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
			now := s.clock.Now()
			var ws []models.Withdrawal
			if err := tx.Raw(`SELECT * FROM withdrawals WHERE status = ? AND created_at <= ? ORDER BY created_at, id LIMIT ?
			                  FOR UPDATE SKIP LOCKED`, models.StatusPendingApproval, now.Add(-s.approvalTTL), expireBatch).
				Scan(&ws).Error; err != nil {
				return fmt.Errorf("expire approvals: %w", err)
			}
			expired := make([]*models.Withdrawal, len(ws))
			for i := range ws {
				expired[i] = &ws[i]
				if err := audit.Record(tx.DB, "system", audit.ApprovalExpire, "withdrawal", ws[i].ID,
					map[string]any{"waitedSince": ws[i].CreatedAt, "approvalTTL": s.approvalTTL.String()}, now); err != nil {
					return err
				}
			}
			n = len(ws)
			reason := fmt.Sprintf("approval expired: not approved within %s", s.approvalTTL)
			return s.lifecycle.Apply(ctx, tx, expired, Change{To: models.StatusFailed, FailureReason: &reason, Actor: "system"}, now)
		})
		total += n
		if err != nil || n < expireBatch {
			return total, err
		}
	}
}
