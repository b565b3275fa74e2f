package models

import (
	"errors"
	"regexp"

	"github.com/shopspring/decimal"
)

// amountPattern is the only accepted spelling of an amount: digits with an optional
// fraction. Exponents, signs, spaces and hex are refused so that "1e3" or "+5" can
// never be read as something the merchant did not mean.
var amountPattern = regexp.MustCompile(`^[0-9]{1,20}(\.[0-9]{1,18})?$`)

// ErrAmountSyntax is returned for an amount that is not a plain decimal within NUMERIC(38,18).
var ErrAmountSyntax = errors.New("amount must be a plain decimal number with at most 20 integer and 18 fraction digits")

// ParseAmount reads an amount from its decimal text without going through float64.
func ParseAmount(s string) (decimal.Decimal, error) {
	if !amountPattern.MatchString(s) {
		return decimal.Decimal{}, ErrAmountSyntax
	}
	return decimal.NewFromString(s)
}

// FormatAmount writes an amount as the shortest exact decimal string ("100", "0.00099").
func FormatAmount(d decimal.Decimal) string {
	return d.String()
}
