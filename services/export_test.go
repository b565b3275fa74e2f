package services

import (
	"context"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
)

// Test hooks: tests drive these transitions directly, in their own transactions, which
// untracked() marks as changing balances outside any instance's cache.

func untracked(tx *gorm.DB) *gorm.DB {
	return tx.WithContext(context.WithValue(tx.Statement.Context, balanceTouchesKey{}, &balanceTouches{}))
}

func Process(tx *gorm.DB, w *models.Withdrawal, batchID string, now time.Time) error {
	if err := tx.Exec(`INSERT INTO payout_batches (id, token, status, item_count, total_amount, provider, created_at, updated_at)
		VALUES (?, ?, 'submitting', 1, ?, 'test', ?, ?) ON CONFLICT DO NOTHING`, batchID, w.Token, w.NetAmount, now, now).Error; err != nil {
		return err
	}
	return transition(context.Background(), untracked(tx), &Outbox{}, w, change{to: models.StatusProcessing, batchID: &batchID, actor: "test"}, now)
}

func Confirm(tx *gorm.DB, w *models.Withdrawal, txHash string, now time.Time) error {
	return transition(context.Background(), untracked(tx), &Outbox{}, w, change{to: models.StatusConfirmed, txHash: &txHash, actor: "test"}, now)
}

func Fail(tx *gorm.DB, w *models.Withdrawal, reason string, now time.Time) error {
	return transition(context.Background(), untracked(tx), &Outbox{}, w, change{to: models.StatusFailed, failureReason: &reason, actor: "test"}, now)
}

// ErrKeyBound is what a request gets, before its replay is looked up, when its
// idempotency key is already bound.
var ErrKeyBound = errIdempotencyConflict

// CreateTogether writes the requests as one group, as if they had arrived at once, and
// returns each one's answer. edit, when set, changes a prepared withdrawal before the
// write (to provoke a failure).
func (s *Withdrawals) CreateTogether(ctx context.Context, ins []CreateInput, edit func(i int, w *models.Withdrawal)) ([]models.Withdrawal, []error) {
	calls := make([]*createCall, len(ins))
	for i, in := range ins {
		c, err := s.prepare(ctx, in)
		if err != nil {
			panic(err)
		}
		if edit != nil {
			edit(i, &c.w)
		}
		c.done = make(chan struct{})
		calls[i] = c
	}
	s.writeGroup(ctx, calls)
	ws, errs := make([]models.Withdrawal, len(ins)), make([]error, len(ins))
	for i, c := range calls {
		ws[i], errs[i] = c.result()
	}
	return ws, errs
}

// MoveBalances is moveBalances for a test's own transaction.
func MoveBalances(tx *gorm.DB, release bool, totals map[[2]string]decimal.Decimal, now time.Time) error {
	kind := models.JournalWithdrawalSettle
	if release {
		kind = models.JournalWithdrawalRelease
	}
	return moveBalances(untracked(tx), kind, totals, now)
}

// TestClock is a clock the test moves.
type TestClock struct {
	mu  sync.Mutex
	now time.Time
}

func NewTestClock(at time.Time) *TestClock { return &TestClock{now: at} }

func (c *TestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *TestClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
