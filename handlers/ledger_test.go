package handlers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/paycore/withdrawals/internal/apitest"
)

type reconciliation struct {
	OK     bool
	Full   bool
	Since  *string
	Tokens []struct {
		Token, Available, LedgerAvailable, PlatformFees string
	}
	Discrepancies []struct{ Kind, Token, Subject string }
}

func TestReconciliationDetectsCorruption(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "500")
	id := env.Withdraw(key, "USDT", "100", apitest.ETHAddress)
	env.Withdraw(key, "USDT", "50", apitest.ETHAddress)
	if _, err := env.App.Payouts.ClaimAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	var batch string
	env.DB.Raw(`SELECT batch_id FROM withdrawals WHERE id = ?`, id).Scan(&batch)
	if err := env.App.Payouts.Submit(context.Background(), batch); err != nil {
		t.Fatal(err)
	}

	get := func(query string) reconciliation {
		var r reconciliation
		env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/ledger/reconciliation" + query, Key: env.AdminKey}).Decode(t, &r)
		return r
	}
	if clean := get(""); !clean.OK || len(clean.Discrepancies) != 0 || !clean.Full || clean.Since != nil {
		t.Fatalf("clean ledger, first check (full: no checkpoint yet): %+v", clean)
	}
	if clean := get(""); !clean.OK || clean.Full || clean.Since == nil {
		t.Fatalf("clean ledger, second check (from the checkpoint): %+v", clean)
	}
	if res := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/ledger/reconciliation?full=yes", Key: env.AdminKey}); res.Status != http.StatusBadRequest {
		t.Errorf("full=yes: %d %s", res.Status, res.Body)
	}

	// Someone edits a balance behind the ledger's back.
	env.DB.Exec(`UPDATE balances SET available = available + 1 WHERE merchant_id = ? AND token = 'USDT'`, merchantID)
	// And an unbalanced entry slips into a journal.
	env.DB.Exec(`INSERT INTO ledger_entries (id, journal_id, account_id, amount, created_at)
		SELECT 'ent_corrupt', id, 'platform:fees:USDT', 0.5, now() FROM ledger_journals WHERE kind = 'credit' LIMIT 1`)
	for _, query := range []string{"", "?full=true"} {
		broken := get(query)
		kinds := map[string]bool{}
		for _, d := range broken.Discrepancies {
			kinds[d.Kind] = true
			if d.Kind == "balance_mismatch" && d.Subject != merchantID {
				t.Errorf("mismatch names %s, want %s", d.Subject, merchantID)
			}
		}
		if broken.OK || broken.Full != (query != "") || !kinds["balance_mismatch"] || !kinds["unbalanced_journal"] || !kinds["token_not_zero"] {
			t.Errorf("%q: corruption not reported: %+v", query, broken)
		}
	}
}

func TestFeeRevenue(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "500")
	env.Credit(merchantID, "BTC", "1")
	env.Withdraw(key, "USDT", "100", apitest.ETHAddress)
	env.Withdraw(key, "USDT", "50", apitest.ETHAddress)
	env.Withdraw(key, "BTC", "0.1", apitest.BTCAddress)
	ctx := context.Background()
	batches, err := env.App.Payouts.ClaimAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := env.App.Payouts.Submit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	type revenue struct {
		Revenue []struct {
			Token, Collected string
			Withdrawals      int
		}
	}
	var r revenue
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/fee-revenue", Key: env.AdminKey}).Decode(t, &r)
	got := map[string]string{}
	for _, row := range r.Revenue {
		got[row.Token] = row.Collected
	}
	if got["USDT"] != "2" || got["BTC"] != "0.00001" || got["ETH"] != "0" {
		t.Errorf("revenue %v", got)
	}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/fee-revenue?startDate=" + tomorrow, Key: env.AdminKey}).Decode(t, &r)
	for _, row := range r.Revenue {
		if row.Collected != "0" {
			t.Errorf("future window has revenue: %+v", row)
		}
	}
	if bad := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/fee-revenue?startDate=soon", Key: env.AdminKey}); bad.Status != http.StatusBadRequest {
		t.Errorf("bad date: %d", bad.Status)
	}
}
