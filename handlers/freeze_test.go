package handlers_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/rails"
)

// An operator freezes a merchant's payouts: new withdrawals are refused and change
// nothing, batching leaves the pending ones alone, cancelling still works; unfrozen, the
// pending ones are paid. Both decisions are audited.
func TestFrozenPayouts(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(o *apitest.Options) { o.Sandbox = rails.SandboxConfig{ConfirmDelay: time.Hour} })
	mid, key := env.Merchant("Frozen")
	env.Credit(mid, "USDT", "100")
	other, otherKey := env.Merchant("Not frozen")
	env.Credit(other, "USDT", "100")
	kept := env.Withdraw(key, "USDT", "10", apitest.ETHAddress)
	cancelled := env.Withdraw(key, "USDT", "10", apitest.ETHAddress)
	elsewhere := env.Withdraw(otherKey, "USDT", "10", apitest.ETHAddress)

	freeze := func(body any) apitest.Response {
		return env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/merchants/" + mid + "/freeze", Key: env.AdminKey, Body: body})
	}
	if r := freeze(map[string]any{}); r.Status != http.StatusBadRequest {
		t.Errorf("freeze without a reason: %d %s", r.Status, r.Body)
	}
	r := freeze(map[string]any{"reason": "key leak reported"})
	if r.Status != http.StatusOK || r.JSON()["payoutsFrozen"] != true || r.JSON()["payoutsFrozenReason"] != "key leak reported" {
		t.Fatalf("freeze: %d %s", r.Status, r.Body)
	}
	availBefore, _ := env.Balance(key, "USDT")
	refused := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Body: map[string]any{"token": "USDT", "amount": "5", "address": apitest.ETHAddress}})
	if refused.Status != http.StatusForbidden || refused.ErrorCode() != "PAYOUTS_FROZEN" {
		t.Errorf("create while frozen: %d %s", refused.Status, refused.Body)
	}
	if avail, _ := env.Balance(key, "USDT"); !avail.Equal(availBefore) {
		t.Errorf("a refused withdrawal moved the balance: %s -> %s", availBefore, avail)
	}
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals/" + cancelled + "/cancel", Key: key}); r.Status != http.StatusOK {
		t.Errorf("cancel while frozen: %d %s", r.Status, r.Body)
	}
	status := func(key, id string) string {
		return env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/" + id, Key: key}).JSON()["status"].(string)
	}
	env.StartJobs()
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	env.WaitFor(20*time.Second, "the other merchant's withdrawal batched", func() bool { return status(otherKey, elsewhere) == "processing" })
	if got := status(key, kept); got != "pending" {
		t.Errorf("a frozen merchant's withdrawal went %s", got)
	}

	r = env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/merchants/" + mid + "/unfreeze", Key: env.AdminKey})
	if r.Status != http.StatusOK || r.JSON()["payoutsFrozen"] != false || r.JSON()["payoutsFrozenAt"] != nil {
		t.Fatalf("unfreeze: %d %s", r.Status, r.Body)
	}
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})
	env.WaitFor(20*time.Second, "the unfrozen merchant's withdrawal batched", func() bool { return status(key, kept) == "processing" })
	if avail, pending := env.Balance(key, "USDT"); !avail.Equal(decimal.NewFromInt(90)) || !pending.Equal(decimal.NewFromInt(10)) {
		t.Errorf("balance %s available, %s pending; want 90 and the kept withdrawal's 10", avail, pending)
	}
	var audit struct {
		Records []struct{ Action, TargetID string }
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/audit-log?targetId=" + mid, Key: env.AdminKey}).Decode(t, &audit)
	actions := map[string]int{}
	for _, rec := range audit.Records {
		actions[rec.Action]++
	}
	if actions["merchant.payouts_freeze"] != 1 || actions["merchant.payouts_unfreeze"] != 1 {
		t.Errorf("audit: %v", actions)
	}
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/merchants/mer_0000000000000000/freeze", Key: env.AdminKey,
		Body: map[string]any{"reason": "x"}}); r.Status != http.StatusNotFound {
		t.Errorf("freeze an unknown merchant: %d", r.Status)
	}
}
