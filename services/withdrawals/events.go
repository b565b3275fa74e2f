package withdrawals

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/webhooks"
)

// eventFor is the webhook event announcing a withdrawal's arrival in a status.
var eventFor = map[models.WithdrawalStatus]string{
	models.StatusPendingApproval: webhooks.EventWithdrawalApprovalRequired,
	models.StatusPending:         webhooks.EventWithdrawalPending,
	models.StatusProcessing:      webhooks.EventWithdrawalProcessing,
	models.StatusConfirmed:       webhooks.EventWithdrawalConfirmed,
	models.StatusFailed:          webhooks.EventWithdrawalFailed,
	models.StatusCancelled:       webhooks.EventWithdrawalCancelled,
}

// eventData is the "data" of a withdrawal event, in the shapes of DCE Pay's examples:
// the confirmed event adds commission, commissionRate (the raw rate), txHash,
// confirmedAt and metadata.feeCalculation; the failed one failedAt and reason.
func eventData(w models.Withdrawal) map[string]any {
	var metadata any = json.RawMessage("{}")
	if len(w.Metadata) > 0 {
		metadata = json.RawMessage(w.Metadata)
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
	if w.BatchRequestID != nil {
		data["batchRequestId"], data["reference"] = *w.BatchRequestID, *w.Reference
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
		withFees := decodeMetadata(w.Metadata)
		withFees["feeCalculation"] = map[string]any{
			"baseFee":    models.FormatAmount(w.FeeBase),
			"markupRate": models.FormatAmount(w.FeeMarkupRate),
			"totalFee":   models.FormatAmount(w.FeeTotal),
			"netAmount":  models.FormatAmount(w.NetAmount),
		}
		data["metadata"] = withFees
	case models.StatusFailed:
		data["failedAt"] = eventTime(*w.FailedAt)
		data["reason"] = w.FailureReason
	case models.StatusCancelled:
		data["cancelledAt"] = eventTime(*w.CancelledAt)
	}
	return data
}

// decodeMetadata reads a withdrawal's metadata (a JSON object, checked when it was
// accepted) as a map to add to, numbers kept as written: decoded as float64, an order
// number like 12345678901234567891 would reach the merchant's webhook as another number.
func decodeMetadata(raw []byte) map[string]any {
	metadata := map[string]any{}
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(&metadata)
	}
	return metadata
}

func eventTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
