package services

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivertype"
)

// The background jobs of the payout pipeline, run by River on the same PostgreSQL.

// PayoutTickArgs is the periodic job that claims pending withdrawals into batches.
type PayoutTickArgs struct{}

// Kind implements river.JobArgs.
func (PayoutTickArgs) Kind() string { return "payout_tick" }

// SubmitBatchArgs submits one batch to the provider.
type SubmitBatchArgs struct {
	BatchID string `json:"batch_id"`
}

// Kind implements river.JobArgs.
func (SubmitBatchArgs) Kind() string { return "payout_submit" }

// PollBatchArgs asks the provider about a submitted batch until every item is final.
type PollBatchArgs struct {
	BatchID string `json:"batch_id"`
}

// Kind implements river.JobArgs.
func (PollBatchArgs) Kind() string { return "payout_poll" }

type tickWorker struct {
	river.WorkerDefaults[PayoutTickArgs]
	payouts *Payouts
}

func (w *tickWorker) Work(ctx context.Context, _ *river.Job[PayoutTickArgs]) error {
	_, err := w.payouts.ClaimAll(ctx)
	return err
}

type submitWorker struct {
	river.WorkerDefaults[SubmitBatchArgs]
	payouts *Payouts
}

func (w *submitWorker) Work(ctx context.Context, job *river.Job[SubmitBatchArgs]) error {
	return w.payouts.afterAttempt(ctx, job.JobRow, job.Args.BatchID, w.payouts.Submit(ctx, job.Args.BatchID))
}

type pollWorker struct {
	river.WorkerDefaults[PollBatchArgs]
	payouts *Payouts
}

func (w *pollWorker) Work(ctx context.Context, job *river.Job[PollBatchArgs]) error {
	open, err := w.payouts.Poll(ctx, job.Args.BatchID)
	if err == nil && open {
		// Snoozing does not spend the retry budget: waiting for confirmations is normal.
		return river.JobSnooze(w.payouts.cfg.PollInterval)
	}
	return w.payouts.afterAttempt(ctx, job.JobRow, job.Args.BatchID, err)
}

// afterAttempt turns the last ambiguous failure into a flag for an admin instead of a
// discarded job, so a batch never silently stops with funds locked.
func (p *Payouts) afterAttempt(ctx context.Context, job *rivertype.JobRow, batchID string, err error) error {
	if err == nil || !errors.Is(err, ErrAmbiguous) || job.Attempt < job.MaxAttempts {
		return err
	}
	return p.Flag(ctx, batchID, err)
}

// QueueConfig tunes the job queue.
type QueueConfig struct {
	BatchInterval  time.Duration // PAYOUT_BATCH_INTERVAL
	RetryBase      time.Duration // first payout retry delay; doubles per attempt
	RetryMax       time.Duration // cap on the payout retry delay
	Workers        int           // payout jobs at once
	WebhookWorkers int           // deliveries at once
	Logger         *slog.Logger
}

// NewJobClient builds the River client that runs the payout and webhook jobs, and
// attaches it to the outbox. The periodic tick runs on River's elected leader only, so
// N instances batch once per interval.
func NewJobClient(db *sql.DB, outbox *Outbox, payouts *Payouts, hooks *Webhooks, cfg QueueConfig) (*river.Client[*sql.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &tickWorker{payouts: payouts})
	river.AddWorker(workers, &submitWorker{payouts: payouts})
	river.AddWorker(workers, &pollWorker{payouts: payouts})
	river.AddWorker(workers, &deliverWorker{webhooks: hooks})
	var periodic []*river.PeriodicJob
	if cfg.BatchInterval > 0 { // 0: batches run only on demand (POST /api/admin/payout-runs)
		periodic = append(periodic, river.NewPeriodicJob(
			river.PeriodicInterval(cfg.BatchInterval),
			func() (river.JobArgs, *river.InsertOpts) { return PayoutTickArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true},
		))
	}
	client, err := river.NewClient(riverdatabasesql.New(db), &river.Config{
		ID: jobClientID(),
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.Workers},
			webhookQueue:       {MaxWorkers: cfg.WebhookWorkers},
		},
		Workers: workers,
		// A fetch claims at most as many jobs as there are free workers, and River waits
		// FetchCooldown between fetches: its 100 ms default caps a queue at ten fetches
		// a second (200 deliveries/s with 20 workers), whatever the hardware.
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		JobTimeout:        payouts.cfg.ProviderTimeout + 30*time.Second,
		// A job running when its process died (kill -9, OOM) stays "running" until
		// rescued; River's default waits an hour, with a batch's funds locked meanwhile.
		// Every job here is idempotent, so running it again a minute after its timeout
		// is safe.
		RescueStuckJobsAfter: payouts.cfg.ProviderTimeout + 30*time.Second + time.Minute,
		RetryPolicy:          &backoff{base: cfg.RetryBase, max: cfg.RetryMax},
		Logger:               cfg.Logger,
		PeriodicJobs:         periodic,
	})
	if err != nil {
		return nil, err
	}
	outbox.AttachJobs(client)
	return client, nil
}

// jobClientID names this process in River's tables (the leader, each job's
// attempted_by): host, process id and start time, so an operator can tell which
// instance ran or holds what.
func jobClientID() string {
	host, _ := os.Hostname()
	host = strings.NewReplacer(".", "_", "-", "_").Replace(cmp.Or(host, "unknown_host"))
	if len(host) > 60 {
		host = host[:60]
	}
	return fmt.Sprintf("%s_pid%d_%d", host, os.Getpid(), time.Now().Unix())
}

// backoff is exponential with full jitter between half and the whole delay, capped:
// with base 10s and max 10m, twelve attempts span about an hour.
type backoff struct{ base, max time.Duration }

func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	delay := b.base << min(job.Attempt-1, 30)
	if delay <= 0 || delay > b.max {
		delay = b.max
	}
	delay = delay/2 + rand.N(delay/2+1)
	return time.Now().Add(delay)
}
