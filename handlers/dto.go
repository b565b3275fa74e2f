package handlers

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/fees"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/ledger"
	"github.com/paycore/withdrawals/services/payouts"
)

// Response DTOs: amounts are decimal strings, times RFC 3339 UTC with milliseconds.

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func optionalTimestamp(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timestamp(*t)
	return &s
}

type paginationDTO struct {
	Total   int64 `json:"total"`
	Limit   int   `json:"limit"`
	Offset  int   `json:"offset"`
	HasMore bool  `json:"hasMore"`
}

// cursorPaginationDTO is the pagination of a list of history (withdrawals, batches,
// deliveries, audit records): also whether the total is exact, and the cursors of the
// next (older) page, for startingAfter, and of the previous (newer) one, for
// endingBefore; null when there is no such page.
type cursorPaginationDTO struct {
	paginationDTO
	TotalExact     bool    `json:"totalExact"`
	NextCursor     *string `json:"nextCursor"`
	PreviousCursor *string `json:"previousCursor"`
}

func paginationOf[T any](p services.Page[T]) paginationDTO {
	return paginationDTO{Total: p.Total, Limit: p.Limit, Offset: p.Offset, HasMore: p.HasMore()}
}

// renderCursorPage writes {"<field>": [...], "pagination": {...}} for a list of
// history, with its cursors; id is an item's id.
func renderCursorPage[T, D any](c echo.Context, field string, page services.Page[T], render func(T) D, id func(T) string) error {
	out := make([]D, len(page.Items))
	for i, item := range page.Items {
		out[i] = render(item)
	}
	pagination := cursorPaginationDTO{paginationDTO: paginationOf(page), TotalExact: !page.TotalAtLeast}
	older, newer := page.HasMore(), page.Offset > 0
	if page.Keyset {
		older, newer = page.Older, page.Newer
	}
	if n := len(page.Items); n > 0 && older {
		next := id(page.Items[n-1])
		pagination.NextCursor = &next
	}
	if len(page.Items) > 0 && newer {
		previous := id(page.Items[0])
		pagination.PreviousCursor = &previous
	}
	return c.JSON(http.StatusOK, map[string]any{field: out, "pagination": pagination})
}

// renderPage writes {"<field>": [...], "pagination": {...}}, the envelope of every listing.
func renderPage[T, D any](c echo.Context, field string, page services.Page[T], render func(T) D) error {
	out := make([]D, len(page.Items))
	for i, item := range page.Items {
		out[i] = render(item)
	}
	return c.JSON(http.StatusOK, map[string]any{field: out, "pagination": paginationOf(page)})
}

type feeBreakdownDTO struct {
	BaseFee      string `json:"baseFee"`
	MarkupRate   string `json:"markupRate"` // a percentage, as DCE Pay shows it
	MarkupAmount string `json:"markupAmount"`
	TotalFee     string `json:"totalFee"`
}

type feeInfoDTO struct {
	GrossAmount   string          `json:"grossAmount"`
	NetAmount     string          `json:"netAmount"`
	TotalFees     string          `json:"totalFees"`
	FeeBreakdown  feeBreakdownDTO `json:"feeBreakdown"`
	FeePercentage string          `json:"feePercentage"`
}

func feeInfoOf(q fees.Quote) feeInfoDTO {
	return feeInfoDTO{
		GrossAmount: models.FormatAmount(q.Gross),
		NetAmount:   models.FormatAmount(q.Net),
		TotalFees:   models.FormatAmount(q.TotalFee),
		FeeBreakdown: feeBreakdownDTO{
			BaseFee:      models.FormatAmount(q.BaseFee),
			MarkupRate:   fees.Percent(q.MarkupRate),
			MarkupAmount: models.FormatAmount(q.MarkupAmount),
			TotalFee:     models.FormatAmount(q.TotalFee),
		},
		FeePercentage: q.FeePercentage(),
	}
}

