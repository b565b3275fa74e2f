package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/address"
)

type fixture struct {
	db          *gorm.DB
	withdrawals *services.Withdrawals
	merchantID  string
	now         time.Time
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db, _ := testdb.New(t)
	now := time.Date(2024, 12, 19, 10, 30, 0, 0, time.UTC)
	clock := services.Clock(func() time.Time { return now })
	v, _ := address.NewValidator("mainnet")
	accounts := services.NewAccounts(db, clock)
	m, err := accounts.CreateMerchant(context.Background(), "Acme", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.Credit(context.Background(), services.CreditInput{MerchantID: m.ID, Token: "USDT", Amount: decimal.NewFromInt(1000), Reference: "seed", Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	return fixture{db: db, withdrawals: services.NewWithdrawals(db, v, clock, 5*time.Minute, services.NewOutbox(6)), merchantID: m.ID, now: now}
}

func (f fixture) create(t *testing.T, amount string) models.Withdrawal {
	t.Helper()
	res, err := f.withdrawals.Create(context.Background(), services.CreateInput{
		MerchantID: f.merchantID, Token: "USDT", Amount: decimal.RequireFromString(amount),
		Address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Withdrawal
}

func (f fixture) balance(t *testing.T) (available, pending decimal.Decimal) {
	t.Helper()
	var b models.Balance
	if err := f.db.Where("merchant_id = ? AND token = 'USDT'", f.merchantID).Take(&b).Error; err != nil {
		t.Fatal(err)
	}
	return b.Available, b.Pending
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
	later := f.now.Add(time.Minute)
	err := f.db.Transaction(func(tx *gorm.DB) error {
		if err := services.Process(tx, &w, "bat_1", f.now); err != nil {
			return err
		}
		return services.Confirm(tx, &w, "0xabc", later)
	})
	if err != nil {
		t.Fatal(err)
	}
	var stored models.Withdrawal
	f.db.Where("id = ?", w.ID).Take(&stored)
	if stored.Status != models.StatusConfirmed || *stored.TxHash != "0xabc" || *stored.BatchID != "bat_1" || !stored.ConfirmedAt.Equal(later) || !stored.ProcessingAt.Equal(f.now) {
		t.Errorf("stored: %+v", stored)
	}
	available, pending := f.balance(t)
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
		err := f.db.Transaction(func(tx *gorm.DB) error {
			if viaProcessing {
				if err := services.Process(tx, &w, "bat_2", f.now); err != nil {
					return err
				}
			}
			return services.Fail(tx, &w, "invalid_address", f.now)
		})
		if err != nil {
			t.Fatal(err)
		}
		if w.Status != models.StatusFailed || *w.FailureReason != "invalid_address" {
			t.Errorf("withdrawal %+v", w)
		}
	}
	available, pending := f.balance(t)
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
	if err := f.db.Transaction(func(tx *gorm.DB) error { return services.Confirm(tx, &pending, "0x1", f.now) }); !errors.As(err, &state) {
		t.Errorf("pending -> confirmed: %v", err)
	}

	done := f.create(t, "10")
	f.db.Transaction(func(tx *gorm.DB) error {
		if err := services.Process(tx, &done, "b", f.now); err != nil {
			return err
		}
		return services.Confirm(tx, &done, "0x2", f.now)
	})
	for name, step := range map[string]func(tx *gorm.DB) error{
		"confirmed -> failed":     func(tx *gorm.DB) error { return services.Fail(tx, &done, "x", f.now) },
		"confirmed -> processing": func(tx *gorm.DB) error { return services.Process(tx, &done, "b", f.now) },
	} {
		if err := f.db.Transaction(step); !errors.As(err, &state) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := f.withdrawals.Cancel(context.Background(), f.merchantID, done.ID); !errors.As(err, &state) {
		t.Errorf("cancel confirmed: %v", err)
	}

	// A stale copy cannot move a withdrawal twice: the update is guarded on the status.
	w := f.create(t, "10")
	stale := w
	if err := f.db.Transaction(func(tx *gorm.DB) error { return services.Fail(tx, &w, "x", f.now) }); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Transaction(func(tx *gorm.DB) error { return services.Process(tx, &stale, "b", f.now) }); !errors.As(err, &state) {
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
	err := f.db.Transaction(func(tx *gorm.DB) error {
		if err := services.Fail(tx, &w, "x", f.now); err != nil {
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
	if err := f.db.Transaction(func(tx *gorm.DB) error { return services.Fail(tx, &stored, "x", f.now) }); err != nil {
		t.Fatal(err)
	}
	f.db.Table("webhook_events").Where("subject_id = ? AND type = 'withdrawal.failed'", w.ID).Count(&failedEvents)
	if failedEvents != 1 {
		t.Errorf("%d withdrawal.failed events after the commit, want 1", failedEvents)
	}
	testdb.AssertLedgerConsistent(t, f.db)
}
