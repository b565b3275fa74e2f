package services

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/metrics"
)

// TokenBalance is a merchant's balance in one token.
type TokenBalance struct {
	Token     string
	Available decimal.Decimal
	Pending   decimal.Decimal
}

// Total is what the merchant owns in the token, locked or not.
func (b TokenBalance) Total() decimal.Decimal { return b.Available.Add(b.Pending) }

// Balances reads merchant balances. It is the hottest read of the API: a merchant's
// rows are kept for a moment (BalanceCache: changes made here are seen at once, changes
// made by another instance within BALANCE_CACHE_TTL), concurrent reads that miss share
// one query (a batcher, as withdrawal creation does), and rows are scanned with
// database/sql directly instead of through GORM's reflection.
//
// A read on its own costs PostgreSQL and the service a round trip, mostly socket
// writes and per-statement work, far more than its three index rows, and no server
// on this stack that pays one per read reaches the read target (BENCHMARKS.md, `make
// ceiling`). Sharing a query changes nothing a merchant can see: a batch's query is
// sent after every read in it was asked for, so each read sees every change committed
// before it was asked, as a read of its own would.
type Balances struct {
	db    *gorm.DB
	clock Clock
	reads *batcher[*balanceRead]
	cache *BalanceCache // nil: every read asks the database
	meter *metrics.Metrics

	mu      sync.Mutex
	enabled []string // enabled token symbols, refreshed every catalogTTL
	fetched time.Time
}

const (
	// balanceReaders is how many batched reads run at once (of 1, 2 and 4, two measured
	// best: one makes reads wait behind each other, four makes batches of about two);
	// maxBalanceBatch bounds one.
	balanceReaders  = 2
	maxBalanceBatch = 64
)

// balanceRead is one merchant's read waiting for its batch.
type balanceRead struct {
	batchCall
	merchantID string
	held       []TokenBalance // the rows the merchant has, set by the batch
	err        error
}

// NewBalances wires the balance reads, answered from cache where it holds the merchant
// (nil: always from the database).
func NewBalances(db *gorm.DB, clock Clock, cache *BalanceCache, m *metrics.Metrics) *Balances {
	s := &Balances{db: db, clock: clock, cache: cache, meter: m}
	s.reads = &batcher[*balanceRead]{runners: balanceReaders, maxBatch: maxBalanceBatch, run: s.readBatch}
	return s
}

// List returns one row per enabled token, zero where the merchant holds nothing.
func (s *Balances) List(ctx context.Context, merchantID string) ([]TokenBalance, error) {
	tokens, err := s.enabledTokens(ctx)
	if err != nil {
		return nil, err
	}
	held, cached, ticket := s.cache.get(merchantID)
	s.meter.ObserveBalanceRead(cached)
	if !cached {
		read := &balanceRead{merchantID: merchantID}
		if err := s.reads.do(ctx, read); err != nil {
			return nil, err
		}
		if read.err != nil {
			return nil, read.err
		}
		held = read.held
		s.cache.put(merchantID, held, ticket)
	}
	out := make([]TokenBalance, len(tokens))
	for i, t := range tokens {
		out[i] = TokenBalance{Token: t, Available: decimal.Zero, Pending: decimal.Zero}
		for _, b := range held {
			if b.Token == t {
				out[i] = b
			}
		}
	}
	return out, nil
}

// readBatch reads the balance rows of every merchant in the batch with one query.
func (s *Balances) readBatch(ctx context.Context, reads []*balanceRead) {
	err := s.queryBatch(ctx, reads)
	for _, r := range reads {
		if err != nil {
			r.held, r.err = nil, err
		}
		r.finish()
	}
}

func (s *Balances) queryBatch(ctx context.Context, reads []*balanceRead) error {
	byMerchant := make(map[string][]*balanceRead, len(reads))
	ids := make([]string, 0, len(reads))
	for _, r := range reads {
		if _, seen := byMerchant[r.merchantID]; !seen {
			ids = append(ids, r.merchantID)
		}
		byMerchant[r.merchantID] = append(byMerchant[r.merchantID], r)
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	// One index probe per merchant, whatever the statistics: with `merchant_id = ANY($1)`
	// a table not yet analysed (a fresh database) is read whole for every batch. OFFSET 0
	// keeps the subquery a separate, per-merchant plan.
	rows, err := sqlDB.QueryContext(ctx, `SELECT m.id, b.token, b.available, b.pending
		FROM unnest($1::text[]) m(id),
		     LATERAL (SELECT token, available, pending FROM balances WHERE merchant_id = m.id OFFSET 0) b`, ids)
	if err != nil {
		return fmt.Errorf("list balances: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			merchantID string
			b          TokenBalance
		)
		if err := rows.Scan(&merchantID, &b.Token, shortAmount{&b.Available}, shortAmount{&b.Pending}); err != nil {
			return fmt.Errorf("list balances: %w", err)
		}
		for _, r := range byMerchant[merchantID] {
			r.held = append(r.held, b)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list balances: %w", err)
	}
	return nil
}

// enabledTokens lists enabled token symbols in order, cached for catalogTTL: tokens are
// enabled or disabled by migrations and operators, rarely.
func (s *Balances) enabledTokens(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if s.enabled != nil && now.Sub(s.fetched) < catalogTTL {
		return s.enabled, nil
	}
	var tokens []string
	if err := s.db.WithContext(ctx).Raw(`SELECT symbol FROM tokens WHERE enabled ORDER BY symbol`).Scan(&tokens).Error; err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	s.enabled, s.fetched = tokens, now
	return tokens, nil
}

// shortAmount scans a NUMERIC without the trailing zeros of its text: PostgreSQL writes
// NUMERIC(38,18) with all eighteen decimals ("1000.500000000000000000"), which as a
// decimal has a coefficient too large for models.AppendAmount's fast path; 1000.5 is
// the same value and is formatted on every read the cache answers.
type shortAmount struct{ into *decimal.Decimal }

func (a shortAmount) Scan(src any) error {
	var text string
	switch v := src.(type) {
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		return a.into.Scan(src)
	}
	if strings.IndexByte(text, '.') >= 0 {
		text = strings.TrimRight(strings.TrimRight(text, "0"), ".")
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		return fmt.Errorf("amount %q: %w", text, err)
	}
	*a.into = d
	return nil
}