type withdrawalDTO struct {
	ID                  string          `json:"id"`
	Token               string          `json:"token"`
	Network             string          `json:"network"`
	Amount              string          `json:"amount"`
	Address             string          `json:"address"`
	Status              string          `json:"status"`
	Fee                 string          `json:"fee"`
	NetAmount           string          `json:"netAmount"`
	FeeInfo             feeInfoDTO      `json:"feeInfo"`
	MerchantID          string          `json:"merchantId,omitempty"` // admin views only
	BatchID             *string         `json:"batchId"`
	TxHash              *string         `json:"txHash"`
	FailureReason       *string         `json:"failureReason"`
	ApprovalsRequired   int             `json:"approvalsRequired"`
	ApprovalReason      *string         `json:"approvalReason"`
	BatchRequestID      *string         `json:"batchRequestId"`
	Reference           *string         `json:"reference"`
	CreatedAt           string          `json:"createdAt"`
	UpdatedAt           string          `json:"updatedAt"`
	EstimatedCompletion string          `json:"estimatedCompletion"`
	ProcessingAt        *string         `json:"processingAt"`
	ConfirmedAt         *string         `json:"confirmedAt"`
	FailedAt            *string         `json:"failedAt"`
	CancelledAt         *string         `json:"cancelledAt"`
	Metadata            json.RawMessage `json:"metadata"`
}

func withdrawalOf(w models.Withdrawal) withdrawalDTO {
	metadata := json.RawMessage(w.Metadata)
	if len(metadata) == 0 {
		metadata = json.RawMessage("{}")
	}
	return withdrawalDTO{
		ID: w.ID, Token: w.Token, Network: w.Network, Address: w.Address, Status: string(w.Status),
		Amount:    models.FormatAmount(w.Amount),
		Fee:       models.FormatAmount(w.FeeTotal),
		NetAmount: models.FormatAmount(w.NetAmount),
		FeeInfo: feeInfoOf(fees.Quote{
			Gross: w.Amount, BaseFee: w.FeeBase, MarkupRate: w.FeeMarkupRate,
			MarkupAmount: w.FeeMarkupAmount, TotalFee: w.FeeTotal, Net: w.NetAmount,
		}),
		BatchID: w.BatchID, TxHash: w.TxHash, FailureReason: w.FailureReason,
		ApprovalsRequired: w.ApprovalsRequired, ApprovalReason: w.ApprovalReason, BatchRequestID: w.BatchRequestID, Reference: w.Reference,
		CreatedAt: timestamp(w.CreatedAt), UpdatedAt: timestamp(w.UpdatedAt),
		EstimatedCompletion: timestamp(w.EstimatedCompletion),
		ProcessingAt:        optionalTimestamp(w.ProcessingAt),
		ConfirmedAt:         optionalTimestamp(w.ConfirmedAt),
		FailedAt:            optionalTimestamp(w.FailedAt),
		CancelledAt:         optionalTimestamp(w.CancelledAt),
		Metadata:            metadata,
	}
}

type balanceDTO struct {
	Token     string `json:"token"`
	Available string `json:"available"`
	Pending   string `json:"pending"`
	Total     string `json:"total"`
}

func balanceOf(b ledger.Balance) balanceDTO {
	return balanceDTO{
		Token: b.Token, Available: models.FormatAmount(b.Available),
		Pending: models.FormatAmount(b.Pending), Total: models.FormatAmount(b.Total()),
	}
}

// feeScheduleDTO shows markupRate as the raw fraction, the form POST accepts.
type feeScheduleDTO struct {
	Scope      string `json:"scope"`
	BaseFee    string `json:"baseFee"`
	MarkupRate string `json:"markupRate"`
	Enabled    bool   `json:"enabled"`
	UpdatedAt  string `json:"updatedAt"`
	UpdatedBy  string `json:"updatedBy"`
}

func feeScheduleOf(fs models.FeeSchedule) feeScheduleDTO {
	return feeScheduleDTO{
		Scope: fs.Scope, BaseFee: models.FormatAmount(fs.BaseFee), MarkupRate: models.FormatAmount(fs.MarkupRate),
		Enabled: fs.Enabled, UpdatedAt: timestamp(fs.UpdatedAt), UpdatedBy: fs.UpdatedBy,
	}
}

