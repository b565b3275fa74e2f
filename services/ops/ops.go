// Package ops answers what operators watch that lives in the database: withdrawals per
// token and status (from the counts the database keeps, never by counting the
// history), the job queue's depth, the oldest withdrawals waiting, funds locked,
// flagged batches, disabled endpoints and the last reconciliation. Metrics read it through a snapshot that is at
// most SnapshotAge old, so a scrape's cost does not grow with the tables.
package ops

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/metrics"
)

// SnapshotAge bounds how old the figures a scrape sees can be.
const SnapshotAge = 5 * time.Second

// Stats reads the figures, refreshing its snapshot when it is older than SnapshotAge.
type Stats struct {
	db *gorm.DB

	mu       sync.Mutex
	taken    time.Time
	snapshot metrics.Gauges
}

// New returns the stats over db.
func New(db *gorm.DB) *Stats { return &Stats{db: db} }

// Gauges implements metrics.Source.
func (s *Stats) Gauges(ctx context.Context) (metrics.Gauges, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.taken.IsZero() && time.Since(s.taken) < SnapshotAge {
		return s.snapshot, nil
	}
	var g metrics.Gauges
	db := s.db.WithContext(ctx)
	if err := db.Raw(`SELECT token, status, SUM(n) AS n FROM withdrawal_counts GROUP BY token, status`).Scan(&g.Withdrawals).Error; err != nil {
		return g, fmt.Errorf("ops: withdrawals: %w", err)
	}
	if err := db.Raw(`SELECT queue, state, COUNT(*) AS n FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running') GROUP BY queue, state`).Scan(&g.Jobs).Error; err != nil {
		return g, fmt.Errorf("ops: job queue: %w", err)
	}
	// The withdrawals waiting are few (a payout interval's worth), whatever the history.
	if err := db.Raw(`SELECT token, status, extract(epoch FROM now() - min(created_at))::float8 AS seconds FROM withdrawals
		WHERE status IN ('pending_approval', 'pending', 'processing') GROUP BY token, status`).Scan(&g.Oldest).Error; err != nil {
		return g, fmt.Errorf("ops: oldest waiting: %w", err)
	}
	if err := db.Raw(`SELECT token, sum(pending)::float8 AS amount FROM balances GROUP BY token`).Scan(&g.Locked).Error; err != nil {
		return g, fmt.Errorf("ops: locked: %w", err)
	}
	if err := db.Raw(`SELECT (SELECT count(*) FROM payout_batches WHERE status = 'needs_review'),
		(SELECT count(*) FROM webhook_endpoints WHERE disabled_at IS NOT NULL AND deleted_at IS NULL)`).
		Row().Scan(&g.NeedsReview, &g.DisabledEndpoints); err != nil {
		return g, fmt.Errorf("ops: needs review, disabled endpoints: %w", err)
	}
	var runs []metrics.Reconciliation
	if err := db.Raw(`SELECT extract(epoch FROM ran_at)::float8 AS ran_at, COALESCE(extract(epoch FROM last_ok_at), 0)::float8 AS last_ok_at,
		ok, discrepancies FROM reconciliation_status`).Scan(&runs).Error; err != nil {
		return g, fmt.Errorf("ops: reconciliation: %w", err)
	}
	if len(runs) == 1 {
		g.Reconciliation = &runs[0]
	}
	s.snapshot, s.taken = g, time.Now()
	return g, nil
}

// Day is one day's withdrawals of a token (UTC days): how many were created, confirmed
// and failed that day, by their own timestamps, what was paid out (net) and the fees
// earned on the confirmed ones.
type Day struct {
	Day                        time.Time
	Token                      string
	Created, Confirmed, Failed int
	Paid, Fees                 decimal.Decimal
}

// Daily returns the days from since on, oldest first. It reads the period's
// withdrawals (the console's overview; a period of a few weeks).
func (s *Stats) Daily(ctx context.Context, since time.Time) ([]Day, error) {
	var days []Day
	err := s.db.WithContext(ctx).Raw(`
		SELECT day, token, sum(created) AS created, sum(confirmed) AS confirmed, sum(failed) AS failed,
		       sum(paid) AS paid, sum(fees) AS fees
		  FROM (SELECT date_trunc('day', created_at, 'UTC') AS day, token, 1 AS created, 0 AS confirmed, 0 AS failed,
		               0::numeric AS paid, 0::numeric AS fees
		          FROM withdrawals WHERE created_at >= @since
		        UNION ALL
		        SELECT date_trunc('day', confirmed_at, 'UTC'), token, 0, 1, 0, net_amount, fee_total
		          FROM withdrawals WHERE status = 'confirmed' AND confirmed_at >= @since
		        UNION ALL
		        SELECT date_trunc('day', failed_at, 'UTC'), token, 0, 0, 1, 0, 0
		          FROM withdrawals WHERE status = 'failed' AND failed_at >= @since) x
		 GROUP BY day, token ORDER BY day, token`, map[string]any{"since": since}).Scan(&days).Error
	if err != nil {
		return nil, fmt.Errorf("ops: daily: %w", err)
	}
	return days, nil
}

// TokenAmount is an amount of a token.
type TokenAmount struct {
	Token  string
	Amount decimal.Decimal
}

// Locked is what merchants' withdrawals hold locked now, per token.
func (s *Stats) Locked(ctx context.Context) ([]TokenAmount, error) {
	var out []TokenAmount
	if err := s.db.WithContext(ctx).Raw(`SELECT token, sum(pending) AS amount FROM balances GROUP BY token ORDER BY token`).
		Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("ops: locked: %w", err)
	}
	return out, nil
}

// BatchDay is one day's payout batches (by creation): how many, their mean size, and
// the median and slowest time from the claim to the rail's acceptance.
type BatchDay struct {
	Day                         time.Time
	Batches                     int
	MeanItems                   float64
	AcceptP50Secs, AcceptMaxSec float64
}

// BatchDays returns the days from since on with batches, oldest first.
func (s *Stats) BatchDays(ctx context.Context, since time.Time) ([]BatchDay, error) {
	var out []BatchDay
	err := s.db.WithContext(ctx).Raw(`
		SELECT date_trunc('day', created_at, 'UTC') AS day, count(*) AS batches, avg(item_count)::float8 AS mean_items,
		       COALESCE(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM submitted_at - created_at)), 0) AS accept_p50_secs,
		       COALESCE(max(extract(epoch FROM submitted_at - created_at)), 0)::float8 AS accept_max_sec
		  FROM payout_batches WHERE created_at >= ? GROUP BY 1 ORDER BY 1`, since).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("ops: batch days: %w", err)
	}
	return out, nil
}

// DeliveryDay is one day's webhook deliveries (by creation) by their state now.
type DeliveryDay struct {
	Day                         time.Time
	Succeeded, Failed, InFlight int
}

// DeliveryDays returns the days from since on with deliveries, oldest first.
func (s *Stats) DeliveryDays(ctx context.Context, since time.Time) ([]DeliveryDay, error) {
	var out []DeliveryDay
	err := s.db.WithContext(ctx).Raw(`
		SELECT date_trunc('day', created_at, 'UTC') AS day,
		       count(*) FILTER (WHERE status = 'succeeded') AS succeeded, count(*) FILTER (WHERE status = 'failed') AS failed,
		       count(*) FILTER (WHERE status = 'pending') AS in_flight
		  FROM webhook_deliveries WHERE created_at >= ? GROUP BY 1 ORDER BY 1`, since).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("ops: delivery days: %w", err)
	}
	return out, nil
}
