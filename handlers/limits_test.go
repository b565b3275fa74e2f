package handlers_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

// Limits per withdrawal, per 24 hours and per 7 days: a merchant's own replace the
// default; requests sent at once cannot pass a limit together; refusals name the limit
// and what remains and change nothing; cancelled withdrawals give their room back.
func TestVelocityLimits(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	env := apitest.New(t, func(o *apitest.Options) {
		o.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	mid, key := env.Merchant("Limited")
	env.Credit(mid, "USDT", "10000")
	_, otherKey := env.Merchant("Default only")
	setLimits := func(body map[string]any) apitest.Response {
		return env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/admin/limits", Key: env.AdminKey, Body: body})
	}
	if r := setLimits(map[string]any{"token": "USDT", "perWithdrawal": "5000"}); r.Status != http.StatusOK || r.JSON()["merchantId"] != nil {
		t.Fatalf("default: %d %s", r.Status, r.Body)
	}
	if r := setLimits(map[string]any{"merchantId": mid, "token": "USDT", "perWithdrawal": "50", "perDay": "100", "perWeek": "150"}); r.Status != http.StatusOK {
		t.Fatalf("merchant's own: %d %s", r.Status, r.Body)
	}
	for _, bad := range []map[string]any{
		{"token": "USDT", "perDay": "-1"}, {"token": "USDT", "perDay": "0.0000001"}, {"token": "NOPE", "perDay": "1"},
	} {
		if r := setLimits(bad); r.Status != http.StatusBadRequest {
			t.Errorf("%v: %d %s", bad, r.Status, r.Body)
		}
	}
	if r := setLimits(map[string]any{"merchantId": "mer_0000000000000000", "token": "USDT"}); r.Status != http.StatusNotFound {
		t.Errorf("unknown merchant: %d", r.Status)
	}

	create := func(key, amount string) apitest.Response {
		return env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
			Body: map[string]any{"token": "USDT", "amount": amount, "address": apitest.ETHAddress}})
	}
	r := create(key, "60")
	if r.Status != http.StatusBadRequest || r.ErrorCode() != "LIMIT_EXCEEDED" || !strings.Contains(string(r.Body), "at most 50 USDT") {
		t.Errorf("over the per-withdrawal limit: %d %s", r.Status, r.Body)
	}
	if r := create(otherKey, "6000"); r.ErrorCode() != "LIMIT_EXCEEDED" {
		t.Errorf("another merchant, over the default: %d %s", r.Status, r.Body)
	}

	// Twenty requests of 10 at once against 100 a day: ten pass, ten are refused.
	responses := env.SendConcurrently(20, apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Body: map[string]any{"token": "USDT", "amount": "10", "address": apitest.ETHAddress}})
	created, refused := 0, 0
	var firstID string
	for _, r := range responses {
		switch {
		case r.Status == http.StatusCreated:
			created++
			firstID = r.JSON()["id"].(string)
		case r.ErrorCode() == "LIMIT_EXCEEDED":
			refused++
		default:
			t.Errorf("unexpected answer %d %s", r.Status, r.Body)
		}
	}
	if created != 10 || refused != 10 {
		t.Fatalf("%d created and %d refused, want 10 and 10", created, refused)
	}
	if avail, pending := env.Balance(key, "USDT"); !avail.Equal(decimal.NewFromInt(9900)) || !pending.Equal(decimal.NewFromInt(100)) {
		t.Errorf("balance %s available, %s pending; want 9900 and 100", avail, pending)
	}
	r = create(key, "5")
	if r.ErrorCode() != "LIMIT_EXCEEDED" || !strings.Contains(string(r.Body), "24-hour limit of 100 USDT: 0 USDT remains") {
		t.Errorf("at the daily limit: %d %s", r.Status, r.Body)
	}
	// A cancelled withdrawal gives its room back.
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals/" + firstID + "/cancel", Key: key})
	if r := create(key, "10"); r.Status != http.StatusCreated {
		t.Errorf("after a cancel: %d %s", r.Status, r.Body)
	}
	// A day later the daily limit has room again, the weekly one only 50.
	mu.Lock()
	now = now.Add(25 * time.Hour)
	mu.Unlock()
	if r := create(key, "50"); r.Status != http.StatusCreated {
		t.Errorf("the next day: %d %s", r.Status, r.Body)
	}
	r = create(key, "10")
	if r.ErrorCode() != "LIMIT_EXCEEDED" || !strings.Contains(string(r.Body), "7-day limit of 150 USDT: 0 USDT remains") {
		t.Errorf("at the weekly limit: %d %s", r.Status, r.Body)
	}
	var list struct {
		Limits []struct{ MerchantID *string }
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/limits?merchantId=" + mid, Key: env.AdminKey}).Decode(t, &list)
	if len(list.Limits) != 2 || list.Limits[0].MerchantID != nil {
		t.Errorf("limits listed: %+v", list.Limits)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}
