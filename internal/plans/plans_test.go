// Package plans_test checks how PostgreSQL runs every listing of history (merchant and
// admin withdrawals with each filter, payout batches, webhook deliveries, the audit
// log): on a seeded database it captures the SQL each request sends and reads its
// EXPLAIN. A page must walk an index in the listing's order and stop after the page (a
// count, after services.CountBound rows): no sequential scan, no bitmap scan and no sort
// of the history's rows, so its cost does not grow with the history. A new listing or
// filter without its index fails here.
package plans_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/history"
)

// history tables: what grows with the history
var historyTables = map[string]bool{"withdrawals": true, "webhook_deliveries": true, "webhook_events": true,
	"payout_batches": true, "admin_actions": true, "ledger_entries": true, "ledger_journals": true, "webhook_attempts": true}

func TestListingPlans(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ctx := context.Background()
	merchantID, key := env.Merchant("Busy")
	otherID, _ := env.Merchant("Other")
	sqlDB, err := env.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		id string
		n  int
	}{{merchantID, 60_000}, {otherID, 20_000}} {
		if _, err := history.Grow(ctx, sqlDB, m.id, m.n, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	seedOthers(t, env.DB, merchantID)
	env.Credit(merchantID, "USDT", "100")
	for range 3 { // pending ones, newer than the history
		env.Withdraw(key, "USDT", "10", apitest.ETHAddress)
	}
	if err := env.DB.Exec(`ANALYZE`).Error; err != nil {
		t.Fatal(err)
	}
	var deep, deepBatch, deepDelivery, deepRecord string
	env.DB.Raw(`SELECT id FROM withdrawals WHERE merchant_id = ? ORDER BY created_at, id OFFSET 1000 LIMIT 1`, merchantID).Scan(&deep)
	env.DB.Raw(`SELECT id FROM payout_batches ORDER BY created_at, id OFFSET 100 LIMIT 1`).Scan(&deepBatch)
	env.DB.Raw(`SELECT id FROM webhook_deliveries ORDER BY created_at, id OFFSET 1000 LIMIT 1`).Scan(&deepDelivery)
	env.DB.Raw(`SELECT id FROM admin_actions ORDER BY created_at, id OFFSET 1000 LIMIT 1`).Scan(&deepRecord)

	capture := &captured{}
	for _, cb := range []interface {
		Register(string, func(*gorm.DB)) error
	}{env.DB.Callback().Query().After("gorm:query"), env.DB.Callback().Row().After("gorm:row")} {
		if err := cb.Register("plans:capture", capture.add); err != nil {
			t.Fatal(err)
		}
	}

	var requests []apitest.Request
	add := func(path, key string, queries ...string) {
		for _, q := range queries {
			requests = append(requests, apitest.Request{Method: http.MethodGet, Path: path + "?" + q, Key: key})
		}
	}
	add("/api/withdrawals", key, "", "status=failed", "status=pending", "token=BTC", "network=tron", "token=USDT&network=tron",
		"status=failed&token=LTC", "status=cancelled&network=bitcoin", "startDate=2020-01-01&endDate=2030-01-01",
		"status=confirmed&startDate=2020-01-01", "offset=500", "page=3&limit=100", "startingAfter="+deep,
		"endingBefore="+deep, "token=ETH&startingAfter="+deep, "status=cancelled&endingBefore="+deep)
	add("/api/admin/withdrawals", env.AdminKey, "", "status=failed", "status=pending", "merchantId="+merchantID,
		"merchantId="+merchantID+"&status=cancelled", "merchantId="+merchantID+"&token=LTC", "token=USDT", "network=ethereum",
		"startingAfter="+deep, "merchantId="+merchantID+"&endingBefore="+deep)
	add("/api/admin/payout-batches", env.AdminKey, "", "status=completed", "status=needs_review", "startingAfter="+deepBatch)
	add("/api/webhook-deliveries", key, "", "status=failed", "eventType=withdrawal.failed", "endpointId=we_history",
		"startingAfter="+deepDelivery)
	add("/api/admin/audit-log", env.AdminKey, "", "action=merchant.credit", "actor=key_history2", "targetType=withdrawal&targetId=wth_h7",
		"startDate=2020-01-01", "startingAfter="+deepRecord)

	for _, r := range requests {
		capture.reset()
		if res := env.Do(r); res.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", r.Path, res.Status, res.Body)
		}
		pages := 0
		for _, s := range capture.take() {
			page := strings.Contains(s.sql, "LIMIT")
			plan := explain(t, env, s, page)
			if testing.Verbose() {
				t.Logf("%s\n%s\n%s", r.Path, s.sql, plan.text())
			}
			if !plan.tables().anyHistory() {
				continue
			}
			if bad := plan.problem(page); bad != "" {
				t.Errorf("%s: %s\n%s\n%s", r.Path, bad, s.sql, plan.text())
			}
			if page && strings.Contains(s.sql, "ORDER BY created_at") {
				pages++
				// The walk's filter (the other filter of a combined pair, a token across
				// merchants) may pass over rows, but a few per row shown: a filter whose
				// matches the index cannot find reads the whole history to fill a page.
				if returned, skipped := plan.limitRows(), plan.removed(); skipped > passOver(r.Path)*(returned+1) {
					t.Errorf("%s: the page passed over %.0f rows for %.0f\n%s\n%s", r.Path, skipped, returned, s.sql, plan.text())
				}
			}
		}
		if pages != 1 {
			t.Errorf("%s: %d page reads, want 1", r.Path, pages)
		}
	}
}

