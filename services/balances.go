package services

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"
)

// TokenBalance is a merchant's balance in one token.
type TokenBalance struct {
	Token     string
	Available decimal.Decimal
	Pending   decimal.Decimal
}

// Total is what the merchant owns in the token, locked or not.
func (b TokenBalance) Total() decimal.Decimal { return b.Available.Add(b.Pending) }

// Balances reads merchant balances. It is the hottest read of the API, so it scans
// with database/sql directly instead of through GORM's reflection.
type Balances struct {
	db    *gorm.DB
	clock Clock

	mu      sync.Mutex
	enabled []string // enabled token symbols, refreshed every catalogTTL
	fetched time.Time
}

// NewBalances wires the balance reads.
func NewBalances(db *gorm.DB, clock Clock) *Balances { return &Balances{db: db, clock: clock} }

// List returns one row per enabled token, zero where the merchant holds nothing.
func (s *Balances) List(ctx context.Context, merchantID string) ([]TokenBalance, error) {
	tokens, err := s.enabledTokens(ctx)
	if err != nil {
		return nil, err
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	rows, err := sqlDB.QueryContext(ctx, `SELECT token, available, pending FROM balances WHERE merchant_id = $1`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("list balances: %w", err)
	}
	defer rows.Close()
	held := make(map[string]TokenBalance, len(tokens))
	for rows.Next() {
		var b TokenBalance
		if err := rows.Scan(&b.Token, &b.Available, &b.Pending); err != nil {
			return nil, fmt.Errorf("list balances: %w", err)
		}
		held[b.Token] = b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list balances: %w", err)
	}
	out := make([]TokenBalance, len(tokens))
	for i, t := range tokens {
		out[i] = TokenBalance{Token: t, Available: decimal.Zero, Pending: decimal.Zero}
		if b, ok := held[t]; ok {
			out[i] = b
		}
	}
	return out, nil
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
