package handlers_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

type batchItem = map[string]any

type batchAnswer struct {
	ID, Mode, Status                          string
	ItemsReceived, ItemsCreated, ItemsRefused int
	Counts                                    map[string]int
	Totals                                    []struct{ Token, Network, Amount, Fee, NetAmount, PaidAmount string }
	Items                                     []struct {
		Index        int
		Reference    string
		WithdrawalID *string
		Error        *struct{ Error, Message, Field string }
	}
}

func postBatch(env *apitest.Env, key, idemKey, mode string, items []batchItem) apitest.Response {
	r := apitest.Request{Method: http.MethodPost, Path: "/api/withdrawal-batches", Key: key, Body: map[string]any{"mode": mode, "items": items}}
	if idemKey != "" {
		r.Header = map[string]string{"Idempotency-Key": idemKey}
	}
	return env.Do(r)
}

func usdtItem(ref, amount, address string) batchItem {
	return batchItem{"reference": ref, "token": "USDT", "amount": amount, "address": address}
}

// withdrawalCount counts a merchant's withdrawals.
func withdrawalCount(t *testing.T, env *apitest.Env, mid string) int {
	t.Helper()
	var n int
	env.DB.Raw(`SELECT count(*) FROM withdrawals WHERE merchant_id = ?`, mid).Scan(&n)
	return n
}

// assertReconciled checks the service's own reconciliation, which proves the kept
// withdrawal counts (new statuses included) against the withdrawals.
func assertReconciled(t *testing.T, env *apitest.Env) {
	t.Helper()
	r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/ledger/reconciliation", Key: env.AdminKey})
	if r.JSON()["ok"] != true {
		t.Errorf("reconciliation: %s", r.Body)
	}
}

