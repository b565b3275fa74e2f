// Command scale measures the read paths of a running withdrawals service as one
// merchant's history grows: at each size it writes the history straight into the
// database (internal/history: finished withdrawals with their ledger journals, balances
// and kept counts consistent, so reconciliation passes), then calls every read path over
// HTTP and prints, per path, `scale NAME n=N p50_ms=.. p99_ms=..`. scripts/scale.sh
// (make scale) starts the service on a database of its own. Loopback only; every phase
// is bounded by its number of calls.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/paycore/withdrawals/bench/internal/apiclient"
	"github.com/paycore/withdrawals/internal/history"
)

type config struct {
	URL, MetricsURL, AdminKey, DatabaseURL, Binary string
	Sizes                                          []int
	Calls                                          int
}

func main() {
	var cfg config
	var sizes string
	flag.StringVar(&cfg.URL, "url", "http://127.0.0.1:18191", "service base URL (loopback only)")
	flag.StringVar(&cfg.MetricsURL, "metrics-url", "http://127.0.0.1:18192", "the service's metrics listener")
	flag.StringVar(&cfg.AdminKey, "admin-key", os.Getenv("ADMIN_KEY"), "admin API key")
	flag.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "the service's database, where the history is written")
	flag.StringVar(&cfg.Binary, "binary", "bin/withdrawals", "the service's binary, for `admin reconcile --full`")
	flag.StringVar(&sizes, "sizes", "10000,1000000,10000000", "history sizes to measure at, ascending")
	flag.IntVar(&cfg.Calls, "calls", 30, "calls per read path and size")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || (len(cfg.Sizes) > 0 && n <= cfg.Sizes[len(cfg.Sizes)-1]) {
			fmt.Fprintf(os.Stderr, "scale: -sizes must be ascending positive integers, not %q\n", sizes)
			os.Exit(2)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

type scale struct {
	cfg      config
	api      apiclient.Client
	db       *sql.DB
	merchant string
	key      string
}

func run(ctx context.Context, cfg config) error {
	for _, u := range []string{cfg.URL, cfg.MetricsURL} {
		if err := apiclient.RequireLoopback(u); err != nil {
			return err
		}
	}
	if cfg.AdminKey == "" || cfg.DatabaseURL == "" {
		return errors.New("-admin-key and -database-url are required")
	}
	db, err := sql.Open("pgx", cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	s := &scale{cfg: cfg, db: db, api: apiclient.Client{Base: cfg.URL, HTTP: &http.Client{Timeout: 60 * time.Second}}}
	if err := s.seed(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	var grown int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM withdrawals WHERE merchant_id = $1`, s.merchant).Scan(&grown); err != nil {
		return err
	}
	for _, n := range cfg.Sizes {
		if grown > n+n/100 { // a kept history already past this size (its live withdrawals aside)
			continue
		}
		start := time.Now()
		written, err := history.Grow(ctx, db, s.merchant, max(n-grown, 0), 3*time.Second)
		grown += written
		if err != nil {
			return err
		}
		// What autovacuum would do after such growth: fresh statistics and visibility
		// (index-only scans), before anything is measured.
		if _, err := db.ExecContext(ctx, `VACUUM ANALYZE withdrawals, withdrawal_counts, ledger_entries, ledger_journals, balances`); err != nil {
			return err
		}
		fmt.Printf("history: %d withdrawals (%d written in %s)\n", n, written, time.Since(start).Round(time.Second))
		if err := s.measure(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// seed makes the merchant, its key and a balance for the live withdrawals made between
// measurements. On a database kept from an earlier run (SCALE_KEEP) it takes up the
// merchant named scale and its history, with a new key: another release can be measured
// on the same history.
func (s *scale) seed(ctx context.Context) error {
	var m struct{ ID string }
	err := s.db.QueryRowContext(ctx, `SELECT id FROM merchants WHERE name = 'scale'`).Scan(&m.ID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	kept := err == nil
	if !kept {
		if err := s.json(ctx, http.StatusCreated, "POST", "/api/admin/merchants", s.cfg.AdminKey, map[string]any{"name": "scale"}, &m); err != nil {
			return err
		}
	}
	var k struct{ Key string }
	if err := s.json(ctx, http.StatusCreated, "POST", "/api/admin/merchants/"+m.ID+"/api-keys", s.cfg.AdminKey, map[string]any{"name": "scale"}, &k); err != nil {
		return err
	}
	s.merchant, s.key = m.ID, k.Key
	if kept {
		return nil
	}
	return s.json(ctx, http.StatusCreated, "POST", "/api/admin/merchants/"+m.ID+"/credits", s.cfg.AdminKey,
		map[string]any{"token": "USDT", "amount": "1000000", "reference": "scale"}, nil)
}

// measure calls each read path at history size n.
func (s *scale) measure(ctx context.Context, n int) error {
	// A few live withdrawals, newer than the history: pending ones exist, and the
	// incremental reconciliation has entries to read.
	for range 5 {
		if err := s.withdraw(ctx); err != nil {
			return err
		}
	}
	deep, err := s.idAt(ctx, "", n/2)
	if err != nil {
		return err
	}
	deepFailed, err := s.idAt(ctx, "failed", n/2/25)
	if err != nil {
		return err
	}
	var mid time.Time // a month in the middle of the history
	if err := s.db.QueryRowContext(ctx, `SELECT created_at FROM withdrawals WHERE id = $1`, deep).Scan(&mid); err != nil {
		return err
	}
	month := fmt.Sprintf("startDate=%s&endDate=%s", mid.AddDate(0, 0, -15).Format(time.DateOnly), mid.AddDate(0, 0, 15).Format(time.DateOnly))
	merchant, admin := s.key, s.cfg.AdminKey
	paths := []struct{ name, path, key string }{
		{"list_first", "/api/withdrawals", merchant},
		{"list_offset_half", "/api/withdrawals?offset=" + strconv.Itoa(min(n/2, 1_000_000)), merchant},
		{"list_cursor_deep", "/api/withdrawals?startingAfter=" + deep, merchant},
		{"list_cursor_back", "/api/withdrawals?endingBefore=" + deep, merchant},
		{"list_status", "/api/withdrawals?status=failed", merchant},
		{"list_status_cursor_deep", "/api/withdrawals?status=failed&startingAfter=" + deepFailed, merchant},
		{"list_pending", "/api/withdrawals?status=pending", merchant},
		{"list_token", "/api/withdrawals?token=BTC", merchant},
		{"list_network", "/api/withdrawals?network=tron", merchant},
		{"list_status_token", "/api/withdrawals?status=failed&token=LTC", merchant},
		{"list_month", "/api/withdrawals?" + month, merchant},
		{"admin_list", "/api/admin/withdrawals", admin},
		{"admin_list_merchant", "/api/admin/withdrawals?merchantId=" + s.merchant, admin},
		{"admin_list_status", "/api/admin/withdrawals?status=failed", admin},
		{"balance", "/api/balance", merchant},
		{"metrics", s.cfg.MetricsURL + "/metrics", ""},
	}
	for _, p := range paths {
		times, body, err := s.timed(ctx, p.path, p.key)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		// A release without cursors ignores them and answers the first page.
		if strings.Contains(p.path, "Before=") || strings.Contains(p.path, "After=") {
			if !strings.Contains(string(body), `"nextCursor"`) {
				fmt.Printf("scale %s n=%d unsupported\n", p.name, n)
				continue
			}
		}
		report(p.name, n, times)
	}
	// Reconciliation: one full check (the command operators run; it also sets the
	// checkpoint), then incremental checks, each after a new withdrawal.
	start := time.Now()
	if err := s.reconcileFull(ctx); err != nil {
		return err
	}
	report("reconcile_full", n, []time.Duration{time.Since(start)})
	var times []time.Duration
	for range s.cfg.Calls {
		if err := s.withdraw(ctx); err != nil {
			return err
		}
		var r struct {
			OK   bool
			Full *bool
		}
		start := time.Now()
		if err := s.json(ctx, http.StatusOK, "GET", "/api/admin/ledger/reconciliation", admin, nil, &r); err != nil {
			// A release that reads the whole ledger on every check can outlast the
			// server's write timeout at size: reported, not fatal.
			fmt.Printf("scale reconcile n=%d failed after %s: %v\n", n, time.Since(start).Round(time.Millisecond), firstLine(err))
			return nil
		}
		times = append(times, time.Since(start))
		if !r.OK {
			return errors.New("the ledger does not reconcile")
		}
		if r.Full == nil { // a release whose every check is full: once is enough
			break
		}
		if *r.Full {
			return errors.New("the check after a full one was full too")
		}
	}
	report("reconcile", n, times)
	return nil
}

// reconcileFull runs `withdrawals admin reconcile --full`, the check operators run (a
// release without --full checks everything by default).
func (s *scale) reconcileFull(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, s.cfg.Binary, "admin", "reconcile", "--full")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+s.cfg.DatabaseURL)
	out, err := cmd.Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 2 {
		cmd = exec.CommandContext(ctx, s.cfg.Binary, "admin", "reconcile")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+s.cfg.DatabaseURL)
		out, err = cmd.Output()
	}
	if err != nil {
		return fmt.Errorf("admin reconcile --full: %w\n%s", err, out)
	}
	return nil
}

func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

// idAt is the id of the merchant's withdrawal at position i, newest first (of a
// status, when given).
func (s *scale) idAt(ctx context.Context, status string, i int) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM withdrawals WHERE merchant_id = $1 AND ($2 = '' OR status = $2)
		ORDER BY created_at DESC, id DESC OFFSET $3 LIMIT 1`, s.merchant, status, i).Scan(&id)
	return id, err
}

func (s *scale) withdraw(ctx context.Context) error {
	return s.json(ctx, http.StatusCreated, "POST", "/api/withdrawals", s.key,
		map[string]any{"token": "USDT", "network": "ethereum", "amount": "10", "address": "0x742d35Cc6634C0532925a3b844Bc454e4438f44e"}, nil)
}

// timed calls path Calls times after two warm-up calls, one at a time; it returns the
// times and the last answer.
func (s *scale) timed(ctx context.Context, path, key string) ([]time.Duration, []byte, error) {
	var out []time.Duration
	var body []byte
	for i := range s.cfg.Calls + 2 {
		start := time.Now()
		status, b, err := s.call(ctx, path, key)
		elapsed := time.Since(start)
		if err != nil {
			return nil, nil, err
		}
		if status != http.StatusOK {
			return nil, nil, fmt.Errorf("GET %s: %d %s", path, status, b)
		}
		if i >= 2 {
			out = append(out, elapsed)
		}
		body = b
	}
	return out, body, nil
}

func (s *scale) call(ctx context.Context, path, key string) (int, []byte, error) {
	if strings.HasPrefix(path, "http") {
		return (&apiclient.Client{HTTP: s.api.HTTP}).Call(ctx, "GET", path, key, nil, nil)
	}
	return s.api.Call(ctx, "GET", path, key, nil, nil)
}

func (s *scale) json(ctx context.Context, want int, method, path, key string, body, out any) error {
	status, b, err := s.api.Call(ctx, method, path, key, body, nil)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: %d %s", method, path, status, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// report prints one path's figures: the median and the 99th percentile (nearest rank).
func report(name string, n int, times []time.Duration) {
	slices.Sort(times)
	at := func(q float64) float64 {
		i := int(q*float64(len(times))+0.999999) - 1
		return float64(times[max(i, 0)].Microseconds()) / 1000
	}
	fmt.Printf("scale %s n=%d p50_ms=%.1f p99_ms=%.1f\n", name, n, at(0.5), at(0.99))
}
