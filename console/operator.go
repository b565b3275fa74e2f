package console

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/fees"
	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/audit"
	"github.com/paycore/withdrawals/services/ops"
	"github.com/paycore/withdrawals/services/payouts"
	"github.com/paycore/withdrawals/services/pricing"
)

// periods are the overview's choices, in days.
var periods = []int{7, 14, 30, 90}

type overviewView struct {
	Days, Flagged   int
	Periods         []int
	Token           string   // the counts plot's token; "" for all
	Tokens          []string // the tokens of the period
	Counts          plot
	Volume          []tokenDays
	Locked          []ops.TokenAmount
	Batches, Accept plot
	Deliveries      plot
	SuccessRate     string // over the period, "" without deliveries
}

// tokenDays is one token's payouts and fees over the period.
type tokenDays struct {
	Token      string
	Paid, Fees decimal.Decimal
	Plot       plot
}

func (cs *console) overview(c echo.Context) error {
	ctx := c.Request().Context()
	days := 14
	if d, err := strconv.Atoi(c.QueryParam("days")); err == nil && contains(periods, d) {
		days = d
	}
	now := cs.Clock().UTC()
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(days - 1))
	daily, err := cs.Ops.Daily(ctx, since)
	if err != nil {
		return err
	}
	locked, err := cs.Ops.Locked(ctx)
	if err != nil {
		return err
	}
	flagged, err := cs.Payouts.ListBatches(ctx, string(models.BatchNeedsReview), services.PageRequest{Limit: 1})
	if err != nil {
		return err
	}
	labels := make([]string, days)
	index := map[string]int{}
	for i := range labels {
		labels[i] = since.AddDate(0, 0, i).Format("01-02")
		index[since.AddDate(0, 0, i).Format(time.DateOnly)] = i
	}
	created, confirmed, failed := make([]float64, days), make([]float64, days), make([]float64, days)
	byToken := map[string]*tokenDays{}
	paidByToken := map[string][]float64{}
	token := c.QueryParam("token")
	for _, d := range daily {
		i, ok := index[d.Day.UTC().Format(time.DateOnly)]
		if !ok {
			continue
		}
		if token == "" || d.Token == token {
			created[i] += float64(d.Created)
			confirmed[i] += float64(d.Confirmed)
			failed[i] += float64(d.Failed)
		}
		t := byToken[d.Token]
		if t == nil {
			t = &tokenDays{Token: d.Token}
			byToken[d.Token] = t
			paidByToken[d.Token] = make([]float64, days)
		}
		t.Paid, t.Fees = t.Paid.Add(d.Paid), t.Fees.Add(d.Fees)
		paidByToken[d.Token][i] += d.Paid.InexactFloat64()
	}
	title := "Withdrawals per day"
	if token != "" {
		title += " (" + token + ")"
	}
	v := overviewView{Days: days, Flagged: int(flagged.Total), Periods: periods, Locked: locked, Token: token,
		Counts: barPlot(title, labels, []series{{"created", created}, {"confirmed", confirmed}, {"failed", failed}})}
	if err := cs.batchAndDeliveryPlots(c, since, labels, index, &v); err != nil {
		return err
	}
	for _, t := range byToken {
		t.Plot = barPlot(t.Token+" paid out per day (net)", labels, []series{{"paid", paidByToken[t.Token]}})
		v.Volume = append(v.Volume, *t)
	}
	sort.Slice(v.Volume, func(i, j int) bool { return v.Volume[i].Token < v.Volume[j].Token })
	for _, t := range v.Volume {
		v.Tokens = append(v.Tokens, t.Token)
	}
	return cs.render(c, http.StatusOK, "overview", view{Title: "Overview", Nav: "overview", Data: v})
}

