// Package app wires the service together: the use cases over one database, the payout
// rail, the River job clients and the HTTP handler. The binary and the tests build the
// service through it, so they run the same thing. Every dependency is given to its
// constructor: what is built here is complete when New returns.
package app

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"gorm.io/gorm"

	contract "github.com/paycore/withdrawals"
	"github.com/paycore/withdrawals/console"
	"github.com/paycore/withdrawals/handlers"
	"github.com/paycore/withdrawals/internal/balancecache"
	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/metrics"
	"github.com/paycore/withdrawals/internal/ratelimit"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/address"
	"github.com/paycore/withdrawals/services/audit"
	"github.com/paycore/withdrawals/services/ledger"
	"github.com/paycore/withdrawals/services/ops"
	"github.com/paycore/withdrawals/services/payouts"
	"github.com/paycore/withdrawals/services/policies"
	"github.com/paycore/withdrawals/services/pricing"
	"github.com/paycore/withdrawals/services/webhooks"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// Config is everything the wiring needs besides the database.
type Config struct {
	// DatabaseURL is the database's, for the connection River listens on (LISTEN/NOTIFY).
	DatabaseURL string
	// Networks chooses which Bitcoin and Litecoin addresses are valid.
	Networks       address.Networks
	BatchInterval  time.Duration
	Payout         payouts.Config
	RetryBase      time.Duration
	RetryMax       time.Duration
	Workers        int
	Webhooks       webhooks.Config
	WebhookWorkers int
	// WebhookMaxAttempts is how many times a delivery is tried (about a day of retries).
	WebhookMaxAttempts int
	// AuthCacheTTL keeps authenticated API keys in memory (0: look every key up).
	AuthCacheTTL time.Duration
	// BalanceCacheTTL keeps merchants' balances in memory (0: read every time).
	BalanceCacheTTL time.Duration
	// WhitelistCooldown delays new whitelist entries and turning enforcement off.
	WhitelistCooldown time.Duration
	// ApprovalTTL is how long a withdrawal held for approval waits before it expires.
	ApprovalTTL time.Duration
	// Build labels withdrawals_build_info.
	Build metrics.Build
	// ReconcileInterval is how often the leader reconciles the ledger incrementally; 0
	// only on demand.
	ReconcileInterval time.Duration
	// ConsoleSessionTTL is how long a console sign-in lasts (8 hours when zero).
	ConsoleSessionTTL time.Duration
	// RateLimitPerMinute and RateLimitWithdrawalsPerMinute are per API key and instance.
	RateLimitPerMinute            int
	RateLimitWithdrawalsPerMinute int
	// AuthFailuresPerMinute is per client address and instance.
	AuthFailuresPerMinute int
	// SoftStopTimeout is how long running jobs may finish on shutdown before their
	// contexts are cancelled.
	SoftStopTimeout time.Duration
	// Provider is the payment rail of every token without one in TokenRails; nil means
	// the sandbox configured by Sandbox.
	Provider   rails.Provider
	TokenRails map[string]rails.Provider
	Sandbox    rails.SandboxConfig
	Clock      services.Clock
	Logger     *slog.Logger
}

// groupWriters and maxGroup shape withdrawal creation's group commit: two groups are
// written at once (one can be written while the other commits, and groups still grow
// under load), each of at most 64 withdrawals, which bounds the first one's wait.
const (
	groupWriters = 2
	maxGroup     = 64
)

// App is the wired service.
type App struct {
	Accounts    *accounts.Service
	Withdrawals *withdrawals.Service
	Payouts     *payouts.Service
	Webhooks    *webhooks.Service
	Ledger      *ledger.Ledger
	Rails       rails.Rails
	Jobs        *river.Client[*sql.Tx] // not started: call Jobs.Start
	Handler     http.Handler
	// Metrics serves GET /metrics, on a listener of its own (METRICS_ADDR).
	Metrics http.Handler

	recorder *withdrawals.Grouped
	listener *pgxpool.Pool
}

