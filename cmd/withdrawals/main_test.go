package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/app"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/accounts"
)

func TestAdminCreateKeyPrintsOnlyTheKey(t *testing.T) {
	db, dbURL := testdb.New(t)
	t.Setenv("DATABASE_URL", dbURL)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"admin", "create-key", "--name", "ops"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v (%s)", err, stderr.String())
	}
	key := strings.TrimSuffix(stdout.String(), "\n")
	if !regexp.MustCompile(`^wk_[0-9A-Za-z]{40}$`).MatchString(key) {
		t.Fatalf("stdout is not just a key: %q", stdout.String())
	}
	p, err := admin(t, db).Authenticate(context.Background(), key)
	if err == nil && p.Role != "admin" {
		t.Errorf("role %s", p.Role)
	}
	if err != nil {
		t.Errorf("printed key does not authenticate: %v", err)
	}
	if err := run(context.Background(), []string{"admin", "create-key"}, &stdout, &stderr); err == nil {
		t.Error("create-key without --name succeeded")
	}
}

func TestMigrateCreatesMissingDatabase(t *testing.T) {
	u, _ := url.Parse(testdb.AdminURL())
	u.Path = "/wtest_missing_" + strings.ToLower(t.Name()[len(t.Name())-8:])
	t.Setenv("DATABASE_URL", u.String())
	drop := func() {
		conn, err := pgx.Connect(context.Background(), testdb.AdminURL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+strings.TrimPrefix(u.Path, "/")+" WITH (FORCE)")
	}
	drop()
	t.Cleanup(drop)
	var stdout, stderr bytes.Buffer
	for i := 0; i < 2; i++ { // twice: applying migrations again changes nothing
		if err := run(context.Background(), []string{"migrate"}, &stdout, &stderr); err != nil {
			t.Fatalf("migrate #%d: %v (%s)", i+1, err, stderr.String())
		}
	}
	if err := run(context.Background(), []string{"bogus"}, &stdout, &stderr); err == nil {
		t.Error("unknown command succeeded")
	}
}

func TestAdminReconcileExitsNonZeroOnDiscrepancy(t *testing.T) {
	db, dbURL := testdb.New(t)
	t.Setenv("DATABASE_URL", dbURL)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"admin", "reconcile"}, &stdout, &stderr); err != nil {
		t.Fatalf("clean ledger: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), `"ok": true`) {
		t.Errorf("report: %s", stdout.String())
	}
	acc := admin(t, db)
	m, err := acc.CreateMerchant(context.Background(), "Acme", "test")
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`UPDATE balances SET available = 7 WHERE merchant_id = ? AND token = 'BTC'`, m.ID)
	for _, args := range [][]string{{"admin", "reconcile"}, {"admin", "reconcile", "--full"}} {
		stdout.Reset()
		err = run(context.Background(), args, &stdout, &stderr)
		if !errors.Is(err, errDiscrepancy) || !strings.Contains(stdout.String(), "balance_mismatch") {
			t.Errorf("%v on a corrupted ledger: err %v, report %s", args, err, stdout.String())
		}
		if full := strings.Contains(stdout.String(), `"full": true`); full != (len(args) == 3) {
			t.Errorf("%v: report %s", args, stdout.String())
		}
	}
}

func TestServeStopsCleanlyOnSignal(t *testing.T) {
	_, dbURL := testdb.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("HTTP_ADDR", addr)
	t.Setenv("SHUTDOWN_TIMEOUT", "5s")

	ctx, cancel := context.WithCancel(context.Background()) // main cancels it on SIGTERM
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, io.Discard, &stderr) }()

	ready := false
	for deadline := time.Now().Add(15 * time.Second); !ready && time.Now().Before(deadline); {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			ready = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
		if !ready {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !ready {
		t.Fatal("serve never became ready")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within its shutdown deadline")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("no shutdown log line: %s", stderr.String())
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

// The CLI's keys are audited as the operating system user's, and can be read-only.
func TestAdminCreateKeyIsAuditedAndScoped(t *testing.T) {
	db, dbURL := testdb.New(t)
	t.Setenv("DATABASE_URL", dbURL)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"admin", "create-key", "--name", "dashboards", "--scope", "read"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v (%s)", err, stderr.String())
	}
	p, err := admin(t, db).Authenticate(context.Background(), strings.TrimSpace(stdout.String()))
	if err != nil || p.Role != "admin" || p.Scope != "read" {
		t.Fatalf("key: %+v %v", p, err)
	}
	var audit struct{ Actor, Action, TargetID string }
	db.Raw(`SELECT actor, action, target_id FROM admin_actions`).Scan(&audit)
	if !strings.HasPrefix(audit.Actor, "cli:") || audit.Action != "api_key.create" || audit.TargetID != p.KeyID {
		t.Errorf("audit record %+v", audit)
	}
	if err := run(context.Background(), []string{"admin", "create-key", "--name", "x", "--scope", "god"}, &stdout, &stderr); err == nil {
		t.Error("an unknown scope was accepted")
	}
}

// Each start in demo mode prints new keys and revokes those of the start before.
func TestDemoSeedRevokesTheKeysOfEarlierStarts(t *testing.T) {
	db, _ := testdb.New(t)
	acc := admin(t, db)
	keys := regexp.MustCompile(`(?m)^  export (MERCHANT|ADMIN)_KEY=(wk_\w+)$`)
	seed := func() []string {
		var out bytes.Buffer
		if err := seedDemo(context.Background(), acc, "127.0.0.1:8080", &out); err != nil {
			t.Fatal(err)
		}
		var found []string
		for _, m := range keys.FindAllStringSubmatch(out.String(), -1) {
			found = append(found, m[2])
		}
		if len(found) != 2 {
			t.Fatalf("demo output: %s", out.String())
		}
		return found
	}
	first, second := seed(), seed()
	for _, k := range first {
		if _, err := acc.Authenticate(context.Background(), k); !errors.Is(err, services.ErrUnauthorized) {
			t.Errorf("a key of the first start still works: %v", err)
		}
	}
	for _, k := range second {
		if _, err := acc.Authenticate(context.Background(), k); err != nil {
			t.Errorf("a key of the latest start is refused: %v", err)
		}
	}
	var live int64
	db.Raw(`SELECT count(*) FROM api_keys WHERE revoked_at IS NULL`).Scan(&live)
	if live != 2 {
		t.Errorf("%d live keys after two starts, want 2", live)
	}
}

func admin(t *testing.T, db *gorm.DB) *accounts.Service {
	t.Helper()
	a, err := app.NewAdmin(db, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return a.Accounts
}
