package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/services/address"
)

// config is every setting of the binary, read from environment variables (settings).
type config struct {
	DatabaseURL         string
	HTTPAddr            string
	MetricsAddr         string
	PprofAddr           string
	AutoMigrate         bool
	DBMaxConns          int
	ShutdownTimeout     time.Duration
	DemoSeed            bool
	LogLevel            string
	BitcoinNetwork      string
	LitecoinNetwork     string
	PayoutBatchInterval time.Duration
	// Chains are the Bitcoin-family tokens' rails, by token (chainSettings).
	Chains map[string]*chainRail
	EVM    evmRail

	PayoutProvider        string
	PayoutBatchMax        int
	PayoutProviderTimeout time.Duration
	PayoutPollInterval    time.Duration
	PayoutMaxAttempts     int
	PayoutRetryBase       time.Duration
	PayoutRetryMax        time.Duration
	PayoutBatchWrites     int
	Workers               int
	SandboxConfirmDelay   time.Duration
	SandboxFailAddresses  []string
	SandboxFault          string

	WebhookAllowPrivateURLs    bool
	WebhookTimeout             time.Duration
	WebhookMaxAttempts         int
	WebhookRetryBase           time.Duration
	WebhookRetryMax            time.Duration
	WebhookDisableAfter        time.Duration
	WebhookWorkers             int
	WebhookMerchantConcurrency int

	RateLimitPerMinute            int
	RateLimitWithdrawalsPerMinute int
	AuthFailuresPerMinute         int
	WhitelistCooldown             time.Duration
	ApprovalTTL                   time.Duration
	ReconcileInterval             time.Duration
	ConsoleSessionTTL             time.Duration
	AuthCacheTTL                  time.Duration
	BalanceCacheTTL               time.Duration
}

// setting is one environment variable: its name, its default, what it means, and how
// its value goes into config. The table below is the only definition: the service reads
// it, `withdrawals serve --help` prints it, and a test holds the README's table to it.
type setting struct {
	name, def, help string
	set             func(c *config, v string) error
}

