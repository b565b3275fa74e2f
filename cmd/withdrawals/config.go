package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paycore/withdrawals/payouts"
)

// config is every setting of the binary, read from environment variables. The README
// lists each with its default; keep the two in step.
type config struct {
	DatabaseURL         string
	HTTPAddr            string
	AutoMigrate         bool
	BitcoinNetwork      string
	PayoutBatchInterval time.Duration
	DBMaxConns          int
	ShutdownTimeout     time.Duration
	DemoSeed            bool
	LogLevel            string

	PayoutProvider        string
	PayoutBatchMax        int
	PayoutPollInterval    time.Duration
	PayoutProviderTimeout time.Duration
	PayoutMaxAttempts     int
	PayoutBatchWrites     int
	PayoutRetryBase       time.Duration
	PayoutRetryMax        time.Duration
	Workers               int
	SandboxConfirmDelay   time.Duration
	SandboxFailAddresses  []string
	SandboxFault          string

	WebhookAllowPrivateURLs bool
	WebhookTimeout          time.Duration
	WebhookDisableAfter     time.Duration
	WebhookMaxAttempts      int
	WebhookRetryBase        time.Duration
	WebhookRetryMax         time.Duration
	WebhookWorkers          int

	RateLimitPerMinute            int
	RateLimitWithdrawalsPerMinute int
	WhitelistCooldown             time.Duration
	PprofAddr                     string
	MetricsAddr                   string
	AuthFailuresPerMinute         int
	WebhookMerchantConcurrency    int
	AuthCacheTTL                  time.Duration
	BalanceCacheTTL               time.Duration
}

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/withdrawals?sslmode=disable"

func loadConfig() (config, error) {
	var c config
	var errs []error
	c.DatabaseURL = envString("DATABASE_URL", defaultDatabaseURL)
	c.HTTPAddr = envString("HTTP_ADDR", "127.0.0.1:8080")
	c.AutoMigrate = envBool("AUTO_MIGRATE", true, &errs)
	c.BitcoinNetwork = envString("BITCOIN_NETWORK", "mainnet")
	c.PayoutBatchInterval = envDuration("PAYOUT_BATCH_INTERVAL", 5*time.Minute, &errs)
	c.DBMaxConns = envInt("DB_MAX_CONNS", 20, &errs)
	c.ShutdownTimeout = envDuration("SHUTDOWN_TIMEOUT", 15*time.Second, &errs)
	c.DemoSeed = envBool("DEMO_SEED", false, &errs)
	c.LogLevel = envString("LOG_LEVEL", "info")
	c.PayoutProvider = envString("PAYOUT_PROVIDER", "sandbox")
	if c.PayoutProvider != "sandbox" {
		errs = append(errs, fmt.Errorf("PAYOUT_PROVIDER=%q: the only provider built in is sandbox", c.PayoutProvider))
	}
	c.PayoutBatchMax = envInt("PAYOUT_BATCH_MAX", 500, &errs)
	c.PayoutPollInterval = envDuration("PAYOUT_POLL_INTERVAL", 5*time.Second, &errs)
	c.PayoutProviderTimeout = envDuration("PAYOUT_PROVIDER_TIMEOUT", 30*time.Second, &errs)
	c.PayoutMaxAttempts = envInt("PAYOUT_MAX_ATTEMPTS", 12, &errs)
	c.PayoutBatchWrites = envInt("PAYOUT_BATCH_WRITES", 2, &errs)
	c.PayoutRetryBase = envDuration("PAYOUT_RETRY_BASE", 10*time.Second, &errs)
	c.PayoutRetryMax = envDuration("PAYOUT_RETRY_MAX", 10*time.Minute, &errs)
	c.Workers = envInt("WORKERS", 10, &errs)
	c.SandboxConfirmDelay = envDuration("SANDBOX_CONFIRM_DELAY", 3*time.Second, &errs)
	c.WebhookAllowPrivateURLs = envBool("WEBHOOK_ALLOW_PRIVATE_URLS", false, &errs)
	c.WebhookTimeout = envDuration("WEBHOOK_TIMEOUT", 10*time.Second, &errs)
	c.WebhookDisableAfter = envDuration("WEBHOOK_DISABLE_AFTER", 72*time.Hour, &errs)
	c.WebhookMaxAttempts = envInt("WEBHOOK_MAX_ATTEMPTS", 12, &errs)
	c.WebhookRetryBase = envDuration("WEBHOOK_RETRY_BASE", 5*time.Second, &errs)
	c.WebhookRetryMax = envDuration("WEBHOOK_RETRY_MAX", 6*time.Hour, &errs)
	c.WebhookWorkers = envInt("WEBHOOK_WORKERS", 50, &errs)
	c.PprofAddr = envString("PPROF_ADDR", "")
	c.MetricsAddr = envString("METRICS_ADDR", "127.0.0.1:9464")
	c.AuthFailuresPerMinute = envInt("AUTH_FAILURES_PER_MINUTE", 30, &errs)
	c.WebhookMerchantConcurrency = envInt("WEBHOOK_MERCHANT_CONCURRENCY", 4, &errs)
	c.AuthCacheTTL = envDuration("AUTH_CACHE_TTL", 2*time.Second, &errs)
	c.BalanceCacheTTL = envDuration("BALANCE_CACHE_TTL", time.Second, &errs)
	c.WhitelistCooldown = envDuration("WHITELIST_COOLDOWN", 24*time.Hour, &errs)
	c.RateLimitPerMinute = envInt("RATE_LIMIT_PER_MINUTE", 600, &errs)
	c.RateLimitWithdrawalsPerMinute = envInt("RATE_LIMIT_WITHDRAWALS_PER_MINUTE", 60, &errs)
	c.SandboxFault = envString("SANDBOX_FAULT", "")
	if c.SandboxFault != "" && !slices.Contains(payouts.Faults, c.SandboxFault) {
		errs = append(errs, fmt.Errorf("SANDBOX_FAULT=%q: use one of %s", c.SandboxFault, strings.Join(payouts.Faults, ", ")))
	}
	if v := os.Getenv("SANDBOX_FAIL_ADDRESSES"); v != "" {
		c.SandboxFailAddresses = strings.Split(v, ",")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %v", errs)
	}
	return c, nil
}

func envString(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envBool(name string, def bool, errs *[]error) bool {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q is not a boolean", name, v))
	}
	return b
}

func envInt(name string, def int, errs *[]error) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		*errs = append(*errs, fmt.Errorf("%s=%q is not a positive integer", name, v))
	}
	return n
}

func envDuration(name string, def time.Duration, errs *[]error) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		*errs = append(*errs, fmt.Errorf("%s=%q is not a duration such as 5m or 10s", name, v))
	}
	return d
}
