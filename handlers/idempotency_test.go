package handlers_test

import (
	"net/http"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "BTC", "1")
	headers := map[string]string{"Idempotency-Key": "order-123"}

	first := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Header: headers,
		Body: `{"token":"BTC","amount":0.001,"address":"` + apitest.BTCAddress + `","metadata":{"b":1,"a":"x"}}`})
	if first.Status != http.StatusCreated || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v %s", first.Status, first.Header, first.Body)
	}
	// Same request, spelled differently: amount as a string with a trailing zero, keys reordered.
	replay := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Header: headers,
		Body: `{"metadata":{"a":"x","b":1},"address":"` + apitest.BTCAddress + `","amount":"0.0010","token":"BTC"}`})
	if replay.Status != http.StatusCreated || replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v %s", replay.Status, replay.Header, replay.Body)
	}
	if string(replay.Body) != string(first.Body) {
		t.Errorf("replay body differs:\n%s\n%s", first.Body, replay.Body)
	}
	available, _ := env.Balance(key, "BTC")
	if !available.Equal(decimal.RequireFromString("0.999")) {
		t.Errorf("locked twice: available %s", available)
	}

	mismatch := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Header: headers,
		Body: map[string]any{"token": "BTC", "amount": "0.002", "address": apitest.BTCAddress}})
	if mismatch.Status != http.StatusUnprocessableEntity || mismatch.ErrorCode() != "IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("mismatch: %d %s", mismatch.Status, mismatch.Body)
	}

	// Keys are scoped per merchant: another merchant may use the same key.
	otherID, otherKey := env.Merchant("Other")
	env.Credit(otherID, "BTC", "1")
	other := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: otherKey, Header: headers,
		Body: map[string]any{"token": "BTC", "amount": "0.002", "address": apitest.BTCAddress}})
	if other.Status != http.StatusCreated || other.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("other merchant, same key: %d %s", other.Status, other.Body)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

func TestIdempotencyKeyNotBoundByFailedRequest(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	headers := map[string]string{"Idempotency-Key": "retry-me"}
	body := map[string]any{"token": "ETH", "amount": "1", "address": apitest.ETHAddress}

	refused := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Header: headers, Body: body})
	if refused.ErrorCode() != "INSUFFICIENT_BALANCE" {
		t.Fatalf("want INSUFFICIENT_BALANCE, got %d %s", refused.Status, refused.Body)
	}
	bad := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Header: headers,
		Body: map[string]any{"token": "ETH", "amount": "1", "address": "0x123"}})
	if bad.ErrorCode() != "INVALID_ADDRESS" {
		t.Fatalf("want INVALID_ADDRESS, got %d %s", bad.Status, bad.Body)
	}
	env.Credit(merchantID, "ETH", "2")
	ok := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Header: headers, Body: body})
	if ok.Status != http.StatusCreated {
		t.Fatalf("retry after funding: %d %s", ok.Status, ok.Body)
	}
	// Once bound, a replay is answered even though the balance would no longer cover it.
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Body: map[string]any{"token": "ETH", "amount": "1", "address": apitest.ETHAddress}})
	replay := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Header: headers, Body: body})
	if replay.Status != http.StatusCreated || replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay with spent balance: %d %s", replay.Status, replay.Body)
	}
}

func TestIdempotencyKeyValidation(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "ETH", "2")
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'k'
	}
	for name, value := range map[string]string{"too long": string(long), "control character": "a\tb", "non-ASCII": "clé"} {
		r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Header: map[string]string{"Idempotency-Key": value},
			Body: map[string]any{"token": "ETH", "amount": "1", "address": apitest.ETHAddress}})
		if r.Status != http.StatusBadRequest || r.ErrorCode() != "INVALID_REQUEST" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	available, _ := env.Balance(key, "ETH")
	if !available.Equal(decimal.NewFromInt(2)) {
		t.Errorf("refused requests changed the balance: %s", available)
	}
}

// 20 parallel requests with one key create exactly one withdrawal.
func TestConcurrentRequestsWithOneKey(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "1000")

	answers := env.SendConcurrently(20, apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Header: map[string]string{"Idempotency-Key": "payroll-2024-12"},
		Body:   map[string]any{"token": "USDT", "amount": "25", "address": apitest.ETHAddress}})

	ids := map[string]bool{}
	fresh := 0
	for _, r := range answers {
		switch {
		case r.Status == http.StatusCreated:
			ids[r.JSON()["id"].(string)] = true
			if r.Header.Get("Idempotent-Replayed") != "true" {
				fresh++
			}
		case r.Status == http.StatusConflict && r.ErrorCode() == "IDEMPOTENCY_KEY_IN_USE":
		default:
			t.Errorf("unexpected %d %s", r.Status, r.Body)
		}
	}
	if len(ids) != 1 || fresh != 1 {
		t.Errorf("%d distinct withdrawals, %d fresh creations; want 1 and 1", len(ids), fresh)
	}
	available, pending := env.Balance(key, "USDT")
	if !available.Equal(decimal.NewFromInt(975)) || !pending.Equal(decimal.NewFromInt(25)) {
		t.Errorf("balance %s/%s", available, pending)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}
