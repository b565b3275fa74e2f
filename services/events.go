package services

import (
	"encoding/json"
	"time"

	"github.com/paycore/withdrawals/models"
)

// eventFor is the webhook event announcing a withdrawal's arrival in a status.
var eventFor = map[models.WithdrawalStatus]string{
	models.StatusPending:    EventWithdrawalPending,
	models.StatusProcessing: EventWithdrawalProcessing,
	models.StatusConfirmed:  EventWithdrawalConfirmed,
	models.StatusFailed:     EventWithdrawalFailed,
	models.StatusCancelled:  EventWithdrawalCancelled,
}

// eventData is the "data" of a withdrawal event, in the shapes of DCE Pay's examples:
// the confirmed event adds commission, commissionRate (the raw rate), txHash,
// confirmedAt and metadata.feeCalculation; the failed one failedAt and reason.
func eventData(w models.Withdrawal) map[string]any {
	metadata := map[string]any{}
	if len(w.Metadata) > 0 {
		_ = json.Unmarshal(w.Metadata, &metadata)
	}
	data := map[string]any{
		"id":        w.ID,
		"token":     w.Token,
		"network":   w.Network,
		"amount":    models.FormatAmount(w.Amount),
		"address":   w.Address,
		"status":    string(w.Status),
		"fee":       models.FormatAmount(w.FeeTotal),
		"netAmount": models.FormatAmount(w.NetAmount),
		"createdAt": eventTime(w.CreatedAt),
		"metadata":  metadata,
	}
	switch w.Status {
	case models.StatusProcessing:
		data["batchId"] = w.BatchID
		data["processingAt"] = eventTime(*w.ProcessingAt)
	case models.StatusConfirmed:
		data["commission"] = models.FormatAmount(w.FeeTotal)
		data["commissionRate"] = models.FormatAmount(w.FeeMarkupRate)
		data["txHash"] = w.TxHash
		data["confirmedAt"] = eventTime(*w.ConfirmedAt)
		metadata["feeCalculation"] = map[string]any{
			"baseFee":    models.FormatAmount(w.FeeBase),
			"markupRate": models.FormatAmount(w.FeeMarkupRate),
			"totalFee":   models.FormatAmount(w.FeeTotal),
			"netAmount":  models.FormatAmount(w.NetAmount),
		}
	case models.StatusFailed:
		data["failedAt"] = eventTime(*w.FailedAt)
		data["reason"] = w.FailureReason
	case models.StatusCancelled:
		data["cancelledAt"] = eventTime(*w.CancelledAt)
	}
	return data
}

func eventTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
