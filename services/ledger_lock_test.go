package services_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/services"
)

// Two settlements moving the same merchants' balances at once must queue, never
// deadlock: each locks its rows in merchant and token order, whatever the order of the
// map it was given. Without that order this test fails with SQLSTATE 40P01 (deadlock
// detected) within a few rounds.
func TestConcurrentBalanceMovesDoNotDeadlock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	clock := services.Clock(func() time.Time { return f.now })
	accounts := services.NewAccounts(f.db, clock)
	totals := map[[2]string]decimal.Decimal{}
	for i := range 100 {
		m, err := accounts.CreateMerchant(ctx, fmt.Sprintf("m%d", i), "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := accounts.Credit(ctx, services.CreditInput{MerchantID: m.ID, Token: "USDT", Amount: decimal.NewFromInt(100), Reference: "seed", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		// Park the funds in pending, so that releases can move them back.
		if err := f.db.Exec(`UPDATE balances SET available = 0, pending = 100 WHERE merchant_id = ? AND token = 'USDT'`, m.ID).Error; err != nil {
			t.Fatal(err)
		}
		totals[[2]string{m.ID, "USDT"}] = decimal.RequireFromString("0.01")
	}

	var wg sync.WaitGroup
	const movers, rounds = 4, 20
	errs := make(chan error, movers)
	for range movers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				err := f.db.Transaction(func(tx *gorm.DB) error {
					// The plan a large table gets: the listed pairs drive index lookups,
					// so rows are visited in the (random) order of the map.
					if err := tx.Exec(`SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL enable_seqscan = off`).Error; err != nil {
						return err
					}
					if err := services.MoveBalances(tx, true, totals, f.now); err != nil {
						return err
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var released decimal.Decimal
	if err := f.db.Raw(`SELECT COALESCE(sum(available), 0) FROM balances WHERE token = 'USDT' AND merchant_id <> ?`, f.merchantID).Scan(&released).Error; err != nil {
		t.Fatal(err)
	}
	if want := decimal.RequireFromString("80"); !released.Equal(want) { // 100 merchants x 80 moves x 0.01
		t.Fatalf("released %s, want %s", released, want)
	}
}
