package handlers

import (
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// Listing parameters, read from the query string here and handed to the services typed.

// ListFilter reads a withdrawal listing's query string as GET /api/withdrawals does
// (the console lists with the API's filters and their errors).
func ListFilter(c echo.Context) (withdrawals.Filter, error) { return parseListFilter(listQuery(c)) }

// listQuery is the listing parameters of a request.
func listQuery(c echo.Context) listParams {
	return listParams{
		Status: c.QueryParam("status"), Token: c.QueryParam("token"), Network: c.QueryParam("network"),
		Limit: c.QueryParam("limit"), Offset: c.QueryParam("offset"), Page: c.QueryParam("page"),
		StartDate: c.QueryParam("startDate"), EndDate: c.QueryParam("endDate"), BatchRequest: c.QueryParam("batchRequest"),
		StartingAfter: c.QueryParam("startingAfter"), EndingBefore: c.QueryParam("endingBefore"),
	}
}

// listParams is a listing's query string, as received.
type listParams struct {
	Status, Token, Network, Limit, Offset, Page, StartDate, EndDate, BatchRequest string
	StartingAfter, EndingBefore                                                   string
}

const (
	defaultLimit = 20
	maxLimit     = 100
	maxOffset    = 1_000_000
)

// parseListFilter validates listing parameters: status (any case) and token must be
// known names, network a network's name (any case), limit 1..100 (default 20), offset 0..1,000,000 or a 1-based page, and
// dates in ISO 8601 (a date alone covers that whole day).
func parseListFilter(q listParams) (withdrawals.Filter, error) {
	f := withdrawals.Filter{Limit: defaultLimit}
	if q.Status != "" {
		f.Status = models.WithdrawalStatus(strings.ToLower(q.Status))
		if !isStatus(f.Status) {
			return f, badRequest("status", "status must be one of %s", statusNames())
		}
	}
	if q.Token != "" {
		f.Token = strings.ToUpper(q.Token)
		if len(f.Token) > 16 || strings.ContainsFunc(f.Token, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') }) {
			return f, badRequest("token", "token must be a token symbol such as BTC")
		}
	}
	if q.Network != "" {
		f.Network = strings.ToLower(q.Network)
		if len(f.Network) > 32 || strings.ContainsFunc(f.Network, func(r rune) bool { return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' }) {
			return f, badRequest("network", "network must be a network name such as ethereum or tron")
		}
	}
	for _, id := range []struct {
		name, value, example string
		dst                  *string
	}{{"batchRequest", q.BatchRequest, "a mass payout's id such as wbr_...", &f.BatchRequestID},
		{"startingAfter", q.StartingAfter, "a withdrawal's id such as wth_...", &f.StartingAfter},
		{"endingBefore", q.EndingBefore, "a withdrawal's id such as wth_...", &f.EndingBefore}} {
		if id.value == "" {
			continue
		}
		if len(id.value) > 64 || strings.ContainsFunc(id.value, func(r rune) bool {
			return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_'
		}) {
			return f, badRequest(id.name, "%s must be %s", id.name, id.example)
		}
		*id.dst = id.value
	}
	if f.StartingAfter != "" && f.EndingBefore != "" {
		return f, badRequest("endingBefore", "use either startingAfter or endingBefore, not both")
	}
	if (f.StartingAfter != "" || f.EndingBefore != "") && (q.Offset != "" || q.Page != "") {
		return f, badRequest("startingAfter", "a cursor (startingAfter, endingBefore) pages by itself: leave offset and page out")
	}
	var err error
	if f.Limit, err = intParam("limit", q.Limit, defaultLimit, 1, maxLimit); err != nil {
		return f, err
	}
	if q.Offset != "" && q.Page != "" {
		return f, badRequest("page", "use either offset or page, not both")
	}
	if f.Offset, err = intParam("offset", q.Offset, 0, 0, maxOffset); err != nil {
		return f, err
	}
	if q.Page != "" {
		page, err := intParam("page", q.Page, 1, 1, maxOffset/f.Limit+1)
		if err != nil {
			return f, err
		}
		f.Offset = (page - 1) * f.Limit
	}
	f.Since, f.Before, err = parseDateRange(q.StartDate, q.EndDate)
	return f, err
}

func intParam(name, raw string, def, lo, hi int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, badRequest(name, "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// dateParam reads an RFC 3339 timestamp or a YYYY-MM-DD date. As an end bound a date
// means the end of that day (UTC), so endDate=2024-12-19 includes the 19th.
func dateParam(name, raw string, end bool) (*time.Time, error) {
	if raw == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, raw); err == nil {
		if end {
			t = t.Add(time.Microsecond) // an exact end timestamp is inclusive
		}
		return &t, nil
	}
	t, err := time.Parse(time.DateOnly, raw)
	if err != nil {
		return nil, badRequest(name, "%s must be an ISO 8601 date (2024-12-19) or timestamp (2024-12-19T10:30:00Z)", name)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return &t, nil
}

func isStatus(s models.WithdrawalStatus) bool {
	for _, known := range models.WithdrawalStatuses {
		if s == known {
			return true
		}
	}
	return false
}

func statusNames() string {
	names := make([]string, len(models.WithdrawalStatuses))
	for i, s := range models.WithdrawalStatuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// parseDateRange reads startDate and endDate as the withdrawal listing does.
func parseDateRange(startDate, endDate string) (since, before *time.Time, err error) {
	if since, err = dateParam("startDate", startDate, false); err != nil {
		return nil, nil, err
	}
	if before, err = dateParam("endDate", endDate, true); err != nil {
		return nil, nil, err
	}
	if since != nil && before != nil && !since.Before(*before) {
		return nil, nil, badRequest("startDate", "startDate must be before endDate")
	}
	return since, before, nil
}
