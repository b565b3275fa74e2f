package rails_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/rails"
)

func TestSandbox(t *testing.T) {
	t.Parallel()
	db, _ := testdb.New(t)
	now := time.Date(2024, 12, 19, 10, 0, 0, 0, time.UTC)
	sb := rails.NewSandbox(db, rails.SandboxConfig{
		ConfirmDelay:  5 * time.Second,
		FailAddresses: []string{" 0xbad ", ""},
		Clock:         func() time.Time { return now },
	})
	ctx := context.Background()
	batch := rails.Batch{ID: "bat_1", Token: "ETH", Network: "ethereum", Items: []rails.Item{
		{WithdrawalID: "wth_a", Address: "0xgood", Amount: decimal.NewFromInt(1)},
		{WithdrawalID: "wth_b", Address: "0xbad", Amount: decimal.NewFromInt(2)},
	}}

	ref, results, err := sb.Submit(ctx, batch)
	if err != nil || ref == "" || len(results) != 2 {
		t.Fatalf("submit: %q %v %v", ref, results, err)
	}
	byID := map[string]rails.ItemResult{}
	for _, r := range results {
		byID[r.WithdrawalID] = r
	}
	if a := byID["wth_a"]; a.Status != rails.ItemAccepted || len(a.TxHash) != 66 || a.TxHash[:2] != "0x" {
		t.Errorf("good item: %+v", a)
	}
	if b := byID["wth_b"]; b.Status != rails.ItemFailed || b.Reason != "invalid_address" || b.TxHash != "" {
		t.Errorf("failing address: %+v", b)
	}

	// Resubmitting the same batch id pays nothing new, even with other items.
	batch.Items = append(batch.Items, rails.Item{WithdrawalID: "wth_a", Address: "0xelsewhere", Amount: decimal.NewFromInt(9)})
	if _, again, err := sb.Submit(ctx, batch); err != nil || len(again) != 2 {
		t.Fatalf("resubmit: %v %v", again, err)
	}
	var rows []struct {
		Address string
		Amount  decimal.Decimal
	}
	db.Raw(`SELECT address, amount FROM sandbox_payouts WHERE withdrawal_id = 'wth_a'`).Scan(&rows)
	if len(rows) != 1 || rows[0].Address != "0xgood" || !rows[0].Amount.Equal(decimal.NewFromInt(1)) {
		t.Errorf("wth_a paid as %+v", rows)
	}

	now = now.Add(5 * time.Second)
	confirmed, err := sb.Status(ctx, rails.Batch{ID: "bat_1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range confirmed {
		if r.WithdrawalID == "wth_a" && (r.Status != rails.ItemConfirmed || r.TxHash != byID["wth_a"].TxHash) {
			t.Errorf("after the delay: %+v", r)
		}
	}
	if _, err := sb.Status(ctx, rails.Batch{ID: "bat_unknown"}); !errors.Is(err, rails.ErrUnknownBatch) {
		t.Errorf("unknown batch: %v", err)
	}

	// Bitcoin hashes are bare hex.
	_, btc, _ := sb.Submit(ctx, rails.Batch{ID: "bat_2", Token: "BTC", Network: "bitcoin", Items: []rails.Item{{WithdrawalID: "wth_c", Address: "bc1q", Amount: decimal.NewFromInt(1)}}})
	if len(btc) != 1 || len(btc[0].TxHash) != 64 {
		t.Errorf("bitcoin tx hash: %+v", btc)
	}
}

func TestSandboxFaults(t *testing.T) {
	t.Parallel()
	db, _ := testdb.New(t)
	ctx := context.Background()
	batch := rails.Batch{ID: "bat_f", Token: "BTC", Network: "bitcoin", Items: []rails.Item{{WithdrawalID: "wth_f", Address: "bc1q", Amount: decimal.NewFromInt(1)}}}

	down := rails.NewSandbox(db, rails.SandboxConfig{Fault: rails.FaultUnavailable})
	if _, _, err := down.Submit(ctx, batch); err == nil {
		t.Error("unavailable sandbox accepted a batch")
	}
	var rows int64
	db.Table("sandbox_payouts").Count(&rows)
	if rows != 0 {
		t.Errorf("unavailable sandbox recorded %d payouts", rows)
	}

	lossy := rails.NewSandbox(db, rails.SandboxConfig{Fault: rails.FaultTimeoutAfterAccept})
	if _, _, err := lossy.Submit(ctx, batch); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout_after_accept: %v", err)
	}
	healthy := rails.NewSandbox(db, rails.SandboxConfig{})
	if _, res, err := healthy.Submit(ctx, batch); err != nil || len(res) != 1 || res[0].Status != rails.ItemConfirmed {
		t.Errorf("resubmission after the lost answer: %v %v", res, err)
	}
	db.Table("sandbox_payouts").Count(&rows)
	if rows != 1 {
		t.Errorf("%d payouts after a lost answer and a resubmission, want 1", rows)
	}
}

// A fault switched on while the sandbox runs takes effect at its next call: "stall"
// takes the batch and never answers, so the caller's deadline ends the call and the
// outcome stays ambiguous; switched off, the same batch is reported, paid once.
func TestSandboxStallsMidCallWhenSwitchedOn(t *testing.T) {
	t.Parallel()
	db, _ := testdb.New(t)
	sb := rails.NewSandbox(db, rails.SandboxConfig{})
	batch := rails.Batch{ID: "bat_s", Token: "ETH", Network: "ethereum", Items: []rails.Item{
		{WithdrawalID: "wth_s", Address: "0xgood", Amount: decimal.NewFromInt(1)}}}
	if err := db.Exec(`UPDATE sandbox_settings SET fault = 'stall'`).Error; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, _, err := sb.Submit(ctx, batch)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled submit: %v", err)
	}
	var taken int64
	db.Table("sandbox_payouts").Where("batch_id = ?", batch.ID).Count(&taken)
	if taken != 1 {
		t.Fatalf("the stalled call took %d items, want the batch's 1", taken)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	if _, err := sb.Status(ctx, batch); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled status: %v", err)
	}
	cancel()

	db.Exec(`UPDATE sandbox_settings SET fault = ''`)
	if _, results, err := sb.Submit(context.Background(), batch); err != nil || len(results) != 1 || results[0].Status != rails.ItemConfirmed {
		t.Fatalf("after the stall: %v %v", results, err)
	}
	db.Table("sandbox_payouts").Where("batch_id = ?", batch.ID).Count(&taken)
	if taken != 1 {
		t.Errorf("%d payouts after resubmission", taken)
	}
}
