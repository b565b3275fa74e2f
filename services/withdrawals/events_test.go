package withdrawals

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/models"
)

// A webhook carries the metadata the merchant sent, numbers included, in every status:
// decoded as float64 they came out as other numbers.
func TestEventDataKeepsMetadataNumbers(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	w := models.Withdrawal{ID: "wth_1", Token: "USDT", Network: "ethereum", Amount: decimal.RequireFromString("100"),
		FeeBase: decimal.RequireFromString("1"), FeeMarkupRate: decimal.RequireFromString("0.05"),
		FeeMarkupAmount: decimal.RequireFromString("5"), FeeTotal: decimal.RequireFromString("6"),
		NetAmount: decimal.RequireFromString("94"), Address: "0xabc", CreatedAt: now,
		// with the spacing and trailing zeros a merchant may send
		Metadata: []byte(`{"rate": 0.1000, "orderNo": 12345678901234567891, "tags": [1.50, "x"]}`)}
	txHash := "0xfeed"
	for _, status := range []models.WithdrawalStatus{models.StatusPending, models.StatusConfirmed} {
		w.Status, w.TxHash, w.ConfirmedAt = status, &txHash, &now
		body, err := json.Marshal(eventData(w))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"orderNo":12345678901234567891`, `"rate":0.1000`, `"tags":[1.50,"x"]`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("%s event: %s lacks %s", status, body, want)
			}
		}
		if status == models.StatusConfirmed && !strings.Contains(string(body), `"feeCalculation":{"baseFee":"1"`) {
			t.Errorf("confirmed event: %s lacks the fee calculation", body)
		}
	}
}
