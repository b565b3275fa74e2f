package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/paycore/withdrawals/bench/internal/rawhttp"
)

type merchant struct {
	id, key string
	tally   *tally
}

type bench struct {
	cfg       config
	api       *api
	refs      map[string][]float64 // pgbench tps per script, one per reference run
	merchants []merchant
	hot       merchant
	seq       atomic.Int64
	figures   []figure
	// statuses counts every answer of the timed phases; only 201/200 are expected.
	unexpected atomic.Int64
}

// figure is one measured number, with its reference when one applies.
type figure struct {
	name, unit     string
	value          float64
	p50, p99, p999 float64 // ms, for request figures
	errors         int64
	refScript      string // the pgbench script it is compared with, if any
	ownScript      string // and the one recording a withdrawal with the service's own statements
	hasLatency     bool
}

var tokens = [...]struct{ symbol, address, credit string }{
	{"USDT", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "1000000000"},
	{"ETH", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", "1000000"},
	{"BTC", "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "100000"},
}

// seed creates merchants, keys and balances through the admin API, in parallel.
func (b *bench) seed(ctx context.Context) error {
	b.merchants = make([]merchant, b.cfg.Merchants+1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.Conns)
	for i := range b.merchants {
		g.Go(func() error {
			var m struct{ ID string }
			if err := b.api.mustJSON(gctx, 201, "POST", "/api/admin/merchants", b.cfg.AdminKey, map[string]any{"name": fmt.Sprintf("bench-%d", i)}, &m); err != nil {
				return err
			}
			var k struct{ Key string }
			if err := b.api.mustJSON(gctx, 201, "POST", "/api/admin/merchants/"+m.ID+"/api-keys", b.cfg.AdminKey, map[string]any{"name": "bench"}, &k); err != nil {
				return err
			}
			for _, t := range tokens {
				if err := b.api.mustJSON(gctx, 201, "POST", "/api/admin/merchants/"+m.ID+"/credits", b.cfg.AdminKey,
					map[string]any{"token": t.symbol, "amount": t.credit, "reference": "bench-" + t.symbol}, nil); err != nil {
					return err
				}
			}
			b.merchants[i] = merchant{id: m.ID, key: k.Key, tally: &tally{}}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	b.hot, b.merchants = b.merchants[len(b.merchants)-1], b.merchants[:len(b.merchants)-1]
	return nil
}

// timed runs fn from Conns workers, each on its own connection, for Duration and
// collects latencies, the CPU split of the phase and, where it created withdrawals,
// how the service grouped them.
func (b *bench) timed(ctx context.Context, d time.Duration, fn func(c *rawhttp.Conn) (ok bool, err error)) (count, errs int64, elapsed time.Duration, lat []time.Duration, err error) {
	conns := make([]*rawhttp.Conn, b.cfg.Conns)
	for i := range conns {
		if conns[i], err = rawhttp.Dial(b.cfg.URL); err != nil {
			return 0, 0, 0, nil, err
		}
		defer conns[i].Close()
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	cpu0, groups0 := readCPU(b.cfg.ServicePID), readGroupStats(ctx, b.api, b.cfg.MetricsURL)
	start := time.Now()
	deadline := start.Add(d)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1<<14)
			var n, e int64
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				ok, err := fn(c)
				mine = append(mine, time.Since(t0))
				n++
				if err != nil || !ok {
					e++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			count += n
			errs += e
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed = time.Since(start)
	fmt.Println("  " + cpu0.share(readCPU(b.cfg.ServicePID), elapsed.Seconds(), count))
	if line := groups0.since(readGroupStats(ctx, b.api, b.cfg.MetricsURL), elapsed.Seconds()); line != "" {
		fmt.Println("  " + line)
	}
	return count, errs, elapsed, lat, nil
}

// createBody is the timed phases' request body (createAmount of tokens[0]), encoded once.
var (
	createBody, _     = json.Marshal(map[string]any{"token": tokens[0].symbol, "amount": createAmount, "address": tokens[0].address, "metadata": map[string]any{"orderId": "bench"}})
	createAmountMilli = milliOf(createAmount)
)

const createAmount = "10"

// createRaw is createOne(m, 0, createAmount) on a worker's own connection.
func (b *bench) createRaw(c *rawhttp.Conn, m merchant) (bool, error) {
	status, err := c.Do("POST", "/api/withdrawals", m.key, "Idempotency-Key: bench-"+strconv.FormatInt(b.seq.Add(1), 10)+"\r\n", createBody)
	if err == nil && status != http.StatusCreated {
		b.unexpected.Add(1)
	}
	m.tally.record(0, createAmountMilli, status == http.StatusCreated, err)
	return status == http.StatusCreated, err
}

func (b *bench) createOne(ctx context.Context, m merchant, token int, amount string) (bool, error) {
	t := tokens[token]
	status, _, err := b.api.call(ctx, "POST", "/api/withdrawals", m.key,
		map[string]any{"token": t.symbol, "amount": amount, "address": t.address, "metadata": map[string]any{"orderId": "bench"}},
		map[string]string{"Idempotency-Key": "bench-" + strconv.FormatInt(b.seq.Add(1), 10)})
	if err == nil && status != http.StatusCreated {
		b.unexpected.Add(1)
	}
	m.tally.record(token, milliOf(amount), status == http.StatusCreated, err)
	return status == http.StatusCreated, err
}

func (b *bench) randomMerchant() merchant { return b.merchants[rand.IntN(len(b.merchants))] }

func (b *bench) requestFigure(name, ref string, count, errs int64, elapsed time.Duration, lat []time.Duration) {
	f := figure{name: name, unit: "req/s", value: float64(count) / elapsed.Seconds(), errors: errs, hasLatency: true}
	f.p50, f.p99, f.p999 = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 0.999)
	f.refScript = ref
	b.figures = append(b.figures, f)
	fmt.Printf("  %-14s %10.1f req/s  p99 %.2f ms  errors %d\n", name, f.value, f.p99, errs)
}

func (b *bench) createSpread(ctx context.Context) error {
	fmt.Println("create_spread: POST /api/withdrawals over", len(b.merchants), "merchants")
	n, e, el, lat, err := b.timed(ctx, b.cfg.Duration, func(c *rawhttp.Conn) (bool, error) {
		return b.createRaw(c, b.randomMerchant())
	})
	b.requestFigure("create_spread", "withdraw_spread", n, e, el, lat)
	b.figures[len(b.figures)-1].ownScript = "own_spread"
	return err
}

func (b *bench) createHot(ctx context.Context) error {
	fmt.Println("create_hot: POST /api/withdrawals on one merchant")
	n, e, el, lat, err := b.timed(ctx, b.cfg.Duration, func(c *rawhttp.Conn) (bool, error) {
		return b.createRaw(c, b.hot)
	})
	b.requestFigure("create_hot", "withdraw_hot", n, e, el, lat)
	b.figures[len(b.figures)-1].ownScript = "own_hot"
	return err
}

func (b *bench) reads(ctx context.Context) error {
	for _, r := range []struct{ name, path string }{{"balance_read", "/api/balance"}, {"list_read", "/api/withdrawals?limit=20"}} {
		fmt.Println(r.name + ": GET " + r.path)
		n, e, el, lat, err := b.timed(ctx, b.cfg.Duration, func(c *rawhttp.Conn) (bool, error) {
			status, err := c.Do("GET", r.path, b.randomMerchant().key, "", nil)
			if err == nil && status != http.StatusOK {
				b.unexpected.Add(1)
			}
			return status == http.StatusOK, err
		})
		b.requestFigure(r.name, "read_balance", n, e, el, lat)
		if err != nil {
			return err
		}
	}
	return nil
}

// settle creates Settle withdrawals over three tokens, then times a payout run until
// every one is confirmed through the sandbox: batching included, interval excluded.
func (b *bench) settle(ctx context.Context) error {
	fmt.Printf("settle_%dk: creating %d withdrawals over %d tokens...\n", b.cfg.Settle/1000, b.cfg.Settle, len(tokens))
	amounts := []string{"10", "0.01", "0.001"}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.Conns)
	for i := range b.cfg.Settle {
		g.Go(func() error {
			ok, err := b.createOne(gctx, b.merchants[i%len(b.merchants)], i%len(tokens), amounts[i%len(tokens)])
			if err == nil && !ok {
				err = fmt.Errorf("settle: a withdrawal was refused")
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	start := time.Now()
	if err := b.api.mustJSON(ctx, 202, "POST", "/api/admin/payout-runs", b.cfg.AdminKey, nil, nil); err != nil {
		return err
	}
	deadline := start.Add(5 * time.Minute)
	for {
		var page struct{ Pagination struct{ Total int } }
		if err := b.api.mustJSON(ctx, 200, "GET", "/api/admin/withdrawals?status=confirmed&limit=1", b.cfg.AdminKey, nil, &page); err != nil {
			return err
		}
		if page.Pagination.Total >= b.cfg.Settle {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("settle: %d of %d confirmed after 5 minutes", page.Pagination.Total, b.cfg.Settle)
		}
		time.Sleep(100 * time.Millisecond)
	}
	secs := time.Since(start).Seconds()
	b.figures = append(b.figures, figure{name: fmt.Sprintf("settle_%dk", b.cfg.Settle/1000), unit: "s", value: secs})
	fmt.Printf("  settled %d in %.2f s\n", b.cfg.Settle, secs)
	return nil
}

// webhooks registers a local receiver for 50 merchants, then measures delivery
// throughput under a burst and the commit-to-delivery p99 under a moderate rate. For the
// burst each merchant has four endpoints, so deliveries are made four times faster
// than withdrawals: the figure is the delivery rate, not the creation rate.
func (b *bench) webhooks(ctx context.Context) error {
	rcv, err := startReceiver()
	if err != nil {
		return err
	}
	defer rcv.close()
	subscribers := b.merchants[:min(50, len(b.merchants))]
	const fanout = 4
	type endpoint struct {
		id  string
		key string
	}
	var extra []endpoint // all but each merchant's first, removed after the burst
	register := func(m merchant, path string) (string, error) {
		var ep struct{ ID string }
		err := b.api.mustJSON(ctx, 201, "POST", "/api/webhook-endpoints", m.key,
			map[string]any{"url": rcv.url + path, "events": []string{"withdrawal.pending"}}, &ep)
		return ep.ID, err
	}
	remove := func(eps []endpoint) {
		for _, ep := range eps {
			_, _, _ = b.api.call(context.Background(), "DELETE", "/api/webhook-endpoints/"+ep.id, ep.key, nil, nil)
		}
	}
	var primary []endpoint
	defer func() { remove(primary) }()
	for _, m := range subscribers {
		for i := range fanout {
			id, err := register(m, fmt.Sprintf("/e%d", i))
			if err != nil {
				remove(extra)
				return err
			}
			if i == 0 {
				primary = append(primary, endpoint{id, m.key})
			} else {
				extra = append(extra, endpoint{id, m.key})
			}
		}
	}

	const burst = 3000
	fmt.Printf("webhook_throughput: %d deliveries (%d withdrawals, %d endpoints each)\n", burst, burst/fanout, fanout)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.Conns)
	for i := range burst / fanout {
		g.Go(func() error {
			_, err := b.createOne(gctx, subscribers[i%len(subscribers)], 0, createAmount)
			return err
		})
	}
	err = g.Wait()
	if err == nil {
		err = rcv.waitFor(ctx, burst, 2*time.Minute)
	}
	remove(extra)
	if err != nil {
		return err
	}
	first, last := rcv.span()
	tput := float64(burst) / last.Sub(first).Seconds()
	b.figures = append(b.figures, figure{name: "webhook_throughput", unit: "deliveries/s", value: tput})
	fmt.Printf("  %.1f deliveries/s\n", tput)

	fmt.Println("webhook_p99: 100 withdrawals/s for", b.cfg.Duration)
	rcv.reset()
	tick := time.NewTicker(10 * time.Millisecond)
	sent := 0
	var creates sync.WaitGroup // answered before the end's check counts them
	defer creates.Wait()
	for end := time.Now().Add(b.cfg.Duration); time.Now().Before(end); sent++ {
		<-tick.C
		m := subscribers[sent%len(subscribers)]
		creates.Go(func() { b.createOne(ctx, m, 0, createAmount) }) //nolint:errcheck // counted through deliveries
	}
	tick.Stop()
	if err := rcv.waitFor(ctx, sent, time.Minute); err != nil {
		return err
	}
	p99 := percentile(rcv.latencies(), 0.99)
	b.figures = append(b.figures, figure{name: "webhook_p99", unit: "ms", value: p99})
	fmt.Printf("  p99 %.1f ms from commit to delivery (%d deliveries)\n", p99, sent)
	return nil
}

// rss records the service's peak resident memory so far (VmHWM) as figure name.
func (b *bench) rss(name string) {
	if b.cfg.ServicePID == 0 || slices.ContainsFunc(b.figures, func(f figure) bool { return f.name == name }) {
		return
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", b.cfg.ServicePID))
	if err != nil {
		return
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if kb, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 64)
			b.figures = append(b.figures, figure{name: name, unit: "MB", value: v / 1024})
		}
	}
}

// verify fails the run when the fast answer was a wrong one: unexpected statuses, a
// ledger that does not reconcile, or a merchant whose balances or withdrawals differ
// from what the service answered it during the run.
func (b *bench) verify(ctx context.Context) error {
	var rec struct {
		OK            bool
		Discrepancies []json.RawMessage
	}
	if err := b.api.mustJSON(ctx, 200, "GET", "/api/admin/ledger/reconciliation?full=true", b.cfg.AdminKey, nil, &rec); err != nil {
		return err
	}
	checked, wrong, err := b.checkMerchants(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("\ncorrectness: reconciliation ok=%v (%d discrepancies), unexpected answers %d, merchants checked against their 201s %d of %d (%d wrong)\n",
		rec.OK, len(rec.Discrepancies), b.unexpected.Load(), checked, len(b.merchants)+1, len(wrong))
	for _, w := range wrong[:min(len(wrong), 5)] {
		fmt.Println("  " + w)
	}
	if !rec.OK || b.unexpected.Load() > 0 || len(wrong) > 0 {
		return fmt.Errorf("correctness check failed")
	}
	return nil
}

func (b *bench) report() {
	fmt.Printf("\n%-18s %12s %-13s %8s %8s %8s %7s %10s %7s\n", "figure", "value", "unit", "p50 ms", "p99 ms", "p99.9ms", "errors", "reference", "ratio")
	for _, f := range b.figures {
		lat, ref := strings.Repeat(" ", 26), fmt.Sprintf("%10s %7s", "-", "-")
		if f.hasLatency {
			lat = fmt.Sprintf("%8.2f %8.2f %8.2f", f.p50, f.p99, f.p999)
		}
		if r, _, ok := b.referenceOf(f.refScript); ok {
			ref = fmt.Sprintf("%10.1f %7.2f", r, f.value/r)
		}
		fmt.Printf("%-18s %12.2f %-13s %s %7d %s\n", f.name, f.value, f.unit, lat, f.errors, ref)
		if r, _, ok := b.referenceOf(f.ownScript); ok {
			fmt.Printf("%-18s %12s %-13s %s %7s %10.1f %7.2f  (the database recording with the service's own statements, call by call)\n",
				"", "", "", strings.Repeat(" ", 26), "", r, f.value/r)
		}
	}
	for _, script := range slices.Sorted(maps.Keys(b.refs)) {
		mean, measured, _ := b.referenceOf(script)
		fmt.Printf("reference %s: %s tps, mean %.1f\n", script, measured, mean)
	}
	fmt.Println()
	for _, f := range b.figures {
		line := fmt.Sprintf("bench %s value=%.2f unit=%s", f.name, f.value, f.unit)
		if f.hasLatency {
			line += fmt.Sprintf(" p99_ms=%.2f", f.p99)
		}
		if r, _, ok := b.referenceOf(f.refScript); ok {
			line += fmt.Sprintf(" reference=%.1f ratio=%.3f", r, f.value/r)
		}
		if r, _, ok := b.referenceOf(f.ownScript); ok {
			line += fmt.Sprintf(" own_reference=%.1f own_ratio=%.3f", r, f.value/r)
		}
		fmt.Println(line)
	}
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(int(float64(len(s))*p), len(s)-1)
	return float64(s[i].Microseconds()) / 1000
}

// Mass payouts: massRequests requests of massItems items each, massParallel at once.
const (
	massRequests = 100
	massItems    = 1000
	massParallel = 4
	massAmount   = "10"
)

// massPayout sends mass payouts (all_or_nothing, USDT, over the merchants) and reports
// the items accepted per second, with the time to accept each request (p50, p99). Each
// accepted request must have created every item; the merchants' tallies count them for
// the correctness gate.
func (b *bench) massPayout(ctx context.Context) error {
	fmt.Printf("mass_payout: %d requests of %d items, %d at once\n", massRequests, massItems, massParallel)
	// A release without mass payouts (an older baseline) answers 404: nothing to measure.
	if status, _, err := b.api.call(ctx, "POST", "/api/withdrawal-batches", b.hot.key, map[string]any{}, nil); err != nil || status == http.StatusNotFound {
		fmt.Println("  skipped: the service has no mass payouts")
		return err
	}
	bodies := make([]map[string]any, massRequests)
	for r := range bodies {
		items := make([]map[string]any, massItems)
		for i := range items {
			items[i] = map[string]any{"reference": fmt.Sprintf("bench-mass-%d-%d", r, i), "token": tokens[0].symbol,
				"amount": massAmount, "address": tokens[0].address}
		}
		bodies[r] = map[string]any{"mode": "all_or_nothing", "items": items}
	}
	// rss_peak keeps measuring the other phases; this one's peak is a figure of its own.
	b.rss("rss_peak")
	defer b.rss("rss_peak_mass_payout")
	var mu sync.Mutex
	var lat []time.Duration
	var accepted, errs int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(massParallel)
	start := time.Now()
	for r, body := range bodies {
		m := b.merchants[r%len(b.merchants)]
		g.Go(func() error {
			t0 := time.Now()
			status, out, err := b.api.call(gctx, "POST", "/api/withdrawal-batches", m.key, body, nil)
			took := time.Since(t0)
			if err != nil {
				m.tally.unknown.Store(true)
				return err
			}
			var batch struct{ ItemsCreated int }
			_ = json.Unmarshal(out, &batch)
			mu.Lock()
			defer mu.Unlock()
			if status != http.StatusCreated || batch.ItemsCreated != massItems {
				b.unexpected.Add(1)
				errs++
				return nil
			}
			m.tally.created[0].Add(massItems)
			m.tally.milli[0].Add(massItems * milliOf(massAmount))
			lat = append(lat, took)
			accepted += massItems
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	f := figure{name: "mass_payout", unit: "items/s", value: float64(accepted) / time.Since(start).Seconds(), errors: errs, hasLatency: true}
	f.p50, f.p99, f.p999 = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 0.999)
	b.figures = append(b.figures, f)
	fmt.Printf("  %.0f items/s  accept p50 %.1f ms  p99 %.1f ms  errors %d\n", f.value, f.p50, f.p99, errs)
	return nil
}
