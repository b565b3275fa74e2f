package address_test

import (
	"strings"
	"testing"

	"github.com/paycore/withdrawals/services/address"
)

// FuzzValidate: validation never panics, an accepted address is accepted again in its
// normalised spelling when its format is case-insensitive, and no address is accepted
// by two formats of one token's networks (EVM and Tron: network inference relies on it).
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		"bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
		"bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "", "bc1", "0x", strings.Repeat("1", 200),
		"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "ltc1qjjss69l2m5n2aa5gp9galul5gyfjgzcvrq0vkk", "LNdHA6Jb2nozvnrxLuBiJyEpsiWtVx5xMV",
	} {
		f.Add(s)
	}
	v, err := address.NewValidator(address.Networks{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v.Validate(address.FormatEVM, s) == nil && v.Validate(address.FormatTron, s) == nil {
			t.Fatalf("%q accepted as both an EVM and a Tron address", s)
		}
		for _, format := range []string{address.FormatBitcoin, address.FormatLitecoin, address.FormatEVM, address.FormatTron} {
			if v.Validate(format, s) != nil {
				continue
			}
			if format == address.FormatTron && (len(s) != 34 || s[0] != 'T') {
				t.Fatalf("Tron %q accepted with a wrong shape", s)
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