// New wires the service on db.
func New(db *gorm.DB, cfg Config) (*App, error) {
	validator, err := address.NewValidator(cfg.Networks)
	if err != nil {
		return nil, err
	}
	tx, err := dbtx.New(db)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	a := &App{Rails: rails.Rails{Default: cfg.Provider, ByToken: cfg.TokenRails}}
	if a.Rails.Default == nil {
		if cfg.Sandbox.Clock == nil {
			cfg.Sandbox.Clock = cfg.Clock
		}
		a.Rails.Default = rails.NewSandbox(db, cfg.Sandbox)
	}
	// River listens for new jobs on a connection of its own; jobs are inserted and worked
	// through the service's pool. One client only inserts (the use cases enqueue
	// through it), the other runs the workers, which use the use cases.
	if a.listener, err = listenerPool(cfg.DatabaseURL); err != nil {
		return nil, err
	}
	driver := riverdatabasesql.NewWithPgxListener(tx.SQL(), a.listener)
	inserter, err := river.NewClient(driver, &river.Config{Logger: quiet(cfg.Logger)})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}

	stats := ops.New(db)
	m := metrics.New(stats, cfg.Build, cfg.Logger)
	tokens := catalog.New(db, cfg.Clock)
	book := ledger.New(tx, cfg.Clock, tokens, balancecache.New[[]ledger.Balance](cfg.BalanceCacheTTL, cfg.Clock), m)
	outbox := webhooks.NewOutbox(cfg.WebhookMaxAttempts)
	prices := pricing.New(tx, cfg.Clock, tokens)
	lifecycle := withdrawals.NewLifecycle(book, outbox)
	a.recorder = withdrawals.NewGrouped(withdrawals.NewPipelineRecorder(tx, book, outbox),
		withdrawals.GroupConfig{Writers: groupWriters, MaxGroup: maxGroup, Observe: m.ObserveGroup})
	a.Ledger = book
	a.Withdrawals = withdrawals.New(tx, cfg.Clock, prices, validator, a.recorder, lifecycle, cfg.BatchInterval, cfg.ApprovalTTL)
	a.Payouts = payouts.New(tx, a.Rails, cfg.Clock, cfg.Payout, cfg.Logger, lifecycle, inserter, m)
	a.Webhooks = webhooks.New(tx, cfg.Clock, cfg.Webhooks, outbox, inserter, m, cfg.Logger)
	a.Accounts = accounts.New(tx, cfg.Clock, book, tokens, cfg.AuthCacheTTL)
	if a.Jobs, err = jobClient(driver, a, cfg); err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	authFailures := ratelimit.New(cfg.AuthFailuresPerMinute, cfg.Clock)
	limits := policies.New(tx, cfg.Clock, prices)
	whitelist := withdrawals.NewWhitelist(tx, prices, validator, cfg.Clock, cfg.WhitelistCooldown)
	api := handlers.New(handlers.Deps{
		Withdrawals: a.Withdrawals,
		Ledger:      book,
		Accounts:    a.Accounts,
		Pricing:     prices,
		Payouts:     a.Payouts,
		Webhooks:    a.Webhooks,
		Whitelist:   whitelist,
		AuditLog:    audit.NewLog(db),
		Limits:      limits,
		RateLimits: handlers.RateLimits{
			All:          ratelimit.New(cfg.RateLimitPerMinute, cfg.Clock),
			Withdrawals:  ratelimit.New(cfg.RateLimitWithdrawalsPerMinute, cfg.Clock),
			AuthFailures: authFailures,
		},
		Metrics: m,
		Ready:   tx.SQL().PingContext,
		Rails:   a.Rails.Check,
		OpenAPI: contract.OpenAPI,
		Logger:  cfg.Logger,
	})
	console.Mount(api, console.Deps{
		Accounts: a.Accounts, Withdrawals: a.Withdrawals, Ledger: book, Pricing: prices, Payouts: a.Payouts,
		Webhooks: a.Webhooks, AuditLog: audit.NewLog(db), Policies: limits, Whitelist: whitelist, Ops: stats, AuthFailures: authFailures,
		SessionTTL: cmp.Or(cfg.ConsoleSessionTTL, 8*time.Hour), Clock: cfg.Clock, Logger: cfg.Logger,
	})
	a.Handler = api
	a.Metrics = m.Handler()
	return a, nil
}

// Close stops what New started besides the job client: the group commit's writers
// (after writing what is queued) and River's listener pool. Call it once the HTTP
// server and the job client have stopped.
func (a *App) Close() {
	a.recorder.Close()
	a.listener.Close()
}

