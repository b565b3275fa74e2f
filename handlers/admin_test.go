package handlers_test

import (
	"net/http"
	"testing"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

func TestAdminFeesDCEPayExamples(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	admin := func(method string, body any) apitest.Response {
		return env.Do(apitest.Request{Method: method, Path: "/api/admin/withdrawal-fees", Key: env.AdminKey, Body: body})
	}

	// Seeded: default base 1 (USDT uses it), BTC, ETH and LTC their own.
	var overview struct {
		Default   struct{ BaseFee, MarkupRate string }
		Tokens    []struct{ Scope, BaseFee string }
		Effective []struct{ Token, Source, BaseFee string }
	}
	admin(http.MethodGet, nil).Decode(t, &overview)
	if overview.Default.BaseFee != "1" || overview.Default.MarkupRate != "0" || len(overview.Tokens) != 3 {
		t.Fatalf("seeded schedules: %+v", overview)
	}
	sources := map[string]string{}
	for _, e := range overview.Effective {
		sources[e.Token] = e.Source + ":" + e.BaseFee
	}
	if sources["USDT"] != "default:1" || sources["BTC"] != "token:0.00001" || sources["ETH"] != "token:0.0005" || sources["LTC"] != "token:0.0001" {
		t.Errorf("effective: %v", sources)
	}

	quote := func() map[string]any {
		r := admin(http.MethodPut, map[string]any{"amount": "100", "currency": "USDT"})
		if r.Status != http.StatusOK {
			t.Fatalf("test calculation: %d %s", r.Status, r.Body)
		}
		return r.JSON()["feeInfo"].(map[string]any)
	}
	if fi := quote(); fi["totalFees"] != "1" || fi["netAmount"] != "99" {
		t.Errorf("100 USDT at base 1: %v", fi)
	}

	// DCE Pay: base 1 + 5% of 100 USDT is a fee of 6, net 94.
	if r := admin(http.MethodPost, map[string]any{"baseFee": 1, "markupRate": 0.05, "enabled": true}); r.Status != http.StatusOK {
		t.Fatalf("set: %d %s", r.Status, r.Body)
	}
	fi := quote()
	breakdown := fi["feeBreakdown"].(map[string]any)
	if fi["totalFees"] != "6" || fi["netAmount"] != "94" || breakdown["markupRate"] != "5.00" || fi["feePercentage"] != "6.00" {
		t.Errorf("base 1 + 5%%: %v", fi)
	}

	// DCE Pay's admin example: baseFee 1.5, markupRate 0.02 gives 3.5 and 96.5.
	set := admin(http.MethodPost, map[string]any{"baseFee": "1.5", "markupRate": "0.02", "enabled": true})
	if set.Status != http.StatusOK || set.JSON()["scope"] != "default" || set.JSON()["markupRate"] != "0.02" {
		t.Fatalf("set: %d %s", set.Status, set.Body)
	}
	if fi := quote(); fi["totalFees"] != "3.5" || fi["netAmount"] != "96.5" {
		t.Errorf("base 1.5 + 2%%: %v", fi)
	}

	// A token's own schedule wins over the default; disabled means no fee.
	if r := admin(http.MethodPost, map[string]any{"token": "USDT", "baseFee": "2", "markupRate": "0", "enabled": false}); r.Status != http.StatusOK {
		t.Fatalf("set USDT: %d %s", r.Status, r.Body)
	}
	if fi := quote(); fi["totalFees"] != "0" || fi["netAmount"] != "100" {
		t.Errorf("disabled USDT schedule: %v", fi)
	}

	// Refused values change nothing.
	for _, body := range []map[string]any{
		{"baseFee": "-1", "markupRate": "0", "enabled": true},
		{"baseFee": "1", "markupRate": "1", "enabled": true},
		{"baseFee": "1", "markupRate": "1.5", "enabled": true},
		{"baseFee": "1", "markupRate": "0"},
		{"baseFee": "abc", "markupRate": "0", "enabled": true},
		{"token": "BTC", "baseFee": "0.000000001", "markupRate": "0", "enabled": true},
		{"token": "DOGE", "baseFee": "1", "markupRate": "0", "enabled": true},
		{"baseFee": "1", "markupRate": "0", "enabled": true, "extra": 1},
	} {
		if r := admin(http.MethodPost, body); r.Status != http.StatusBadRequest {
			t.Errorf("%v: %d %s", body, r.Status, r.Body)
		}
	}

	// Every accepted change is in the audit trail, newest first, with old and new values.
	var changes struct {
		Changes []struct {
			Scope, ChangedBy string
			Old              map[string]any
			New              map[string]any
		}
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/withdrawal-fees/changes", Key: env.AdminKey}).Decode(t, &changes)
	if len(changes.Changes) != 3 {
		t.Fatalf("audit trail has %d changes, want 3: %+v", len(changes.Changes), changes)
	}
	latest := changes.Changes[0]
	if latest.Scope != "USDT" || latest.Old != nil || latest.New["enabled"] != false || latest.ChangedBy == "" {
		t.Errorf("latest change: %+v", latest)
	}
	if prev := changes.Changes[1]; prev.Old["baseFee"] != "1" || prev.New["baseFee"] != "1.5" {
		t.Errorf("previous change: %+v", prev)
	}
}

func TestAdminMerchantsAndCredits(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	id, key := env.Merchant("Acme")
	env.Merchant("Beta")

	var list struct {
		Merchants  []struct{ ID, Name string }
		Pagination struct{ Total int }
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/merchants?limit=1", Key: env.AdminKey}).Decode(t, &list)
	if list.Pagination.Total != 2 || len(list.Merchants) != 1 || list.Merchants[0].Name != "Beta" {
		t.Errorf("merchants: %+v", list)
	}

	credit := func(body map[string]any) apitest.Response {
		return env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/merchants/" + id + "/credits", Key: env.AdminKey, Body: body})
	}
	r := credit(map[string]any{"token": "BTC", "amount": "0.5", "reference": "wire-1"})
	if r.Status != http.StatusCreated || r.JSON()["balance"].(map[string]any)["available"] != "0.5" {
		t.Fatalf("credit: %d %s", r.Status, r.Body)
	}
	if dup := credit(map[string]any{"token": "BTC", "amount": "0.5", "reference": "wire-1"}); dup.Status != http.StatusConflict {
		t.Errorf("reused reference: %d %s", dup.Status, dup.Body)
	}
	for _, body := range []map[string]any{
		{"token": "BTC", "amount": "0.000000001", "reference": "x1"},
		{"token": "BTC", "amount": "0", "reference": "x2"},
		{"token": "BTC", "amount": "-1", "reference": "x3"},
		{"token": "DOGE", "amount": "1", "reference": "x4"},
		{"token": "BTC", "amount": "1"},
	} {
		if bad := credit(body); bad.Status != http.StatusBadRequest {
			t.Errorf("%v: %d %s", body, bad.Status, bad.Body)
		}
	}
	if available, _ := env.Balance(key, "BTC"); available.String() != "0.5" {
		t.Errorf("available %s after one good credit", available)
	}
	if missing := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/merchants/mer_nope/credits", Key: env.AdminKey,
		Body: map[string]any{"token": "BTC", "amount": "1", "reference": "r"}}); missing.Status != http.StatusNotFound {
		t.Errorf("unknown merchant: %d", missing.Status)
	}
	if missing := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/merchants/mer_nope/api-keys", Key: env.AdminKey}); missing.Status != http.StatusNotFound {
		t.Errorf("key for unknown merchant: %d", missing.Status)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}
