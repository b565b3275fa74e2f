package withdrawals_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// One record holding every kind of outcome: each item gets exactly the outcome it would
// get alone, in arrival order on a shared balance, and the ledger still balances.
func TestRecordGivesEachItemItsOwnOutcome(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	guarded := f.merchant(t, "Guarded", "1000")
	if err := f.db.Exec(`UPDATE merchants SET whitelist_enabled = true WHERE id = ?`, guarded).Error; err != nil {
		t.Fatal(err)
	}
	ws := f.prepare(t,
		usdt(f.merchantID, "600", ""),   // 0: created, 400 left
		usdt(guarded, "5", ""),          // 1: address not whitelisted
		usdt(f.merchantID, "600", ""),   // 2: insufficient, 400 available
		usdt(f.merchantID, "300", "k1"), // 3: created, 100 left
		usdt(f.merchantID, "10", "k1"),  // 4: key bound by item 3
		usdt(f.merchantID, "100", ""),   // 5: created, nothing left
	)
	out, err := f.recorder.Record(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	want := []withdrawals.OutcomeKind{withdrawals.Created, withdrawals.NotWhitelisted, withdrawals.Insufficient,
		withdrawals.Created, withdrawals.KeyBound, withdrawals.Created}
	for i, o := range out {
		if o.Kind != want[i] {
			t.Errorf("item %d: outcome %d, want %d", i, o.Kind, want[i])
		}
	}
	if !out[2].Available.Equal(decimal.NewFromInt(400)) {
		t.Errorf("item 2 saw %s available, want 400", out[2].Available)
	}
	available, pending := f.balance(t, f.merchantID)
	if !available.IsZero() || !pending.Equal(decimal.NewFromInt(1000)) {
		t.Fatalf("balance available %s pending %s, want 0 and 1000", available, pending)
	}
	var rows, events int64
	f.db.Model(&models.Withdrawal{}).Count(&rows)
	f.db.Table("webhook_events").Where("type = 'withdrawal.pending'").Count(&events)
	if rows != 3 || events != 3 {
		t.Fatalf("%d withdrawals and %d pending events, want 3 of each", rows, events)
	}
	f.reconciles(t)
}

// Each balance of a record is locked as a whole: one whose items all fit takes them in
// one move, one whose items do not is served in arrival order, and a merchant with no
// balance row yet is answered insufficient with nothing available.
func TestRecordLocksPerBalance(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fits := f.merchant(t, "Fits", "100")
	empty := f.merchant(t, "Empty", "")
	if err := f.db.Exec(`DELETE FROM balances WHERE merchant_id = ?`, empty).Error; err != nil {
		t.Fatal(err)
	}
	out, err := f.recorder.Record(context.Background(), f.prepare(t,
		usdt(fits, "30", ""),          // 0: created
		usdt(f.merchantID, "900", ""), // 1: created, 100 left
		usdt(empty, "5", ""),          // 2: insufficient, no balance row at all
		usdt(fits, "70", ""),          // 3: created, the balance exactly used
		usdt(f.merchantID, "150", ""), // 4: insufficient, 100 available
		usdt(f.merchantID, "100", ""), // 5: created
	))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []withdrawals.OutcomeKind{withdrawals.Created, withdrawals.Created, withdrawals.Insufficient,
		withdrawals.Created, withdrawals.Insufficient, withdrawals.Created} {
		if out[i].Kind != want {
			t.Errorf("item %d: outcome %d, want %d", i, out[i].Kind, want)
		}
	}
	if !out[2].Available.IsZero() || !out[4].Available.Equal(decimal.NewFromInt(100)) {
		t.Errorf("available seen: %s and %s, want 0 and 100", out[2].Available, out[4].Available)
	}
	for _, m := range []string{fits, f.merchantID} {
		if available, _ := f.balance(t, m); !available.IsZero() {
			t.Errorf("merchant %s: available %s, want 0", m, available)
		}
	}
	f.reconciles(t)
}

// A record PostgreSQL refuses is refused as a whole, nothing of it written; through
// the grouping, whose writer then records each item alone (groupcommit's Alone), only
// the item that made it fail gets the refusal.
func TestRefusedRecordWritesNothingAndGroupingIsolatesTheItem(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	existing := f.create(t, "2")
	ws := f.prepare(t, usdt(f.merchantID, "3", ""), usdt(f.merchantID, "4", ""), usdt(f.merchantID, "5", ""))
	// A primary-key violation fails the statement that carries it.
	ws[1].ID, ws[1].Lock.WithdrawalID, ws[1].Event.SubjectID = existing.ID, &existing.ID, &existing.ID

	var refused *pgconn.PgError
	if _, err := f.recorder.Record(context.Background(), ws); !errors.As(err, &refused) {
		t.Fatalf("record: %v, want PostgreSQL's refusal", err)
	}
	if available, _ := f.balance(t, f.merchantID); !available.Equal(decimal.NewFromInt(998)) {
		t.Fatalf("a refused record changed the balance: %s", available)
	}

	grouped := withdrawals.NewGrouped(f.recorder, withdrawals.GroupConfig{Writers: 1, MaxGroup: 8})
	defer grouped.Close()
	var wg sync.WaitGroup
	outcomes, errs := make([]withdrawals.Outcome, 3), make([]error, 3)
	for i := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := grouped.Record(context.Background(), ws[i:i+1])
			if err == nil {
				outcomes[i] = o[0]
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if !errors.As(errs[1], &refused) {
		t.Fatalf("the item reusing an id: %v, want PostgreSQL's refusal", errs[1])
	}
	for _, i := range []int{0, 2} {
		if errs[i] != nil || outcomes[i].Kind != withdrawals.Created {
			t.Fatalf("item %d: %v %v, want created despite its neighbour", i, outcomes[i], errs[i])
		}
	}
	available, pending := f.balance(t, f.merchantID)
	if !available.Equal(decimal.NewFromInt(1000-2-3-5)) || !pending.Equal(decimal.NewFromInt(2+3+5)) {
		t.Fatalf("balance available %s pending %s, want 990 and 10", available, pending)
	}
	f.reconciles(t)
}

// Concurrent creates through the grouping against one balance: exactly as many fit as
// the balance covers, whatever the grouping made of them.
func TestGroupedCreatesNeverOverdraw(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	grouped := withdrawals.NewGrouped(f.recorder, withdrawals.GroupConfig{Writers: 2, MaxGroup: 16})
	defer grouped.Close()
	ws := make([]withdrawals.CreateInput, 120)
	for i := range ws {
		ws[i] = usdt(f.merchantID, "10", "")
	}
	prepared := f.prepare(t, ws...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := range prepared {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := grouped.Record(context.Background(), prepared[i:i+1])
			if err != nil {
				t.Error(err)
				return
			}
			if o[0].Kind == withdrawals.Created {
				mu.Lock()
				created++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if created != 100 {
		t.Fatalf("%d created from a balance of 1000 at 10 each, want 100", created)
	}
	f.reconciles(t)
}
