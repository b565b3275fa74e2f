package handlers_test

import (
	"context"
	"io"
	"net/http"
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

	env.Balance(key, "BTC") // from the database
	env.Balance(key, "BTC") // from the cache

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
		`http_request_duration_seconds_count{method="POST",route="/api/withdrawals",status="201"} 2`,
		`withdrawals{status="confirmed",token="BTC"} 2`,
		`payout_batch_size_count{token="BTC"} 1`,
		`payout_provider_duration_seconds_count{operation="submit",outcome="ok"} 1`,
		`job_queue_depth{queue="default",state="available"}`,
		`withdrawal_group_size_count 2`, // the two withdrawals were created one after the other
		`withdrawal_group_size_sum 2`,
		`withdrawal_group_duration_seconds_count 2`,
		`balance_reads_total{source="cache"} 1`,
		`balance_reads_total{source="database"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, key) || strings.Contains(body, apitest.BTCAddress) {
		t.Error("metrics expose a key or an address")
	}
}
