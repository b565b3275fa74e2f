// Package app wires the service together: services over one database, the payout
// provider, the River job client and the HTTP handler. The binary and the tests build
// the service through it, so they run the same thing.
package app

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals"
	"github.com/paycore/withdrawals/handlers"
	"github.com/paycore/withdrawals/internal/metrics"
	"github.com/paycore/withdrawals/internal/ratelimit"
	"github.com/paycore/withdrawals/payouts"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/address"
)

// Config is everything the wiring needs besides the database.
type Config struct {
	BitcoinNetwork string
	BatchInterval  time.Duration
	Payout         services.PayoutConfig
	RetryBase      time.Duration
	RetryMax       time.Duration
	Workers        int
	Webhooks       services.WebhookConfig
	WebhookWorkers int
	// WebhookMaxAttempts is how many times a delivery is tried (about a day of retries).
	WebhookMaxAttempts int
	// AuthCacheTTL keeps authenticated API keys in memory (0: look every key up).
	AuthCacheTTL time.Duration
	// BalanceCacheTTL keeps merchants' balances in memory (0: read every time); see
	// services.BalanceCache.
	BalanceCacheTTL time.Duration
	// WhitelistCooldown delays new whitelist entries and turning enforcement off.
	WhitelistCooldown time.Duration
	// RateLimitPerMinute and RateLimitWithdrawalsPerMinute are per API key and instance.
	RateLimitPerMinute            int
	RateLimitWithdrawalsPerMinute int
	// AuthFailuresPerMinute is per client address and instance.
	AuthFailuresPerMinute int
	// Provider is the payment service; nil means the sandbox configured by Sandbox.
	Provider payouts.Provider
	Sandbox  payouts.SandboxConfig
	Clock    services.Clock
	Logger   *slog.Logger
}

// App is the wired service.
type App struct {
	Accounts    *services.Accounts
	Withdrawals *services.Withdrawals
	Payouts     *services.Payouts
	Webhooks    *services.Webhooks
	Ledger      *services.Ledger
	Provider    payouts.Provider
	Jobs        *river.Client[*sql.Tx] // not started: call Jobs.Start
	Handler     http.Handler
	// Metrics serves GET /metrics, on a listener of its own (METRICS_ADDR).
	Metrics http.Handler
}

// New wires the service on db.
func New(db *gorm.DB, cfg Config) (*App, error) {
	validator, err := address.NewValidator(cfg.BitcoinNetwork)
	if err != nil {
		return nil, fmt.Errorf("BITCOIN_NETWORK: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	provider := cfg.Provider
	if provider == nil {
		if cfg.Sandbox.Clock == nil {
			cfg.Sandbox.Clock = cfg.Clock
		}
		provider = payouts.NewSandbox(db, cfg.Sandbox)
	}
	outbox := services.NewOutbox(cfg.WebhookMaxAttempts)
	m := metrics.New(db, cfg.Logger)
	a := &App{
		Accounts:    services.NewAccounts(db, cfg.Clock),
		Withdrawals: services.NewWithdrawals(db, validator, cfg.Clock, cfg.BatchInterval, outbox),
		Payouts:     services.NewPayouts(db, provider, cfg.Clock, cfg.Payout, cfg.Logger, outbox, m),
		Webhooks:    services.NewWebhooks(db, cfg.Clock, cfg.Webhooks, outbox, m, cfg.Logger),
		Ledger:      services.NewLedger(db, cfg.Clock),
		Provider:    provider,
	}
	a.Accounts.CacheKeys(cfg.AuthCacheTTL)
	balanceCache := services.NewBalanceCache(cfg.BalanceCacheTTL, cfg.Clock)
	a.Accounts.UseBalanceCache(balanceCache)
	a.Withdrawals.UseBalanceCache(balanceCache)
	a.Payouts.UseBalanceCache(balanceCache)
	catalog := services.NewCatalog(cfg.Clock)
	a.Withdrawals.UseCatalog(catalog)
	a.Withdrawals.UseMetrics(m)
	feeSchedules := services.NewFeeSchedules(db, cfg.Clock)
	feeSchedules.UseCatalog(catalog)
	a.Jobs, err = services.NewJobClient(sqlDB, outbox, a.Payouts, a.Webhooks, services.QueueConfig{
		BatchInterval: cfg.BatchInterval, RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax,
		Workers: cfg.Workers, WebhookWorkers: cfg.WebhookWorkers,
		Logger: slog.New(minLevel{Handler: cfg.Logger.Handler(), min: slog.LevelWarn}),
	})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	a.Handler = handlers.New(handlers.Deps{
		Withdrawals:  a.Withdrawals,
		Balances:     services.NewBalances(db, cfg.Clock, balanceCache, m),
		Accounts:     a.Accounts,
		FeeSchedules: feeSchedules,
		Payouts:      a.Payouts,
		Webhooks:     a.Webhooks,
		Ledger:       a.Ledger,
		Whitelist:    services.NewWhitelist(db, validator, cfg.Clock, cfg.WhitelistCooldown),
		AuditLog:     services.NewAuditLog(db),
		RateLimits: handlers.RateLimits{
			All:          ratelimit.New(cfg.RateLimitPerMinute, cfg.Clock),
			Withdrawals:  ratelimit.New(cfg.RateLimitWithdrawalsPerMinute, cfg.Clock),
			AuthFailures: ratelimit.New(cfg.AuthFailuresPerMinute, cfg.Clock),
		},
		Metrics: m,
		Ready:   sqlDB.PingContext,
		OpenAPI: withdrawals.OpenAPI,
		Logger:  cfg.Logger,
	})
	a.Metrics = m.Handler()
	return a, nil
}

// minLevel drops records below min: River reports its bookkeeping at INFO every few
// seconds, while its warnings and errors belong in the service log.
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