var settings = slices.Concat([]setting{
	{"DATABASE_URL", "postgres://postgres@127.0.0.1:5432/withdrawals?sslmode=disable", "PostgreSQL; the database is created when missing (with AUTO_MIGRATE or migrate)", text(func(c *config) *string { return &c.DatabaseURL })},
	{"HTTP_ADDR", "127.0.0.1:8080", "listen address of the API", text(func(c *config) *string { return &c.HTTPAddr })},
	{"METRICS_ADDR", "127.0.0.1:9464", "listen address of GET /metrics, apart from the API (off: none)", text(func(c *config) *string { return &c.MetricsAddr })},
	{"PPROF_ADDR", "", "serve Go's pprof on this address (e.g. 127.0.0.1:6060), apart from the API; empty: off", text(func(c *config) *string { return &c.PprofAddr })},
	{"AUTO_MIGRATE", "true", "apply migrations at serve start-up; set false and run `withdrawals migrate` in production deploys", boolean(func(c *config) *bool { return &c.AutoMigrate })},
	{"DB_MAX_CONNS", "20", "connection pool size", positive(func(c *config) *int { return &c.DBMaxConns })},
	{"SHUTDOWN_TIMEOUT", "15s", "how long in-flight requests, then running jobs, may finish after SIGTERM", duration(func(c *config) *time.Duration { return &c.ShutdownTimeout })},
	{"DEMO_SEED", "false", "create and fund a demo merchant and print fresh demo keys (the previous ones revoked); local use only", boolean(func(c *config) *bool { return &c.DemoSeed })},
	{"LOG_LEVEL", "info", "debug, info, warn or error; logs are JSON on stderr", oneOf([]string{"debug", "info", "warn", "error"}, func(c *config) *string { return &c.LogLevel })},
	{"BITCOIN_NETWORK", "mainnet", "which Bitcoin addresses are valid (and the chain a BTC node must be on): mainnet, testnet, signet, regtest", oneOf(slices.Sorted(maps.Keys(address.BitcoinNetworks)), func(c *config) *string { return &c.BitcoinNetwork })},
	{"LITECOIN_NETWORK", "mainnet", "which Litecoin addresses are valid (and the chain an LTC node must be on): mainnet, testnet, regtest", oneOf(slices.Sorted(maps.Keys(address.LitecoinNetworks)), func(c *config) *string { return &c.LitecoinNetwork })},
	{"PAYOUT_BATCH_INTERVAL", "5m", "how often pending withdrawals are batched; part of each withdrawal's estimatedCompletion. 0s: only on demand (POST /api/admin/payout-runs)", duration(func(c *config) *time.Duration { return &c.PayoutBatchInterval })},
	{"PAYOUT_PROVIDER", "sandbox", "the payment rail of every token without a PAYOUT_<TOKEN> of its own; sandbox is the one built in", oneOf([]string{"sandbox"}, func(c *config) *string { return &c.PayoutProvider })},
	{"PAYOUT_BATCH_MAX", "500", "most withdrawals in one batch; more pending ones make more batches in the same run", positive(func(c *config) *int { return &c.PayoutBatchMax })},
	{"PAYOUT_PROVIDER_TIMEOUT", "30s", "timeout of each call to the payment rail", duration(func(c *config) *time.Duration { return &c.PayoutProviderTimeout })},
	{"PAYOUT_POLL_INTERVAL", "5s", "between status checks of a submitted batch", duration(func(c *config) *time.Duration { return &c.PayoutPollInterval })},
	{"PAYOUT_MAX_ATTEMPTS", "12", "ambiguous outcomes tolerated per batch before it is flagged needs_review", positive(func(c *config) *int { return &c.PayoutMaxAttempts })},
	{"PAYOUT_RETRY_BASE", "10s", "first retry delay after an ambiguous outcome; it doubles per attempt, with jitter", duration(func(c *config) *time.Duration { return &c.PayoutRetryBase })},
	{"PAYOUT_RETRY_MAX", "10m", "longest retry delay after an ambiguous outcome", duration(func(c *config) *time.Duration { return &c.PayoutRetryMax })},
	{"PAYOUT_BATCH_WRITES", "2", "claims and settlements an instance writes at once, each of up to PAYOUT_BATCH_MAX withdrawals; it bounds the instance's memory", positive(func(c *config) *int { return &c.PayoutBatchWrites })},
	{"WORKERS", "10", "concurrent payout jobs per instance", positive(func(c *config) *int { return &c.Workers })},
	{"SANDBOX_CONFIRM_DELAY", "3s", "how long the sandbox takes to confirm an accepted payout", duration(func(c *config) *time.Duration { return &c.SandboxConfirmDelay })},
	{"SANDBOX_FAIL_ADDRESSES", "", "comma-separated addresses the sandbox fails with reason invalid_address", list(func(c *config) *[]string { return &c.SandboxFailAddresses })},
	{"SANDBOX_FAULT", "", "rehearse a rail incident: timeout_after_accept, stall or unavailable; empty: the fault switched on while running (PUT /api/admin/sandbox)", oneOf(append([]string{""}, rails.Faults...), func(c *config) *string { return &c.SandboxFault })},
	{"WEBHOOK_ALLOW_PRIVATE_URLS", "false", "let webhook URLs reach loopback and private networks: local development only", boolean(func(c *config) *bool { return &c.WebhookAllowPrivateURLs })},
	{"WEBHOOK_TIMEOUT", "10s", "per delivery attempt", duration(func(c *config) *time.Duration { return &c.WebhookTimeout })},
	{"WEBHOOK_MAX_ATTEMPTS", "12", "attempts per delivery, spread over about a day", positive(func(c *config) *int { return &c.WebhookMaxAttempts })},
	{"WEBHOOK_RETRY_BASE", "5s", "first retry delay of a delivery; each next one is three times longer, with jitter", duration(func(c *config) *time.Duration { return &c.WebhookRetryBase })},
	{"WEBHOOK_RETRY_MAX", "6h", "longest delay between two attempts of a delivery", duration(func(c *config) *time.Duration { return &c.WebhookRetryMax })},
	{"WEBHOOK_DISABLE_AFTER", "72h", "an endpoint failing continuously this long is disabled (disabledReason failing)", duration(func(c *config) *time.Duration { return &c.WebhookDisableAfter })},
	{"WEBHOOK_WORKERS", "50", "delivery attempts in flight at once per instance, apart from payout jobs", positive(func(c *config) *int { return &c.WebhookWorkers })},
	{"WEBHOOK_MERCHANT_CONCURRENCY", "4", "one merchant's delivery attempts in flight at once, per instance", positive(func(c *config) *int { return &c.WebhookMerchantConcurrency })},
	{"RATE_LIMIT_PER_MINUTE", "600", "requests per minute per API key, per instance", positive(func(c *config) *int { return &c.RateLimitPerMinute })},
	{"RATE_LIMIT_WITHDRAWALS_PER_MINUTE", "60", "POST /api/withdrawals and /api/withdrawal-batches per minute per API key, on top of the above, per instance", positive(func(c *config) *int { return &c.RateLimitWithdrawalsPerMinute })},
	{"AUTH_FAILURES_PER_MINUTE", "30", "failed authentications per client address (the connection's), per instance; past it, 429", positive(func(c *config) *int { return &c.AuthFailuresPerMinute })},
	{"WHITELIST_COOLDOWN", "24h", "delay before a new whitelist entry is usable, and before turning enforcement off takes effect", duration(func(c *config) *time.Duration { return &c.WhitelistCooldown })},
	{"RECONCILE_INTERVAL", "10m", "how often the ledger is reconciled from its last verified checkpoint (withdrawals_reconciliation_* in /metrics); 0s: only on demand", duration(func(c *config) *time.Duration { return &c.ReconcileInterval })},
	{"APPROVAL_TTL", "72h", "how long a withdrawal held by an approval rule waits for its approvals before it expires (failed, funds returned)", duration(func(c *config) *time.Duration { return &c.ApprovalTTL })},
	{"CONSOLE_SESSION_TTL", "8h", "how long a sign-in to the web console (/console/) lasts; signing out, or revoking the key, ends it sooner", duration(func(c *config) *time.Duration { return &c.ConsoleSessionTTL })},
	{"AUTH_CACHE_TTL", "2s", "bound on how long a revoked API key is still accepted by another instance (0s: check every request)", duration(func(c *config) *time.Duration { return &c.AuthCacheTTL })},
	{"BALANCE_CACHE_TTL", "1s", "how long an instance answers GET /api/balance from memory; a change made through the instance is seen at once (0s: read every time)", duration(func(c *config) *time.Duration { return &c.BalanceCacheTTL })},
}, chainSettings("BTC", "BITCOIN", "3", "100"), chainSettings("LTC", "LITECOIN", "6", "100"), evmSettings)

