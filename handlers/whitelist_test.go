package handlers_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/apitest"
)

func TestWhitelistEnforcementAndCooldowns(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	env := apitest.New(t, func(o *apitest.Options) {
		o.WhitelistCooldown = 24 * time.Hour
		o.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "ETH", "10")
	const listed = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
	withdraw := func(addr string) apitest.Response {
		return env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
			Body: map[string]any{"token": "ETH", "amount": "0.1", "address": addr}})
	}
	settings := func(enabled bool) map[string]any {
		r := env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/whitelist/settings", Key: key, Body: map[string]any{"enabled": enabled}})
		if r.Status != http.StatusOK {
			t.Fatalf("settings: %d %s", r.Status, r.Body)
		}
		return r.JSON()
	}

	if r := withdraw(apitest.ETHAddress); r.Status != http.StatusCreated {
		t.Fatalf("whitelist off: %d %s", r.Status, r.Body)
	}
	if s := settings(true); s["enforced"] != true {
		t.Fatalf("enabling is immediate: %v", s)
	}
	if r := withdraw(listed); r.Status != http.StatusBadRequest || r.ErrorCode() != "ADDRESS_NOT_WHITELISTED" {
		t.Fatalf("unlisted address: %d %s", r.Status, r.Body)
	}

	// A new entry waits for the cooldown; the lower-case spelling of the address matches.
	add := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/whitelist", Key: key,
		Body: map[string]any{"token": "ETH", "address": strings.ToLower(listed), "label": "treasury"}})
	if add.Status != http.StatusCreated || add.JSON()["usable"] != false {
		t.Fatalf("add: %d %s", add.Status, add.Body)
	}
	if r := withdraw(listed); r.ErrorCode() != "ADDRESS_NOT_WHITELISTED" {
		t.Errorf("during the cooldown: %d %s", r.Status, r.Body)
	}
	advance(24 * time.Hour)
	if r := withdraw(listed); r.Status != http.StatusCreated {
		t.Errorf("after the cooldown: %d %s", r.Status, r.Body)
	}
	if r := withdraw(apitest.ETHAddress); r.ErrorCode() != "ADDRESS_NOT_WHITELISTED" {
		t.Errorf("another address: %d %s", r.Status, r.Body)
	}

	// Turning enforcement off also waits for the cooldown.
	off := settings(false)
	if off["enabled"] != false || off["enforced"] != true || off["enforcedUntil"] == nil {
		t.Fatalf("off: %v", off)
	}
	if r := withdraw(apitest.ETHAddress); r.ErrorCode() != "ADDRESS_NOT_WHITELISTED" {
		t.Errorf("off, during the cooldown: %d %s", r.Status, r.Body)
	}
	advance(24*time.Hour + time.Second)
	if r := withdraw(apitest.ETHAddress); r.Status != http.StatusCreated {
		t.Errorf("off, after the cooldown: %d %s", r.Status, r.Body)
	}

	// Bad entries are refused; removal is immediate.
	for _, body := range []map[string]any{
		{"token": "ETH", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"},
		{"token": "BTC", "address": apitest.ETHAddress},
		{"token": "DOGE", "address": listed},
	} {
		if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/whitelist", Key: key, Body: body}); r.Status != http.StatusBadRequest {
			t.Errorf("%v: %d %s", body, r.Status, r.Body)
		}
	}
	if dup := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/whitelist", Key: key, Body: map[string]any{"token": "ETH", "address": listed}}); dup.Status != http.StatusConflict {
		t.Errorf("duplicate: %d", dup.Status)
	}
	settings(true)
	id := add.JSON()["id"].(string)
	if r := env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/whitelist/" + id, Key: key}); r.Status != http.StatusNoContent {
		t.Fatalf("remove: %d", r.Status)
	}
	if r := withdraw(listed); r.ErrorCode() != "ADDRESS_NOT_WHITELISTED" {
		t.Errorf("removed entry still usable: %d %s", r.Status, r.Body)
	}
	var list struct {
		Settings struct{ Enabled, Enforced bool }
		Entries  []any
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/whitelist", Key: key}).Decode(t, &list)
	if !list.Settings.Enforced || len(list.Entries) != 0 {
		t.Errorf("whitelist: %+v", list)
	}
}
