package handlers

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/withdrawals"
)

type batchItemRequest struct {
	Reference string          `json:"reference"`
	Token     string          `json:"token"`
	Amount    json.RawMessage `json:"amount"`
	Address   string          `json:"address"`
	Network   string          `json:"network"`
	Metadata  json.RawMessage `json:"metadata"`
}

type createBatchRequest struct {
	Mode  string             `json:"mode" validate:"required"`
	Items []batchItemRequest `json:"items"`
}

// createBatch: POST /api/withdrawal-batches, a mass payout of up to 1,000 withdrawals
// recorded in one transaction. Each item's problem is answered with the item.
func (s *Server) createBatch(c echo.Context) error {
	var req createBatchRequest
	if err := s.bindJSONUpTo(c, &req, maxBatchBodyBytes); err != nil {
		return err
	}
	p := principal(c)
	in := withdrawals.BatchInput{MerchantID: p.MerchantID, KeyID: p.KeyID, Mode: req.Mode, Items: make([]withdrawals.BatchItem, len(req.Items))}
	for i, it := range req.Items {
		item := withdrawals.BatchItem{Reference: it.Reference, Token: it.Token, Address: it.Address, Network: it.Network, Metadata: it.Metadata}
		switch {
		case it.Token == "" || len(it.Token) > 16:
			item.Err = services.Invalid(services.CodeInvalidRequest, "token", "token is required (at most 16 characters)")
		case it.Address == "" || len(it.Address) > 128:
			item.Err = services.Invalid(services.CodeInvalidRequest, "address", "address is required (at most 128 characters)")
		case len(it.Network) > 32:
			item.Err = services.Invalid(services.CodeInvalidRequest, "network", "network must be at most 32 characters")
		default:
			amount, err := parseAmount("amount", it.Amount)
			if err != nil {
				item.Err = services.Invalid(services.ErrorCode(toAPIError(err).Code), "amount", "%s", toAPIError(err).Message)
			}
			item.Amount = amount
		}
		in.Items[i] = item
	}
	var err error
	if in.IdempotencyKey, err = idempotencyKey(c); err != nil {
		return err
	}
	res, err := s.Withdrawals.CreateBatch(c.Request().Context(), in)
	if err != nil {
		return err
	}
	if res.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	return c.JSON(http.StatusCreated, withdrawals.SummaryOf(res.Batch))
}

// getBatch: GET /api/withdrawal-batches/:id, or its items as CSV with the suffix .csv
// (one route: Echo's path parameters cannot be followed by a suffix).
func (s *Server) getBatch(c echo.Context) error {
	return s.renderBatch(c, principal(c).MerchantID)
}

// renderBatch serves a mass payout of a merchant (any merchant's with merchantID empty).
func (s *Server) renderBatch(c echo.Context, merchantID string) error {
	id, asCSV := strings.CutSuffix(c.Param("id"), ".csv")
	view, err := s.Withdrawals.GetBatch(c.Request().Context(), merchantID, id)
	if err != nil {
		return err
	}
	if !asCSV {
		return c.JSON(http.StatusOK, withdrawals.SummaryOf(view))
	}
	items, err := s.Withdrawals.BatchWithdrawals(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return writeBatchCSV(c, view, items)
}

// batchCSVHeader is the CSV's columns: the item as asked, then its withdrawal's state or
// its refusal.
var batchCSVHeader = []string{"index", "reference", "token", "network", "amount", "address", "withdrawal_id", "status",
	"fee", "net_amount", "tx_hash", "failure_reason", "error", "error_message"}

func writeBatchCSV(c echo.Context, view withdrawals.BatchView, items map[string]models.Withdrawal) error {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+view.ID+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	out := csv.NewWriter(c.Response())
	_ = out.Write(batchCSVHeader)
	for _, o := range view.Items {
		row := []string{strconv.Itoa(o.Index), SpreadsheetSafe(o.Reference), o.Token, o.Network, o.Amount, SpreadsheetSafe(o.Address), "", "", "", "", "", "", "", ""}
		if o.WithdrawalID != nil {
			w := items[*o.WithdrawalID]
			row[6], row[7], row[8], row[9] = w.ID, string(w.Status), models.FormatAmount(w.FeeTotal), models.FormatAmount(w.NetAmount)
			row[10], row[11] = deref(w.TxHash), SpreadsheetSafe(deref(w.FailureReason))
		}
		if o.Error != nil {
			row[12], row[13] = o.Error.Code, SpreadsheetSafe(o.Error.Message)
		}
		_ = out.Write(row)
	}
	out.Flush()
	return out.Error()
}

// SpreadsheetSafe keeps a CSV cell that a spreadsheet would run as a formula as text
// (the API's and the console's exports).
func SpreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
