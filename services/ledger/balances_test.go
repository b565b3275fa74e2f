package ledger_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/balancecache"
	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/ledger"
)

// Concurrent balance reads, through the cache, each get exactly their own merchant's
// rows, including a merchant that holds nothing.
func TestConcurrentBalanceReadsGetTheirOwnRows(t *testing.T) {
	t.Parallel()
	db, _ := testdb.New(t)
	ctx := context.Background()
	clock := services.Clock(func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) })
	tx, _ := dbtx.New(db)
	tokens := catalog.New(db, clock)
	book := ledger.New(tx, clock, tokens, balancecache.New[[]ledger.Balance](time.Minute, clock), nil)
	acc := accounts.New(tx, clock, book, tokens, 0)

	const merchants = 20
	ids := make([]string, merchants)
	want := make(map[string]decimal.Decimal, merchants) // USDT credited; merchant 0 gets nothing
	for i := range merchants {
		m, err := acc.CreateMerchant(ctx, "m", "test")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = m.ID
		want[m.ID] = decimal.Zero
		if i == 0 {
			continue
		}
		amount := decimal.NewFromInt(int64(i)).Add(decimal.RequireFromString("0.000001"))
		if _, err := acc.Credit(ctx, accounts.CreditInput{MerchantID: m.ID, Token: "USDT", Amount: amount, Reference: "seed", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		want[m.ID] = amount
	}

	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 50 {
				id := ids[(g+r)%merchants]
				rows, err := book.Balances(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				if len(rows) != 4 {
					t.Errorf("%s: %d rows, want one per enabled token", id, len(rows))
					return
				}
				for _, b := range rows {
					expected := decimal.Zero
					if b.Token == "USDT" {
						expected = want[id]
					}
					if !b.Available.Equal(expected) || !b.Pending.IsZero() {
						t.Errorf("%s %s: available %s pending %s, want %s and 0", id, b.Token, b.Available, b.Pending, expected)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
