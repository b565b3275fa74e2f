// Package payouts moves pending withdrawals through the payment rail: it claims them
// into per-token batches, submits each batch under its id (the rail's idempotency key),
// polls it, and settles each withdrawal on the rail's definitive answer. An ambiguous
// answer never releases funds: the batch is retried, then flagged for an admin, whose
// decisions are audited.
package payouts

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/internal/metrics"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// Config tunes the payout pipeline.
type Config struct {
	BatchMax        int           // withdrawals per batch (PAYOUT_BATCH_MAX)
	PollInterval    time.Duration // between provider status checks
	ProviderTimeout time.Duration // per provider call
	MaxAttempts     int           // ambiguous outcomes tolerated before a batch is flagged
	// BatchWrites bounds the batch-sized transactions (claims, settlements) an instance
	// runs at once (PAYOUT_BATCH_WRITES); 0 means 2.
	BatchWrites int
}

// Payouts moves pending withdrawals through the payment provider: it claims them into
// per-token batches, submits each batch once per attempt under the batch id, and
// settles each withdrawal on the provider's definitive answer. An ambiguous answer
// never releases funds.
type Service struct {
	db        *dbtx.DB
	rails     rails.Rails
	clock     services.Clock
	cfg       Config
	logger    *slog.Logger
	lifecycle *withdrawals.Lifecycle
	jobs      JobInserter
	metrics   *metrics.Metrics
	// batchWrites holds one token per claim or settlement being written. Each writes up
	// to BatchMax withdrawals with their journals, entries, events and deliveries, and
	// allocates tens of megabytes doing it: with every job worker in one, an instance's
	// memory would grow with WORKERS x BatchMax withdrawals. Rail calls stay outside, so
	// a slow rail still has WORKERS calls in flight.
	batchWrites chan struct{}
}

// JobInserter puts River jobs in the caller's transaction; River's client is one.
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// New wires the payout use cases.
func New(db *dbtx.DB, rails rails.Rails, clock services.Clock, cfg Config, logger *slog.Logger,
	lifecycle *withdrawals.Lifecycle, jobs JobInserter, m *metrics.Metrics) *Service {
	return &Service{db: db, rails: rails, clock: clock, cfg: cfg, logger: logger, lifecycle: lifecycle, jobs: jobs, metrics: m,
		batchWrites: make(chan struct{}, cmp.Or(cfg.BatchWrites, 2))}
}

// batchWrite runs fn while holding one of the instance's batch-write places.
func (p *Service) batchWrite(ctx context.Context, fn func() error) error {
	select {
	case p.batchWrites <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.batchWrites }()
	return fn()
}

// ErrAmbiguous wraps a provider failure whose outcome is unknown (timeout, 5xx, crash).
var ErrAmbiguous = errors.New("payout outcome unknown")

// ClaimAll claims every pending withdrawal into batches of at most BatchMax per token
// and network, and returns the new batch ids. Safe to run from several instances at
// once: rows are claimed with FOR UPDATE SKIP LOCKED, so no withdrawal lands in two
// batches.
func (p *Service) ClaimAll(ctx context.Context) ([]string, error) {
	var networks []models.TokenNetwork
	if err := p.db.Gorm(ctx).Order("token, network").Find(&networks).Error; err != nil {
		return nil, fmt.Errorf("claim: list networks: %w", err)
	}
	var batches []string
	for _, tn := range networks {
		for {
			id, n, err := p.claimBatch(ctx, tn.Token, tn.Network)
			if err != nil {
				return batches, err
			}
			if n > 0 {
				batches = append(batches, id)
			}
			if n < p.cfg.BatchMax {
				break
			}
		}
	}
	return batches, nil
}

