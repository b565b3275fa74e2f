package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/paycore/withdrawals"
	"github.com/paycore/withdrawals/handlers"
	"github.com/paycore/withdrawals/internal/database"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/address"
)

func serve(ctx context.Context, cfg config, logger *slog.Logger, stdout io.Writer) error {
	validator, err := address.NewValidator(cfg.BitcoinNetwork)
	if err != nil {
		return fmt.Errorf("BITCOIN_NETWORK: %w", err)
	}
	db, err := openMigrated(ctx, cfg, cfg.AutoMigrate)
	if err != nil {
		return err
	}
	defer closeDB(db)
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}

	clock := services.Clock(time.Now)
	accounts := services.NewAccounts(db, clock)
	deps := handlers.Deps{
		Withdrawals:  services.NewWithdrawals(db, validator, clock, cfg.PayoutBatchInterval),
		Balances:     services.NewBalances(db),
		Accounts:     accounts,
		FeeSchedules: services.NewFeeSchedules(db, clock),
		Ready:        sqlDB.PingContext,
		OpenAPI:      withdrawals.OpenAPI,
		Logger:       logger,
	}
	if cfg.DemoSeed {
		if err := seedDemo(ctx, accounts, cfg.HTTPAddr, stdout); err != nil {
			return fmt.Errorf("demo seed: %w", err)
		}
	}

	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           handlers.New(deps),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", cfg.HTTPAddr, "database", database.Redact(cfg.DatabaseURL))

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "deadline", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
