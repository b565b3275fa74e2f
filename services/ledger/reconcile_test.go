package ledger_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/ledger"
)

// An incremental check starts from the last verified checkpoint, agrees with a full
// check, finds corruption written after the checkpoint (in an old journal too), never
// moves the checkpoint past a failure, and reports no false mismatch while balances
// move in parallel transactions.
func TestIncrementalReconciliation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, admin, txdb, merchants := fundedMerchants(t, 10)
	check := func(full bool) ledger.Reconciliation {
		t.Helper()
		r, err := admin.Ledger.Reconcile(ctx, full)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := check(false)
	if !first.OK || !first.Full || first.Since != nil {
		t.Fatalf("with no checkpoint the check is full: %+v", first)
	}

	// Movers lock and release 0.01 per merchant while checks run.
	lock := func(m string) []ledger.Journal {
		cents := decimal.New(1, -2)
		return []ledger.Journal{{LedgerJournal: models.LedgerJournal{ID: ids.Journal(), Kind: models.JournalWithdrawalLock,
			MerchantID: m, Token: "USDT", CreatedAt: time.Now()}, Legs: []ledger.Posting{
			{Account: ledger.MerchantAvailable(m, "USDT"), Amount: cents.Neg()},
			{Account: ledger.MerchantPending(m, "USDT"), Amount: cents}}}}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for mover := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 50 {
				if err := txdb.Transaction(ctx, func(tx *dbtx.Tx) error {
					return admin.Ledger.Apply(ctx, tx, lock(merchants[(mover+round)%len(merchants)]))
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	moved := make(chan struct{})
	go func() { wg.Wait(); close(moved) }()
	checks := 0
	for running := true; running; {
		select {
		case <-moved:
			running = false
		default:
		}
		r := check(false)
		checks++
		if !r.OK || r.Full {
			t.Fatalf("incremental check %d during writes: %+v", checks, r)
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	incremental, full := check(false), check(true)
	if !incremental.OK || !full.OK || incremental.Full || !full.Full {
		t.Fatalf("after the writes: incremental %+v, full %+v", incremental, full)
	}
	for i, tok := range full.Tokens {
		got := incremental.Tokens[i]
		if got.Journals != tok.Journals || !got.LedgerAvailable.Equal(tok.LedgerAvailable) || !got.LedgerPending.Equal(tok.LedgerPending) ||
			!got.ExternalDeposits.Equal(tok.ExternalDeposits) || got.Balances != tok.Balances {
			t.Errorf("%s: incremental %+v, full %+v", tok.Token, got, tok)
		}
	}
	if want := int64(10 + 200); full.Tokens[indexOf(full.Tokens, "USDT")].Journals != want {
		t.Errorf("USDT journals %d, want %d", full.Tokens[indexOf(full.Tokens, "USDT")].Journals, want)
	}

	// A balance edited behind the ledger's back is found, and found again: the
	// checkpoint does not move past a failed check.
	db.Exec(`UPDATE balances SET available = available + 1 WHERE merchant_id = ? AND token = 'USDT'`, merchants[3])
	for range 2 {
		if r := check(false); r.OK || len(r.Discrepancies) != 1 || r.Discrepancies[0].Kind != "balance_mismatch" || r.Discrepancies[0].Subject != merchants[3] {
			t.Fatalf("edited balance: %+v", r)
		}
	}
	db.Exec(`UPDATE balances SET available = available - 1 WHERE merchant_id = ? AND token = 'USDT'`, merchants[3])
	before := check(false)
	if !before.OK {
		t.Fatalf("restored balance: %+v", before)
	}

	// An entry slipped into a journal older than the checkpoint is read (it is after it)
	// with its whole journal.
	var credit string
	db.Raw(`SELECT id FROM ledger_journals WHERE kind = 'credit' ORDER BY created_at LIMIT 1`).Scan(&credit)
	db.Exec(`INSERT INTO ledger_entries (id, journal_id, account_id, amount, created_at) VALUES ('ent_corrupt', ?, 'platform:fees:USDT', 0.5, now())`, credit)
	for _, full := range []bool{false, false, true} {
		r := check(full)
		kinds := map[string]string{}
		for _, d := range r.Discrepancies {
			kinds[d.Kind] = d.Subject
		}
		if r.OK || kinds["unbalanced_journal"] != credit || kinds["token_not_zero"] != "USDT" {
			t.Fatalf("corrupt entry (full %v): %+v", full, r)
		}
		if !full && (r.Since == nil || !r.Since.Equal(before.CheckedAt)) {
			t.Fatalf("the check started from %v, want the last clean one's %v", r.Since, before.CheckedAt)
		}
	}
}

func indexOf(tokens []ledger.TokenTotals, symbol string) int {
	for i, t := range tokens {
		if t.Token == symbol {
			return i
		}
	}
	return -1
}
