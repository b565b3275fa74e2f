package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// adminKey issues another read-write admin key.
func adminKey(t *testing.T, env *apitest.Env, name string) string {
	t.Helper()
	k, err := env.Accounts.CreateAdminKey(context.Background(), name, models.ScopeReadWrite, "test")
	if err != nil {
		t.Fatal(err)
	}
	return k.Plaintext
}

func setApprovalRule(t *testing.T, env *apitest.Env, body map[string]any) {
	t.Helper()
	if r := env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/admin/approval-rules", Key: env.AdminKey, Body: body}); r.Status != http.StatusOK {
		t.Fatalf("set rule %v: %d %s", body, r.Status, r.Body)
	}
}

func decide(env *apitest.Env, key, id, verb, reason string) apitest.Response {
	r := apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawals/" + id + "/" + verb, Key: key}
	if reason != "" {
		r.Body = map[string]any{"reason": reason}
	}
	return env.Do(r)
}

func createWithdrawal(env *apitest.Env, key, amount, address string) apitest.Response {
	return env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Body: map[string]any{"token": "USDT", "amount": amount, "address": address}})
}

// eventCount counts the webhook events of a type about a subject.
func eventCount(t *testing.T, env *apitest.Env, subject, eventType string) int {
	t.Helper()
	var n int
	if err := env.DB.Raw(`SELECT count(*) FROM webhook_events WHERE subject_id = ? AND type = ?`, subject, eventType).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// A withdrawal above the threshold waits in pending_approval with its funds locked,
// needs two distinct admin keys, and moves on only then; a rejection returns the funds;
// one below the threshold is not held; a merchant's own rule replaces the default.
func TestApprovalThresholdNeedsDistinctAdmins(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Held")
	env.Credit(mid, "USDT", "1000")
	second := adminKey(t, env, "second approver")
	setApprovalRule(t, env, map[string]any{"token": "USDT", "amountAbove": "100", "approvalsRequired": 2})
	for _, bad := range []map[string]any{
		{"token": "USDT"}, {"token": "USDT", "amountAbove": "-1"}, {"token": "USDT", "amountAbove": "1", "approvalsRequired": 6},
		{"token": "USDT", "newAddressDays": 0}, {"token": "NOPE", "amountAbove": "1"},
	} {
		if r := env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/admin/approval-rules", Key: env.AdminKey, Body: bad}); r.Status != http.StatusBadRequest {
			t.Errorf("rule %v: %d %s", bad, r.Status, r.Body)
		}
	}

	small := createWithdrawal(env, key, "50", apitest.ETHAddress).JSON()
	if small["status"] != "pending" || small["approvalsRequired"] != float64(0) {
		t.Errorf("below the threshold: %v", small)
	}
	held := createWithdrawal(env, key, "150", apitest.ETHAddress).JSON()
	id := held["id"].(string)
	if held["status"] != "pending_approval" || held["approvalsRequired"] != float64(2) || held["approvalReason"] != "amount" {
		t.Fatalf("above the threshold: %v", held)
	}
	if avail, pending := env.Balance(key, "USDT"); !avail.Equal(decimal.NewFromInt(800)) || !pending.Equal(decimal.NewFromInt(200)) {
		t.Errorf("held funds: %s available, %s pending", avail, pending)
	}
	if eventCount(t, env, id, "withdrawal.approval_required") != 1 || eventCount(t, env, id, "withdrawal.pending") != 0 {
		t.Error("a held withdrawal is announced by withdrawal.approval_required alone")
	}
	var queue struct {
		Approvals []struct {
			Withdrawal struct{ ID, MerchantID string }
			Approvals  []struct{ KeyID string }
			ExpiresAt  string
		}
		Pagination struct{ Total int }
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/approvals", Key: env.AdminKey}).Decode(t, &queue)
	if queue.Pagination.Total != 1 || queue.Approvals[0].Withdrawal.ID != id || queue.Approvals[0].Withdrawal.MerchantID != mid {
		t.Fatalf("approval queue: %+v", queue)
	}

	// The batcher leaves it alone while it waits.
	if _, err := env.App.Payouts.ClaimAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := decide(env, env.AdminKey, id, "approve", "invoice 42"); r.Status != http.StatusOK || r.JSON()["status"] != "pending_approval" {
		t.Fatalf("first approval: %d %s", r.Status, r.Body)
	}
	if r := decide(env, env.AdminKey, id, "approve", ""); r.Status != http.StatusConflict || r.ErrorCode() != "ALREADY_DECIDED" {
		t.Errorf("the same key again: %d %s", r.Status, r.Body)
	}
	if r := decide(env, key, id, "approve", ""); r.Status != http.StatusForbidden {
		t.Errorf("a merchant key: %d %s", r.Status, r.Body)
	}
	if r := decide(env, second, id, "approve", ""); r.Status != http.StatusOK || r.JSON()["status"] != "pending" {
		t.Fatalf("second approval: %d %s", r.Status, r.Body)
	}
	if eventCount(t, env, id, "withdrawal.pending") != 1 {
		t.Error("an approved withdrawal is announced by withdrawal.pending")
	}
	if r := decide(env, second, id, "reject", ""); r.Status != http.StatusConflict || r.ErrorCode() != "INVALID_STATE" {
		t.Errorf("deciding after the approval: %d %s", r.Status, r.Body)
	}

	// A rejection fails it and returns the funds; the reason reaches the merchant.
	rejected := createWithdrawal(env, key, "200", apitest.ETHAddress).JSON()["id"].(string)
	r := decide(env, second, rejected, "reject", "unknown beneficiary")
	if r.Status != http.StatusOK || r.JSON()["status"] != "failed" || !strings.Contains(r.JSON()["failureReason"].(string), "unknown beneficiary") {
		t.Fatalf("reject: %d %s", r.Status, r.Body)
	}
	if avail, pending := env.Balance(key, "USDT"); !avail.Equal(decimal.NewFromInt(800)) || !pending.Equal(decimal.NewFromInt(200)) {
		t.Errorf("after the rejection: %s available, %s pending", avail, pending)
	}
	var audited int64
	env.DB.Model(&models.AdminAction{}).Where("action IN ('withdrawal.approve', 'withdrawal.reject')").Count(&audited)
	if audited != 3 {
		t.Errorf("%d decisions audited, want 3", audited)
	}

	// A merchant's own rule replaces the default; removing it restores the default.
	setApprovalRule(t, env, map[string]any{"merchantId": mid, "token": "USDT", "amountAbove": "500"})
	if s := createWithdrawal(env, key, "150", apitest.ETHAddress).JSON()["status"]; s != "pending" {
		t.Errorf("under the merchant's own threshold: %v", s)
	}
	if r := env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/admin/approval-rules?token=usdt&merchantId=" + mid, Key: env.AdminKey}); r.Status != http.StatusNoContent {
		t.Fatalf("remove rule: %d %s", r.Status, r.Body)
	}
	if s := createWithdrawal(env, key, "150", apitest.ETHAddress).JSON()["status"]; s != "pending_approval" {
		t.Errorf("the default again: %v", s)
	}
	if r := env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/admin/approval-rules?token=USDT&merchantId=" + mid, Key: env.AdminKey}); r.Status != http.StatusNotFound {
		t.Errorf("removing a rule twice: %d", r.Status)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// The key that created a withdrawal cannot decide on it. Only merchant keys create
// withdrawals and only admin keys decide, so the rule is checked at the use case.
func TestApprovalNeverByTheCreatingKey(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Self")
	env.Credit(mid, "USDT", "1000")
	setApprovalRule(t, env, map[string]any{"token": "USDT", "amountAbove": "10"})
	id := createWithdrawal(env, key, "50", apitest.ETHAddress).JSON()["id"].(string)
	var creator string
	env.DB.Raw(`SELECT created_by_key FROM withdrawals WHERE id = ?`, id).Scan(&creator)
	if !strings.HasPrefix(creator, "key_") {
		t.Fatalf("created_by_key %q", creator)
	}
	_, err := env.App.Withdrawals.Decide(context.Background(), id, withdrawals.Decision{Approve: true, KeyID: creator})
	if !errors.Is(err, services.ErrSelfApproval) {
		t.Fatalf("the creator approving: %v", err)
	}
	if w := getWithdrawal(env, key, id); w["status"] != "pending_approval" {
		t.Errorf("after a refused self-approval: %v", w["status"])
	}
}

// Two admins approving at once: with one approval required exactly one succeeds and the
// withdrawal moves once; with two required both count and it moves once.
func TestTwoAdminsApprovingAtOnce(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Race")
	env.Credit(mid, "USDT", "100000")
	keys := []string{env.AdminKey, adminKey(t, env, "second")}
	for _, required := range []int{1, 2} {
		setApprovalRule(t, env, map[string]any{"token": "USDT", "amountAbove": "10", "approvalsRequired": required})
		for round := 0; round < 5; round++ {
			id := createWithdrawal(env, key, "20", apitest.ETHAddress).JSON()["id"].(string)
			answers := make([]apitest.Response, 2)
			var wg sync.WaitGroup
			for i := range keys {
				wg.Add(1)
				go func() {
					defer wg.Done()
					answers[i] = decide(env, keys[i], id, "approve", "")
				}()
			}
			wg.Wait()
			ok := 0
			for _, a := range answers {
				switch {
				case a.Status == http.StatusOK:
					ok++
				case a.ErrorCode() != "INVALID_STATE":
					t.Errorf("approval answered %d %s", a.Status, a.Body)
				}
			}
			if want := map[int]int{1: 1, 2: 2}[required]; ok != want {
				t.Errorf("%d required: %d approvals succeeded, want %d", required, ok, want)
			}
			if s := getWithdrawal(env, key, id)["status"]; s != "pending" || eventCount(t, env, id, "withdrawal.pending") != 1 {
				t.Errorf("%d required: status %v, %d pending events", required, s, eventCount(t, env, id, "withdrawal.pending"))
			}
		}
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// An approval racing the merchant's cancel: exactly one of them wins, and the funds are
// where the winner put them.
func TestApproveRacingCancel(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	mid, key := env.Merchant("Cancel race")
	env.Credit(mid, "USDT", "1000")
	setApprovalRule(t, env, map[string]any{"token": "USDT", "amountAbove": "1"})
	cancelled := 0
	for round := 0; round < 10; round++ {
		id := createWithdrawal(env, key, "10", apitest.ETHAddress).JSON()["id"].(string)
		var approve, cancel apitest.Response
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); approve = decide(env, env.AdminKey, id, "approve", "") }()
		go func() {
			defer wg.Done()
			cancel = env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals/" + id + "/cancel", Key: key})
		}()
		wg.Wait()
		status := getWithdrawal(env, key, id)["status"]
		switch {
		case approve.Status == http.StatusOK && cancel.Status == http.StatusOK:
			// the cancel came after the approval: pending can still be cancelled
			if status != "cancelled" {
				t.Errorf("approved then cancelled, but %v", status)
			}
			cancelled++
		case approve.Status == http.StatusOK && cancel.ErrorCode() == "INVALID_STATE":
			t.Errorf("the cancel of a pending withdrawal was refused: %s", cancel.Body)
		case cancel.Status == http.StatusOK && approve.ErrorCode() == "INVALID_STATE":
			if status != "cancelled" {
				t.Errorf("cancelled first, but %v", status)
			}
			cancelled++
		default:
			t.Errorf("approve %d %s, cancel %d %s", approve.Status, approve.Body, cancel.Status, cancel.Body)
		}
		if n := eventCount(t, env, id, "withdrawal.cancelled"); n != 1 {
			t.Errorf("%d cancelled events", n)
		}
	}
	if avail, pending := env.Balance(key, "USDT"); !avail.Equal(decimal.NewFromInt(1000)) || !pending.IsZero() || cancelled != 10 {
		t.Errorf("after the races: %s available, %s pending, %d cancelled", avail, pending, cancelled)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// A withdrawal to an address the merchant has not paid for long enough waits; one to an
// address first paid long enough ago does not. A wait longer than the approval TTL
// expires as a rejection.
func TestNewAddressRuleAndExpiry(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	env := apitest.New(t, func(o *apitest.Options) {
		o.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		o.ApprovalTTL = 48 * time.Hour
	})
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	mid, key := env.Merchant("Addresses")
	env.Credit(mid, "USDT", "1000")
	setApprovalRule(t, env, map[string]any{"token": "USDT", "newAddressDays": 7})

	first := createWithdrawal(env, key, "10", apitest.ETHAddress).JSON()
	if first["status"] != "pending_approval" || first["approvalReason"] != "new_address" {
		t.Fatalf("a never-paid address: %v", first)
	}
	id := first["id"].(string)
	decide(env, env.AdminKey, id, "approve", "")
	env.StartJobs()
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey}); r.Status != http.StatusAccepted {
		t.Fatalf("payout run: %d %s", r.Status, r.Body)
	}
	waitTerminal(env, key, id)
	if s := getWithdrawal(env, key, id)["status"]; s != "confirmed" {
		t.Fatalf("first payout: %v", s)
	}
	// Paid a day ago: still new. The address written in lower case is the same address.
	advance(24 * time.Hour)
	if s := createWithdrawal(env, key, "10", strings.ToLower(apitest.ETHAddress)).JSON()["status"]; s != "pending_approval" {
		t.Errorf("first paid a day ago: %v", s)
	}
	// Eight days after its first payout it is known.
	advance(7 * 24 * time.Hour)
	if s := createWithdrawal(env, key, "10", strings.ToLower(apitest.ETHAddress)).JSON()["status"]; s != "pending" {
		t.Errorf("first paid eight days ago: %v", s)
	}

	// The one held since yesterday expired (48 h): failed, funds back, audited.
	expired, err := env.App.Withdrawals.ExpireApprovals(context.Background())
	if err != nil || expired != 1 {
		t.Fatalf("expired %d, %v", expired, err)
	}
	var queue struct{ Pagination struct{ Total int } }
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/approvals?merchantId=" + mid, Key: env.AdminKey}).Decode(t, &queue)
	if queue.Pagination.Total != 0 {
		t.Errorf("%d still waiting after the expiry", queue.Pagination.Total)
	}
	var reasons []string
	env.DB.Raw(`SELECT failure_reason FROM withdrawals WHERE status = 'failed'`).Scan(&reasons)
	if len(reasons) != 1 || !strings.HasPrefix(reasons[0], "approval expired") {
		t.Errorf("failure reasons %v", reasons)
	}
	var audited int64
	env.DB.Model(&models.AdminAction{}).Where("action = 'withdrawal.approval_expire' AND actor = 'system'").Count(&audited)
	if audited != 1 {
		t.Errorf("%d expiries audited", audited)
	}
	assertReconciled(t, env)
	testdb.AssertLedgerConsistent(t, env.DB)
}
