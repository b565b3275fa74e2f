package withdrawals

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// ExpiryInterval is how often withdrawals waiting too long for approval are expired:
// an expiry is late by at most this much.
const ExpiryInterval = time.Minute

// ExpireArgs is the periodic job that expires approvals (ExpireApprovals).
type ExpireArgs struct{}

// Kind implements river.JobArgs.
func (ExpireArgs) Kind() string { return "approval_expiry" }

type expiryWorker struct {
	river.WorkerDefaults[ExpireArgs]
	withdrawals *Service
}

// NewExpiryWorker is the worker of ExpireArgs.
func NewExpiryWorker(s *Service) river.Worker[ExpireArgs] { return &expiryWorker{withdrawals: s} }

func (w *expiryWorker) Work(ctx context.Context, _ *river.Job[ExpireArgs]) error {
	_, err := w.withdrawals.ExpireApprovals(ctx)
	return err
}
