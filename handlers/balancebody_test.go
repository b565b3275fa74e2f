package handlers

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/services/ledger"
)

// TestBalancesBody: the hand-written body is byte for byte what encoding/json, through
// Echo's serializer, wrote for the same rows.
func TestBalancesBody(t *testing.T) {
	for _, rows := range [][]ledger.Balance{
		nil,
		{{Token: "BTC", Available: decimal.Zero, Pending: decimal.Zero}},
		{
			{Token: "BTC", Available: decimal.RequireFromString("1000.500000000000000000"), Pending: decimal.RequireFromString("0.000000010000000000")},
			{Token: "ETH", Available: decimal.RequireFromString("99999999999999999999.999999999999999999"), Pending: decimal.RequireFromString("12")},
			{Token: `U<S>&"D\T` + "\u00e9\x01", Available: decimal.RequireFromString("0.0005"), Pending: decimal.Zero},
		},
	} {
		dtos := make([]balanceDTO, len(rows))
		for i, b := range rows {
			dtos[i] = balanceOf(b)
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(map[string]any{"balances": dtos}); err != nil {
			t.Fatal(err)
		}
		if got := balancesBody(rows); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("balancesBody:\n got %s\nwant %s", got, want.Bytes())
		}
	}
}
