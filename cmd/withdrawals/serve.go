package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/app"
	"github.com/paycore/withdrawals/internal/database"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/rails/bitcoind"
	"github.com/paycore/withdrawals/rails/evm"
	"github.com/paycore/withdrawals/services/address"
	"github.com/paycore/withdrawals/services/payouts"
	"github.com/paycore/withdrawals/services/webhooks"
)

func serve(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error {
	db, err := openMigrated(ctx, cfg, cfg.AutoMigrate)
	if err != nil {
		return err
	}
	defer closeDB(db)

	tokenRails, err := chainRails(cfg)
	if err != nil {
		return err
	}
	if err := addEVMRail(ctx, cfg, db, tokenRails, logger); err != nil {
		return err
	}
	build, _ := buildInfo()
	a, err := app.New(db, app.Config{
		DatabaseURL:   cfg.DatabaseURL,
		Networks:      address.Networks{Bitcoin: cfg.BitcoinNetwork, Litecoin: cfg.LitecoinNetwork},
		BatchInterval: cfg.PayoutBatchInterval,
		TokenRails:    tokenRails,
		Payout: payouts.Config{
			BatchMax: cfg.PayoutBatchMax, PollInterval: cfg.PayoutPollInterval,
			ProviderTimeout: cfg.PayoutProviderTimeout, MaxAttempts: cfg.PayoutMaxAttempts,
			BatchWrites: cfg.PayoutBatchWrites,
		},
		RetryBase: cfg.PayoutRetryBase,
		RetryMax:  cfg.PayoutRetryMax,
		Workers:   cfg.Workers,
		Sandbox:   rails.SandboxConfig{ConfirmDelay: cfg.SandboxConfirmDelay, FailAddresses: cfg.SandboxFailAddresses, Fault: cfg.SandboxFault},
		Webhooks: webhooks.Config{
			AllowPrivateURLs: cfg.WebhookAllowPrivateURLs, Timeout: cfg.WebhookTimeout, DisableAfter: cfg.WebhookDisableAfter,
			RotationOverlap: 24 * time.Hour, RetryBase: cfg.WebhookRetryBase, RetryMax: cfg.WebhookRetryMax,
			MerchantConcurrency: cfg.WebhookMerchantConcurrency,
		},
		WebhookWorkers:                cfg.WebhookWorkers,
		WhitelistCooldown:             cfg.WhitelistCooldown,
		ApprovalTTL:                   cfg.ApprovalTTL,
		ReconcileInterval:             cfg.ReconcileInterval,
		Build:                         build,
		ConsoleSessionTTL:             cfg.ConsoleSessionTTL,
		AuthCacheTTL:                  cfg.AuthCacheTTL,
		BalanceCacheTTL:               cfg.BalanceCacheTTL,
		RateLimitPerMinute:            cfg.RateLimitPerMinute,
		RateLimitWithdrawalsPerMinute: cfg.RateLimitWithdrawalsPerMinute,
		AuthFailuresPerMinute:         cfg.AuthFailuresPerMinute,
		WebhookMaxAttempts:            cfg.WebhookMaxAttempts,
		SoftStopTimeout:               cfg.ShutdownTimeout / 2,
		Logger:                        logger,
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if cfg.DemoSeed {
		if err := seedDemo(ctx, a.Accounts, cfg.HTTPAddr, stdout); err != nil {
			return fmt.Errorf("demo seed: %w", err)
		}
	}

	// Jobs get their own context: on SIGTERM they are stopped after the HTTP server, so
	// requests in flight can still enqueue work.
	if err := a.Jobs.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	go a.Accounts.WatchRevocations(ctx, func(err error) {
		logger.Warn("api key revocation feed", "error", err.Error())
	})
	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           a.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, logger)
	}
	if cfg.MetricsAddr != "off" {
		metricsSrv := &http.Server{Addr: cfg.MetricsAddr, Handler: metricsMux(a.Metrics), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := metricsSrv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics listener", "addr", cfg.MetricsAddr, "error", err.Error())
			}
		}()
		defer metricsSrv.Close()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", cfg.HTTPAddr, "metrics_addr", cfg.MetricsAddr, "database", database.Redact(cfg.DatabaseURL),
		"payout_provider", a.Rails.Default.Name(), "token_rails", railNames(a.Rails), "batch_interval", cfg.PayoutBatchInterval.String())
	for _, r := range a.Rails.Check(ctx) {
		if r.Err != nil {
			logger.Warn("payout rail not reachable; its batches wait", "token", r.Token, "provider", r.Provider, "error", r.Err.Error())
		}
	}

	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "deadline", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		serveErr = errors.Join(serveErr, fmt.Errorf("http shutdown: %w", err))
	}
	// Running jobs may finish for half the deadline (River's soft stop); then their
	// contexts are cancelled, and those cut off are handed back to the queue and, being
	// idempotent, simply run again.
	if err := a.Jobs.Stop(shutdownCtx); err != nil {
		serveErr = errors.Join(serveErr, fmt.Errorf("job queue shutdown: %w", err))
		if err := a.Jobs.StopAndCancel(context.Background()); err != nil {
			serveErr = errors.Join(serveErr, fmt.Errorf("job queue cancel: %w", err))
		}
	}
	return serveErr
}

