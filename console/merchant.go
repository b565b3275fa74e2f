package console

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/fees"
	"github.com/paycore/withdrawals/handlers"
	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/webhooks"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// home sends each role to its first page.
func (cs *console) home(c echo.Context) error {
	if sessionOf(c).Role == models.RoleAdmin {
		return c.Redirect(http.StatusSeeOther, "/console/ops")
	}
	return c.Redirect(http.StatusSeeOther, "/console/balances")
}

func (cs *console) balances(c echo.Context) error {
	rows, err := cs.Ledger.Balances(c.Request().Context(), sessionOf(c).MerchantID)
	if err != nil {
		return err
	}
	return cs.render(c, http.StatusOK, "balances", view{Title: "Balances", Nav: "balances", Data: rows})
}

// withdrawalList is the list page: the API's filters, as the query string has them.
type withdrawalList struct {
	Query       url.Values
	Page        []models.Withdrawal
	Total       int64
	From, To    int
	Prev, Next  string
	CSV         string
	Statuses    []models.WithdrawalStatus
	FilterError string
}

func (cs *console) listWithdrawals(c echo.Context) error {
	v := withdrawalList{Query: c.QueryParams(), Statuses: models.WithdrawalStatuses}
	f, err := handlers.ListFilter(c)
	if err == nil {
		f.MerchantID = sessionOf(c).MerchantID
		var page services.Page[models.Withdrawal]
		page, err = cs.Withdrawals.List(c.Request().Context(), f)
		if err == nil {
			v.Page, v.Total = page.Items, page.Total
			v.From, v.To = f.Offset+1, f.Offset+len(page.Items)
			v.Prev, v.Next = pageLink(c.QueryParams(), f.Offset-f.Limit, f.Offset > 0), pageLink(c.QueryParams(), f.Offset+f.Limit, page.HasMore())
		}
	}
	status := http.StatusOK
	if err != nil {
		v.FilterError, status = describe(err).Message, problemStatus(err)
	}
	q := c.QueryParams()
	q.Del("offset")
	q.Del("page")
	v.CSV = "/console/withdrawals.csv?" + q.Encode()
	return cs.render(c, status, "withdrawals", view{Title: "Withdrawals", Nav: "withdrawals", Data: v})
}