type merchantDTO struct {
	ID                  string  `json:"id"`
	Name                string  `json:"name"`
	CreatedAt           string  `json:"createdAt"`
	PayoutsFrozen       bool    `json:"payoutsFrozen"`
	PayoutsFrozenAt     *string `json:"payoutsFrozenAt"`
	PayoutsFrozenReason *string `json:"payoutsFrozenReason"`
}

func merchantOf(m models.Merchant) merchantDTO {
	return merchantDTO{ID: m.ID, Name: m.Name, CreatedAt: timestamp(m.CreatedAt), PayoutsFrozen: m.PayoutsFrozenAt != nil,
		PayoutsFrozenAt: optionalTimestamp(m.PayoutsFrozenAt), PayoutsFrozenReason: m.PayoutsFrozenReason}
}

type apiKeyDTO struct {
	ID         string  `json:"id"`
	MerchantID *string `json:"merchantId"`
	Role       string  `json:"role"`
	Scope      string  `json:"scope"`
	Name       string  `json:"name"`
	Prefix     string  `json:"prefix"`
	CreatedAt  string  `json:"createdAt"`
	LastUsedAt *string `json:"lastUsedAt"`
	RevokedAt  *string `json:"revokedAt"`
}

func apiKeyOf(k models.APIKey) apiKeyDTO {
	return apiKeyDTO{
		ID: k.ID, MerchantID: k.MerchantID, Role: string(k.Role), Scope: string(k.Scope), Name: k.Name, Prefix: k.KeyPrefix,
		CreatedAt: timestamp(k.CreatedAt), LastUsedAt: optionalTimestamp(k.LastUsedAt), RevokedAt: optionalTimestamp(k.RevokedAt),
	}
}

type payoutBatchDTO struct {
	ID                string          `json:"id"`
	Token             string          `json:"token"`
	Network           string          `json:"network"`
	Status            string          `json:"status"`
	ItemCount         int             `json:"itemCount"`
	TotalAmount       string          `json:"totalAmount"`
	Provider          string          `json:"provider"`
	ProviderReference *string         `json:"providerReference"`
	Attempts          int             `json:"attempts"`
	LastError         *string         `json:"lastError"`
	CreatedAt         string          `json:"createdAt"`
	UpdatedAt         string          `json:"updatedAt"`
	SubmittedAt       *string         `json:"submittedAt"`
	CompletedAt       *string         `json:"completedAt"`
	FlaggedAt         *string         `json:"flaggedAt"`
	Withdrawals       []withdrawalDTO `json:"withdrawals"`
}

func payoutBatchOf(b payouts.BatchView) payoutBatchDTO {
	items := make([]withdrawalDTO, len(b.Withdrawals))
	for i, w := range b.Withdrawals {
		items[i] = adminWithdrawalOf(w)
	}
	return payoutBatchDTO{
		ID: b.ID, Token: b.Token, Network: b.Network, Status: string(b.Status), ItemCount: b.ItemCount,
		TotalAmount: models.FormatAmount(b.TotalAmount), Provider: b.Provider, ProviderReference: b.ProviderReference,
		Attempts: b.Attempts, LastError: b.LastError, CreatedAt: timestamp(b.CreatedAt), UpdatedAt: timestamp(b.UpdatedAt),
		SubmittedAt: optionalTimestamp(b.SubmittedAt), CompletedAt: optionalTimestamp(b.CompletedAt),
		FlaggedAt: optionalTimestamp(b.FlaggedAt), Withdrawals: items,
	}
}

// adminWithdrawalOf is the withdrawal object plus the merchant it belongs to.
func adminWithdrawalOf(w models.Withdrawal) withdrawalDTO {
	dto := withdrawalOf(w)
	dto.MerchantID = w.MerchantID
	return dto
}
