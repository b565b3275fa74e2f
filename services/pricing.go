package services

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/fees"
	"github.com/paycore/withdrawals/models"
)

// pricedToken is a token with the fee schedule in force for it (its own, else the default).
type pricedToken struct {
	models.Token
	Schedule fees.Schedule
}

type pricedTokenRow struct {
	models.Token
	BaseFee    decimal.Decimal
	MarkupRate decimal.Decimal
	FeeEnabled bool
}

// loadPricedToken reads a token and its effective schedule in one query. An unknown
// or disabled token is UNSUPPORTED_TOKEN.
func loadPricedToken(ctx context.Context, db *gorm.DB, symbol string) (pricedToken, error) {
	symbol = strings.ToUpper(symbol)
	var row pricedTokenRow
	res := db.WithContext(ctx).Raw(`
		SELECT t.*, COALESCE(s.base_fee, d.base_fee) AS base_fee, COALESCE(s.markup_rate, d.markup_rate) AS markup_rate,
		       COALESCE(s.enabled, d.enabled) AS fee_enabled
		FROM tokens t
		JOIN fee_schedules d ON d.scope = 'default'
		LEFT JOIN fee_schedules s ON s.scope = t.symbol
		WHERE t.symbol = ?`, symbol).Scan(&row)
	if res.Error != nil {
		return pricedToken{}, fmt.Errorf("load token %s: %w", symbol, res.Error)
	}
	if res.RowsAffected == 0 {
		return pricedToken{}, invalid(CodeUnsupportedToken, "token", "Token %q is not supported", symbol)
	}
	if !row.Enabled {
		return pricedToken{}, invalid(CodeUnsupportedToken, "token", "Token %s is currently disabled", symbol)
	}
	return pricedToken{Token: row.Token, Schedule: fees.Schedule{BaseFee: row.BaseFee, MarkupRate: row.MarkupRate, Enabled: row.FeeEnabled}}, nil
}

// price checks an amount against the token's rules and quotes its fee:
// positive, no finer than the token's smallest unit, at least the minimum, above the fee.
func price(tok pricedToken, amount decimal.Decimal) (fees.Quote, error) {
	if !amount.IsPositive() {
		return fees.Quote{}, invalid(CodeInvalidAmount, "amount", "Amount must be greater than 0")
	}
	if !amount.Equal(amount.Truncate(tok.Decimals)) {
		return fees.Quote{}, invalid(CodeInvalidAmount, "amount", "Amount %s has more than %d decimal places, the precision of %s", amount, tok.Decimals, tok.Symbol)
	}
	if amount.LessThan(tok.MinWithdrawal) {
		return fees.Quote{}, invalid(CodeInvalidAmount, "amount", "Minimum withdrawal is %s %s, requested: %s %s", tok.MinWithdrawal, tok.Symbol, amount, tok.Symbol)
	}
	q, err := fees.Calculate(amount, tok.Decimals, tok.Schedule)
	if errors.Is(err, fees.ErrAmountNotAboveFee) {
		return q, invalid(CodeInvalidAmount, "amount", "Amount %s %s does not exceed the withdrawal fee of %s %s", amount, tok.Symbol, q.TotalFee, tok.Symbol)
	}
	return q, err
}

// Quote prices a withdrawal without locking anything (GET /api/withdrawals/fee and the
// admin test calculation).
func (s *Withdrawals) Quote(ctx context.Context, token string, amount decimal.Decimal) (fees.Quote, string, error) {
	tok, err := s.catalog.token(ctx, s.db, token)
	if err != nil {
		return fees.Quote{}, "", err
	}
	q, err := price(tok, amount)
	return q, tok.Symbol, err
}
