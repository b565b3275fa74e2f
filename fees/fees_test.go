package fees_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/fees"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestCalculate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                                     string
		amount                                   string
		decimals                                 int32
		schedule                                 fees.Schedule
		wantBase, wantMarkup, wantTotal, wantNet string
		wantPercent                              string
	}{
		{"DCE Pay: 100 USDT, base 1, 5% markup", "100", 6, fees.Schedule{BaseFee: d("1"), MarkupRate: d("0.05"), Enabled: true}, "1", "5", "6", "94", "6.00"},
		{"DCE Pay: 100 USDT, no markup", "100", 6, fees.Schedule{BaseFee: d("1"), MarkupRate: d("0"), Enabled: true}, "1", "0", "1", "99", "1.00"},
		{"DCE Pay admin example: base 1.5, 2%", "100", 6, fees.Schedule{BaseFee: d("1.5"), MarkupRate: d("0.02"), Enabled: true}, "1.5", "2", "3.5", "96.5", "3.50"},
		{"DCE Pay BTC example", "0.001", 8, fees.Schedule{BaseFee: d("0.00001"), Enabled: true}, "0.00001", "0", "0.00001", "0.00099", "1.00"},
		{"disabled schedule charges nothing", "100", 6, fees.Schedule{BaseFee: d("1"), MarkupRate: d("0.05"), Enabled: false}, "0", "0", "0", "100", "0.00"},
		{"markup rounds half up at USDT decimals", "0.00005", 6, fees.Schedule{BaseFee: d("0"), MarkupRate: d("0.1"), Enabled: true}, "0", "0.000005", "0.000005", "0.000045", "10.00"},
		{"markup half-way rounds up", "1.000005", 6, fees.Schedule{BaseFee: d("0"), MarkupRate: d("0.5"), Enabled: true}, "0", "0.500003", "0.500003", "0.500002", "50.00"},
		{"markup below half rounds down", "0.000001", 6, fees.Schedule{BaseFee: d("0"), MarkupRate: d("0.4"), Enabled: true}, "0", "0", "0", "0.000001", "0.00"},
		{"BTC rounds at 8 decimals", "0.123456789", 8, fees.Schedule{BaseFee: d("0"), MarkupRate: d("0.01"), Enabled: true}, "0", "0.00123457", "0.00123457", "0.122222219", "1.00"},
		{"ETH keeps 18 decimals", "1", 18, fees.Schedule{BaseFee: d("0.0005"), MarkupRate: d("0.000000000000000001"), Enabled: true}, "0.0005", "0.000000000000000001", "0.000500000000000001", "0.999499999999999999", "0.05"},
		{"base fee with excess precision rounds to token", "10", 2, fees.Schedule{BaseFee: d("0.125"), Enabled: true}, "0.13", "0", "0.13", "9.87", "1.30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := fees.Calculate(d(tt.amount), tt.decimals, tt.schedule)
			if err != nil {
				t.Fatalf("Calculate: %v", err)
			}
			got := []string{q.BaseFee.String(), q.MarkupAmount.String(), q.TotalFee.String(), q.Net.String(), q.FeePercentage()}
			want := []string{tt.wantBase, tt.wantMarkup, tt.wantTotal, tt.wantNet, tt.wantPercent}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("field %d: got %s, want %s (all: %v)", i, got[i], want[i], got)
				}
			}
			if !q.TotalFee.Add(q.Net).Equal(q.Gross) {
				t.Errorf("fee %s + net %s != gross %s", q.TotalFee, q.Net, q.Gross)
			}
		})
	}
}

func TestCalculateRejectsAmountNotAboveFee(t *testing.T) {
	t.Parallel()
	for _, amount := range []string{"1", "0.5", "0.000001"} {
		_, err := fees.Calculate(d(amount), 6, fees.Schedule{BaseFee: d("1"), Enabled: true})
		if !errors.Is(err, fees.ErrAmountNotAboveFee) {
			t.Errorf("amount %s: got %v, want ErrAmountNotAboveFee", amount, err)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	t.Parallel()
	valid := []fees.Schedule{{BaseFee: d("0"), MarkupRate: d("0")}, {BaseFee: d("1.5"), MarkupRate: d("0.999999")}}
	invalid := []fees.Schedule{{BaseFee: d("-0.01"), MarkupRate: d("0")}, {BaseFee: d("1"), MarkupRate: d("1")}, {BaseFee: d("1"), MarkupRate: d("-0.1")}}
	for _, s := range valid {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: unexpected error %v", s, err)
		}
	}
	for _, s := range invalid {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: expected an error", s)
		}
	}
}

func TestPercent(t *testing.T) {
	t.Parallel()
	if got := fees.Percent(d("0.05")); got != "5.00" {
		t.Errorf("Percent(0.05) = %s", got)
	}
}