// passOver is how many rows per row shown a listing's walk may pass over. Across
// merchants a status is checked row by row on the newest-first walk (no index leads
// with the status: migration 00017 says why), so a page of failed withdrawals (4% of
// the seeded history) passes over about 25 per row; the statuses operators watch
// (pending, processing) are the newest.
func passOver(path string) float64 {
	if path == "/api/admin/withdrawals?status=failed" {
		return 40
	}
	return 10
}

// seedOthers writes the other listings' history: an endpoint's deliveries of its events,
// payout batches and audit records, in the thousands.
func seedOthers(t *testing.T, db *gorm.DB, merchantID string) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO webhook_endpoints (id, merchant_id, url, events, secret, created_at)
		 VALUES ('we_history', '` + merchantID + `', 'https://example.com/hook', '["withdrawal.confirmed"]', 'whsec_x', now())`,
		`INSERT INTO webhook_events (id, merchant_id, type, subject_id, payload, created_at)
		 SELECT 'evt_h' || i, '` + merchantID + `', CASE WHEN i % 20 = 0 THEN 'withdrawal.failed' ELSE 'withdrawal.confirmed' END,
		        'wth_h' || i, '{}', now() - make_interval(secs => i * 20)
		   FROM generate_series(1, 30000) AS i`,
		`INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, event_type, status, attempts, created_at, updated_at)
		 SELECT 'whd_' || substr(id, 5), id, 'we_history', merchant_id, type,
		        CASE WHEN created_at > now() - interval '1 hour' THEN 'failed' ELSE 'succeeded' END, 1, created_at, created_at
		   FROM webhook_events WHERE id LIKE 'evt_h%'`,
		`INSERT INTO payout_batches (id, token, network, status, item_count, total_amount, provider, created_at, updated_at)
		 SELECT 'bat_h' || i, 'USDT', 'ethereum', CASE WHEN i % 500 = 0 THEN 'needs_review' ELSE 'completed' END, 1, 1, 'sandbox',
		        now() - make_interval(secs => i * 60), now()
		   FROM generate_series(1, 5000) AS i`,
		`INSERT INTO admin_actions (id, actor, action, target_type, target_id, details, created_at)
		 SELECT 'act_h' || i, 'key_history' || i % 5, CASE WHEN i % 50 = 0 THEN 'merchant.credit' ELSE 'withdrawal.approve' END,
		        'withdrawal', 'wth_h' || i, '{}', now() - make_interval(secs => i * 30)
		   FROM generate_series(1, 30000) AS i`,
	} {
		if err := db.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
}

type statement struct {
	sql  string
	vars []any
}

type captured struct {
	mu   sync.Mutex
	list []statement
}

func (c *captured) add(db *gorm.DB) {
	if db.DryRun { // a subquery being built, sent within its outer statement
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, statement{sql: db.Statement.SQL.String(), vars: append([]any{}, db.Statement.Vars...)})
}

func (c *captured) reset() { c.mu.Lock(); c.list = nil; c.mu.Unlock() }

func (c *captured) take() []statement {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.list
}

// node is one node of an EXPLAIN (FORMAT JSON) plan.
type node struct {
	Type     string  `json:"Node Type"`
	Relation string  `json:"Relation Name"`
	Index    string  `json:"Index Name"`
	Cond     string  `json:"Index Cond"`
	Filter   string  `json:"Filter"`
	Rows     float64 `json:"Actual Rows"`
	Loops    float64 `json:"Actual Loops"`
	Removed  float64 `json:"Rows Removed by Filter"`
	Plans    []node  `json:"Plans"`
}

// explain asks for the statement's plan with sequential scans, bitmap scans and sorts
// priced out: the planner still uses them when nothing else can answer, so a plan
// without them proves an index serves the statement, whatever this small database's
// statistics would make the planner prefer today.
func explain(t *testing.T, env *apitest.Env, s statement, page bool) node {
	t.Helper()
	sqlDB, err := env.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	tx, err := sqlDB.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	// The items a page loads (a batch's withdrawals, a delivery's attempts) are sorted
	// after their index lookup: sorts stay allowed there.
	off := `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off`
	if page {
		off += `; SET LOCAL enable_sort = off; SET LOCAL enable_incremental_sort = off`
	}
	if _, err := tx.Exec(off); err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := tx.QueryRow("EXPLAIN (ANALYZE, FORMAT JSON) "+s.sql, s.vars...).Scan(&raw); err != nil {
		t.Fatalf("explain %s: %v", s.sql, err)
	}
	var plans []struct {
		Plan node `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(raw), &plans); err != nil || len(plans) != 1 {
		t.Fatalf("explain %s: %v", s.sql, err)
	}
	return plans[0].Plan
}

