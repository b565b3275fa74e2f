package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/rails"
)

// USDT travels on Ethereum and on Tron: one balance, the network chosen per withdrawal
// (given, or told by the address), with each network's own fee, whitelist entries,
// listing filter and payout batches; an operator can turn a network off.
func TestUSDTOnTwoNetworks(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(o *apitest.Options) { o.Sandbox = rails.SandboxConfig{ConfirmDelay: time.Hour} })
	mid, key := env.Merchant("Two networks")
	env.Credit(mid, "USDT", "1000")
	create := func(body map[string]any) apitest.Response {
		body["token"] = "USDT"
		return env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Body: body})
	}
	network := func(r apitest.Response) string {
		t.Helper()
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		return r.JSON()["network"].(string)
	}
	if got := network(create(map[string]any{"amount": "10", "address": apitest.TronAddress})); got != "tron" {
		t.Errorf("a T... address went to %s", got)
	}
	if got := network(create(map[string]any{"amount": "10", "address": apitest.ETHAddress})); got != "ethereum" {
		t.Errorf("a 0x... address went to %s", got)
	}
	if got := network(create(map[string]any{"amount": "10", "address": apitest.TronAddress, "network": "TRON"})); got != "tron" {
		t.Errorf("network TRON went to %s", got)
	}
	for _, c := range []struct {
		body       map[string]any
		code, says string
	}{
		{map[string]any{"amount": "10", "address": apitest.ETHAddress, "network": "tron"}, "INVALID_ADDRESS", "on tron"},
		{map[string]any{"amount": "10", "address": apitest.TronAddress, "network": "ethereum"}, "INVALID_ADDRESS", "on ethereum"},
		{map[string]any{"amount": "10", "address": apitest.TronAddress, "network": "solana"}, "INVALID_REQUEST", "ethereum, tron"},
		{map[string]any{"amount": "10", "address": apitest.BTCAddress}, "INVALID_ADDRESS", "any of its networks (ethereum, tron)"},
		{map[string]any{"amount": "1", "address": apitest.TronAddress}, "INVALID_AMOUNT", "Minimum withdrawal is 2 USDT"},
	} {
		r := create(c.body)
		if r.Status != http.StatusBadRequest || r.ErrorCode() != c.code || !strings.Contains(string(r.Body), c.says) {
			t.Errorf("%v: %d %s, want %s saying %q", c.body, r.Status, r.Body, c.code, c.says)
		}
	}

	// Tron's own fee schedule wins over USDT's for Tron only.
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawal-fees", Key: env.AdminKey,
		Body: map[string]any{"token": "USDT", "network": "tron", "baseFee": "0.5", "markupRate": "0", "enabled": true}})
	if r.Status != http.StatusOK || r.JSON()["scope"] != "USDT:tron" {
		t.Fatalf("set Tron's schedule: %d %s", r.Status, r.Body)
	}
	for net, fee := range map[string]string{"tron": "0.5", "ethereum": "1"} {
		var q struct{ FeeInfo struct{ TotalFees string } }
		env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/fee?token=USDT&amount=100&network=" + net, Key: key}).Decode(t, &q)
		if q.FeeInfo.TotalFees != fee {
			t.Errorf("fee on %s: %s, want %s", net, q.FeeInfo.TotalFees, fee)
		}
	}
	var w struct{ Fee, Network string }
	create(map[string]any{"amount": "10", "address": apitest.TronAddress}).Decode(t, &w)
	if w.Fee != "0.5" || w.Network != "tron" {
		t.Errorf("created on Tron: %+v, want the Tron fee", w)
	}

	// Listing by network.
	var list struct {
		Pagination  struct{ Total int }
		Withdrawals []struct{ Network string }
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals?network=tron", Key: key}).Decode(t, &list)
	if list.Pagination.Total != 3 || len(list.Withdrawals) != 3 {
		t.Errorf("network=tron listed %d of %d", len(list.Withdrawals), list.Pagination.Total)
	}
	for _, w := range list.Withdrawals {
		if w.Network != "tron" {
			t.Errorf("network=tron listed one on %s", w.Network)
		}
	}
	if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals?network=no%20such", Key: key}); r.Status != http.StatusBadRequest {
		t.Errorf("a malformed network filter: %d", r.Status)
	}

	// Payout batches are per network; the Tron one is paid by the sandbox.
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	env.StartJobs()
	var batches struct {
		Batches []struct {
			Token, Network string
			ItemCount      int
			Withdrawals    []struct{ Network string }
		}
	}
	env.WaitFor(20*time.Second, "the batches", func() bool {
		env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/payout-batches", Key: env.AdminKey}).Decode(t, &batches)
		return len(batches.Batches) == 2
	})
	for _, b := range batches.Batches {
		want := map[string]int{"tron": 3, "ethereum": 1}[b.Network]
		if b.Token != "USDT" || b.ItemCount != want {
			t.Errorf("batch %s on %s with %d withdrawals, want %d", b.Token, b.Network, b.ItemCount, want)
		}
		for _, w := range b.Withdrawals {
			if w.Network != b.Network {
				t.Errorf("a withdrawal on %s in a batch on %s", w.Network, b.Network)
			}
		}
	}

	// An operator turns Tron off: new Tron withdrawals are refused, Ethereum goes on.
	r = env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/admin/tokens/USDT/networks/tron", Key: env.AdminKey, Body: map[string]any{"enabled": false}})
	if r.Status != http.StatusOK || r.JSON()["enabled"] != false {
		t.Fatalf("turn Tron off: %d %s", r.Status, r.Body)
	}
	for _, body := range []map[string]any{{"amount": "10", "address": apitest.TronAddress}, {"amount": "10", "address": apitest.TronAddress, "network": "tron"}} {
		if r := create(body); r.Status != http.StatusBadRequest || r.ErrorCode() != "UNSUPPORTED_NETWORK" {
			t.Errorf("Tron off, %v: %d %s", body, r.Status, r.Body)
		}
	}
	network(create(map[string]any{"amount": "10", "address": apitest.ETHAddress}))
	var tokens struct {
		Tokens []struct {
			Symbol, DefaultNetwork string
			Networks               []struct {
				Network string
				Enabled bool
			}
		}
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/tokens", Key: env.AdminKey}).Decode(t, &tokens)
	for _, tok := range tokens.Tokens {
		if tok.Symbol == "USDT" && (tok.DefaultNetwork != "ethereum" || len(tok.Networks) != 2 || tok.Networks[1].Network != "tron" || tok.Networks[1].Enabled) {
			t.Errorf("USDT in the token list: %+v", tok)
		}
	}
	if r := env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/admin/tokens/USDT/networks/solana", Key: env.AdminKey, Body: map[string]any{"enabled": true}}); r.Status != http.StatusNotFound {
		t.Errorf("an unknown network: %d", r.Status)
	}
	var audit struct {
		Records []struct{ Action, TargetID string }
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/audit-log?action=token_network.set", Key: env.AdminKey}).Decode(t, &audit)
	if len(audit.Records) != 1 || audit.Records[0].TargetID != "USDT:tron" {
		t.Errorf("audit: %+v", audit.Records)
	}
}

