package handlers_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

type withdrawal struct {
	ID, Token, Network, Amount, Address, Status, Fee, NetAmount string
	FeeInfo                                                     struct {
		GrossAmount, NetAmount, TotalFees, FeePercentage string
		FeeBreakdown                                     struct{ BaseFee, MarkupRate, MarkupAmount, TotalFee string }
	}
	CreatedAt, EstimatedCompletion time.Time
	CancelledAt                    *time.Time
	Metadata                       map[string]any
}

func TestCreateWithdrawalDCEPayExample(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "BTC", "0.005")

	// DCE Pay's request, amount as a JSON number.
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Body: `{
		"token": "BTC", "amount": 0.001, "address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
		"metadata": {"orderId": "order_123", "customerEmail": "customer@example.com"}}`})
	if r.Status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var w withdrawal
	r.Decode(t, &w)
	if len(w.ID) != 20 || w.ID[:4] != "wth_" {
		t.Errorf("id %q is not wth_ + 16 chars", w.ID)
	}
	if w.Status != "pending" || w.Amount != "0.001" || w.Fee != "0.00001" || w.NetAmount != "0.00099" || w.Network != "bitcoin" {
		t.Errorf("unexpected withdrawal: %+v", w)
	}
	if w.FeeInfo.FeeBreakdown.BaseFee != "0.00001" || w.FeeInfo.FeePercentage != "1.00" {
		t.Errorf("unexpected feeInfo: %+v", w.FeeInfo)
	}
	if w.Metadata["orderId"] != "order_123" {
		t.Errorf("metadata lost: %v", w.Metadata)
	}
	// BTC confirms in about an hour; the batcher adds one interval.
	if got := w.EstimatedCompletion.Sub(w.CreatedAt); got != time.Hour+apitest.BatchInterval {
		t.Errorf("estimatedCompletion - createdAt = %v", got)
	}

	available, pending := env.Balance(key, "BTC")
	if !available.Equal(decimal.RequireFromString("0.004")) || !pending.Equal(decimal.RequireFromString("0.001")) {
		t.Errorf("balance after lock: available %s pending %s", available, pending)
	}

	got := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/" + w.ID, Key: key})
	var again withdrawal
	got.Decode(t, &again)
	if got.Status != http.StatusOK || again.ID != w.ID || !again.CreatedAt.Equal(w.CreatedAt) {
		t.Errorf("get: %d %s", got.Status, got.Body)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

func TestCreateWithdrawalAmountAsStringWithDCEPayFee(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "1000")
	set := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawal-fees", Key: env.AdminKey,
		Body: map[string]any{"baseFee": "1", "markupRate": "0.05", "enabled": true}})
	if set.Status != http.StatusOK {
		t.Fatalf("set fee: %d %s", set.Status, set.Body)
	}
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Body: map[string]any{"token": "usdt", "amount": "100", "address": apitest.ETHAddress, "network": "ethereum"}})
	var w withdrawal
	r.Decode(t, &w)
	if r.Status != http.StatusCreated || w.Fee != "6" || w.NetAmount != "94" || w.Token != "USDT" ||
		w.FeeInfo.FeeBreakdown.MarkupRate != "5.00" || w.FeeInfo.FeeBreakdown.MarkupAmount != "5" || w.FeeInfo.FeePercentage != "6.00" {
		t.Fatalf("unexpected: %d %s", r.Status, r.Body)
	}
	// A later fee change does not alter the snapshot.
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawal-fees", Key: env.AdminKey,
		Body: map[string]any{"baseFee": "3", "markupRate": "0", "enabled": true}})
	var later withdrawal
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/" + w.ID, Key: key}).Decode(t, &later)
	if later.Fee != "6" || later.NetAmount != "94" {
		t.Errorf("fee snapshot changed: %+v", later)
	}
}

