package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/rails"
)

// recordingProvider counts the calls made to the provider it wraps, and can make
// submissions time out after the inner provider accepted them.
type recordingProvider struct {
	rails.Provider
	mu       sync.Mutex
	submits  map[string]int // token -> submissions
	items    map[string]int // batch id -> items in the last submission
	timeouts int            // submissions still to answer with a timeout
}

func (r *recordingProvider) Submit(ctx context.Context, b rails.Batch) (string, []rails.ItemResult, error) {
	ref, res, err := r.Provider.Submit(ctx, b)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.submits == nil {
		r.submits, r.items = map[string]int{}, map[string]int{}
	}
	r.submits[b.Token]++
	r.items[b.ID] = len(b.Items)
	if r.timeouts != 0 {
		r.timeouts--
		return "", nil, context.DeadlineExceeded // accepted, but the answer is lost
	}
	return ref, res, err
}

func (r *recordingProvider) count(token string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.submits[token]
}

func getWithdrawal(env *apitest.Env, key, id string) map[string]any {
	return env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals/" + id, Key: key}).JSON()
}

func waitTerminal(env *apitest.Env, key string, ids ...string) {
	env.T.Helper()
	env.WaitFor(20*time.Second, "withdrawals to settle", func() bool {
		for _, id := range ids {
			switch getWithdrawal(env, key, id)["status"] {
			case "confirmed", "failed":
			default:
				return false
			}
		}
		return true
	})
}

func sum(values ...string) decimal.Decimal {
	total := decimal.Zero
	for _, v := range values {
		total = total.Add(decimal.RequireFromString(v))
	}
	return total
}

func TestPayoutEndToEnd(t *testing.T) {
	t.Parallel()
	var provider recordingProvider
	env := apitest.New(t, func(o *apitest.Options) {
		o.Provider = &provider
	})
	provider.Provider = rails.NewSandbox(env.DB, rails.SandboxConfig{ConfirmDelay: 300 * time.Millisecond})
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "BTC", "1")
	env.Credit(merchantID, "USDT", "1000")

	btc := []string{env.Withdraw(key, "BTC", "0.01", apitest.BTCAddress), env.Withdraw(key, "BTC", "0.02", apitest.BTCAddress), env.Withdraw(key, "BTC", "0.03", apitest.BTCAddress)}
	usdt := []string{env.Withdraw(key, "USDT", "100", apitest.ETHAddress), env.Withdraw(key, "USDT", "50", apitest.ETHAddress)}

	env.StartJobs()
	waitTerminal(env, key, append(btc, usdt...)...)

	if provider.count("BTC") != 1 || provider.count("USDT") != 1 || provider.count("ETH") != 0 {
		t.Errorf("provider submissions: %v, want one per token", provider.submits)
	}
	batches := map[string]bool{}
	for _, id := range append(btc, usdt...) {
		w := getWithdrawal(env, key, id)
		if w["status"] != "confirmed" || w["txHash"] == nil || w["confirmedAt"] == nil || w["processingAt"] == nil || w["batchId"] == nil {
			t.Errorf("withdrawal %s: %v", id, w)
		}
		batches[w["batchId"].(string)] = true
	}
	if len(batches) != 2 {
		t.Errorf("%d batches, want 2", len(batches))
	}

	if available, pending := env.Balance(key, "BTC"); !available.Equal(sum("0.94")) || !pending.IsZero() {
		t.Errorf("BTC balance %s/%s", available, pending)
	}
	if available, pending := env.Balance(key, "USDT"); !available.Equal(sum("850")) || !pending.IsZero() {
		t.Errorf("USDT balance %s/%s", available, pending)
	}
	// Net to external payouts, fees to the platform: BTC fee 0.00001 each, USDT 1 each.
	var payoutsBTC, feesBTC, payoutsUSDT, feesUSDT decimal.Decimal
	env.DB.Raw(`SELECT COALESCE(SUM(amount),0) FROM ledger_entries WHERE account_id = 'external:payouts:BTC'`).Scan(&payoutsBTC)
	env.DB.Raw(`SELECT COALESCE(SUM(amount),0) FROM ledger_entries WHERE account_id = 'platform:fees:BTC'`).Scan(&feesBTC)
	env.DB.Raw(`SELECT COALESCE(SUM(amount),0) FROM ledger_entries WHERE account_id = 'external:payouts:USDT'`).Scan(&payoutsUSDT)
	env.DB.Raw(`SELECT COALESCE(SUM(amount),0) FROM ledger_entries WHERE account_id = 'platform:fees:USDT'`).Scan(&feesUSDT)
	if !payoutsBTC.Equal(sum("0.05997")) || !feesBTC.Equal(sum("0.00003")) || !payoutsUSDT.Equal(sum("148")) || !feesUSDT.Equal(sum("2")) {
		t.Errorf("ledger: BTC payouts %s fees %s, USDT payouts %s fees %s", payoutsBTC, feesBTC, payoutsUSDT, feesUSDT)
	}
	testdb.AssertLedgerConsistent(t, env.DB)

	var list struct {
		Batches []struct {
			Token, Status     string
			ItemCount         int
			ProviderReference *string
			Withdrawals       []struct{ ID, MerchantID string }
		}
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/payout-batches", Key: env.AdminKey}).Decode(t, &list)
	if len(list.Batches) != 2 {
		t.Fatalf("batches: %+v", list)
	}
	for _, b := range list.Batches {
		if b.Status != "completed" || b.ProviderReference == nil || len(b.Withdrawals) != b.ItemCount || b.Withdrawals[0].MerchantID != merchantID {
			t.Errorf("batch %+v", b)
		}
	}
	var all struct{ Withdrawals []struct{ MerchantID string } }
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/withdrawals?status=confirmed&merchantId=" + merchantID, Key: env.AdminKey}).Decode(t, &all)
	if len(all.Withdrawals) != 5 {
		t.Errorf("admin listing: %d withdrawals", len(all.Withdrawals))
	}
}