// pageLink is the list's URL at offset, or "" when there is no such page.
func pageLink(q url.Values, offset int, ok bool) string {
	if !ok {
		return ""
	}
	q = cloneValues(q)
	q.Del("page")
	q.Set("offset", strconv.Itoa(max(offset, 0)))
	return "/console/withdrawals?" + q.Encode()
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// csvExportMax bounds an export: a filtered list of up to 10,000 withdrawals.
const csvExportMax = 10_000

// exportWithdrawals writes the filtered list as CSV, newest first.
func (cs *console) exportWithdrawals(c echo.Context) error {
	f, err := handlers.ListFilter(c)
	if err != nil {
		return c.String(problemStatus(err), describe(err).Message)
	}
	f.MerchantID, f.Limit, f.Offset = sessionOf(c).MerchantID, 100, 0
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="withdrawals.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write([]string{"id", "created_at", "status", "token", "network", "amount", "fee", "net_amount", "address", "tx_hash", "failure_reason", "reference"})
	for f.Offset < csvExportMax {
		page, err := cs.Withdrawals.List(c.Request().Context(), f)
		if err != nil {
			return err
		}
		for _, x := range page.Items {
			_ = w.Write([]string{x.ID, x.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), string(x.Status), x.Token, x.Network,
				models.FormatAmount(x.Amount), models.FormatAmount(x.FeeTotal), models.FormatAmount(x.NetAmount),
				x.Address, str(x.TxHash), handlers.SpreadsheetSafe(str(x.FailureReason)), handlers.SpreadsheetSafe(str(x.Reference))})
		}
		if !page.HasMore() {
			break
		}
		f.Offset += f.Limit
	}
	w.Flush()
	return w.Error()
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// withdrawalForm is the create form: what was typed, the field errors, the preview.
type withdrawalForm struct {
	Tokens         []catalog.Token
	Token, Network string
	Amount         string
	Address        string
	IdempotencyKey string
	FieldErrors    map[string]string
	Quote          *quoteView
}

type quoteView struct {
	Token, Network string
	Quote          fees.Quote
	Error          string
}

func (cs *console) newWithdrawal(c echo.Context) error {
	form := withdrawalForm{Token: c.QueryParam("token"), Network: c.QueryParam("network"), Amount: c.QueryParam("amount"),
		Address: c.QueryParam("address"), FieldErrors: map[string]string{}}
	if form.Token != "" && form.Amount != "" {
		form.Quote = cs.quote(c, form.Token, form.Network, form.Amount)
	}
	return cs.renderForm(c, http.StatusOK, form)
}

func (cs *console) renderForm(c echo.Context, status int, form withdrawalForm) error {
	tokens, err := cs.Pricing.Tokens(c.Request().Context())
	if err != nil {
		return err
	}
	form.Tokens = tokens
	// A fresh key per form shown: a double submit of one form creates one withdrawal.
	form.IdempotencyKey = "console-" + randomString()
	return cs.render(c, status, "withdrawal_new", view{Title: "New withdrawal", Nav: "new", Data: form})
}

// quote prices an amount as the API's fee quote does.
func (cs *console) quote(c echo.Context, token, network, amountText string) *quoteView {
	v := &quoteView{Token: token, Network: network}
	amount, err := models.ParseAmount(amountText)
	if err != nil {
		v.Error = "Enter the amount as a positive decimal, such as 100 or 0.001."
		return v
	}
	q, symbol, err := cs.Pricing.Quote(c.Request().Context(), token, network, amount)
	if err != nil {
		v.Error = describe(err).Message
		return v
	}
	v.Token, v.Quote = symbol, q
	return v
}

// quoteFragment serves the live fee preview (console.js asks for it as the form is
// typed in).
func (cs *console) quoteFragment(c echo.Context) error {
	return cs.fragment(c, "withdrawal_new", "quote", cs.quote(c, c.QueryParam("token"), c.QueryParam("network"), c.QueryParam("amount")))
}

func (cs *console) createWithdrawal(c echo.Context) error {
	form := withdrawalForm{Token: c.FormValue("token"), Network: c.FormValue("network"), Amount: c.FormValue("amount"),
		Address: c.FormValue("address"), FieldErrors: map[string]string{}}
	amount, err := models.ParseAmount(form.Amount)
	if err != nil {
		form.FieldErrors["amount"] = "Enter the amount as a positive decimal, such as 100 or 0.001."
		return cs.renderForm(c, http.StatusBadRequest, form)
	}
	s := sessionOf(c)
	res, err := cs.Withdrawals.Create(c.Request().Context(), withdrawals.CreateInput{MerchantID: s.MerchantID, Token: form.Token,
		Network: form.Network, Amount: amount, Address: form.Address, KeyID: s.KeyID, IdempotencyKey: c.FormValue("idempotency_key")})
	if err != nil {
		p := describe(err)
		if p.Status >= 500 {
			return err
		}
		field := p.Field
		switch {
		case p.Code == "ADDRESS_NOT_WHITELISTED" || p.Code == "INVALID_ADDRESS":
			field = "address"
		case p.Code == "INSUFFICIENT_BALANCE" || p.Code == "LIMIT_EXCEEDED" || p.Code == "INVALID_AMOUNT":
			field = "amount"
		case p.Code == "UNSUPPORTED_TOKEN":
			field = "token"
		case p.Code == "UNSUPPORTED_NETWORK":
			field = "network"
		}
		if field == "" {
			field = "form"
		}
		form.FieldErrors[field] = p.Message
		return cs.renderForm(c, p.Status, form)
	}
	return redirectWith(c, "/console/withdrawals/"+res.Withdrawal.ID, "Withdrawal created.", nil)
}

// detail is a withdrawal's page: its fields, its timeline and its webhook deliveries.
type detail struct {
	W          models.Withdrawal
	Timeline   []step
	Deliveries []webhooks.DeliveryView
	CanCancel  bool
}

type step struct {
	Status string
	At     string
	Note   string
}

// stamp is a time as the console shows it.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func timeline(w models.Withdrawal) []step {
	steps := []step{{Status: "created", At: stamp(w.CreatedAt)}}
	if w.ApprovalsRequired > 0 {
		steps = append(steps, step{Status: "pending_approval", Note: "held for " + strconv.Itoa(w.ApprovalsRequired) + " approval(s): " + str(w.ApprovalReason)})
	}
	if w.ProcessingAt != nil {
		steps = append(steps, step{Status: "processing", At: stamp(*w.ProcessingAt), Note: "payout batch " + str(w.BatchID)})
	}
	switch {
	case w.ConfirmedAt != nil:
		steps = append(steps, step{Status: "confirmed", At: stamp(*w.ConfirmedAt), Note: "transaction " + str(w.TxHash)})
	case w.FailedAt != nil:
		steps = append(steps, step{Status: "failed", At: stamp(*w.FailedAt), Note: str(w.FailureReason)})
	case w.CancelledAt != nil:
		steps = append(steps, step{Status: "cancelled", At: stamp(*w.CancelledAt)})
	}
	return steps
}

func (cs *console) withdrawalDetail(c echo.Context) error {
	ctx := c.Request().Context()
	s := sessionOf(c)
	w, err := cs.Withdrawals.Get(ctx, s.MerchantID, c.Param("id"))
	if err != nil {
		if p := describe(err); p.Status == http.StatusNotFound {
			return cs.render(c, http.StatusNotFound, "not_found", view{Title: "Not found"})
		}
		return err
	}
	deliveries, err := cs.Webhooks.ListDeliveries(ctx, webhooks.DeliveryFilter{MerchantID: s.MerchantID, SubjectID: w.ID, PageRequest: services.PageRequest{Limit: 50}})
	if err != nil {
		return err
	}
	d := detail{W: w, Timeline: timeline(w), Deliveries: deliveries.Items,
		CanCancel: w.Status == models.StatusPending || w.Status == models.StatusPendingApproval}
	return cs.render(c, http.StatusOK, "withdrawal", view{Title: "Withdrawal " + w.ID, Nav: "withdrawals", Data: d})
}

func (cs *console) cancelWithdrawal(c echo.Context) error {
	id := c.Param("id")
	_, err := cs.Withdrawals.Cancel(c.Request().Context(), sessionOf(c).MerchantID, id)
	return redirectWith(c, "/console/withdrawals/"+url.PathEscape(id), "Withdrawal cancelled; its amount is available again.", err)
}

func randomString() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
