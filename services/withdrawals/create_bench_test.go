package withdrawals_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// BenchmarkCreate measures the whole create use case (price, validate, one pipeline
// with insert, lock, ledger journal and event) on a real PostgreSQL, with parallel
// callers spread over 100 merchants, each request carrying an idempotency key, through
// the grouping the service runs.
func BenchmarkCreate(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	grouped := withdrawals.NewGrouped(f.recorder, withdrawals.GroupConfig{Writers: 2, MaxGroup: 64})
	defer grouped.Close()
	svc := f.with(grouped)
	merchants := make([]string, 100)
	for i := range merchants {
		m, err := f.accounts.CreateMerchant(ctx, fmt.Sprintf("bench %d", i), "test")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.accounts.Credit(ctx, accounts.CreditInput{MerchantID: m.ID, Token: "USDT", Amount: decimal.NewFromInt(1_000_000_000), Reference: "bench", Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
		merchants[i] = m.ID
	}
	var seq atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			if _, err := svc.Create(ctx, usdt(merchants[n%int64(len(merchants))], "10", fmt.Sprintf("bench-%d", n))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "withdrawals/s")
}
