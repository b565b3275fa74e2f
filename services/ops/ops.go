// Package ops answers what operators watch that lives in the database: withdrawals per
// token and status (from the counts the database keeps, never by counting the
// history) and the job queue's depth. Metrics read it through a snapshot that is at
// most SnapshotAge old, so a scrape's cost does not grow with the tables.
package ops

import (
	"context"
	"fmt"
	"sync"
	"time"

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
	s.snapshot, s.taken = g, time.Now()
	return g, nil
}
