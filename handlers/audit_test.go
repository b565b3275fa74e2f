package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

// Every admin action leaves a record (who, what, when, on what, details), readable
// through GET /api/admin/audit-log with filters and paging.
func TestAdminActionsAreAudited(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	var adminKeyID string
	env.DB.Raw(`SELECT id FROM api_keys WHERE role = 'admin'`).Scan(&adminKeyID)
	merchantID, _ := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "100")
	extra := issueKey(t, env, merchantID, "read")
	var extraID string
	env.DB.Raw(`SELECT id FROM api_keys WHERE key_prefix = ?`, extra[:10]).Scan(&extraID)
	env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/admin/api-keys/" + extraID, Key: env.AdminKey})
	env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/admin/api-keys/" + extraID, Key: env.AdminKey}) // no change, no record
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawal-fees", Key: env.AdminKey,
		Body: map[string]any{"baseFee": "2", "markupRate": "0.01", "enabled": true}})
	env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/admin/sandbox", Key: env.AdminKey, Body: map[string]any{"fault": "stall"}})
	env.Do(apitest.Request{Method: http.MethodPut, Path: "/api/admin/sandbox", Key: env.AdminKey, Body: map[string]any{"fault": ""}})
	env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-runs", Key: env.AdminKey})

	type record struct {
		ID, Actor, Action, TargetType, TargetID, CreatedAt string
		Details                                            map[string]any
	}
	var log struct {
		Records    []record
		Pagination struct{ Total int }
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/audit-log?limit=100", Key: env.AdminKey}).Decode(t, &log)
	actions := map[string]record{}
	for _, r := range log.Records {
		if r.Actor == "" || r.CreatedAt == "" || r.ID == "" {
			t.Errorf("incomplete record %+v", r)
		}
		actions[r.Action+" "+r.TargetType] = r
	}
	// The test admin key itself was minted with the service's API, as the CLI does.
	for _, want := range []string{
		"api_key.create api_key", "merchant.create merchant", "merchant.credit merchant", "api_key.revoke api_key",
		"fee_schedule.set fee_schedule", "sandbox.fault sandbox", "payouts.run payouts",
	} {
		if _, ok := actions[want]; !ok {
			t.Errorf("no %q record in %+v", want, log.Records)
		}
	}
	if r := actions["merchant.create merchant"]; r.Actor != adminKeyID || r.TargetID != merchantID || r.Details["name"] != "Acme" {
		t.Errorf("merchant record %+v", r)
	}
	if r := actions["merchant.credit merchant"]; r.Details["amount"] != "100" || r.Details["token"] != "USDT" || r.Details["reference"] == nil {
		t.Errorf("credit record %+v", r)
	}
	if r := actions["fee_schedule.set fee_schedule"]; r.TargetID != "default" || r.Details["new"].(map[string]any)["baseFee"] != "2" {
		t.Errorf("fee record %+v", r)
	}
	if log.Pagination.Total != 10 { // 3 keys minted, 1 revoked, merchant, credit, fee, 2 sandbox, run
		t.Errorf("%d records: %+v", log.Pagination.Total, log.Records)
	}

	var page struct {
		Records    []record
		Pagination struct {
			Total   int
			HasMore bool
		}
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/audit-log?action=api_key.create&limit=2", Key: env.AdminKey}).Decode(t, &page)
	if page.Pagination.Total != 3 || len(page.Records) != 2 || !page.Pagination.HasMore {
		t.Errorf("filtered page: %+v", page)
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/audit-log?targetType=api_key&targetId=" + extraID, Key: env.AdminKey}).Decode(t, &page)
	if page.Pagination.Total != 2 {
		t.Errorf("the revoked key's records: %+v", page)
	}
	env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/audit-log?actor=nobody", Key: env.AdminKey}).Decode(t, &page)
	if page.Pagination.Total != 0 {
		t.Errorf("unknown actor: %+v", page)
	}
	if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/audit-log?startDate=yesterday", Key: env.AdminKey}); r.Status != http.StatusBadRequest {
		t.Errorf("bad date: %d", r.Status)
	}
}

// The audit trail and the ledger are append-only in the database itself: no UPDATE,
// DELETE or TRUNCATE goes through, whoever sends it.
func TestAuditTrailAndLedgerAreAppendOnly(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, _ := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "100")
	for _, stmt := range []string{
		`UPDATE admin_actions SET actor = 'someone else'`,
		`DELETE FROM admin_actions`,
		`TRUNCATE admin_actions`,
		`UPDATE ledger_entries SET amount = amount * 2`,
		`DELETE FROM ledger_entries`,
		`TRUNCATE ledger_entries CASCADE`,
		`UPDATE ledger_journals SET created_by = 'x'`,
		`DELETE FROM ledger_journals`,
	} {
		if err := env.DB.Exec(stmt).Error; err == nil {
			t.Errorf("%s went through", stmt)
		}
	}
	var n int64
	env.DB.Table("admin_actions").Count(&n)
	if n == 0 {
		t.Error("the audit trail is empty")
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

// A batch flagged for review is locked while an admin resolves it; once any of its
// withdrawals was resolved by hand it cannot be resubmitted, so the provider can never
// pay an item whose funds were released. A resolution and a retry racing each other
// never both succeed.
func TestResolvingAFlaggedBatchIsRaceFree(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "USDT", "100000")
	ctx := context.Background()
	flagged := func() (batchID string, ids []string) {
		t.Helper()
		ids = []string{env.Withdraw(key, "USDT", "10", apitest.ETHAddress), env.Withdraw(key, "USDT", "20", apitest.ETHAddress)}
		batches, err := env.App.Payouts.ClaimAll(ctx)
		if err != nil || len(batches) != 1 {
			t.Fatalf("claim: %v %v", batches, err)
		}
		if err := env.App.Payouts.Flag(ctx, batches[0], errors.New("provider silent")); err != nil {
			t.Fatal(err)
		}
		return batches[0], ids
	}

	batchID, ids := flagged()
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawals/" + ids[0] + "/resolve", Key: env.AdminKey,
		Body: map[string]any{"action": "fail", "reason": "never_broadcast"}}); r.Status != http.StatusOK {
		t.Fatalf("fail by hand: %d %s", r.Status, r.Body)
	}
	r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-batches/" + batchID + "/resolve", Key: env.AdminKey,
		Body: map[string]any{"action": "retry"}})
	if r.Status != http.StatusConflict || r.ErrorCode() != "INVALID_STATE" {
		t.Errorf("retry after a manual resolution: %d %s", r.Status, r.Body)
	}
	var jobs int64
	env.DB.Raw(`SELECT count(*) FROM river_job WHERE kind = 'payout_submit' AND args->>'batch_id' = ? AND state = 'available'`, batchID).Scan(&jobs)
	if jobs != 1 { // the claim's own submission job only
		t.Errorf("%d submission jobs for the batch", jobs)
	}
	// The rest can still be resolved by hand.
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-batches/" + batchID + "/resolve", Key: env.AdminKey,
		Body: map[string]any{"action": "confirm", "txHash": "0xabc"}}); r.Status != http.StatusOK || r.JSON()["status"] != "completed" {
		t.Errorf("confirm the rest: %d %s", r.Status, r.Body)
	}

	for range 8 {
		batchID, ids := flagged()
		var wg sync.WaitGroup
		var fail, retry apitest.Response
		wg.Add(2)
		go func() {
			defer wg.Done()
			fail, _ = env.Send(apitest.Request{Method: http.MethodPost, Path: "/api/admin/withdrawals/" + ids[0] + "/resolve", Key: env.AdminKey,
				Body: map[string]any{"action": "fail", "reason": "never_broadcast"}})
		}()
		go func() {
			defer wg.Done()
			retry, _ = env.Send(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-batches/" + batchID + "/resolve", Key: env.AdminKey,
				Body: map[string]any{"action": "retry"}})
		}()
		wg.Wait()
		if (fail.Status == http.StatusOK) == (retry.Status == http.StatusOK) {
			t.Errorf("fail %d %s / retry %d %s: exactly one must win", fail.Status, fail.Body, retry.Status, retry.Body)
		}
		var status string
		env.DB.Raw(`SELECT status FROM payout_batches WHERE id = ?`, batchID).Scan(&status)
		if want := map[bool]string{true: "needs_review", false: "submitting"}[fail.Status == http.StatusOK]; status != want {
			t.Errorf("batch %s after the race, want %s", status, want)
		}
		// Settle what is left so the next round's claim starts clean.
		env.DB.Exec(`UPDATE payout_batches SET status = 'needs_review' WHERE id = ?`, batchID)
		env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/admin/payout-batches/" + batchID + "/resolve", Key: env.AdminKey,
			Body: map[string]any{"action": "fail", "reason": "test"}})
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}
