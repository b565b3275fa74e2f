package address_test

import (
	"testing"

	"github.com/paycore/withdrawals/services/address"
)

func BenchmarkValidate(b *testing.B) {
	v, _ := address.NewValidator(address.Networks{})
	for _, c := range []struct{ name, format, addr string }{
		{"bech32", address.FormatBitcoin, "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"},
		{"base58", address.FormatBitcoin, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"},
		{"eip55", address.FormatEVM, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := v.Validate(c.format, c.addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
