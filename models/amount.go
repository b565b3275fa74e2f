package models

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"regexp"
	"strconv"

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
	var buf [48]byte
	return string(AppendAmount(buf[:0], d))
}

// AppendAmount appends FormatAmount(d) to dst. It writes what decimal.Decimal.String
// writes, without its conversion through big.Int's text: every amount a response or an
// event carries is formatted, and for the balance read that conversion is a visible share
// of the service's CPU (BENCHMARKS.md). Values whose coefficient is 2^127 or more,
// or whose exponent is positive or below -38, take decimal's own path; no NUMERIC(38,18)
// value needs it.
func AppendAmount(dst []byte, d decimal.Decimal) []byte {
	exp := int(d.Exponent())
	if exp > 0 || exp < -38 {
		return append(dst, d.String()...)
	}
	var hi, lo uint64
	var word [16]byte
	if d.NumDigits() <= 18 { // the coefficient fits an int64: no copy of it needed
		v := d.CoefficientInt64()
		if v < 0 {
			dst = append(dst, '-')
			v = -v
		}
		lo = uint64(v)
	} else {
		coef := d.Coefficient() // a copy: made positive below without touching d
		if coef.BitLen() > 127 {
			return append(dst, d.String()...)
		}
		if coef.Sign() < 0 {
			dst = append(dst, '-')
			coef.Neg(coef)
		}
		coef.FillBytes(word[:])
		hi, lo = binary.BigEndian.Uint64(word[:8]), binary.BigEndian.Uint64(word[8:])
	}

	// The coefficient's digits: below 2^127, hi < 10^19, so one division by 10^19
	// leaves a quotient that fits in 64 bits.
	var digits [40]byte
	var text []byte
	if hi == 0 {
		text = strconv.AppendUint(digits[:0], lo, 10)
	} else {
		const e19 = 10_000_000_000_000_000_000
		q, r := bits.Div64(hi, lo, e19)
		text = strconv.AppendUint(digits[:0], q, 10)
		low := strconv.AppendUint(word[:0], r, 10)
		for range 19 - len(low) {
			text = append(text, '0')
		}
		text = append(text, low...)
	}
	if exp == 0 {
		return append(dst, text...)
	}

	// Split at the point; the fraction loses its trailing zeros, and with them the
	// point if nothing is left.
	scale := -exp
	fraction, leadingZeros := text, scale-len(text)
	if len(text) > scale {
		dst = append(dst, text[:len(text)-scale]...)
		fraction, leadingZeros = text[len(text)-scale:], 0
	} else {
		dst = append(dst, '0')
	}
	for len(fraction) > 0 && fraction[len(fraction)-1] == '0' {
		fraction = fraction[:len(fraction)-1]
	}
	if len(fraction) == 0 {
		return dst
	}
	dst = append(dst, '.')
	for range leadingZeros {
		dst = append(dst, '0')
	}
	return append(dst, fraction...)
}