// evmRail is how ETH and USDT on Ethereum are paid.
type evmRail struct {
	ETH, USDT     string // sandbox or evm
	RPCURL        string
	KeyFile       string
	ChainID       int
	USDTContract  string
	Confirmations int
	MaxFeeGwei    decimal.Decimal
	ReplaceAfter  time.Duration
}

// evmSettings are the Ethereum rail's settings.
var evmSettings = []setting{
	{"PAYOUT_ETH", "sandbox", "the rail paying ETH: sandbox, or evm (the hot wallet of EVM_SIGNER_KEY_FILE through the node at EVM_RPC_URL)",
		oneOf([]string{"sandbox", "evm"}, func(c *config) *string { return &c.EVM.ETH })},
	{"PAYOUT_USDT_ETHEREUM", "sandbox", "the rail paying USDT on Ethereum (ERC-20 at USDT_ETHEREUM_CONTRACT): sandbox or evm",
		oneOf([]string{"sandbox", "evm"}, func(c *config) *string { return &c.EVM.USDT })},
	{"EVM_RPC_URL", "", "the Ethereum node's JSON-RPC URL (required with an evm rail; never logged)", text(func(c *config) *string { return &c.EVM.RPCURL })},
	{"EVM_SIGNER_KEY_FILE", "", "a file holding the hot wallet's hex private key, readable by the service's user only (required with an evm rail)",
		text(func(c *config) *string { return &c.EVM.KeyFile })},
	{"EVM_CHAIN_ID", "1", "the chain the node must be on, checked at start-up; signatures are bound to it (EIP-155)", positive(func(c *config) *int { return &c.EVM.ChainID })},
	{"USDT_ETHEREUM_CONTRACT", "0xdAC17F958D2ee523a2206206994597C13D831ec7", "the USDT ERC-20 contract the evm rail pays with (Tether's on mainnet)",
		text(func(c *config) *string { return &c.EVM.USDTContract })},
	{"EVM_CONFIRMATIONS", "12", "blocks on top of a payout (its own included) before it is confirmed, or a reverted one failed",
		positive(func(c *config) *int { return &c.EVM.Confirmations })},
	{"EVM_MAX_FEE_PER_GAS", "200", "highest fee per gas (gwei) a payout or its replacement may pay; above it a new payout fails (fee_above_cap) and a stuck one goes to review",
		amount(func(c *config) *decimal.Decimal { return &c.EVM.MaxFeeGwei })},
	{"EVM_REPLACE_AFTER", "5m", "how long a payout may wait unmined before it is replaced with a higher fee (same nonce)",
		duration(func(c *config) *time.Duration { return &c.EVM.ReplaceAfter })},
}