// all_or_nothing creates every item in one transaction, or nothing with every item's
// problem; the request replays under its idempotency key; its items are listed by
// ?batchRequest= and in its CSV.
func TestMassPayoutAllOrNothing(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Payroll")
	env.Credit(mid, "USDT", "1000")

	bad := postBatch(env, key, "", "all_or_nothing", []batchItem{
		usdtItem("a", "10", apitest.ETHAddress), usdtItem("b", "10", "0xnot-an-address"), usdtItem("a", "5", apitest.ETHAddress),
		{"reference": "c", "token": "USDT", "amount": "abc", "address": apitest.ETHAddress},
	})
	if bad.Status != http.StatusBadRequest || bad.ErrorCode() != "BATCH_REJECTED" {
		t.Fatalf("invalid items: %d %s", bad.Status, bad.Body)
	}
	var refused struct {
		Items []struct {
			Index int
			Error struct{ Error, Field string }
		}
	}
	bad.Decode(t, &refused)
	if len(refused.Items) != 3 || refused.Items[0].Error.Error != "INVALID_ADDRESS" || refused.Items[1].Error.Error != "DUPLICATE_REFERENCE" ||
		refused.Items[2].Error.Error != "INVALID_AMOUNT" {
		t.Errorf("item problems: %s", bad.Body)
	}
	if withdrawalCount(t, env, mid) != 0 {
		t.Fatal("a refused all_or_nothing request created withdrawals")
	}

	items := []batchItem{usdtItem("pay-1", "100", apitest.ETHAddress), usdtItem("pay-2", "50.5", apitest.ETHAddress),
		{"reference": "pay-3", "token": "usdt", "network": "tron", "amount": "25", "address": apitest.TronAddress, "metadata": map[string]any{"employee": 7}}}
	r := postBatch(env, key, "payroll-december", "all_or_nothing", items)
	var b batchAnswer
	r.Decode(t, &b)
	if r.Status != http.StatusCreated || b.ItemsCreated != 3 || b.ItemsRefused != 0 || b.Counts["pending"] != 3 || b.Status != "processing" || len(b.Items) != 3 {
		t.Fatalf("created: %d %s", r.Status, r.Body)
	}
	if avail, pending := env.Balance(key, "USDT"); !avail.Equal(decimal.RequireFromString("824.5")) || !pending.Equal(decimal.RequireFromString("175.5")) {
		t.Errorf("balance %s available, %s pending", avail, pending)
	}
	if len(b.Totals) != 2 || b.Totals[0].Network != "ethereum" || b.Totals[0].Amount != "150.5" || b.Totals[1].Network != "tron" {
		t.Errorf("totals %+v", b.Totals)
	}

	// The same request again is the same batch; the same key with another body is refused.
	again := postBatch(env, key, "payroll-december", "all_or_nothing", items)
	var replay batchAnswer
	again.Decode(t, &replay)
	if again.Status != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" || replay.ID != b.ID || len(replay.Items) != 3 {
		t.Errorf("replay: %d %s", again.Status, again.Body)
	}
	if r := postBatch(env, key, "payroll-december", "all_or_nothing", items[:2]); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("same key, other body: %d %s", r.Status, r.Body)
	}
	if withdrawalCount(t, env, mid) != 3 {
		t.Errorf("%d withdrawals after the replays", withdrawalCount(t, env, mid))
	}

	var list struct {
		Withdrawals []struct{ ID, Reference, BatchRequestID string }
		Pagination  struct{ Total int }
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals?batchRequest=" + b.ID, Key: key}).Decode(t, &list)
	if list.Pagination.Total != 3 || list.Withdrawals[0].BatchRequestID != b.ID {
		t.Errorf("listed by batchRequest: %+v", list)
	}
	csvResp := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawal-batches/" + b.ID + ".csv", Key: key})
	rows, err := csv.NewReader(strings.NewReader(string(csvResp.Body))).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][1] != "reference" || rows[3][1] != "pay-3" || rows[3][3] != "tron" || rows[1][7] != "pending" {
		t.Errorf("CSV %q: %v", csvResp.Body, err)
	}
	// Another merchant sees none of it.
	_, otherKey := env.Merchant("Other")
	if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawal-batches/" + b.ID, Key: otherKey}); r.Status != http.StatusNotFound {
		t.Errorf("another merchant's batch: %d", r.Status)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// partial creates the valid items and answers the others, whether refused before the
