package address_test

import (
	"strings"
	"testing"

	"github.com/paycore/withdrawals/services/address"
)

// FuzzValidate: validation never panics, and an accepted address is accepted again in
// its normalised spelling when its format is case-insensitive.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		"bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
		"bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "", "bc1", "0x", strings.Repeat("1", 200),
	} {
		f.Add(s)
	}
	v, err := address.NewValidator(address.Networks{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, format := range []string{address.FormatBitcoin, address.FormatEVM} {
			if v.Validate(format, s) != nil {
				continue
			}
			n := address.Normalize(format, s)
			if format == address.FormatEVM {
				if err := v.Validate(format, n); err != nil {
					t.Fatalf("EVM %q accepted but its normalised %q is not: %v", s, n, err)
				}
				if !strings.HasPrefix(s, "0x") || len(s) != 42 {
					t.Fatalf("EVM %q accepted with a wrong shape", s)
				}
			}
			if format == address.FormatBitcoin && len(s) > 90 {
				t.Fatalf("Bitcoin %q accepted though longer than any address", s)
			}
		}
	})
}
