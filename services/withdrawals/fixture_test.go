package withdrawals_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/address"
	"github.com/paycore/withdrawals/services/ledger"
	"github.com/paycore/withdrawals/services/pricing"
	"github.com/paycore/withdrawals/services/webhooks"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// fixture is the withdrawal use cases on a fresh database, without the grouping (the
// plain Recorder), and a merchant with 1000 USDT.
type fixture struct {
	db          *gorm.DB
	tx          *dbtx.DB
	accounts    *accounts.Service
	ledger      *ledger.Ledger
	lifecycle   *withdrawals.Lifecycle
	recorder    *withdrawals.PipelineRecorder
	withdrawals *withdrawals.Service
	merchantID  string
	now         time.Time
	clock       services.Clock
	prices      *pricing.Service
	validator   *address.Validator
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	db, _ := testdb.New(t)
	tx, err := dbtx.New(db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 12, 19, 10, 30, 0, 0, time.UTC)
	clock := services.Clock(func() time.Time { return now })
	v, _ := address.NewValidator(address.Networks{})
	tokens := catalog.New(db, clock)
	book := ledger.New(tx, clock, tokens, nil, nil)
	outbox := webhooks.NewOutbox(6)
	prices := pricing.New(tx, clock, tokens)
	f := fixture{db: db, tx: tx, accounts: accounts.New(tx, clock, book, tokens, 0), ledger: book,
		lifecycle: withdrawals.NewLifecycle(book, outbox), recorder: withdrawals.NewPipelineRecorder(tx, book, outbox), now: now}
	f.prices, f.validator, f.clock = prices, v, clock
	f.withdrawals = f.with(f.recorder)
	f.merchantID = f.merchant(t, "Acme", "1000")
	return f
}

// with is the withdrawal use cases over another recorder.
func (f fixture) with(r withdrawals.Recorder) *withdrawals.Service {
	return withdrawals.New(f.tx, f.clock, f.prices, f.validator, r, f.lifecycle, 5*time.Minute, 72*time.Hour)
}

// merchant creates a merchant funded with USDT ("" for none).
func (f fixture) merchant(t testing.TB, name, usdt string) string {
	t.Helper()
	ctx := context.Background()
	m, err := f.accounts.CreateMerchant(ctx, name, "test")
	if err != nil {
		t.Fatal(err)
	}
	if usdt != "" {
		if _, err := f.accounts.Credit(ctx, accounts.CreditInput{MerchantID: m.ID, Token: "USDT", Amount: decimal.RequireFromString(usdt), Reference: "seed", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	return m.ID
}

func usdt(merchantID, amount, key string) withdrawals.CreateInput {
	return withdrawals.CreateInput{MerchantID: merchantID, Token: "USDT", Amount: decimal.RequireFromString(amount),
		Address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", IdempotencyKey: key}
}

func (f fixture) create(t *testing.T, amount string) models.Withdrawal {
	t.Helper()
	res, err := f.withdrawals.Create(context.Background(), usdt(f.merchantID, amount, ""))
	if err != nil {
		t.Fatal(err)
	}
	return res.Withdrawal
}

// prepare builds the requests as Create would, for a test that records them itself.
func (f fixture) prepare(t *testing.T, ins ...withdrawals.CreateInput) []withdrawals.NewWithdrawal {
	t.Helper()
	out := make([]withdrawals.NewWithdrawal, len(ins))
	for i, in := range ins {
		w, err := f.withdrawals.Prepare(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = w
	}
	return out
}

func (f fixture) balance(t *testing.T, merchantID string) (available, pending decimal.Decimal) {
	t.Helper()
	var b models.Balance
	if err := f.db.Where("merchant_id = ? AND token = 'USDT'", merchantID).Take(&b).Error; err != nil {
		t.Fatal(err)
	}
	return b.Available, b.Pending
}

// apply runs one status change in its own transaction, as the payout pipeline does.
func (f fixture) apply(w *models.Withdrawal, c withdrawals.Change) error {
	return f.tx.Transaction(context.Background(), func(tx *dbtx.Tx) error {
		return f.lifecycle.Apply(context.Background(), tx, []*models.Withdrawal{w}, c, f.now)
	})
}

func (f fixture) reconciles(t *testing.T) {
	t.Helper()
	rec, err := f.ledger.Reconcile(context.Background(), true)
	if err != nil || !rec.OK {
		t.Fatalf("reconciliation: %+v, %v", rec, err)
	}
	testdb.AssertLedgerConsistent(t, f.db)
}
