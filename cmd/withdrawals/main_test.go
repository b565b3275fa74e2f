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

	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/services"
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
	p, err := services.NewAccounts(db, time.Now).Authenticate(context.Background(), key)
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
	accounts := services.NewAccounts(db, time.Now)
	m, err := accounts.CreateMerchant(context.Background(), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`UPDATE balances SET available = 7 WHERE merchant_id = ? AND token = 'BTC'`, m.ID)
	stdout.Reset()
	err = run(context.Background(), []string{"admin", "reconcile"}, &stdout, &stderr)
	if !errors.Is(err, errDiscrepancy) || !strings.Contains(stdout.String(), "balance_mismatch") {
		t.Errorf("corrupted ledger: err %v, report %s", err, stdout.String())
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
