package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/ledger"
	"github.com/paycore/withdrawals/services/payouts"
	"github.com/paycore/withdrawals/services/policies"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// The operator's payout controls: approvals, limits and approval rules, payout batches,
// and the ledger's reconciliation.

type approvalsView struct {
	Page       services.Page[withdrawals.Awaiting]
	Prev, Next string
}

func (cs *console) approvals(c echo.Context) error {
	offset := offsetParam(c)
	page, err := cs.Withdrawals.ListAwaiting(c.Request().Context(), "", 50, offset)
	if err != nil {
		return err
	}
	prev, next := pageLinks("/console/ops/approvals", offset, 50, page.HasMore())
	return cs.render(c, http.StatusOK, "approvals", view{Title: "Approvals", Nav: "approvals", Data: approvalsView{Page: page, Prev: prev, Next: next}})
}

// decide records the signed-in admin's approval or rejection, as the API's would be.
func (cs *console) decide(c echo.Context) error {
	id := c.Param("id")
	approve := c.FormValue("decision") == "approve"
	w, err := cs.Withdrawals.Decide(c.Request().Context(), id, withdrawals.Decision{Approve: approve, KeyID: sessionOf(c).KeyID, Reason: c.FormValue("reason")})
	done := "Withdrawal " + id + " rejected; its funds are back."
	if approve {
		done = "Approval of " + id + " recorded; it is " + string(w.Status) + "."
	}
	return redirectWith(c, "/console/ops/approvals", done, err)
}

type policiesView struct {
	Limits []policies.Limit
	Rules  []policies.ApprovalRule
	Tokens []catalog.Token
}

func (cs *console) policies(c echo.Context) error {
	ctx := c.Request().Context()
	var v policiesView
	var err error
	if v.Limits, err = cs.Policies.List(ctx, ""); err != nil {
		return err
	}
	if v.Rules, err = cs.Policies.ApprovalRules(ctx, ""); err != nil {
		return err
	}
	if v.Tokens, err = cs.Pricing.Tokens(ctx); err != nil {
		return err
	}
	return cs.render(c, http.StatusOK, "policies", view{Title: "Limits and approval rules", Nav: "policies", Data: v})
}

// optionalAmount reads a form's amount: empty is none.
func optionalAmount(field, text string) (*decimal.Decimal, error) {
	if text == "" {
		return nil, nil
	}
	d, err := models.ParseAmount(text)
	if err != nil {
		return nil, services.Invalid(services.CodeInvalidRequest, field, "%s must be a positive decimal, or empty for none", field)
	}
	return &d, nil
}

func (cs *console) setLimits(c echo.Context) error {
	l := policies.Limit{Token: c.FormValue("token")}
	if m := c.FormValue("merchantId"); m != "" {
		l.MerchantID = &m
	}
	var err error
	for _, f := range []struct {
		name string
		dst  **decimal.Decimal
	}{{"perWithdrawal", &l.PerWithdrawal}, {"perDay", &l.PerDay}, {"perWeek", &l.PerWeek}} {
		if *f.dst, err = optionalAmount(f.name, c.FormValue(f.name)); err != nil {
			return redirectWith(c, "/console/ops/policies", "", err)
		}
	}
	_, err = cs.Policies.Set(c.Request().Context(), l, sessionOf(c).KeyID)
	return redirectWith(c, "/console/ops/policies", "Limits of "+l.Token+" saved.", err)
}

func (cs *console) setApprovalRule(c echo.Context) error {
	r := policies.ApprovalRule{Token: c.FormValue("token")}
	if m := c.FormValue("merchantId"); m != "" {
		r.MerchantID = &m
	}
	var err error
	if r.AmountAbove, err = optionalAmount("amountAbove", c.FormValue("amountAbove")); err != nil {
		return redirectWith(c, "/console/ops/policies", "", err)
	}
	if d := c.FormValue("newAddressDays"); d != "" {
		days, err := strconv.Atoi(d)
		if err != nil {
			return redirectWith(c, "/console/ops/policies", "", services.Invalid(services.CodeInvalidRequest, "newAddressDays", "newAddressDays must be a whole number of days"))
		}
		r.NewAddressDays = &days
	}
	r.ApprovalsRequired, _ = strconv.Atoi(c.FormValue("approvalsRequired"))
	_, err = cs.Policies.SetApprovalRule(c.Request().Context(), r, sessionOf(c).KeyID)
	return redirectWith(c, "/console/ops/policies", "Approval rule of "+r.Token+" saved.", err)
}

type batchesView struct {
	Status     string
	Statuses   []models.BatchStatus
	Page       services.Page[payouts.BatchView]
	Prev, Next string
}

// batches lists payout batches, newest first, each with its withdrawals.
func (cs *console) batches(c echo.Context) error {
	offset := offsetParam(c)
	status := c.QueryParam("status")
	page, err := cs.Payouts.ListBatches(c.Request().Context(), status, services.PageRequest{Limit: 20, Offset: offset})
	if err != nil {
		return cs.render(c, problemStatus(err), "batches", view{Title: "Payout batches", Nav: "batches", Error: describe(err).Message,
			Data: batchesView{Statuses: batchStatuses}})
	}
	base := "/console/ops/batches"
	if status != "" {
		base += "?status=" + url.QueryEscape(status) + "&"
	} else {
		base += "?"
	}
	v := batchesView{Status: status, Statuses: batchStatuses, Page: page}
	if offset > 0 {
		v.Prev = base + "offset=" + strconv.Itoa(max(offset-20, 0))
	}
	if page.HasMore() {
		v.Next = base + "offset=" + strconv.Itoa(offset+20)
	}
	return cs.render(c, http.StatusOK, "batches", view{Title: "Payout batches", Nav: "batches", Data: v})
}

var batchStatuses = []models.BatchStatus{models.BatchSubmitting, models.BatchSubmitted, models.BatchCompleted, models.BatchNeedsReview}

func (cs *console) reconciliation(c echo.Context) error {
	r, err := cs.Ledger.Reconcile(c.Request().Context(), c.QueryParam("full") == "true")
	if err != nil {
		return err
	}
	return cs.render(c, http.StatusOK, "reconciliation", view{Title: "Reconciliation", Nav: "reconciliation", Data: reconciliationView{r}})
}

type reconciliationView struct{ ledger.Reconciliation }
