package payouts

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// The background jobs of the payout pipeline, run by River on the same PostgreSQL.

// TickArgs is the periodic job that claims pending withdrawals into batches.
type TickArgs struct{}

// Kind implements river.JobArgs.
func (TickArgs) Kind() string { return "payout_tick" }

// SubmitArgs submits one batch to the provider.
type SubmitArgs struct {
	BatchID string `json:"batch_id"`
}

// Kind implements river.JobArgs.
func (SubmitArgs) Kind() string { return "payout_submit" }

// PollArgs asks the provider about a submitted batch until every item is final.
type PollArgs struct {
	BatchID string `json:"batch_id"`
}

// Kind implements river.JobArgs.
func (PollArgs) Kind() string { return "payout_poll" }

// AddWorkers registers the payout jobs' workers.
func AddWorkers(workers *river.Workers, p *Service) {
	river.AddWorker(workers, &tickWorker{payouts: p})
	river.AddWorker(workers, &submitWorker{payouts: p})
	river.AddWorker(workers, &pollWorker{payouts: p})
}

type tickWorker struct {
	river.WorkerDefaults[TickArgs]
	payouts *Service
}

func (w *tickWorker) Work(ctx context.Context, _ *river.Job[TickArgs]) error {
	_, err := w.payouts.ClaimAll(ctx)
	return err
}

type submitWorker struct {
	river.WorkerDefaults[SubmitArgs]
	payouts *Service
}

func (w *submitWorker) Work(ctx context.Context, job *river.Job[SubmitArgs]) error {
	return w.payouts.afterAttempt(ctx, job.JobRow, job.Args.BatchID, w.payouts.Submit(ctx, job.Args.BatchID))
}

type pollWorker struct {
	river.WorkerDefaults[PollArgs]
	payouts *Service
}

func (w *pollWorker) Work(ctx context.Context, job *river.Job[PollArgs]) error {
	open, err := w.payouts.Poll(ctx, job.Args.BatchID)
	if err == nil && open {
		// Snoozing does not spend the retry budget: waiting for confirmations is normal.
		return river.JobSnooze(w.payouts.cfg.PollInterval)
	}
	return w.payouts.afterAttempt(ctx, job.JobRow, job.Args.BatchID, err)
}

// afterAttempt turns the last ambiguous failure into a flag for an admin instead of a
// discarded job, so a batch never silently stops with funds locked.
func (p *Service) afterAttempt(ctx context.Context, job *rivertype.JobRow, batchID string, err error) error {
	if err == nil || !errors.Is(err, ErrAmbiguous) || job.Attempt < job.MaxAttempts {
		return err
	}
	return p.Flag(ctx, batchID, err)
}

// Backoff is the payout jobs' retry policy: exponential, with jitter between half and
// the whole delay, capped. With base 10s and max 10m, twelve attempts span about an hour.
type Backoff struct{ Base, Max time.Duration }

// NextRetry implements river.ClientRetryPolicy.
func (b *Backoff) NextRetry(job *rivertype.JobRow) time.Time {
	delay := b.Base << min(job.Attempt-1, 30)
	if delay <= 0 || delay > b.Max {
		delay = b.Max
	}
	delay = delay/2 + rand.N(delay/2+1)
	return time.Now().Add(delay)
}
