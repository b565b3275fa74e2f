package services

import (
	"context"
	"fmt"

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

// Balances reads merchant balances.
type Balances struct{ db *gorm.DB }

// NewBalances wires the balance reads.
func NewBalances(db *gorm.DB) *Balances { return &Balances{db: db} }

// List returns one row per enabled token, zero where the merchant holds nothing.
func (s *Balances) List(ctx context.Context, merchantID string) ([]TokenBalance, error) {
	rows := []TokenBalance{}
	err := s.db.WithContext(ctx).Raw(`
		SELECT t.symbol AS token, COALESCE(b.available, 0) AS available, COALESCE(b.pending, 0) AS pending
		FROM tokens t LEFT JOIN balances b ON b.token = t.symbol AND b.merchant_id = ?
		WHERE t.enabled ORDER BY t.symbol`, merchantID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list balances: %w", err)
	}
	return rows, nil
}
