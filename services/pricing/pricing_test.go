package pricing_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/fees"
	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/pricing"
)

// A net amount below the chain's dust limit could never be paid: creation refuses it
// with the limit in the message, and accepts the smallest amount that clears it.
func TestPriceRefusesNetAmountsBelowDust(t *testing.T) {
	network := catalog.Network{
		TokenNetwork: models.TokenNetwork{Token: "LTC", Network: "litecoin", AddressFormat: "litecoin",
			MinWithdrawal: decimal.RequireFromString("0.00001"), DustLimit: decimal.RequireFromString("0.0000546"), Enabled: true},
		Schedule: fees.Schedule{BaseFee: decimal.RequireFromString("0.00001"), Enabled: true},
	}
	ltc := catalog.Token{Token: models.Token{Symbol: "LTC", Network: "litecoin", Decimals: 8}, Networks: []catalog.Network{network}}
	_, err := pricing.Price(ltc, network, decimal.RequireFromString("0.00006459"))
	var invalid *services.ValidationError
	if !errors.As(err, &invalid) || invalid.Code != services.CodeInvalidAmount || !strings.Contains(err.Error(), "dust limit) of 0.0000546 LTC") {
		t.Fatalf("net 0.00005459 LTC: %v, want INVALID_AMOUNT naming the dust limit", err)
	}
	q, err := pricing.Price(ltc, network, decimal.RequireFromString("0.0000646"))
	if err != nil || !q.Net.Equal(network.DustLimit) {
		t.Fatalf("net exactly the dust limit: %+v %v", q, err)
	}
}