// claimBatch moves up to BatchMax pending withdrawals of one token on one network into
// a new batch and queues its submission, all in one transaction.
func (p *Service) claimBatch(ctx context.Context, token, network string) (string, int, error) {
	batchID := ids.Batch()
	var claimed []models.Withdrawal
	claim := func(tx *dbtx.Tx) error {
		// A merchant whose payouts are frozen keeps its pending withdrawals until unfrozen.
		if err := tx.Raw(`SELECT * FROM withdrawals w WHERE status = 'pending' AND token = ? AND network = ?
			AND NOT EXISTS (SELECT 1 FROM merchants m WHERE m.id = w.merchant_id AND m.payouts_frozen_at IS NOT NULL)
			ORDER BY created_at, id LIMIT ? FOR UPDATE OF w SKIP LOCKED`, token, network, p.cfg.BatchMax).Scan(&claimed).Error; err != nil {
			return fmt.Errorf("claim %s: %w", token, err)
		}
		if len(claimed) == 0 {
			return nil
		}
		now := p.clock.Now()
		total := decimal.Zero
		for _, w := range claimed {
			total = total.Add(w.NetAmount)
		}
		if err := tx.Create(&models.PayoutBatch{
			ID: batchID, Token: token, Network: network, Status: models.BatchSubmitting, ItemCount: len(claimed), TotalAmount: total,
			Provider: p.rails.For(token, network).Name(), CreatedAt: now, UpdatedAt: now,
		}).Error; err != nil {
			return fmt.Errorf("claim %s: insert batch: %w", token, err)
		}
		items := make([]*models.Withdrawal, len(claimed))
		for i := range claimed {
			items[i] = &claimed[i]
		}
		if err := p.lifecycle.Apply(ctx, tx, items, withdrawals.Change{To: models.StatusProcessing, BatchID: &batchID, Actor: "payout-batcher"}, now); err != nil {
			return err
		}
		return p.enqueue(ctx, tx, SubmitArgs{BatchID: batchID}, nil)
	}
	err := p.batchWrite(ctx, func() error { return p.db.Transaction(ctx, claim) })
	if err != nil {
		return "", 0, err
	}
	if len(claimed) > 0 {
		p.metrics.ObserveBatch(token, len(claimed))
	}
	return batchID, len(claimed), nil
}