// A whitelist entry allows withdrawals on its own network only.
func TestWhitelistEntriesArePerNetwork(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Whitelisted networks")
	env.Credit(mid, "USDT", "1000")
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/whitelist", Key: key, Body: map[string]any{"token": "USDT", "address": apitest.TronAddress}})
	if r.Status != http.StatusCreated || r.JSON()["network"] != "tron" {
		t.Fatalf("add: %d %s", r.Status, r.Body)
	}
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/whitelist", Key: key,
		Body: map[string]any{"token": "USDT", "network": "ethereum", "address": apitest.TronAddress}}); r.ErrorCode() != "INVALID_ADDRESS" {
		t.Errorf("a Tron address as an Ethereum entry: %d %s", r.Status, r.Body)
	}
	env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/whitelist/settings", Key: key, Body: map[string]any{"enabled": true}})
	ok := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Body: map[string]any{"token": "USDT", "amount": "10", "address": apitest.TronAddress}})
	refused := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Body: map[string]any{"token": "USDT", "amount": "10", "address": apitest.ETHAddress}})
	if ok.Status != http.StatusCreated || refused.ErrorCode() != "ADDRESS_NOT_WHITELISTED" {
		t.Errorf("whitelisted Tron address: %d; Ethereum address not listed: %d %s", ok.Status, refused.Status, refused.Body)
	}
}
