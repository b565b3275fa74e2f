package withdrawals_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	withdrawals "github.com/paycore/withdrawals/sdk/go"
)

// The DCE Pay guide's integration, written with the client against the real service:
// check the balance, create a withdrawal with an idempotency key (and retry it), list
// and get it, and receive and verify its confirmed webhook. sdk/sdk_test.go in the
// service's module starts the binary on its own database, creates a merchant with a
// USDT balance, and runs this test with WITHDRAWALS_URL and MERCHANT_KEY.
func TestJourney(t *testing.T) {
	url, key := os.Getenv("WITHDRAWALS_URL"), os.Getenv("MERCHANT_KEY")
	if url == "" || key == "" {
		t.Fatal("WITHDRAWALS_URL and MERCHANT_KEY are not set: run this test through sdk/sdk_test.go (make test)")
	}
	ctx := context.Background()
	client, err := withdrawals.New(url, key)
	if err != nil {
		t.Fatal(err)
	}

	// The merchant's webhook endpoint, keeping every request as received.
	type delivery struct {
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var deliveries []delivery
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		deliveries = append(deliveries, delivery{r.Header.Clone(), body})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	description := "orders"
	ep, err := client.CreateWebhookEndpointWithResponse(ctx, withdrawals.CreateWebhookEndpointRequest{Url: receiver.URL + "/webhooks", Description: &description})
	if err != nil || withdrawals.Check(ep.HTTPResponse, ep.Body) != nil {
		t.Fatalf("webhook endpoint: %v %v", err, withdrawals.Check(ep.HTTPResponse, ep.Body))
	}
	verifier, err := withdrawals.NewWebhookVerifier(ep.JSON201.Secret)
	if err != nil {
		t.Fatal(err)
	}

	if got := usdtAvailable(t, client); got != "1000" {
		t.Fatalf("USDT available before: %q", got)
	}

	idempotencyKey := withdrawals.NewIdempotencyKey()
	network := "ethereum"
	metadata := map[string]any{"orderId": "order-1001"}
	body := withdrawals.CreateWithdrawalRequest{Token: "USDT", Network: &network, Amount: withdrawals.AmountOf("25"),
		Address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", Metadata: &metadata}
	first, err := client.CreateWithdrawalWithResponse(ctx, withdrawals.Idempotent(idempotencyKey), body)
	if err != nil || first.JSON201 == nil {
		t.Fatalf("create: %v %v", err, withdrawals.Check(first.HTTPResponse, first.Body))
	}
	created := first.JSON201
	if created.Status != withdrawals.WithdrawalStatusPending || created.Amount != "25" {
		t.Fatalf("created: %+v", created)
	}
	// The same key again (a retry after a timeout): the same withdrawal, nothing locked twice.
	retry, err := client.CreateWithdrawalWithResponse(ctx, withdrawals.Idempotent(idempotencyKey), body)
	if err != nil || retry.JSON201 == nil || retry.JSON201.Id != created.Id || retry.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %v %s", err, retry.Body)
	}

	token, limit := "USDT", 10
	list, err := client.ListWithdrawalsWithResponse(ctx, &withdrawals.ListWithdrawalsParams{Token: &token, Limit: &limit})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Withdrawals) != 1 || list.JSON200.Withdrawals[0].Id != created.Id {
		t.Fatalf("list: %v %s", err, list.Body)
	}

	var confirmed *withdrawals.Withdrawal
	waitFor(t, "the withdrawal confirmed", 60*time.Second, func() bool {
		got, err := client.GetWithdrawalWithResponse(ctx, created.Id)
		if err != nil || got.JSON200 == nil {
			t.Fatalf("get: %v", err)
		}
		confirmed = got.JSON200
		return confirmed.Status == withdrawals.WithdrawalStatusConfirmed
	})
	if confirmed.TxHash == nil {
		t.Fatal("confirmed without a txHash")
	}

	var event withdrawals.WithdrawalConfirmedEvent
	waitFor(t, "the withdrawal.confirmed webhook", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range deliveries {
			e, err := verifier.Verify(d.body, d.header)
			if err != nil {
				t.Fatalf("a delivery does not verify: %v", err)
			}
			if e.Type == "withdrawal.confirmed" {
				if err := e.Decode(&event); err != nil {
					t.Fatal(err)
				}
				return event.Data.Id == created.Id
			}
		}
		return false
	})
	if event.Data.TxHash != *confirmed.TxHash || event.Data.NetAmount != created.NetAmount || event.Data.Metadata["orderId"] != "order-1001" {
		t.Errorf("confirmed event: %+v", event.Data)
	}
	// A body changed on the way no longer verifies.
	mu.Lock()
	tampered := strings.Replace(string(deliveries[0].body), `"25"`, `"2500"`, 1)
	_, err = verifier.Verify([]byte(tampered), deliveries[0].header)
	mu.Unlock()
	if err == nil {
		t.Error("a tampered body verified")
	}

	if got := usdtAvailable(t, client); got != "975" {
		t.Errorf("USDT available after: %q", got)
	}

	// An error answer: its code and request id, and nothing created.
	bad, err := client.CreateWithdrawalWithResponse(ctx, withdrawals.Idempotent(withdrawals.NewIdempotencyKey()),
		withdrawals.CreateWithdrawalRequest{Token: "USDT", Network: &network, Amount: withdrawals.AmountOf("5"), Address: "0x123"})
	if err != nil {
		t.Fatal(err)
	}
	var apiErr *withdrawals.APIError
	if !errors.As(withdrawals.Check(bad.HTTPResponse, bad.Body), &apiErr) || apiErr.Status != 400 || apiErr.Code != "INVALID_ADDRESS" || apiErr.RequestID == "" {
		t.Errorf("bad address: %+v", apiErr)
	}
}

func usdtAvailable(t *testing.T, client *withdrawals.ClientWithResponses) string {
	t.Helper()
	resp, err := client.GetBalanceWithResponse(context.Background())
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("balance: %v", err)
	}
	for _, b := range resp.JSON200.Balances {
		if b.Token == "USDT" {
			return b.Available
		}
	}
	return ""
}

func waitFor(t *testing.T, what string, limit time.Duration, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !done(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
	}
}