// batchAndDeliveryPlots draws the payout batches' sizes and acceptance times, and the
// webhook deliveries' outcomes, per day.
func (cs *console) batchAndDeliveryPlots(c echo.Context, since time.Time, labels []string, index map[string]int, v *overviewView) error {
	ctx := c.Request().Context()
	batchDays, err := cs.Ops.BatchDays(ctx, since)
	if err != nil {
		return err
	}
	deliveryDays, err := cs.Ops.DeliveryDays(ctx, since)
	if err != nil {
		return err
	}
	n := len(labels)
	count, size, p50, slowest := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for _, d := range batchDays {
		if i, ok := index[d.Day.UTC().Format(time.DateOnly)]; ok {
			count[i], size[i], p50[i], slowest[i] = float64(d.Batches), d.MeanItems, d.AcceptP50Secs, d.AcceptMaxSec
		}
	}
	v.Batches = barPlot("Payout batches per day, and their mean size", labels, []series{{"batches", count}, {"mean withdrawals per batch", size}})
	v.Accept = barPlot("Seconds from a batch's claim to the rail's acceptance", labels, []series{{"median", p50}, {"slowest", slowest}})
	ok, failed, inFlight := make([]float64, n), make([]float64, n), make([]float64, n)
	var okTotal, all float64
	for _, d := range deliveryDays {
		if i, found := index[d.Day.UTC().Format(time.DateOnly)]; found {
			ok[i], failed[i], inFlight[i] = float64(d.Succeeded), float64(d.Failed), float64(d.InFlight)
			okTotal += ok[i]
			all += ok[i] + failed[i] + inFlight[i]
		}
	}
	v.Deliveries = barPlot("Webhook deliveries per day", labels, []series{{"succeeded", ok}, {"failed", failed}, {"in flight", inFlight}})
	if all > 0 {
		v.SuccessRate = strconv.FormatFloat(100*okTotal/all, 'f', 1, 64) + "%"
	}
	return nil
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

type reviewView struct {
	Batches []payouts.BatchView
	Errors  map[string]string // batch id -> the problem with its last resolution
}

func (cs *console) reviewQueue(c echo.Context) error {
	return cs.renderReview(c, http.StatusOK, nil)
}

func (cs *console) renderReview(c echo.Context, status int, problems map[string]string) error {
	page, err := cs.Payouts.ListBatches(c.Request().Context(), string(models.BatchNeedsReview), services.PageRequest{Limit: 50})
	if err != nil {
		return err
	}
	return cs.render(c, status, "review", view{Title: "Needs review", Nav: "review", Data: reviewView{Batches: page.Items, Errors: problems}})
}

// resolveBatch applies an operator's decision to a flagged batch, once they have ticked
// that they checked what the rail did: resolving by hand can pay twice or not at all.
func (cs *console) resolveBatch(c echo.Context) error {
	id := c.Param("id")
	if c.FormValue("checked") != "yes" {
		return cs.renderReview(c, http.StatusBadRequest, map[string]string{id: "Tick the box to confirm you checked what the rail did with this batch."})
	}
	r := payouts.Resolution{Action: c.FormValue("action"), TxHash: c.FormValue("txHash"), Reason: c.FormValue("reason"), Actor: sessionOf(c).KeyID}
	if _, err := cs.Payouts.ResolveBatch(c.Request().Context(), id, r); err != nil {
		p := describe(err)
		if p.Status >= 500 {
			return err
		}
		return cs.renderReview(c, p.Status, map[string]string{id: p.Message})
	}
	return redirectWith(c, "/console/ops/review", "Batch "+id+": "+r.Action+" recorded.", nil)
}

type feesView struct {
	Overview                pricing.Overview
	Tokens                  []catalog.Token
	Scope                   string
	BaseFee, MarkupRate     string
	Enabled                 bool
	PreviewToken, PreviewAt string
	Preview                 *feePreview
	FieldErrors             map[string]string
}

type feePreview struct {
	Token string
	Quote fees.Quote
	Error string
}

func (cs *console) fees(c echo.Context) error {
	v := feesView{Scope: c.QueryParam("scope"), BaseFee: c.QueryParam("baseFee"), MarkupRate: c.QueryParam("markupRate"),
		Enabled: c.QueryParam("enabled") != "no", PreviewToken: c.QueryParam("previewToken"), PreviewAt: c.QueryParam("previewAmount"),
		FieldErrors: map[string]string{}}
	if v.BaseFee != "" || v.MarkupRate != "" {
		v.Preview = cs.feePreview(c, v)
	}
	return cs.renderFees(c, http.StatusOK, v)
}

func (cs *console) renderFees(c echo.Context, status int, v feesView) error {
	ctx := c.Request().Context()
	var err error
	if v.Overview, err = cs.Pricing.Overview(ctx); err != nil {
		return err
	}
	if v.Tokens, err = cs.Pricing.Tokens(ctx); err != nil {
		return err
	}
	if v.PreviewAt == "" {
		v.PreviewAt = "100"
	}
	return cs.render(c, status, "fees", view{Title: "Fee schedules", Nav: "fees", Data: v})
}

// feePreview prices the preview amount with the schedule being edited, before it is
// saved: what a withdrawal of that amount would be charged.
func (cs *console) feePreview(c echo.Context, v feesView) *feePreview {
	p := &feePreview{Token: v.PreviewToken}
	if p.Token == "" {
		p.Token = "USDT"
	}
	s, err := schedule(v.BaseFee, v.MarkupRate, v.Enabled)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	amount, err := models.ParseAmount(v.PreviewAt)
	if err != nil {
		p.Error = "The preview amount must be a positive decimal."
		return p
	}
	tok, err := cs.Pricing.Token(c.Request().Context(), p.Token)
	if err != nil {
		p.Error = describe(err).Message
		return p
	}
	if p.Quote, err = fees.Calculate(amount, tok.Decimals, s); err != nil {
		p.Error = err.Error()
	}
	return p
}

// schedule reads a schedule as typed.
func schedule(baseFee, markupRate string, enabled bool) (fees.Schedule, error) {
	var s fees.Schedule
	var err error
	if s.BaseFee, err = decimal.NewFromString(baseFee); err != nil {
		return s, errField("baseFee must be a decimal, such as 1.5")
	}
	if s.MarkupRate, err = decimal.NewFromString(markupRate); err != nil {
		return s, errField("markupRate must be a decimal fraction, such as 0.02 for 2%")
	}
	s.Enabled = enabled
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

type errField string

func (e errField) Error() string { return string(e) }

func (cs *console) feePreviewFragment(c echo.Context) error {
	v := feesView{BaseFee: c.QueryParam("baseFee"), MarkupRate: c.QueryParam("markupRate"), Enabled: c.QueryParam("enabled") != "no",
		PreviewToken: c.QueryParam("previewToken"), PreviewAt: c.QueryParam("previewAmount")}
	return cs.fragment(c, "fees", "preview", cs.feePreview(c, v))
}

func (cs *console) setFees(c echo.Context) error {
	v := feesView{Scope: c.FormValue("scope"), BaseFee: c.FormValue("baseFee"), MarkupRate: c.FormValue("markupRate"),
		Enabled: c.FormValue("enabled") == "yes", PreviewToken: c.FormValue("previewToken"), PreviewAt: c.FormValue("previewAmount"),
		FieldErrors: map[string]string{}}
	s, err := schedule(v.BaseFee, v.MarkupRate, v.Enabled)
	if err != nil {
		v.FieldErrors["schedule"] = err.Error()
		return cs.renderFees(c, http.StatusBadRequest, v)
	}
	in := pricing.SetInput{Schedule: s, Actor: sessionOf(c).KeyID}
	if v.Scope != models.FeeScheduleDefault {
		in.Token = v.Scope
	}
	if _, err := cs.Pricing.Set(c.Request().Context(), in); err != nil {
		p := describe(err)
		if p.Status >= 500 {
			return err
		}
		v.FieldErrors["schedule"] = p.Message
		return cs.renderFees(c, p.Status, v)
	}
	return redirectWith(c, "/console/ops/fees", "Fee schedule "+v.Scope+" saved.", nil)
}

type auditView struct {
	Page       services.Page[models.AdminAction]
	Prev, Next string
}

func (cs *console) auditTrail(c echo.Context) error {
	offset := offsetParam(c)
	page, err := cs.AuditLog.List(c.Request().Context(), audit.Filter{PageRequest: services.PageRequest{Limit: 50, Offset: offset}})
	if err != nil {
		return err
	}
	v := auditView{Page: page}
	v.Prev, v.Next = pageLinks("/console/ops/audit", offset, 50, page.HasMore())
	return cs.render(c, http.StatusOK, "audit", view{Title: "Audit trail", Nav: "audit", Data: v})
}
