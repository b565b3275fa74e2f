// Command readceiling measures what the balance-read target asks of this machine: how
// many requests per second a bare Echo server reaches with nothing behind its handler,
// with one PostgreSQL read per request, and with concurrent reads sharing one query (as
// the service does), each at the same concurrency as the pgbench read reference. None
// of these servers authenticates, logs, limits or parses amounts: they are the ceiling
// for an Echo service on net/http, not a variant of the service (BENCHMARKS.md).
//
// `make ceiling` runs it on a scratch copy of the reference's schema. Loopback only,
// bounded: each variant runs for -duration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/bench/internal/rawhttp"
)

// The reference seeds merchants m1..m1000, three tokens each.
const merchants = 1000

func main() {
	serve := flag.String("serve", "", "run one server variant (static, single, batched-1, batched-2) instead of measuring")
	dbURL := flag.String("db", "", "database with the pgbench reference's schema and seed")
	addr := flag.String("addr", "127.0.0.1:18191", "loopback address for the servers")
	conns := flag.Int("conns", 16, "concurrent keep-alive connections")
	duration := flag.Duration("duration", 8*time.Second, "per variant")
	reference := flag.Float64("reference", 0, "pgbench read_balance tps of the same run, for ratios")
	flag.Parse()
	if *serve != "" {
		if err := runServer(*serve, *addr, *dbURL); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	for _, variant := range []string{"static", "single", "batched-1", "batched-2"} {
		rate, err := measure(variant, *addr, *dbURL, *conns, *duration)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", variant, err)
			os.Exit(1)
		}
		line := fmt.Sprintf("ceiling %-10s %8.0f req/s", variant, rate)
		if *reference > 0 {
			line += fmt.Sprintf("  ratio %.2f", rate/(*reference))
		}
		fmt.Println(line)
	}
}

// measure starts the variant in its own process (the service runs apart from its load
// generator too), drives it, and stops it.
func measure(variant, addr, dbURL string, conns int, d time.Duration) (float64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	srv := exec.Command(self, "-serve", variant, "-addr", addr, "-db", dbURL)
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	var ready bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			ready = true
			break
		}
	}
	if !ready {
		return 0, errors.New("server did not start")
	}
	return load(addr, conns, d)
}

// balance is the shape the service answers a balance read with.
type balance struct {
	Token     string `json:"token"`
	Available string `json:"available"`
	Pending   string `json:"pending"`
}

func runServer(variant, addr, dbURL string) error {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	var read func(ctx context.Context, merchant string) ([]balance, error)
	switch variant {
	case "static":
		fixed := []balance{{"BTC", "0.5", "0"}, {"ETH", "2.25", "0"}, {"USDT", "100", "0"}}
		read = func(context.Context, string) ([]balance, error) { return fixed, nil }
	case "single", "batched-1", "batched-2":
		pool, err := pgxpool.New(context.Background(), dbURL)
		if err != nil {
			return err
		}
		read = func(ctx context.Context, merchant string) ([]balance, error) { return readOne(ctx, pool, merchant) }
		if variant != "single" {
			workers, _ := strconv.Atoi(variant[len("batched-"):])
			read = newBatchedReads(pool, workers)
		}
	default:
		return fmt.Errorf("unknown variant %q", variant)
	}
	e.GET("/api/balance", func(c echo.Context) error {
		rows, err := read(c.Request().Context(), "m"+strconv.Itoa(1+rand.IntN(merchants)))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"data": rows})
	})
	return e.Start(addr)
}

func readOne(ctx context.Context, pool *pgxpool.Pool, merchant string) ([]balance, error) {
	rows, err := pool.Query(ctx, `SELECT token, available::text, pending::text FROM balances WHERE merchant_id = $1`, merchant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []balance
	for rows.Next() {
		var b balance
		if err := rows.Scan(&b.Token, &b.Available, &b.Pending); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// newBatchedReads answers concurrent reads with one query per batch: `workers`
// goroutines each take every read waiting (up to 64) and read them with the service's
// query (services/balances.go).
func newBatchedReads(pool *pgxpool.Pool, workers int) func(context.Context, string) ([]balance, error) {
	type call struct {
		merchant string
		rows     []balance
		err      error
		done     chan struct{}
	}
	calls := make(chan *call, 1024)
	for range workers {
		go func() {
			for first := range calls {
				batch := []*call{first}
			more:
				for len(batch) < 64 {
					select {
					case c := <-calls:
						batch = append(batch, c)
					default:
						break more
					}
				}
				ids := make([]string, len(batch))
				byMerchant := make(map[string][]*call, len(batch))
				for i, c := range batch {
					ids[i] = c.merchant
					byMerchant[c.merchant] = append(byMerchant[c.merchant], c)
				}
				err := func() error {
					rows, err := pool.Query(context.Background(), `SELECT m.id, b.token, b.available::text, b.pending::text
						FROM unnest($1::text[]) m(id),
						     LATERAL (SELECT token, available, pending FROM balances WHERE merchant_id = m.id OFFSET 0) b`, ids)
					if err != nil {
						return err
					}
					defer rows.Close()
					for rows.Next() {
						var id string
						var b balance
						if err := rows.Scan(&id, &b.Token, &b.Available, &b.Pending); err != nil {
							return err
						}
						for _, c := range byMerchant[id] {
							c.rows = append(c.rows, b)
						}
					}
					return rows.Err()
				}()
				for _, c := range batch {
					c.err = err
					close(c.done)
				}
			}
		}()
	}
	return func(_ context.Context, merchant string) ([]balance, error) {
		c := &call{merchant: merchant, done: make(chan struct{})}
		calls <- c
		<-c.done
		return c.rows, c.err
	}
}

// load drives addr with conns keep-alive connections for d (cmd/loadgen's client),
// each sending the next request when the previous answer has been read, and returns
// answered requests per second. Any transport error or non-200 answer fails the
// measurement.
func load(addr string, conns int, d time.Duration) (float64, error) {
	var (
		answered atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	deadline := time.Now().Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := drive("http://"+addr, deadline, &answered); err != nil {
				mu.Lock()
				firstErr = errors.Join(firstErr, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return float64(answered.Load()) / d.Seconds(), firstErr
}

func drive(base string, deadline time.Time, answered *atomic.Int64) error {
	c, err := rawhttp.Dial(base)
	if err != nil {
		return err
	}
	defer c.Close()
	for time.Now().Before(deadline) {
		status, err := c.Do("GET", "/api/balance", "", "", nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("status %d", status)
		}
		answered.Add(1)
	}
	return nil
}