func TestCancelReleasesFundsOnce(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "ETH", "1")
	var w withdrawal
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Body: map[string]any{"token": "ETH", "amount": "0.5", "address": apitest.ETHAddress}}).Decode(t, &w)

	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals/" + w.ID + "/cancel", Key: key})
	var cancelled withdrawal
	r.Decode(t, &cancelled)
	if r.Status != http.StatusOK || cancelled.Status != "cancelled" || cancelled.CancelledAt == nil {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	again := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals/" + w.ID + "/cancel", Key: key})
	if again.Status != http.StatusConflict || again.ErrorCode() != "INVALID_STATE" {
		t.Errorf("second cancel: %d %s", again.Status, again.Body)
	}
	available, pending := env.Balance(key, "ETH")
	if !available.Equal(decimal.NewFromInt(1)) || !pending.IsZero() {
		t.Errorf("after cancel: available %s pending %s", available, pending)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

func TestListWithdrawalsFiltersAndPagination(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "1000")
	env.Credit(merchantID, "ETH", "10")
	var ids []string
	for i := 0; i < 5; i++ {
		var w withdrawal
		env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
			Body: map[string]any{"token": "USDT", "amount": 10 + i, "address": apitest.ETHAddress}}).Decode(t, &w)
		ids = append(ids, w.ID)
	}
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Body: map[string]any{"token": "ETH", "amount": "1", "address": apitest.ETHAddress}})
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals/" + ids[0] + "/cancel", Key: key})

	type list struct {
		Withdrawals []withdrawal
		Pagination  struct {
			Total         int
			Limit, Offset int
			HasMore       bool
		}
	}
	get := func(query string) list {
		t.Helper()
		var l list
		r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals" + query, Key: key})
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", query, r.Status, r.Body)
		}
		r.Decode(t, &l)
		return l
	}

	all := get("")
	if all.Pagination.Total != 6 || len(all.Withdrawals) != 6 || all.Pagination.Limit != 20 || all.Pagination.HasMore {
		t.Errorf("all: %+v", all.Pagination)
	}
	for i := 1; i < len(all.Withdrawals); i++ {
		if all.Withdrawals[i].CreatedAt.After(all.Withdrawals[i-1].CreatedAt) {
			t.Errorf("not newest first at %d", i)
		}
	}
	if l := get("?token=usdt"); l.Pagination.Total != 5 {
		t.Errorf("token filter: %+v", l.Pagination)
	}
	if l := get("?status=CANCELLED"); l.Pagination.Total != 1 || l.Withdrawals[0].ID != ids[0] {
		t.Errorf("status filter (case-insensitive): %+v", l)
	}
	if l := get("?status=pending&token=USDT&limit=2&offset=1"); l.Pagination.Total != 4 || len(l.Withdrawals) != 2 || !l.Pagination.HasMore {
		t.Errorf("middle page: %+v", l.Pagination)
	}
	if l := get("?status=pending&token=USDT&limit=2&offset=2"); l.Pagination.Total != 4 || len(l.Withdrawals) != 2 || l.Pagination.HasMore {
		t.Errorf("last page: %+v", l.Pagination)
	}
	if l := get("?limit=2&page=3"); l.Pagination.Offset != 4 || len(l.Withdrawals) != 2 || l.Pagination.HasMore {
		t.Errorf("page param: %+v", l.Pagination)
	}
	if l := get("?offset=50"); len(l.Withdrawals) != 0 || l.Pagination.Total != 6 {
		t.Errorf("beyond the end: %+v", l.Pagination)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	if l := get("?startDate=" + today + "&endDate=" + today); l.Pagination.Total != 6 {
		t.Errorf("date range today: %+v", l.Pagination)
	}
	if l := get("?startDate=" + tomorrow); l.Pagination.Total != 0 {
		t.Errorf("date range tomorrow: %+v", l.Pagination)
	}
	if l := get("?endDate=" + time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)); l.Pagination.Total != 0 {
		t.Errorf("endDate an hour ago: %+v", l.Pagination)
	}
}

func TestFeeQuoteLocksNothing(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "50")
	r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/fee?token=USDT&amount=100", Key: key})
	body := r.JSON()
	if r.Status != http.StatusOK || body["amount"] != "100" || body["feeInfo"].(map[string]any)["netAmount"] != "99" {
		t.Errorf("quote: %d %s", r.Status, r.Body)
	}
	available, pending := env.Balance(key, "USDT")
	if !available.Equal(decimal.NewFromInt(50)) || !pending.IsZero() {
		t.Errorf("quote changed the balance: %s/%s", available, pending)
	}
	for _, q := range []string{"?token=USDT", "?amount=1", "?token=DOGE&amount=1", "?token=USDT&amount=abc", "?token=USDT&amount=0.5"} {
		r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/fee" + q, Key: key})
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
}

func TestBalanceListsEveryEnabledToken(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	env := apitest.New(t, func(o *apitest.Options) {
		o.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	_, key := env.Merchant("Empty")
	r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: key})
	want := `{"balances":[{"token":"BTC","available":"0","pending":"0","total":"0"},{"token":"ETH","available":"0","pending":"0","total":"0"},{"token":"LTC","available":"0","pending":"0","total":"0"},{"token":"USDT","available":"0","pending":"0","total":"0"}]}`
	if got := string(r.Body); got != want+"\n" {
		t.Errorf("balance:\n got %s\nwant %s", got, want)
	}
	// An operator disables a token: the list of tokens is cached for a second.
	env.DB.Exec(`UPDATE tokens SET enabled = false WHERE symbol = 'ETH'`)
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	var body struct{ Balances []struct{ Token string } }
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/balance", Key: key}).Decode(t, &body)
	if len(body.Balances) != 3 || body.Balances[0].Token != "BTC" || body.Balances[1].Token != "LTC" || body.Balances[2].Token != "USDT" {
		t.Errorf("disabled token still listed: %+v", body)
	}
}
