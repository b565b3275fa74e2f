// Package fees is the pure withdrawal fee calculator: a schedule and an amount in,
// the fee breakdown out. It knows nothing of databases or HTTP.
package fees

import (
	"errors"

	"github.com/shopspring/decimal"
)

// Schedule is the fee in force for one token: totalFee = baseFee + amount * markupRate.
type Schedule struct {
	BaseFee    decimal.Decimal
	MarkupRate decimal.Decimal // a fraction: 0.05 is 5%
	Enabled    bool
}

// Quote is the full breakdown of a fee, as snapshotted onto a withdrawal.
type Quote struct {
	Gross        decimal.Decimal
	BaseFee      decimal.Decimal
	MarkupRate   decimal.Decimal
	MarkupAmount decimal.Decimal
	TotalFee     decimal.Decimal
	Net          decimal.Decimal
}

// ErrAmountNotAboveFee means the amount would not even cover its own fee.
var ErrAmountNotAboveFee = errors.New("fees: amount does not exceed the fee")

var (
	hundred = decimal.NewFromInt(100)
	one     = decimal.NewFromInt(1)
)

// Validate checks a schedule as an admin submits it.
func (s Schedule) Validate() error {
	if s.BaseFee.IsNegative() {
		return errors.New("baseFee must be >= 0")
	}
	if s.MarkupRate.IsNegative() || s.MarkupRate.GreaterThanOrEqual(one) {
		return errors.New("markupRate must be >= 0 and < 1")
	}
	return nil
}

// Calculate prices a withdrawal of amount in a token with the given number of decimals.
// A disabled schedule charges nothing. Both fee parts are rounded to the token's
// decimals, half up, so the fee is always payable in the token's smallest unit.
func Calculate(amount decimal.Decimal, decimals int32, s Schedule) (Quote, error) {
	q := Quote{Gross: amount, BaseFee: decimal.Zero, MarkupRate: decimal.Zero, MarkupAmount: decimal.Zero}
	if s.Enabled {
		q.BaseFee = RoundToToken(s.BaseFee, decimals)
		q.MarkupRate = s.MarkupRate
		q.MarkupAmount = RoundToToken(amount.Mul(s.MarkupRate), decimals)
	}
	q.TotalFee = q.BaseFee.Add(q.MarkupAmount)
	q.Net = amount.Sub(q.TotalFee)
	if !q.Net.IsPositive() {
		return q, ErrAmountNotAboveFee
	}
	return q, nil
}

// RoundToToken rounds a fee to a token's smallest unit, half up (amounts are positive,
// so half up and half away from zero agree).
func RoundToToken(d decimal.Decimal, decimals int32) decimal.Decimal {
	return d.Round(decimals)
}

// Percent renders a fraction as a percentage with two decimals ("0.05" -> "5.00"), as
// DCE Pay shows markupRate and feePercentage.
func Percent(fraction decimal.Decimal) string {
	return fraction.Mul(hundred).StringFixed(2)
}

// FeePercentage is the total fee as a percentage of the gross amount.
func (q Quote) FeePercentage() string {
	if q.Gross.IsZero() {
		return "0.00"
	}
	return Percent(q.TotalFee.DivRound(q.Gross, 8))
}
