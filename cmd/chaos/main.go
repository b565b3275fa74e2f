// Command chaos runs the real service binary under steady load, injects faults one
// after another (kill -9 and restart, database connections terminated, a provider that
// times out after accepting and then is unavailable, a webhook receiver that goes
// down), and then proves the invariants: every acknowledged withdrawal exists exactly
// once, every idempotency key maps to one withdrawal, the ledger reconciles, nothing is
// paid twice or released while its outcome is ambiguous, and every status change was
// delivered as a webhook. It exits non-zero on any violation. scripts/chaos.sh (make
// chaos) prepares the database and the binaries. Loopback only, bounded in time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

type config struct {
	Binary      string
	DatabaseURL string // the service's database
	Port        int
	Merchants   int
	Workers     int
	Phase       time.Duration
	Settle      time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.Binary, "bin", "bin/withdrawals", "service binary")
	flag.StringVar(&cfg.DatabaseURL, "database-url", "", "service database (created and migrated by the caller)")
	flag.IntVar(&cfg.Port, "port", 18282, "loopback port for the service")
	flag.IntVar(&cfg.Merchants, "merchants", 40, "merchants under load")
	flag.IntVar(&cfg.Workers, "workers", 8, "concurrent load workers")
	flag.DurationVar(&cfg.Phase, "phase", 8*time.Second, "load time around each fault")
	flag.DurationVar(&cfg.Settle, "settle", 3*time.Minute, "longest wait for everything to settle at the end")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	if cfg.DatabaseURL == "" {
		return fmt.Errorf("-database-url is required")
	}
	h, err := newHarness(ctx, cfg)
	if err != nil {
		return err
	}
	defer h.close()

	faults := []struct {
		name   string
		inject func(context.Context) error
	}{
		{"kill -9 of the service, then a restart", h.killAndRestart},
		{"database connections terminated under load", h.terminateConnections},
		{"provider times out after accepting, then is unavailable", h.providerOutage},
		{"webhook receiver down, then back", h.receiverOutage},
	}
	h.load.start(ctx)
	h.sleep(ctx, cfg.Phase)
	for i, f := range faults {
		fmt.Printf("fault %d/%d: %s\n", i+1, len(faults), f.name)
		if err := f.inject(ctx); err != nil {
			h.load.stop()
			return fmt.Errorf("fault %q: %w", f.name, err)
		}
		h.sleep(ctx, cfg.Phase)
		if v := h.quickCheck(ctx); v != "" {
			h.load.stop()
			return fmt.Errorf("after fault %q: %s", f.name, v)
		}
	}
	h.load.stop()
	fmt.Println("load stopped; waiting for payouts and webhooks to settle...")
	if err := h.waitSettled(ctx, cfg.Settle); err != nil {
		return err
	}
	report := h.check(ctx)
	fmt.Printf("chaos: %d faults, %d requests, %d lost, %d duplicated, %d ledger discrepancies, %d paid twice, %d released while ambiguous, %d webhooks missing, %d malformed errors\n",
		len(faults), h.load.requests.Load(), report.lost, report.duplicated, report.ledger, report.paidTwice, report.releasedAmbiguous, report.webhooksMissing, h.load.malformed.Load())
	if !report.ok() || h.load.malformed.Load() > 0 {
		for _, d := range report.details {
			fmt.Println("  violation:", d)
		}
		return fmt.Errorf("invariants violated")
	}
	return nil
}
