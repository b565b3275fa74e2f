package handlers_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

// 100 parallel withdrawals against a balance that affords exactly 37.
func TestConcurrentWithdrawalsNeverOverdraw(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Hot merchant")
	env.Credit(merchantID, "USDT", "370") // 37 x 10 USDT

	answers := env.SendConcurrently(100, apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Body: map[string]any{"token": "USDT", "amount": "10", "address": apitest.ETHAddress}})
	created, refused := 0, 0
	for _, r := range answers {
		switch {
		case r.Status == http.StatusCreated:
			created++
		case r.Status == http.StatusBadRequest && r.ErrorCode() == "INSUFFICIENT_BALANCE":
			refused++
		default:
			t.Errorf("unexpected answer %d %s", r.Status, r.Body)
		}
	}
	if created != 37 || refused != 63 {
		t.Errorf("created %d, refused %d; want 37 and 63", created, refused)
	}
	available, pending := env.Balance(key, "USDT")
	if !available.IsZero() || !pending.Equal(decimal.NewFromInt(370)) {
		t.Errorf("balance: available %s pending %s", available, pending)
	}
	var rows int64
	env.DB.Table("withdrawals").Count(&rows)
	if rows != 37 {
		t.Errorf("%d withdrawal rows, want 37", rows)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// Parallel withdrawals of many merchants do not interfere with each other.
func TestConcurrentWithdrawalsAcrossMerchants(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	const merchants, each = 5, 8
	keys := make([]string, merchants)
	for i := range keys {
		var id string
		id, keys[i] = env.Merchant(fmt.Sprintf("m%d", i))
		env.Credit(id, "BTC", "0.1")
	}
	var wg sync.WaitGroup
	for _, key := range keys {
		for j := 0; j < each; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := env.Send(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
					Body: map[string]any{"token": "BTC", "amount": 0.01, "address": apitest.BTCAddress}})
				if err != nil || r.Status != http.StatusCreated {
					t.Errorf("create: %v %d %s", err, r.Status, r.Body)
				}
			}()
		}
	}
	wg.Wait()
	for _, key := range keys {
		available, pending := env.Balance(key, "BTC")
		if !available.Equal(decimal.RequireFromString("0.02")) || !pending.Equal(decimal.RequireFromString("0.08")) {
			t.Errorf("balance: %s/%s", available, pending)
		}
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}