// database (a bad address) or by it (a reference already used, an address the
// whitelist refuses); the balance and limits are the request's, all or nothing.
func TestMassPayoutPartial(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Marketplace")
	env.Credit(mid, "USDT", "300")
	if r := postBatch(env, key, "", "all_or_nothing", []batchItem{usdtItem("seller-1", "10", apitest.ETHAddress)}); r.Status != http.StatusCreated {
		t.Fatalf("first batch: %d %s", r.Status, r.Body)
	}

	r := postBatch(env, key, "", "partial", []batchItem{
		usdtItem("seller-1", "10", apitest.ETHAddress), // used by the first batch
		usdtItem("seller-2", "20", apitest.ETHAddress),
		usdtItem("seller-3", "1", apitest.ETHAddress), // below the minimum
		usdtItem("seller-4", "30", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6x"),
		usdtItem("seller-5", "40", apitest.TronAddress),
	})
	var b batchAnswer
	r.Decode(t, &b)
	if r.Status != http.StatusCreated || b.ItemsCreated != 2 || b.ItemsRefused != 3 {
		t.Fatalf("partial: %d %s", r.Status, r.Body)
	}
	want := map[string]string{"seller-1": "DUPLICATE_REFERENCE", "seller-3": "INVALID_AMOUNT", "seller-4": "INVALID_ADDRESS"}
	for _, it := range b.Items {
		got := ""
		if it.Error != nil {
			got = it.Error.Error
		}
		if got != want[it.Reference] || (it.Error == nil) != (it.WithdrawalID != nil) {
			t.Errorf("item %s: error %q, withdrawal %v; want %q", it.Reference, got, it.WithdrawalID, want[it.Reference])
		}
	}
	csvResp := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawal-batches/" + b.ID + ".csv", Key: key})
	if !strings.Contains(string(csvResp.Body), "DUPLICATE_REFERENCE") || strings.Count(string(csvResp.Body), "\n") != 6 {
		t.Errorf("CSV of a partial batch: %s", csvResp.Body)
	}

	// Whitelist refusals come from the database: the item is refused, the rest created.
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/whitelist", Key: key,
		Body: map[string]any{"token": "USDT", "address": apitest.ETHAddress}}); r.Status != http.StatusCreated {
		t.Fatalf("whitelist entry: %d %s", r.Status, r.Body)
	}
	if r := env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/whitelist/settings", Key: key, Body: map[string]any{"enabled": true}}); r.Status != http.StatusOK {
		t.Fatalf("whitelist on: %d %s", r.Status, r.Body)
	}
	r = postBatch(env, key, "", "partial", []batchItem{usdtItem("w-1", "10", apitest.ETHAddress), usdtItem("w-2", "10", apitest.TronAddress)})
	r.Decode(t, &b)
	if r.Status != http.StatusCreated || b.ItemsCreated != 1 || b.Items[1].Error == nil || b.Items[1].Error.Error != "ADDRESS_NOT_WHITELISTED" {
		t.Errorf("whitelist in partial mode: %d %s", r.Status, r.Body)
	}
	if r := postBatch(env, key, "", "all_or_nothing", []batchItem{usdtItem("w-3", "10", apitest.ETHAddress), usdtItem("w-4", "10", apitest.TronAddress)}); r.ErrorCode() != "BATCH_REJECTED" {
		t.Errorf("whitelist in all_or_nothing mode: %d %s", r.Status, r.Body)
	}

	// Valid items the balance cannot cover together: nothing, in either mode.
	before := withdrawalCount(t, env, mid)
	r = postBatch(env, key, "", "partial", []batchItem{usdtItem("big-1", "150", apitest.ETHAddress), usdtItem("big-2", "150", apitest.ETHAddress)})
	if r.ErrorCode() != "BATCH_REJECTED" || !strings.Contains(string(r.Body), "INSUFFICIENT_BALANCE") {
		t.Errorf("over the balance: %d %s", r.Status, r.Body)
	}
	// The limits count the request's total.
	if r := env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/admin/limits", Key: env.AdminKey,
		Body: map[string]any{"merchantId": mid, "token": "USDT", "perDay": "150"}}); r.Status != http.StatusOK {
		t.Fatalf("limit: %d %s", r.Status, r.Body)
	}
	r = postBatch(env, key, "", "all_or_nothing", []batchItem{usdtItem("l-1", "50", apitest.ETHAddress), usdtItem("l-2", "50", apitest.ETHAddress)})
	if r.ErrorCode() != "BATCH_REJECTED" || !strings.Contains(string(r.Body), "LIMIT_EXCEEDED") {
		t.Errorf("over the daily limit together: %d %s", r.Status, r.Body)
	}
	if withdrawalCount(t, env, mid) != before {
		t.Error("a refused request created withdrawals")
	}
	assertReconciled(t, env)
	testdb.AssertLedgerConsistent(t, env.DB)
}

// Bad requests as a whole change nothing.
func TestMassPayoutBadRequests(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Bad")
	env.Credit(mid, "USDT", "100")
	many := make([]batchItem, 1001)
	for i := range many {
		many[i] = usdtItem(fmt.Sprint(i), "1", apitest.ETHAddress)
	}
	for name, body := range map[string]map[string]any{
		"no mode":       {"items": []batchItem{usdtItem("a", "3", apitest.ETHAddress)}},
		"unknown mode":  {"mode": "some", "items": []batchItem{usdtItem("a", "3", apitest.ETHAddress)}},
		"no items":      {"mode": "partial", "items": []batchItem{}},
		"1001 items":    {"mode": "partial", "items": many},
		"unknown field": {"mode": "partial", "items": []batchItem{{"reference": "a", "token": "USDT", "amount": "3", "address": apitest.ETHAddress, "Amount": "9"}}},
	} {
		if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawal-batches", Key: key, Body: body}); r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if withdrawalCount(t, env, mid) != 0 {
		t.Error("a bad request created withdrawals")
	}
}

