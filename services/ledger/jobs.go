package ledger

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
)

// ReconcileArgs is the periodic incremental reconciliation (RECONCILE_INTERVAL): its
// outcome is what withdrawals_reconciliation_* in /metrics report.
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "reconcile" }

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	ledger *Ledger
	logger *slog.Logger
}

// NewReconcileWorker is the worker of ReconcileArgs. A discrepancy is a finding, logged
// as an error, not a failure of the job.
func NewReconcileWorker(l *Ledger, logger *slog.Logger) river.Worker[ReconcileArgs] {
	return &reconcileWorker{ledger: l, logger: logger}
}

// Timeout lets the first check, full (no checkpoint yet), read a large ledger; the
// later ones read what was written since the last.
func (w *reconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return 30 * time.Minute }

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	r, err := w.ledger.Reconcile(ctx, false)
	if err != nil {
		return err
	}
	for _, d := range r.Discrepancies {
		w.logger.Error("reconciliation: discrepancy", "kind", d.Kind, "token", d.Token, "subject", d.Subject, "detail", d.Detail)
	}
	return nil
}
