package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"
)

// tally is what the service told one merchant it created: the end of the run checks
// every merchant's balances and withdrawal count against it, so a service that answers
// 201 without writing or debits another amount than it answered cannot pass on a ledger
// that merely reconciles with itself. (It does not test the balance cache's
// invalidation: the bench reads balances only after its last write.)
type tally struct {
	created [len(tokens)]atomic.Int64
	milli   [len(tokens)]atomic.Int64 // the created amounts' sum, in thousandths
	// unknown is set when a create went without an answer (a transport error): it may
	// or may not have been written, so this merchant's figures cannot be predicted.
	unknown atomic.Bool
}

// milliOf reads a bench amount ("10", "0.01", "0.001") in thousandths; every amount the
// bench sends is a whole number of them.
func milliOf(amount string) int64 {
	d := decimal.RequireFromString(amount).Shift(3)
	if !d.IsInteger() {
		panic("bench amount finer than 0.001: " + amount)
	}
	return d.IntPart()
}

// record notes the outcome of one create for token: created (201), or unanswered.
func (t *tally) record(token int, milli int64, created bool, err error) {
	switch {
	case err != nil:
		t.unknown.Store(true)
	case created:
		t.created[token].Add(1)
		t.milli[token].Add(milli)
	}
}

// checkMerchants compares every merchant's GET /api/balance (available per token: the
// credit less what was created, fee included) and GET /api/withdrawals total with what
// the service answered during the run. It returns how many merchants were checked and a
// description of each mismatch.
func (b *bench) checkMerchants(ctx context.Context) (checked int, wrong []string, err error) {
	all := append(b.merchants[:len(b.merchants):len(b.merchants)], b.hot)
	results := make([]string, len(all))
	var n atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.Conns)
	for i, m := range all {
		if m.tally.unknown.Load() {
			continue
		}
		g.Go(func() error {
			problem, err := b.checkMerchant(gctx, m)
			results[i] = problem
			n.Add(1)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return 0, nil, err
	}
	for _, r := range results {
		if r != "" {
			wrong = append(wrong, r)
		}
	}
	return int(n.Load()), wrong, nil
}

// checkMerchant returns "" when the merchant's answers match its tally.
func (b *bench) checkMerchant(ctx context.Context, m merchant) (string, error) {
	var bal struct {
		Balances []struct{ Token, Available string }
	}
	if err := b.api.mustJSON(ctx, 200, "GET", "/api/balance", m.key, nil, &bal); err != nil {
		return "", err
	}
	available := map[string]string{}
	for _, row := range bal.Balances {
		available[row.Token] = row.Available
	}
	var total int64
	for i, t := range tokens {
		total += m.tally.created[i].Load()
		want := decimal.RequireFromString(t.credit).Sub(decimal.New(m.tally.milli[i].Load(), -3))
		got, err := decimal.NewFromString(available[t.symbol])
		if err != nil || !got.Equal(want) {
			return fmt.Sprintf("merchant %s %s available %q, want %s", m.id, t.symbol, available[t.symbol], want), nil
		}
	}
	var page struct{ Pagination struct{ Total int64 } }
	if err := b.api.mustJSON(ctx, 200, "GET", "/api/withdrawals?limit=1", m.key, nil, &page); err != nil {
		return "", err
	}
	if page.Pagination.Total != total {
		return fmt.Sprintf("merchant %s lists %d withdrawals, was answered 201 for %d", m.id, page.Pagination.Total, total), nil
	}
	return "", nil
}
