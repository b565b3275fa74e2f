package ledger_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/app"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/ledger"
)

// Balance moves touching the same merchants at once must queue, never deadlock: each
// locks its rows in merchant and token order, whatever order its journals come in and
// whatever plan PostgreSQL picks. Without that order this test fails with SQLSTATE
// 40P01 (deadlock detected) within a few rounds.
func TestConcurrentBalanceMovesDoNotDeadlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, admin, tx, merchants := fundedMerchants(t, 100)
	// Each mover moves 0.01 from available to pending and back for every merchant, its
	// journals in an order of its own.
	journals := func(offset int) []ledger.Journal {
		out := make([]ledger.Journal, 0, 2*len(merchants))
		for i := range merchants {
			m := merchants[(i+offset*37)%len(merchants)]
			for _, sign := range []int64{-1, 1} {
				cents := decimal.New(sign, -2)
				out = append(out, ledger.Journal{LedgerJournal: models.LedgerJournal{ID: ids.Journal(), Kind: models.JournalWithdrawalRelease,
					MerchantID: m, Token: "USDT", CreatedAt: time.Now()}, Legs: []ledger.Posting{
					{Account: ledger.MerchantAvailable(m, "USDT"), Amount: cents},
					{Account: ledger.MerchantPending(m, "USDT"), Amount: cents.Neg()}}})
			}
		}
		return out
	}

	var wg sync.WaitGroup
	const movers, rounds = 4, 20
	errs := make(chan error, movers)
	for mover := range movers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				err := tx.Transaction(ctx, func(tx *dbtx.Tx) error {
					// The plan a large table gets: the listed pairs drive index lookups.
					if err := tx.Exec(`SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL enable_seqscan = off`).Error; err != nil {
						return err
					}
					return admin.Ledger.Apply(ctx, tx, journals(mover))
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
	rec, err := admin.Ledger.Reconcile(ctx, true)
	if err != nil || !rec.OK {
		t.Fatalf("reconciliation: %+v %v", rec, err)
	}
}

// A journal that does not sum to zero would create or destroy money: it is refused,
// and nothing of the transaction stays.
func TestUnbalancedJournalIsRefused(t *testing.T) {
	t.Parallel()
	db, _ := testdb.New(t)
	ctx := context.Background()
	admin, err := app.NewAdmin(db, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	m, err := admin.Accounts.CreateMerchant(ctx, "Acme", "test")
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := dbtx.New(db)
	err = tx.Transaction(ctx, func(tx *dbtx.Tx) error {
		return admin.Ledger.Apply(ctx, tx, []ledger.Journal{{LedgerJournal: models.LedgerJournal{ID: ids.Journal(), Kind: models.JournalCredit,
			MerchantID: m.ID, Token: "USDT", CreatedAt: time.Now()}, Legs: []ledger.Posting{{Account: ledger.MerchantAvailable(m.ID, "USDT"), Amount: decimal.NewFromInt(5)}}}})
	})
	if err == nil {
		t.Fatal("an unbalanced journal was posted")
	}
	testdb.AssertLedgerConsistent(t, db)
}

// fundedMerchants makes a database with n merchants, each credited 100 USDT.
func fundedMerchants(t *testing.T, n int) (*gorm.DB, *app.Admin, *dbtx.DB, []string) {
	t.Helper()
	db, _ := testdb.New(t)
	ctx := context.Background()
	admin, err := app.NewAdmin(db, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := dbtx.New(db)
	var merchants []string
	for i := range n {
		m, err := admin.Accounts.CreateMerchant(ctx, fmt.Sprintf("m%d", i), "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Accounts.Credit(ctx, accounts.CreditInput{MerchantID: m.ID, Token: "USDT", Amount: decimal.NewFromInt(100), Reference: "seed", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		merchants = append(merchants, m.ID)
	}
	return db, admin, tx, merchants
}
