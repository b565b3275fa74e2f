// Command chaos runs the real service binary under steady load on a PostgreSQL cluster
// of its own, injects faults one after another (kill -9 and restart; database
// connections terminated; the database server restarted; a second instance joining and
// the elected leader killed inside a payout job; a provider that loses answers, stalls
// mid-call and goes down; a webhook receiver that is down, slow, failing and gone), and
// then proves the invariants: every acknowledged withdrawal exists exactly once, every
// idempotency key maps to one withdrawal, the ledger reconciles, nothing is paid twice
// or released while its outcome is ambiguous, and every status change was delivered as
// a webhook. It exits non-zero on any violation. bench/scripts/chaos.sh (make chaos)
// prepares the cluster and the binaries. Loopback only, bounded in time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"
)

type config struct {
	Binary      string
	DatabaseURL string // the service's database, on the run's own cluster
	PGRestart   string // a shell command that restarts that cluster (fast shutdown, start)
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
	flag.StringVar(&cfg.PGRestart, "pg-restart", "", "command restarting the run's own PostgreSQL cluster")
	flag.IntVar(&cfg.Port, "port", 18282, "loopback port of the first instance (the second takes the next)")
	flag.IntVar(&cfg.Merchants, "merchants", 40, "merchants under load")
	flag.IntVar(&cfg.Workers, "workers", 8, "concurrent load workers")
	flag.DurationVar(&cfg.Phase, "phase", 8*time.Second, "load time around each fault")
	flag.DurationVar(&cfg.Settle, "settle", 4*time.Minute, "longest wait for everything to settle at the end")
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
		inject func(context.Context) (string, error)
	}{
		{"kill -9 of the service, then a restart", h.killAndRestart},
		{"database connections terminated under load", h.terminateConnections},
		{"PostgreSQL restarted (fast shutdown, start) under load", h.restartDatabase},
		{"two instances on one database, the leader killed inside a payout job", h.twoInstancesLeaderKilled},
		{"provider loses answers, stalls mid-call, then is unavailable", h.providerFaults},
		{"webhook receiver down, slow past the timeout, 503, then 410 Gone", h.receiverFaults},
	}
	h.load.start(ctx)
	h.sleep(ctx, cfg.Phase)
	var hit []string
	for i, f := range faults {
		fmt.Printf("fault %d/%d: %s\n", i+1, len(faults), f.name)
		proof, err := f.inject(ctx)
		if err != nil {
			h.load.stop()
			return fmt.Errorf("fault %q: %w", f.name, err)
		}
		fmt.Printf("  hit: %s\n", proof)
		hit = append(hit, f.name)
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
	fmt.Printf("chaos: %d faults (%s), %d requests, %d lost, %d duplicated, %d ledger discrepancies, %d paid twice, %d released while ambiguous, %d webhooks missing, %d malformed errors\n",
		len(hit), strings.Join(hit, "; "), h.load.requests.Load(), report.lost, report.duplicated, report.ledger, report.paidTwice,
		report.releasedAmbiguous, report.webhooksMissing, h.load.malformed.Load())
	if !report.ok() || h.load.malformed.Load() > 0 {
		for _, d := range report.details {
			fmt.Println("  violation:", d)
		}
		return fmt.Errorf("invariants violated")
	}
	return nil
}