// listenerPool is the small pool River takes its LISTEN connection from.
func listenerPool(databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("job queue listener: %w", err)
	}
	cfg.MinConns, cfg.MaxConns = 0, 2
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("job queue listener: %w", err)
	}
	return pool, nil
}

// jobClient is the River client that runs the payout and webhook jobs. The periodic
// batching runs on River's elected leader only, so N instances batch once per interval.
func jobClient(driver *riverdatabasesql.Driver, a *App, cfg Config) (*river.Client[*sql.Tx], error) {
	workers := river.NewWorkers()
	payouts.AddWorkers(workers, a.Payouts)
	river.AddWorker(workers, webhooks.NewWorker(a.Webhooks))
	river.AddWorker(workers, withdrawals.NewExpiryWorker(a.Withdrawals))
	river.AddWorker(workers, ledger.NewReconcileWorker(a.Ledger, cfg.Logger))
	periodic := []*river.PeriodicJob{river.NewPeriodicJob(
		river.PeriodicInterval(withdrawals.ExpiryInterval),
		func() (river.JobArgs, *river.InsertOpts) { return withdrawals.ExpireArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true},
	)}
	if cfg.BatchInterval > 0 { // 0: batches run only on demand (POST /api/admin/payout-runs)
		periodic = append(periodic, river.NewPeriodicJob(
			river.PeriodicInterval(cfg.BatchInterval),
			func() (river.JobArgs, *river.InsertOpts) { return payouts.TickArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true},
		))
	}
	if cfg.ReconcileInterval > 0 {
		periodic = append(periodic, river.NewPeriodicJob(
			river.PeriodicInterval(cfg.ReconcileInterval),
			func() (river.JobArgs, *river.InsertOpts) { return ledger.ReconcileArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true},
		))
	}
	jobTimeout := cfg.Payout.ProviderTimeout + 30*time.Second
	return river.NewClient(driver, &river.Config{
		ID: clientID(),
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.Workers},
			webhooks.Queue:     {MaxWorkers: cfg.WebhookWorkers},
		},
		Workers: workers,
		// New jobs wake the workers through LISTEN/NOTIFY; the poll is the fallback for
		// a notification skipped by the outbox's throttle. A fetch claims at most as many
		// jobs as there are free workers, and River waits FetchCooldown between fetches.
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 200 * time.Millisecond,
		JobTimeout:        jobTimeout,
		// A job running when its process died (kill -9, OOM) stays "running" until
		// rescued; River's default waits an hour, with a batch's funds locked meanwhile.
		// Every job here is idempotent, so running it again a minute after its timeout is
		// safe.
		RescueStuckJobsAfter: jobTimeout + time.Minute,
		RetryPolicy:          &payouts.Backoff{Base: cfg.RetryBase, Max: cfg.RetryMax},
		SoftStopTimeout:      cfg.SoftStopTimeout,
		Logger:               quiet(cfg.Logger),
		PeriodicJobs:         periodic,
	})
}

// clientID names this process in River's tables (the leader, each job's attempted_by):
// host, process id and start time, so an operator can tell which instance ran or holds
// what.
func clientID() string {
	host, _ := os.Hostname()
	host = strings.NewReplacer(".", "_", "-", "_").Replace(cmp.Or(host, "unknown_host"))
	if len(host) > 60 {
		host = host[:60]
	}
	return fmt.Sprintf("%s_pid%d_%d", host, os.Getpid(), time.Now().Unix())
}

// quiet keeps River's warnings and errors and drops its bookkeeping at INFO, which it
// reports every few seconds.
func quiet(logger *slog.Logger) *slog.Logger {
	return slog.New(minLevel{Handler: logger.Handler(), min: slog.LevelWarn})
}

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}

// Admin is what the command line's admin commands use: accounts and the ledger, without
// the job queue or the HTTP layer.
type Admin struct {
	Accounts *accounts.Service
	Ledger   *ledger.Ledger
}

// NewAdmin wires Admin on db.
func NewAdmin(db *gorm.DB, clock services.Clock) (*Admin, error) {
	tx, err := dbtx.New(db)
	if err != nil {
		return nil, err
	}
	tokens := catalog.New(db, clock)
	book := ledger.New(tx, clock, tokens, nil, nil)
	return &Admin{Accounts: accounts.New(tx, clock, book, tokens, 0), Ledger: book}, nil
}
