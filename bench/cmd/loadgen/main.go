// Command loadgen measures a running withdrawals service over HTTP on loopback, the
// way merchants use it, and prints each figure next to the pgbench reference of this
// machine's PostgreSQL. scripts/bench.sh (make bench) starts everything it needs.
//
// Every phase is bounded in time or count. Figures: create_spread, create_hot,
// balance_read, list_read, settle_10k, webhook_throughput, webhook_p99, mass_payout
// (items accepted per second, with each request's time to accept), rss_peak (before the
// mass payouts) and rss_peak_mass_payout. The
// reference phase runs -reference-cmd (the pgbench reference); it is listed twice by
// default, and each ratio is to the mean of its measurements (reference.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/paycore/withdrawals/bench/internal/apiclient"
)

type config struct {
	URL          string
	MetricsURL   string
	AdminKey     string
	Merchants    int
	Conns        int
	Duration     time.Duration
	Settle       int
	ReferenceCmd string
	ServicePID   int
	Phases       string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.URL, "url", "http://127.0.0.1:18181", "service base URL (loopback only)")
	flag.StringVar(&cfg.MetricsURL, "metrics-url", "http://127.0.0.1:18182", "the service's metrics listener (METRICS_ADDR)")
	flag.StringVar(&cfg.AdminKey, "admin-key", os.Getenv("ADMIN_KEY"), "admin API key")
	flag.IntVar(&cfg.Merchants, "merchants", 1000, "merchants to spread load over")
	flag.IntVar(&cfg.Conns, "conns", 16, "concurrent connections")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of each timed phase")
	flag.IntVar(&cfg.Settle, "settle", 10_000, "withdrawals in the settlement phase")
	flag.StringVar(&cfg.ReferenceCmd, "reference-cmd", "", "shell command printing the pgbench reference lines (run by each reference phase)")
	flag.IntVar(&cfg.ServicePID, "pid", 0, "service process id, for its peak RSS")
	flag.StringVar(&cfg.Phases, "phases", "settle,webhooks,reference,create_spread,create_hot,reads,reference,mass_payout", "phases to run, comma separated")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	if cfg.AdminKey == "" {
		return errors.New("-admin-key (or ADMIN_KEY) is required")
	}
	if err := apiclient.RequireLoopback(cfg.URL); err != nil {
		return err
	}
	api := newAPI(cfg.URL, cfg.Conns)
	b := &bench{cfg: cfg, api: api, refs: map[string][]float64{}}

	fmt.Printf("seeding %d merchants...\n", cfg.Merchants)
	if err := b.seed(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// Settlement first: it needs a pending set of exactly its own withdrawals.
	steps := map[string]func(context.Context) error{
		"settle": b.settle, "webhooks": b.webhooks, "reference": b.reference,
		"create_spread": b.createSpread, "create_hot": b.createHot, "reads": b.reads, "mass_payout": b.massPayout,
	}
	for _, name := range strings.Split(cfg.Phases, ",") {
		step, ok := steps[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("unknown phase %q", name)
		}
		if err := step(ctx); err != nil {
			return err
		}
	}
	b.rss("rss_peak")
	if err := b.verify(ctx); err != nil {
		b.report()
		return err
	}
	b.report()
	return nil
}