// enqueue inserts a payout job in the transaction, with the payout retry budget.
func (p *Service) enqueue(ctx context.Context, tx *dbtx.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if opts == nil {
		opts = &river.InsertOpts{}
	}
	opts.MaxAttempts = p.cfg.MaxAttempts
	if _, err := p.jobs.InsertTx(ctx, tx.SQLTx(), args, opts); err != nil {
		return fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// Submit hands a claimed batch to the provider. Called by the submission job, once
// per attempt; an error means the outcome is unknown and the job retries with the same
// batch id (the provider's idempotency key).
func (p *Service) Submit(ctx context.Context, batchID string) error {
	batch, items, err := p.loadOpenBatch(ctx, batchID, models.BatchSubmitting)
	if err != nil || batch == nil {
		return err
	}
	provider, err := p.providerOf(batch)
	if err != nil {
		p.recordAttempt(ctx, batchID, err)
		return err
	}
	callCtx, cancel := context.WithTimeout(ctx, p.cfg.ProviderTimeout)
	start := time.Now()
	reference, results, err := provider.Submit(callCtx, railBatch(batch, items))
	p.metrics.ObserveProvider("submit", err, time.Since(start))
	cancel()
	if err != nil {
		p.recordAttempt(ctx, batchID, err)
		return fmt.Errorf("%w: submit batch %s: %v", ErrAmbiguous, batchID, err)
	}
	return p.settle(ctx, batch, results, &reference, models.BatchSubmitting)
}

// Poll asks the provider about a submitted batch and settles what is final. It reports
// whether items are still open.
func (p *Service) Poll(ctx context.Context, batchID string) (open bool, err error) {
	batch, items, err := p.loadOpenBatch(ctx, batchID, models.BatchSubmitted)
	if err != nil || batch == nil {
		return false, err
	}
	provider, err := p.providerOf(batch)
	if err != nil {
		p.recordAttempt(ctx, batchID, err)
		return true, err
	}
	callCtx, cancel := context.WithTimeout(ctx, p.cfg.ProviderTimeout)
	start := time.Now()
	results, err := provider.Status(callCtx, railBatch(batch, items))
	p.metrics.ObserveProvider("status", err, time.Since(start))
	cancel()
	if err != nil {
		p.recordAttempt(ctx, batchID, err)
		return true, fmt.Errorf("%w: poll batch %s: %v", ErrAmbiguous, batchID, err)
	}
	if err := p.settle(ctx, batch, results, nil, models.BatchSubmitted); err != nil {
		return true, err
	}
	var still int64
	err = p.db.Gorm(ctx).Model(&models.Withdrawal{}).Where("batch_id = ? AND status = ?", batchID, models.StatusProcessing).Count(&still).Error
	return still > 0, err
}

// providerOf is the provider a batch was claimed for. A batch stays with the rail that
// may have paid it: when the token's rail has been changed since, nothing else may
// send it, so the batch waits (and is flagged after its attempts) for an admin.
func (p *Service) providerOf(batch *models.PayoutBatch) (rails.Provider, error) {
	provider := p.rails.For(batch.Token, batch.Network)
	if provider.Name() != batch.Provider {
		return nil, fmt.Errorf("%w: batch %s went to the %s rail, but %s on %s is now paid by %s; restore its configuration or resolve the batch by hand",
			ErrAmbiguous, batch.ID, batch.Provider, batch.Token, batch.Network, provider.Name())
	}
	return provider, nil
}

// railBatch is what the rail is told of a batch and its open withdrawals.
func railBatch(batch *models.PayoutBatch, items []models.Withdrawal) rails.Batch {
	b := rails.Batch{ID: batch.ID, Token: batch.Token, Network: batch.Network, Since: batch.CreatedAt, Items: make([]rails.Item, len(items))}
	if batch.ProviderReference != nil {
		b.Reference = *batch.ProviderReference
	}
	for i, w := range items {
		b.Items[i] = rails.Item{WithdrawalID: w.ID, Address: w.Address, Amount: w.NetAmount}
	}
	return b
}

// loadOpenBatch returns the batch and its processing withdrawals, or nil when the
// batch is no longer in the expected state (another attempt or an admin got there first).
func (p *Service) loadOpenBatch(ctx context.Context, batchID string, want models.BatchStatus) (*models.PayoutBatch, []models.Withdrawal, error) {
	var batch models.PayoutBatch
	res := p.db.Gorm(ctx).Where("id = ?", batchID).Limit(1).Find(&batch)
	if res.Error != nil {
		return nil, nil, fmt.Errorf("load batch %s: %w", batchID, res.Error)
	}
	if res.RowsAffected == 0 || batch.Status != want {
		return nil, nil, nil
	}
	var items []models.Withdrawal
	if err := p.db.Gorm(ctx).Where("batch_id = ? AND status = ?", batchID, models.StatusProcessing).Order("id").Find(&items).Error; err != nil {
		return nil, nil, fmt.Errorf("load batch %s items: %w", batchID, err)
	}
	return &batch, items, nil
}

func (p *Service) recordAttempt(ctx context.Context, batchID string, cause error) {
	msg := cause.Error()
	err := p.db.Gorm(ctx).Model(&models.PayoutBatch{}).Where("id = ?", batchID).
		UpdateColumns(map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_error": msg, "updated_at": p.clock.Now()}).Error
	if err != nil {
		p.logger.ErrorContext(ctx, "record payout attempt", "batch", batchID, "error", err.Error())
	}
	p.logger.WarnContext(ctx, "payout provider call failed; funds stay locked", "batch", batchID, "error", msg)
}

// settle applies provider results in one transaction: confirmed and failed items take
// their final transition, accepted ones record their tx hash. A batch leaving
// "submitting" gets a polling job for its open items, in the same transaction.
func (p *Service) settle(ctx context.Context, batch *models.PayoutBatch, results []rails.ItemResult, reference *string, from models.BatchStatus) error {
	return p.batchWrite(ctx, func() error { return p.settleTx(ctx, batch, results, reference, from) })
}

func (p *Service) settleTx(ctx context.Context, batch *models.PayoutBatch, results []rails.ItemResult, reference *string, from models.BatchStatus) error {
	return p.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		now := p.clock.Now()
		var items []models.Withdrawal
		if err := tx.Where("batch_id = ? AND status = ?", batch.ID, models.StatusProcessing).Find(&items).Error; err != nil {
			return fmt.Errorf("settle %s: %w", batch.ID, err)
		}
		byID := make(map[string]*models.Withdrawal, len(items))
		for i := range items {
			byID[items[i].ID] = &items[i]
		}
		// Group the results by what they mean, so each group is one set-based transition.
		type group struct {
			status rails.ItemStatus
			detail string // tx hash, or failure reason
		}
		groups := map[group][]*models.Withdrawal{}
		open := len(items)
		for _, r := range results {
			w, ok := byID[r.WithdrawalID]
			if !ok {
				continue // not ours, or settled already
			}
			g := group{status: r.Status, detail: r.TxHash}
			switch r.Status {
			case rails.ItemFailed:
				g.detail = cmp.Or(r.Reason, "failed")
				open--
			case rails.ItemConfirmed:
				open--
			case rails.ItemAccepted:
			default:
				continue
			}
			groups[g] = append(groups[g], w)
		}
		for g, ws := range groups {
			detail := g.detail
			var err error
			switch g.status {
			case rails.ItemConfirmed:
				err = p.lifecycle.Apply(ctx, tx, ws, withdrawals.Change{To: models.StatusConfirmed, TxHash: &detail, ProviderReference: reference, Actor: "payout-worker"}, now)
			case rails.ItemFailed:
				err = p.lifecycle.Apply(ctx, tx, ws, withdrawals.Change{To: models.StatusFailed, FailureReason: &detail, ProviderReference: reference, Actor: "payout-worker"}, now)
			case rails.ItemAccepted:
				ids := make([]string, len(ws))
				for i, w := range ws {
					ids[i] = w.ID
				}
				// A chain rail answers "accepted" at every poll until the transaction is deep
				// enough: only a new hash is written, and a poll (no reference) keeps the
				// submission's reference.
				cols := map[string]any{"tx_hash": detail, "updated_at": now}
				if reference != nil {
					cols["provider_reference"] = reference
				}
				err = tx.Model(&models.Withdrawal{}).Where("id IN ? AND status = ? AND tx_hash IS DISTINCT FROM ?", ids, models.StatusProcessing, detail).
					UpdateColumns(cols).Error
			}
			if err != nil {
				return fmt.Errorf("settle %s: %w", batch.ID, err)
			}
		}
		updates := map[string]any{"updated_at": now}
		next := from
		if from == models.BatchSubmitting {
			next = models.BatchSubmitted
			updates["submitted_at"] = now
			updates["provider_reference"] = reference
		}
		if open == 0 {
			next = models.BatchCompleted
			updates["completed_at"] = now
		}
		updates["status"] = next
		res := tx.Model(&models.PayoutBatch{}).Where("id = ? AND status = ?", batch.ID, from).UpdateColumns(updates)
		if res.Error != nil {
			return fmt.Errorf("settle %s: update batch: %w", batch.ID, res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("settle %s: batch left %s meanwhile", batch.ID, from)
		}
		if from == models.BatchSubmitting && next == models.BatchSubmitted {
			return p.enqueue(ctx, tx, PollArgs{BatchID: batch.ID}, &river.InsertOpts{ScheduledAt: now.Add(p.cfg.PollInterval)})
		}
		return nil
	})
}

// Flag parks a batch for an admin after its retry budget: its withdrawals stay
// processing and their funds locked until someone decides.
func (p *Service) Flag(ctx context.Context, batchID string, cause error) error {
	now := p.clock.Now()
	err := p.db.Gorm(ctx).Model(&models.PayoutBatch{}).
		Where("id = ? AND status IN ?", batchID, []models.BatchStatus{models.BatchSubmitting, models.BatchSubmitted}).
		UpdateColumns(map[string]any{"status": models.BatchNeedsReview, "flagged_at": now, "updated_at": now, "last_error": cause.Error()}).Error
	if err != nil {
		return fmt.Errorf("flag batch %s: %w", batchID, err)
	}
	p.logger.ErrorContext(ctx, "payout batch needs review; funds stay locked", "batch", batchID, "error", cause.Error())
	return nil
}
