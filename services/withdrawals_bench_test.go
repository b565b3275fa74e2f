package services_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/testdb"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/address"
)

// BenchmarkCreate measures the whole create use case (price, validate, one transaction
// with insert, conditional lock and ledger journal) on a real PostgreSQL, with parallel
// callers spread over 100 merchants and each request carrying an idempotency key.
func BenchmarkCreate(b *testing.B) {
	db, _ := testdb.New(b)
	ctx := context.Background()
	accounts := services.NewAccounts(db, time.Now)
	v, _ := address.NewValidator("mainnet")
	w := services.NewWithdrawals(db, v, time.Now, time.Minute, services.NewOutbox(6))
	merchants := make([]string, 100)
	for i := range merchants {
		m, err := accounts.CreateMerchant(ctx, fmt.Sprintf("bench %d", i), "test")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := accounts.Credit(ctx, services.CreditInput{MerchantID: m.ID, Token: "USDT", Amount: decimal.NewFromInt(1_000_000_000), Reference: "bench", Actor: "bench"}); err != nil {
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
			_, err := w.Create(ctx, services.CreateInput{
				MerchantID: merchants[n%int64(len(merchants))], Token: "USDT", Amount: decimal.NewFromInt(10),
				Address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", IdempotencyKey: fmt.Sprintf("bench-%d", n),
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "withdrawals/s")
}
