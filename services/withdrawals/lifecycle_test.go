package withdrawals_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/withdrawals"
)

func confirm(txHash string) withdrawals.Change {
	return withdrawals.Change{To: models.StatusConfirmed, TxHash: &txHash, Actor: "test"}
}

func fail(reason string) withdrawals.Change {
	return withdrawals.Change{To: models.StatusFailed, FailureReason: &reason, Actor: "test"}
}

// process puts a withdrawal in a batch of its own, as the payout batcher does.
func (f fixture) process(w *models.Withdrawal, batchID string) error {
	if err := f.db.Exec(`INSERT INTO payout_batches (id, token, network, status, item_count, total_amount, provider, created_at, updated_at)
		VALUES (?, ?, ?, 'submitting', 1, ?, 'test', ?, ?) ON CONFLICT DO NOTHING`, batchID, w.Token, w.Network, w.NetAmount, f.now, f.now).Error; err != nil {
		return err
	}
	return f.apply(w, withdrawals.Change{To: models.StatusProcessing, BatchID: &batchID, Actor: "test"})
}

func (f fixture) accountSum(t *testing.T, account string) decimal.Decimal {
	t.Helper()
	var sum decimal.Decimal
	f.db.Raw(`SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account_id = ?`, account).Scan(&sum)
	return sum
}

func TestConfirmSettlesNetToPayoutsAndFeeToPlatform(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := f.create(t, "100") // default schedule: fee 1, net 99
	if !w.EstimatedCompletion.Equal(f.now.Add(5*time.Minute + 300*time.Second)) {
		t.Errorf("estimatedCompletion %v", w.EstimatedCompletion)
	}
	if err := f.process(&w, "bat_1"); err != nil {
		t.Fatal(err)
	}
	later := f.now.Add(time.Minute)
	if err := f.tx.Transaction(context.Background(), func(tx *dbtx.Tx) error {
		return f.lifecycle.Apply(context.Background(), tx, []*models.Withdrawal{&w}, confirm("0xabc"), later)
	}); err != nil {
		t.Fatal(err)
	}
	var stored models.Withdrawal
	f.db.Where("id = ?", w.ID).Take(&stored)
	if stored.Status != models.StatusConfirmed || *stored.TxHash != "0xabc" || *stored.BatchID != "bat_1" || !stored.ConfirmedAt.Equal(later) || !stored.ProcessingAt.Equal(f.now) {
		t.Errorf("stored: %+v", stored)
	}
	available, pending := f.balance(t, f.merchantID)
	if !available.Equal(decimal.NewFromInt(900)) || !pending.IsZero() {
		t.Errorf("balance %s/%s", available, pending)
	}
	if got := f.accountSum(t, "external:payouts:USDT"); !got.Equal(decimal.NewFromInt(99)) {
		t.Errorf("payouts %s", got)
	}
	if got := f.accountSum(t, "platform:fees:USDT"); !got.Equal(decimal.NewFromInt(1)) {
		t.Errorf("fees %s", got)
	}
	testdb.AssertLedgerConsistent(t, f.db)
}

func TestFailureReleasesFunds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, viaProcessing := range []bool{false, true} {
		w := f.create(t, "100")
		if viaProcessing {
			if err := f.process(&w, "bat_2"); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.apply(&w, fail("invalid_address")); err != nil {
			t.Fatal(err)
		}
		if w.Status != models.StatusFailed || *w.FailureReason != "invalid_address" {
			t.Errorf("withdrawal %+v", w)
		}
	}
	available, pending := f.balance(t, f.merchantID)
	if !available.Equal(decimal.NewFromInt(1000)) || !pending.IsZero() {
		t.Errorf("balance %s/%s", available, pending)
	}
	testdb.AssertLedgerConsistent(t, f.db)
}

func TestTransitionsOutsideTheTableAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var state *services.InvalidStateError

	pending := f.create(t, "10")
	if err := f.apply(&pending, confirm("0x1")); !errors.As(err, &state) {
		t.Errorf("pending -> confirmed: %v", err)
	}

	done := f.create(t, "10")
	if err := f.process(&done, "b"); err != nil {
		t.Fatal(err)
	}
	if err := f.apply(&done, confirm("0x2")); err != nil {
		t.Fatal(err)
	}
	for name, step := range map[string]func() error{
		"confirmed -> failed":     func() error { return f.apply(&done, fail("x")) },
		"confirmed -> processing": func() error { return f.process(&done, "b") },
	} {
		if err := step(); !errors.As(err, &state) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := f.withdrawals.Cancel(context.Background(), f.merchantID, done.ID); !errors.As(err, &state) {
		t.Errorf("cancel confirmed: %v", err)
	}

	// A stale copy cannot move a withdrawal twice: the update is guarded on the status.
	w := f.create(t, "10")
	stale := w
	if err := f.apply(&w, fail("x")); err != nil {
		t.Fatal(err)
	}
	if err := f.process(&stale, "b"); !errors.As(err, &state) {
		t.Errorf("stale transition: %v", err)
	}
	testdb.AssertLedgerConsistent(t, f.db)
}

// A transaction that rolls back leaves neither the status change, its journal nor its webhook event.
func TestRolledBackTransitionLeavesNoTrace(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := f.create(t, "10")
	boom := errors.New("boom")
	err := f.tx.Transaction(context.Background(), func(tx *dbtx.Tx) error {
		if err := f.lifecycle.Apply(context.Background(), tx, []*models.Withdrawal{&w}, fail("x"), f.now); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var stored models.Withdrawal
	f.db.Where("id = ?", w.ID).Take(&stored)
	var journals, failedEvents, pendingEvents int64
	f.db.Table("ledger_journals").Where("withdrawal_id = ? AND kind = 'withdrawal_release'", w.ID).Count(&journals)
	f.db.Table("webhook_events").Where("subject_id = ? AND type = 'withdrawal.failed'", w.ID).Count(&failedEvents)
	f.db.Table("webhook_events").Where("subject_id = ? AND type = 'withdrawal.pending'", w.ID).Count(&pendingEvents)
	if stored.Status != models.StatusPending || journals != 0 || failedEvents != 0 {
		t.Errorf("status %s, %d release journals, %d failed events after a rollback", stored.Status, journals, failedEvents)
	}
	if pendingEvents != 1 {
		t.Errorf("%d withdrawal.pending events, want the one written with the creation", pendingEvents)
	}

	// The same change committed writes its event.
	if err := f.apply(&stored, fail("x")); err != nil {
		t.Fatal(err)
	}
	f.db.Table("webhook_events").Where("subject_id = ? AND type = 'withdrawal.failed'", w.ID).Count(&failedEvents)
	if failedEvents != 1 {
		t.Errorf("%d withdrawal.failed events after the commit, want 1", failedEvents)
	}
	testdb.AssertLedgerConsistent(t, f.db)
}