// metricsMux serves GET /metrics alone: the listener is the operator's, apart from the
// API, so metrics are reachable only where the operator binds them (METRICS_ADDR).
func metricsMux(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	return mux
}

// servePprof exposes net/http/pprof on its own listener (PPROF_ADDR, off by default),
// never on the API's, so profiles are reachable only where the operator binds them.
func servePprof(addr string, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	logger.Info("pprof listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		logger.Error("pprof", "error", err.Error())
	}
}

// chainRails are the Bitcoin Core rails configured for their tokens (PAYOUT_BTC,
// PAYOUT_LTC); the other tokens keep the default rail.
func chainRails(cfg config) (map[string]rails.Provider, error) {
	networks := map[string]string{"BTC": cfg.BitcoinNetwork, "LTC": cfg.LitecoinNetwork}
	out := map[string]rails.Provider{}
	for token, c := range cfg.Chains {
		if c.Provider != "bitcoind" {
			continue
		}
		// Bitcoin Core names its chains main, test, signet and regtest.
		chain := strings.TrimSuffix(networks[token], "net")
		if chain == "sig" {
			chain = "signet"
		}
		p, err := bitcoind.New(bitcoind.Config{URL: c.URL, Chain: chain, Confirmations: c.Confirmations,
			MaxFeeRate: c.MaxFeeRate, FallbackFeeRate: c.FallbackFeeRate})
		if err != nil {
			return nil, fmt.Errorf("BITCOIND_%s_RPC_URL: %w", token, err)
		}
		out[token] = p
	}
	return out, nil
}

// railNames says which rail pays each token that has its own, for the start-up log.
func railNames(r rails.Rails) map[string]string {
	out := map[string]string{}
	for token, p := range r.ByToken {
		out[token] = p.Name()
	}
	return out
}

// addEVMRail adds the Ethereum rail for ETH and USDT when PAYOUT_ETH or
// PAYOUT_USDT_ETHEREUM says evm. A node on another chain stops the start-up; a node
// that does not answer only delays that rail's batches.
func addEVMRail(ctx context.Context, cfg config, db *gorm.DB, out map[string]rails.Provider, logger *slog.Logger) error {
	c := cfg.EVM
	if c.ETH != "evm" && c.USDT != "evm" {
		return nil
	}
	key, err := readSignerKey(c.KeyFile)
	if err != nil {
		return err
	}
	if !common.IsHexAddress(c.USDTContract) {
		return errors.New("USDT_ETHEREUM_CONTRACT is not an address")
	}
	var decimals []struct {
		Symbol   string
		Decimals int32
	}
	if err := db.WithContext(ctx).Raw(`SELECT symbol, decimals FROM tokens WHERE symbol IN ('ETH', 'USDT')`).Scan(&decimals).Error; err != nil {
		return fmt.Errorf("evm rail: %w", err)
	}
	assets := map[string]evm.Asset{}
	contract := common.HexToAddress(c.USDTContract)
	for _, d := range decimals {
		switch {
		case d.Symbol == "ETH" && c.ETH == "evm":
			assets["ETH"] = evm.Asset{Decimals: d.Decimals}
		case d.Symbol == "USDT" && c.USDT == "evm":
			assets["USDT"] = evm.Asset{Contract: &contract, Decimals: d.Decimals}
		}
	}
	p, err := evm.New(db, evm.Config{RPCURL: c.RPCURL, Key: key, ChainID: int64(c.ChainID), Confirmations: c.Confirmations,
		MaxFeePerGas: c.MaxFeeGwei.Shift(9).BigInt(), ReplaceAfter: c.ReplaceAfter, Assets: assets})
	if err != nil {
		return fmt.Errorf("evm rail: %w", err)
	}
	checkCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.Check(checkCtx); errors.Is(err, evm.ErrWrongChain) {
		return fmt.Errorf("evm rail: %w", err)
	}
	for token := range assets {
		// ETH has one network; USDT is paid by this rail on Ethereum only, and by the
		// default rail on its other networks.
		out[map[string]string{"ETH": "ETH", "USDT": "USDT:ethereum"}[token]] = p
	}
	logger.Info("evm rail", "hot_wallet", p.Sender().Hex(), "chain_id", c.ChainID)
	return nil
}

// readSignerKey reads the hot wallet's hex private key from a file only its owner can
// read; the key never appears in an error.
func readSignerKey(path string) (*ecdsa.PrivateKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("EVM_SIGNER_KEY_FILE: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("EVM_SIGNER_KEY_FILE %s can be read by other users (mode %04o): chmod 600 it", path, info.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("EVM_SIGNER_KEY_FILE: %w", err)
	}
	key, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(string(raw)), "0x"))
	if err != nil {
		return nil, fmt.Errorf("EVM_SIGNER_KEY_FILE %s does not hold a hex private key", path)
	}
	return key, nil
}
