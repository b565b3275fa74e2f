package handlers_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/paycore/withdrawals/internal/apitest"
)

func TestMetricsExposeTheService(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "BTC", "1")
	env.Withdraw(key, "BTC", "0.01", apitest.BTCAddress)
	env.Withdraw(key, "BTC", "0.02", apitest.BTCAddress)
	ctx := context.Background()
	batches, err := env.App.Payouts.ClaimAll(ctx)
	if err != nil || len(batches) != 1 {
		t.Fatalf("claim: %v %v", batches, err)
	}
	if err := env.App.Payouts.Submit(ctx, batches[0]); err != nil {
		t.Fatal(err)
	}

	env.Withdraw(key, "BTC", "0.03", apitest.BTCAddress) // waiting for the next batch

	env.Balance(key, "BTC") // from the database
	env.Balance(key, "BTC") // from the cache
	if _, err := env.App.Ledger.Reconcile(ctx, false); err != nil {
		t.Fatal(err)
	}

	// The API does not serve metrics: they are on a listener of their own.
	if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/metrics"}); r.Status != http.StatusNotFound {
		t.Errorf("GET /metrics on the API port: %d", r.Status)
	}
	resp, err := http.Get(env.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(raw)
	for _, want := range []string{
		`withdrawals_http_request_duration_seconds_count{method="POST",route="/api/withdrawals",status="201"} 3`,
		`withdrawals_by_status{status="confirmed",token="BTC"} 2`,
		`withdrawals_payout_batch_size_count{token="BTC"} 1`,
		`withdrawals_payout_provider_duration_seconds_count{operation="submit",outcome="ok"} 1`,
		`withdrawals_job_queue_depth{queue="default",state="available"}`,
		`withdrawals_group_commit_size_count 3`, // the withdrawals were created one after the other
		`withdrawals_group_commit_size_sum 3`,
		`withdrawals_group_commit_duration_seconds_count 3`,
		`withdrawals_balance_reads_total{source="cache"} 1`,
		`withdrawals_balance_reads_total{source="database"} 1`,
		`withdrawals_build_info{goversion="go`,
		`withdrawals_funds_locked{token="BTC"} 0.03`, // the two paid are confirmed at once by the sandbox
		`withdrawals_oldest_waiting_seconds{status="pending",token="BTC"} `,
		`withdrawals_payout_batches_needs_review 0`,
		`withdrawals_webhook_endpoints_disabled 0`,
		`withdrawals_reconciliation_ok 1`,
		`withdrawals_reconciliation_discrepancies 0`,
		`withdrawals_reconciliation_last_run_timestamp_seconds `,
		`withdrawals_reconciliation_last_success_timestamp_seconds `,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, key) || strings.Contains(body, apitest.BTCAddress) {
		t.Error("metrics expose a key or an address")
	}
	// Every metric the alert rules use is one the service serves.
	rules, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`withdrawals_[a-z_]+`).FindAllString(string(rules), -1) {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("the alert rules use %s, which /metrics does not serve", name)
		}
	}
}
