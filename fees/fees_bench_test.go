package fees_test

import (
	"testing"

	"github.com/paycore/withdrawals/fees"
)

func BenchmarkCalculate(b *testing.B) {
	s := fees.Schedule{BaseFee: d("1"), MarkupRate: d("0.05"), Enabled: true}
	amount := d("123.456789")
	for b.Loop() {
		if _, err := fees.Calculate(amount, 6, s); err != nil {
			b.Fatal(err)
		}
	}
}
