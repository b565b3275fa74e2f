package services

import (
	"testing"

	"github.com/shopspring/decimal"
)

// shortAmount reads the value PostgreSQL wrote, without its text's trailing zeros.
func TestShortAmountScan(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"1000.500000000000000000", "1000.5"},
		{"0.000000000000000000", "0"},
		{"10.000000000000000000", "10"},
		{"100", "100"},
		{"0.000000010000000000", "0.00000001"},
		{"99999999999999999999.999999999999999999", "99999999999999999999.999999999999999999"},
	} {
		for _, src := range []any{c.text, []byte(c.text)} {
			var d decimal.Decimal
			if err := (shortAmount{&d}).Scan(src); err != nil {
				t.Fatalf("%q: %v", c.text, err)
			}
			want := decimal.RequireFromString(c.want)
			if !d.Equal(decimal.RequireFromString(c.text)) || d.Exponent() != want.Exponent() || d.String() != c.want {
				t.Errorf("%q (%T) read as %s with exponent %d, want %s with exponent %d", c.text, src, d, d.Exponent(), c.want, want.Exponent())
			}
		}
	}
	var d decimal.Decimal
	if err := (shortAmount{&d}).Scan("1.2.3"); err == nil {
		t.Error("a malformed amount was read")
	}
}