// chainRail is how one Bitcoin-family token is paid.
type chainRail struct {
	Provider        string
	URL             string
	Confirmations   int
	MaxFeeRate      decimal.Decimal
	FallbackFeeRate decimal.Decimal
}

// chainSettings are the settings of a token the Bitcoin Core rail can pay.
func chainSettings(token, chain, confirmations, maxFeeRate string) []setting {
	rail := func(c *config) *chainRail {
		if c.Chains == nil {
			c.Chains = map[string]*chainRail{}
		}
		if c.Chains[token] == nil {
			c.Chains[token] = &chainRail{}
		}
		return c.Chains[token]
	}
	return []setting{
		{"PAYOUT_" + token, "sandbox", "the rail paying " + token + ": sandbox, or bitcoind (the wallet of a Bitcoin Core-compatible node at BITCOIND_" + token + "_RPC_URL)",
			oneOf([]string{"sandbox", "bitcoind"}, func(c *config) *string { return &rail(c).Provider })},
		{"BITCOIND_" + token + "_RPC_URL", "", "the node wallet paying " + token + ": http://user:password@host:port/wallet/NAME (required with PAYOUT_" + token + "=bitcoind; never logged)",
			text(func(c *config) *string { return &rail(c).URL })},
		{chain + "_CONFIRMATIONS", confirmations, "blocks on top of a " + token + " payout (its own included) before it is confirmed",
			positive(func(c *config) *int { return &rail(c).Confirmations })},
		{"BITCOIND_" + token + "_MAX_FEE_RATE", maxFeeRate, "highest fee rate paid for a " + token + " batch, in satoshis per virtual byte; above it the batch fails (fee_above_cap) before anything is sent",
			amount(func(c *config) *decimal.Decimal { return &rail(c).MaxFeeRate })},
		{"BITCOIND_" + token + "_FALLBACK_FEE_RATE", "", "fee rate (sat/vB) while the " + token + " node has no fee estimate (a fresh node, regtest); empty: wait for an estimate",
			amount(func(c *config) *decimal.Decimal { return &rail(c).FallbackFeeRate })},
	}
}

// loadConfig reads every setting through lookup (os.LookupEnv); an empty or absent
// variable takes the default. Every refused value is reported at once.
func loadConfig(lookup func(string) (string, bool)) (config, error) {
	var c config
	var errs []error
	for _, s := range settings {
		v, ok := lookup(s.name)
		if !ok || v == "" {
			v = s.def
		}
		if err := s.set(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q %v", s.name, v, err))
		}
	}
	if (c.EVM.ETH == "evm" || c.EVM.USDT == "evm") && (c.EVM.RPCURL == "" || c.EVM.KeyFile == "") {
		errs = append(errs, errors.New("an evm rail (PAYOUT_ETH or PAYOUT_USDT_ETHEREUM) needs EVM_RPC_URL and EVM_SIGNER_KEY_FILE"))
	}
	for token, rail := range c.Chains {
		if rail.Provider == "bitcoind" && rail.URL == "" {
			errs = append(errs, fmt.Errorf("PAYOUT_%s=bitcoind needs BITCOIND_%s_RPC_URL", token, token))
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// printSettings writes the settings as `withdrawals serve --help` shows them.
func printSettings(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.name, def, s.help)
	}
	tw.Flush()
}

func text(f func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error { *f(c) = v; return nil }
}

func oneOf(allowed []string, f func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("is not one of %s", strings.Join(slices.DeleteFunc(slices.Clone(allowed), func(s string) bool { return s == "" }), ", "))
		}
		*f(c) = v
		return nil
	}
}

func list(f func(*config) *[]string) func(*config, string) error {
	return func(c *config, v string) error {
		*f(c) = nil
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*f(c) = append(*f(c), item)
			}
		}
		return nil
	}
}

func boolean(f func(*config) *bool) func(*config, string) error {
	return func(c *config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("is not a boolean")
		}
		*f(c) = b
		return nil
	}
}

func positive(f func(*config) *int) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return errors.New("is not a positive integer")
		}
		*f(c) = n
		return nil
	}
}

// amount reads a non-negative decimal; empty is zero.
func amount(f func(*config) *decimal.Decimal) func(*config, string) error {
	return func(c *config, v string) error {
		if v == "" {
			*f(c) = decimal.Zero
			return nil
		}
		d, err := decimal.NewFromString(v)
		if err != nil || d.IsNegative() {
			return errors.New("is not a non-negative number such as 25 or 2.5")
		}
		*f(c) = d
		return nil
	}
}

func duration(f func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return errors.New("is not a duration such as 5m or 10s")
		}
		*f(c) = d
		return nil
	}
}
