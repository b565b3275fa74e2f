package services_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
)

func usdt(merchantID, amount, key string) services.CreateInput {
	return services.CreateInput{MerchantID: merchantID, Token: "USDT", Amount: decimal.RequireFromString(amount),
		Address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", IdempotencyKey: key}
}

// One group holding every kind of answer: each item gets exactly the answer it would
// get alone, in arrival order on a shared balance, and the ledger still balances.
func TestGroupGivesEachItemItsOwnAnswer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	clock := services.Clock(func() time.Time { return f.now })
	guarded, err := services.NewAccounts(f.db, clock).CreateMerchant(ctx, "Guarded", "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.Exec(`UPDATE merchants SET whitelist_enabled = true WHERE id = ?`, guarded.ID).Error; err != nil {
		t.Fatal(err)
	}

	ws, errs := f.withdrawals.CreateTogether(ctx, []services.CreateInput{
		usdt(f.merchantID, "600", ""),   // 0: created, 400 left
		usdt(guarded.ID, "5", ""),       // 1: address not whitelisted
		usdt(f.merchantID, "600", ""),   // 2: insufficient, 400 available
		usdt(f.merchantID, "300", "k1"), // 3: created, 100 left
		usdt(f.merchantID, "10", "k1"),  // 4: key bound by item 3
		usdt(f.merchantID, "100", ""),   // 5: created, nothing left
	}, nil)

	for _, i := range []int{0, 3, 5} {
		if errs[i] != nil || ws[i].ID == "" {
			t.Fatalf("item %d: %v, want created", i, errs[i])
		}
	}
	if !errors.Is(errs[1], services.ErrAddressNotWhitelisted) {
		t.Fatalf("item 1: %v, want not whitelisted", errs[1])
	}
	var insufficient *services.InsufficientBalanceError
	if !errors.As(errs[2], &insufficient) || !insufficient.Available.Equal(decimal.NewFromInt(400)) {
		t.Fatalf("item 2: %v, want insufficient with 400 available", errs[2])
	}
	if !errors.Is(errs[4], services.ErrKeyBound) {
		t.Fatalf("item 4: %v, want the key already bound", errs[4])
	}

	available, pending := f.balance(t)
	if !available.IsZero() || !pending.Equal(decimal.NewFromInt(1000)) {
		t.Fatalf("balance available %s pending %s, want 0 and 1000", available, pending)
	}
	var count int64
	if err := f.db.Model(&models.Withdrawal{}).Count(&count).Error; err != nil || count != 3 {
		t.Fatalf("%d withdrawals (%v), want 3", count, err)
	}
	rec, err := services.NewLedger(f.db, clock).Reconcile(ctx)
	if err != nil || !rec.OK {
		t.Fatalf("reconciliation: %+v, %v", rec, err)
	}
}

// Each balance of a group is debited as a whole: a balance whose items all fit takes them in
// one update, one whose items do not is served in arrival order, and a merchant with no
// balance row yet is answered insufficient with nothing available.
func TestGroupDebitsPerBalance(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	clock := services.Clock(func() time.Time { return f.now })
	accounts := services.NewAccounts(f.db, clock)
	fits, err := accounts.CreateMerchant(ctx, "Fits", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.Credit(ctx, services.CreditInput{MerchantID: fits.ID, Token: "USDT", Amount: decimal.NewFromInt(100), Reference: "seed", Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	empty, err := accounts.CreateMerchant(ctx, "Empty", "test")
	if err != nil {
		t.Fatal(err)
	}

	_, errs := f.withdrawals.CreateTogether(ctx, []services.CreateInput{
		usdt(fits.ID, "30", ""),       // 0: created
		usdt(f.merchantID, "900", ""), // 1: created, 100 left
		usdt(empty.ID, "5", ""),       // 2: insufficient, 0 available
		usdt(fits.ID, "70", ""),       // 3: created, the balance exactly used
		usdt(f.merchantID, "150", ""), // 4: insufficient, 100 available
		usdt(f.merchantID, "100", ""), // 5: created
	}, nil)
	for _, i := range []int{0, 1, 3, 5} {
		if errs[i] != nil {
			t.Fatalf("item %d: %v, want created", i, errs[i])
		}
	}
	for i, want := range map[int]int64{2: 0, 4: 100} {
		var insufficient *services.InsufficientBalanceError
		if !errors.As(errs[i], &insufficient) || !insufficient.Available.Equal(decimal.NewFromInt(want)) {
			t.Fatalf("item %d: %v, want insufficient with %d available", i, errs[i], want)
		}
	}
	var balances []models.Balance
	if err := f.db.Where("token = 'USDT'").Order("merchant_id").Find(&balances).Error; err != nil {
		t.Fatal(err)
	}
	for _, b := range balances {
		if !b.Available.IsZero() {
			t.Errorf("merchant %s: available %s, want 0", b.MerchantID, b.Available)
		}
	}
	rec, err := services.NewLedger(f.db, clock).Reconcile(ctx)
	if err != nil || !rec.OK {
		t.Fatalf("reconciliation: %+v, %v", rec, err)
	}
}

// A group that fails as a whole is written again one request at a time: the request
// that made it fail gets an error, the others are created.
func TestFailedGroupIsRetriedItemByItem(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	existing := f.create(t, "2")

	ws, errs := f.withdrawals.CreateTogether(ctx, []services.CreateInput{
		usdt(f.merchantID, "3", ""), usdt(f.merchantID, "4", ""), usdt(f.merchantID, "5", ""),
	}, func(i int, w *models.Withdrawal) {
		if i == 1 {
			w.ID = existing.ID // a primary-key violation fails the whole group
		}
	})

	if errs[1] == nil {
		t.Fatal("the item reusing an id was created")
	}
	for _, i := range []int{0, 2} {
		if errs[i] != nil || ws[i].ID == "" {
			t.Fatalf("item %d: %v, want created despite its neighbour", i, errs[i])
		}
	}
	available, pending := f.balance(t)
	if !available.Equal(decimal.NewFromInt(1000-2-3-5)) || !pending.Equal(decimal.NewFromInt(2+3+5)) {
		t.Fatalf("balance available %s pending %s, want 990 and 10", available, pending)
	}
}