func TestPayoutFailureReturnsFunds(t *testing.T) {
	t.Parallel()
	const failing = "0x8617E340B3D01FA5F11F306F4090FD50E238070D"
	env := apitest.New(t, func(o *apitest.Options) {
		o.Sandbox = rails.SandboxConfig{FailAddresses: []string{failing}}
	})
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "ETH", "2")
	bad := env.Withdraw(key, "ETH", "0.5", failing)
	good := env.Withdraw(key, "ETH", "0.25", apitest.ETHAddress)
	env.StartJobs()
	waitTerminal(env, key, bad, good)

	w := getWithdrawal(env, key, bad)
	if w["status"] != "failed" || w["failureReason"] != "invalid_address" || w["failedAt"] == nil || w["txHash"] != nil {
		t.Errorf("failed withdrawal: %v", w)
	}
	if g := getWithdrawal(env, key, good); g["status"] != "confirmed" {
		t.Errorf("good withdrawal: %v", g)
	}
	if available, pending := env.Balance(key, "ETH"); !available.Equal(sum("1.75")) || !pending.IsZero() {
		t.Errorf("balance %s/%s: the failed 0.5 should be back", available, pending)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// The provider accepts the batch but the answer times out: the batch is retried under
// the same id, paid once, and the funds are never released in between.
func TestProviderTimeoutAfterAcceptingIsPaidOnce(t *testing.T) {
	t.Parallel()
	provider := &recordingProvider{timeouts: 2}
	env := apitest.New(t, func(o *apitest.Options) { o.Provider = provider })
	provider.Provider = rails.NewSandbox(env.DB, rails.SandboxConfig{})
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "500")
	ids := []string{env.Withdraw(key, "USDT", "100", apitest.ETHAddress), env.Withdraw(key, "USDT", "200", apitest.ETHAddress)}
	ctx := context.Background()

	batches, err := env.App.Payouts.ClaimAll(ctx)
	if err != nil || len(batches) != 1 {
		t.Fatalf("claim: %v %v", batches, err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		err := env.App.Payouts.Submit(ctx, batches[0])
		if err == nil {
			t.Fatalf("attempt %d: timeout not reported", attempt)
		}
		for _, id := range ids {
			if s := getWithdrawal(env, key, id)["status"]; s != "processing" {
				t.Errorf("attempt %d: %s is %v while the outcome is unknown", attempt, id, s)
			}
		}
		if available, pending := env.Balance(key, "USDT"); !available.Equal(sum("200")) || !pending.Equal(sum("300")) {
			t.Errorf("attempt %d: funds moved while ambiguous: %s/%s", attempt, available, pending)
		}
	}
	if err := env.App.Payouts.Submit(ctx, batches[0]); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	var paid int64
	env.DB.Table("sandbox_payouts").Where("batch_id = ?", batches[0]).Count(&paid)
	if provider.count("USDT") != 3 || paid != 2 {
		t.Errorf("%d submissions, %d payments; want 3 submissions paying the 2 items once", provider.count("USDT"), paid)
	}
	for _, id := range ids {
		if s := getWithdrawal(env, key, id)["status"]; s != "confirmed" {
			t.Errorf("%s is %v", id, s)
		}
	}
	var attempts int
	env.DB.Raw(`SELECT attempts FROM payout_batches WHERE id = ?`, batches[0]).Scan(&attempts)
	if attempts != 2 {
		t.Errorf("batch records %d failed attempts, want 2", attempts)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// A provider that never answers: after the retry budget the batch is flagged for an
// admin with the funds still locked; the admin's decision settles it, audited.
func TestAmbiguousBatchIsFlaggedThenResolvedByAdmin(t *testing.T) {
	t.Parallel()
	provider := &recordingProvider{timeouts: -1} // every submission times out
	env := apitest.New(t, func(o *apitest.Options) {
		o.Provider = provider
		o.MaxAttempts = 3
	})
	provider.Provider = rails.NewSandbox(env.DB, rails.SandboxConfig{})
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "500")
	first := env.Withdraw(key, "USDT", "100", apitest.ETHAddress)
	second := env.Withdraw(key, "USDT", "200", apitest.ETHAddress)
	env.StartJobs()

	var batchID string
	env.WaitFor(30*time.Second, "the batch to be flagged", func() bool {
		var list struct{ Batches []struct{ ID string } }
		env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/payout-batches?status=needs_review", Key: env.AdminKey}).Decode(t, &list)
		if len(list.Batches) == 1 {
			batchID = list.Batches[0].ID
		}
		return batchID != ""
	})
	if provider.count("USDT") != 3 {
		t.Errorf("%d submissions, want the 3 of the budget", provider.count("USDT"))
	}
	if available, pending := env.Balance(key, "USDT"); !available.Equal(sum("200")) || !pending.Equal(sum("300")) {
		t.Errorf("flagged batch released funds: %s/%s", available, pending)
	}
	// A withdrawal in a flagged batch can be neither cancelled nor resolved without a decision body.
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals/" + first + "/cancel", Key: key}); r.Status != http.StatusConflict {
		t.Errorf("cancel while processing: %d %s", r.Status, r.Body)
	}
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawals/" + first + "/resolve", Key: env.AdminKey,
		Body: map[string]any{"action": "confirm"}}); r.Status != http.StatusBadRequest {
		t.Errorf("confirm without txHash: %d %s", r.Status, r.Body)
	}

	// The admin found the first on chain, and knows the second was never sent.
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawals/" + first + "/resolve", Key: env.AdminKey,
		Body: map[string]any{"action": "confirm", "txHash": "0xfeed"}})
	if r.Status != http.StatusOK || r.JSON()["status"] != "confirmed" || r.JSON()["txHash"] != "0xfeed" {
		t.Fatalf("resolve first: %d %s", r.Status, r.Body)
	}
	r = env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-batches/" + batchID + "/resolve", Key: env.AdminKey,
		Body: map[string]any{"action": "fail", "reason": "never_broadcast"}})
	if r.Status != http.StatusOK || r.JSON()["status"] != "completed" {
		t.Fatalf("resolve batch: %d %s", r.Status, r.Body)
	}
	if w := getWithdrawal(env, key, second); w["status"] != "failed" || w["failureReason"] != "never_broadcast" {
		t.Errorf("second: %v", w)
	}
	if available, pending := env.Balance(key, "USDT"); !available.Equal(sum("400")) || !pending.IsZero() {
		t.Errorf("after resolution: %s/%s", available, pending)
	}
	var actions []struct{ Action, TargetID, Actor string }
	env.DB.Raw(`SELECT action, target_id, actor FROM admin_actions WHERE target_type = 'withdrawal' ORDER BY created_at, id`).Scan(&actions)
	if len(actions) != 2 || actions[0].Action != "withdrawal.confirm" || actions[1].Action != "withdrawal.fail" || actions[0].Actor == "" {
		t.Errorf("audit trail: %+v", actions)
	}
	// Completed batches are no longer open to manual decisions.
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-batches/" + batchID + "/resolve", Key: env.AdminKey,
		Body: map[string]any{"action": "retry"}}); r.Status != http.StatusConflict {
		t.Errorf("resolving a completed batch: %d %s", r.Status, r.Body)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// The process dies between claiming and submitting: the submission job, committed
// with the claim, is picked up by the next instance; nothing is lost or paid twice.
func TestCrashBetweenClaimAndSubmitResumes(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "BTC", "1")
	ids := []string{env.Withdraw(key, "BTC", "0.1", apitest.BTCAddress), env.Withdraw(key, "BTC", "0.2", apitest.BTCAddress)}

	batches, err := env.App.Payouts.ClaimAll(context.Background()) // and then the process "dies"
	if err != nil || len(batches) != 1 {
		t.Fatalf("claim: %v %v", batches, err)
	}
	var queued int64
	env.DB.Table("river_job").Where("kind = 'payout_submit' AND state = 'available' AND args->>'batch_id' = ?", batches[0]).Count(&queued)
	if queued != 1 {
		t.Fatalf("%d submission jobs queued with the claim, want 1", queued)
	}

	restarted := apitest.Restart(env) // a new instance on the same database
	restarted.StartJobs()
	waitTerminal(env, key, ids...)
	var paid int64
	env.DB.Table("sandbox_payouts").Count(&paid)
	if paid != 2 {
		t.Errorf("%d payments, want 2", paid)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// Two batchers claim the same pending set at once: every withdrawal lands in exactly
// one batch.
func TestRacingBatchersNeverShareAWithdrawal(t *testing.T) {
	t.Parallel()
	batchMax := func(o *apitest.Options) { o.BatchMax = 25 }
	env := apitest.New(t, batchMax)
	other := apitest.Restart(env, batchMax)
	merchantID, key := env.Merchant("Payroll")
	env.Credit(merchantID, "USDT", "100000")
	const n = 200
	bodies := make([]apitest.Request, 0, n)
	for range n {
		bodies = append(bodies, apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
			Body: map[string]any{"token": "USDT", "amount": "10", "address": apitest.ETHAddress}})
	}
	for _, r := range bodies {
		if got := env.Do(r); got.Status != http.StatusCreated {
			t.Fatalf("create: %d", got.Status)
		}
	}

	var wg sync.WaitGroup
	claimed := make([][]string, 2)
	errs := make([]error, 2)
	for i, p := range []*apitest.Env{env, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			claimed[i], errs[i] = p.App.Payouts.ClaimAll(context.Background())
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("instance A claimed %d batches, instance B %d", len(claimed[0]), len(claimed[1]))
	// Under contention SKIP LOCKED may leave an instance a partial batch, so there can
	// be more than n/25 batches, never fewer.
	if got := len(claimed[0]) + len(claimed[1]); got < n/25 {
		t.Errorf("batches %d + %d, want at least %d", len(claimed[0]), len(claimed[1]), n/25)
	}
	var stats struct {
		Processing, Distinct, Items int64
	}
	env.DB.Raw(`SELECT COUNT(*) FILTER (WHERE status = 'processing') AS processing, COUNT(DISTINCT id) AS distinct,
		(SELECT SUM(item_count) FROM payout_batches) AS items FROM withdrawals`).Scan(&stats)
	if stats.Processing != n || stats.Distinct != n || stats.Items != n {
		t.Errorf("%+v: every withdrawal must be in exactly one batch", stats)
	}
	var mismatched int64
	env.DB.Raw(`SELECT COUNT(*) FROM payout_batches b WHERE item_count <> (SELECT COUNT(*) FROM withdrawals w WHERE w.batch_id = b.id)`).Scan(&mismatched)
	if mismatched != 0 {
		t.Errorf("%d batches whose item count differs from their withdrawals", mismatched)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// The next interval is a minute away: only a run on demand settles a new withdrawal
// within the wait.
func TestPayoutRunOnDemand(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(o *apitest.Options) { o.StartJobs = true })
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "100")
	id := env.Withdraw(key, "USDT", "10", apitest.ETHAddress)
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey}); r.Status != http.StatusAccepted {
		t.Fatalf("payout run: %d %s", r.Status, r.Body)
	}
	waitTerminal(env, key, id)
	if s := getWithdrawal(env, key, id)["status"]; s != "confirmed" {
		t.Errorf("status %v", s)
	}
	var audited int64
	env.DB.Table("admin_actions").Where("action = 'payouts.run'").Count(&audited)
	if audited != 1 {
		t.Errorf("%d audited runs", audited)
	}
}