type tableSet map[string]bool

func (s tableSet) anyHistory() bool {
	for name := range s {
		if historyTables[name] {
			return true
		}
	}
	return false
}

func (n node) tables() tableSet {
	out := tableSet{}
	n.walk(func(n node) {
		if n.Relation != "" {
			out[n.Relation] = true
		}
	})
	return out
}

// limitRows is what the plan's first Limit returned.
func (n node) limitRows() float64 {
	rows := -1.0
	n.walk(func(m node) {
		if m.Type == "Limit" && rows < 0 {
			rows = m.Rows
		}
	})
	return max(rows, 0)
}

// removed is the rows the scans of history tables read and their filter dropped.
func (n node) removed() float64 {
	var out float64
	n.walk(func(m node) {
		if historyTables[m.Relation] {
			out += m.Removed * max(m.Loops, 1)
		}
	})
	return out
}

func (n node) walk(fn func(node)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

// problem says what makes the plan's cost grow with the history. A page (a statement
// with LIMIT) must not scan a history table sequentially or by bitmap, nor sort its
// rows; the rows a page loads for its items (a batch's withdrawals, a delivery's
// attempts) come by index.
func (n node) problem(page bool) string {
	var bad string
	n.walk(func(m node) {
		if bad != "" {
			return
		}
		switch {
		case m.Type == "Seq Scan" && historyTables[m.Relation]:
			bad = "sequential scan of " + m.Relation
		case page && m.Type == "Bitmap Heap Scan" && historyTables[m.Relation]:
			bad = "bitmap scan of " + m.Relation + " (reads every match)"
		case page && (m.Type == "Sort" || m.Type == "Incremental Sort") && m.tables().anyHistory():
			bad = "sort of history rows (reads every match before the first)"
		}
	})
	return bad
}

func (n node) text() string {
	var b strings.Builder
	var write func(node, int)
	write = func(m node, depth int) {
		fmt.Fprintf(&b, "%s%s %s %s cond=%s filter=%s rows=%.0f removed=%.0f\n", strings.Repeat("  ", depth), m.Type, m.Relation, m.Index,
			m.Cond, m.Filter, m.Rows, m.Removed)
		for _, c := range m.Plans {
			write(c, depth+1)
		}
	}
	write(n, 0)
	return b.String()
}
