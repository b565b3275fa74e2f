package models_test

import (
	"math/big"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/models"
)

// FormatAmount must write exactly what decimal.Decimal.String writes: the contract's
// amounts were that text before the fast path existed.
func TestFormatAmountMatchesDecimalString(t *testing.T) {
	for _, s := range []string{"0", "0.000000000000000000", "1", "10", "100", "-5", "0.0005", "-0.0005",
		"1000.500000000000000000", "0.000000000000000001", "12.340000", "99999999999999999999.999999999999999999",
		"-99999999999999999999.999999999999999999", "18446744073709551615", "18446744073709551616",
		"9223372036854775807.000000000000000001", "170141183460469231731.687303715884105727",
		"170141183460469231731.687303715884105728", "1e5", "1e-40", "123456789e-45", "-0.1e-2"} {
		d, err := decimal.NewFromString(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got, want := models.FormatAmount(d), d.String(); got != want {
			t.Errorf("FormatAmount(%s) = %q, decimal writes %q", s, got, want)
		}
	}
}

// FuzzFormatAmount compares FormatAmount with decimal.Decimal.String on any coefficient
// (up to 160 bits, either sign) and exponent.
func FuzzFormatAmount(f *testing.F) {
	f.Add([]byte{1}, false, int8(0))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true, int8(-18))
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, int8(-38))
	f.Add([]byte{0x03, 0xe8}, false, int8(-3))
	f.Fuzz(func(t *testing.T, magnitude []byte, negative bool, exp int8) {
		if len(magnitude) > 20 {
			magnitude = magnitude[:20]
		}
		coef := new(big.Int).SetBytes(magnitude)
		if negative {
			coef.Neg(coef)
		}
		d := decimal.NewFromBigInt(coef, int32(exp)/4)
		if got, want := models.FormatAmount(d), d.String(); got != want {
			t.Fatalf("FormatAmount(%s e%d) = %q, decimal writes %q", coef, int32(exp)/4, got, want)
		}
	})
}

func BenchmarkFormatAmount(b *testing.B) {
	for _, s := range []string{"10", "0.0005", "1000.500000000000000000"} {
		d := decimal.RequireFromString(s)
		b.Run(s+"/decimal", func(b *testing.B) {
			for b.Loop() {
				_ = d.String()
			}
		})
		b.Run(s+"/FormatAmount", func(b *testing.B) {
			for b.Loop() {
				_ = models.FormatAmount(d)
			}
		})
	}
}