// The same request sent at once under one key creates one batch.
func TestMassPayoutConcurrentReplays(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Twice")
	env.Credit(mid, "USDT", "1000")
	items := []batchItem{usdtItem("x-1", "10", apitest.ETHAddress), usdtItem("x-2", "10", apitest.ETHAddress)}
	answers := make([]apitest.Response, 6)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = postBatch(env, key, "same", "all_or_nothing", items) }()
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, a := range answers {
		switch {
		case a.Status == http.StatusCreated:
			ids[a.JSON()["id"].(string)] = true
		case a.ErrorCode() != "IDEMPOTENCY_KEY_IN_USE":
			t.Errorf("answer %d %s", a.Status, a.Body)
		}
	}
	if len(ids) != 1 || withdrawalCount(t, env, mid) != 2 {
		t.Errorf("%d batches, %d withdrawals", len(ids), withdrawalCount(t, env, mid))
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// One approval covers a batch's held items; each item is announced, and the batch once
// its last item is final.
func TestMassPayoutApprovalAndCompletion(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Affiliates")
	env.Credit(mid, "USDT", "1000")
	setApprovalRule(t, env, map[string]any{"token": "USDT", "amountAbove": "100"})
	r := postBatch(env, key, "", "all_or_nothing", []batchItem{
		usdtItem("aff-1", "150", apitest.ETHAddress), usdtItem("aff-2", "200", apitest.ETHAddress), usdtItem("aff-3", "20", apitest.ETHAddress)})
	var b batchAnswer
	r.Decode(t, &b)
	if r.Status != http.StatusCreated || b.Counts["pending_approval"] != 2 || b.Counts["pending"] != 1 {
		t.Fatalf("held items: %d %s", r.Status, r.Body)
	}
	approve := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawal-batches/" + b.ID + "/approve", Key: env.AdminKey})
	approve.Decode(t, &b)
	if approve.Status != http.StatusOK || b.Counts["pending"] != 3 || b.Counts["pending_approval"] != 0 {
		t.Fatalf("batch approval: %d %s", approve.Status, approve.Body)
	}
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawal-batches/" + b.ID + "/approve", Key: env.AdminKey}); r.Status != http.StatusConflict {
		t.Errorf("approving it again: %d %s", r.Status, r.Body)
	}

	env.StartJobs()
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey}); r.Status != http.StatusAccepted {
		t.Fatalf("payout run: %d", r.Status)
	}
	env.WaitFor(20e9, "the batch to complete", func() bool {
		env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawal-batches/" + b.ID, Key: key}).Decode(t, &b)
		return b.Status == "completed"
	})
	if b.Counts["confirmed"] != 3 || b.Totals[0].PaidAmount != b.Totals[0].NetAmount {
		t.Errorf("completed batch: %+v", b)
	}
	if n := eventCount(t, env, b.ID, "withdrawal_batch.completed"); n != 1 {
		t.Errorf("%d withdrawal_batch.completed events", n)
	}
	var confirmedEvents int
	env.DB.Raw(`SELECT count(*) FROM webhook_events e JOIN withdrawals w ON w.id = e.subject_id
	             WHERE w.batch_request_id = ? AND e.type = 'withdrawal.confirmed'`, b.ID).Scan(&confirmedEvents)
	if confirmedEvents != 3 {
		t.Errorf("%d withdrawal.confirmed events for the batch's items", confirmedEvents)
	}
	assertReconciled(t, env)
	testdb.AssertLedgerConsistent(t, env.DB)
}
