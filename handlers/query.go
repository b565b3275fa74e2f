package handlers

import (
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
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
// known names, network a network's name (any case), the page as parsePageRequest reads
// it, and dates in ISO 8601 (a date alone covers that whole day).
func parseListFilter(q listParams) (withdrawals.Filter, error) {
	var f withdrawals.Filter
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
	if err := idParam("batchRequest", q.BatchRequest, "a mass payout's id such as wbr_...", &f.BatchRequestID); err != nil {
		return f, err
	}
	var err error
	if f.PageRequest, err = parsePageRequest(q, "a withdrawal's id such as wth_..."); err != nil {
		return f, err
	}
	f.Since, f.Before, err = parseDateRange(q.StartDate, q.EndDate)
	return f, err
}

// parsePageRequest validates a listing's page: limit 1..100 (default 20), then offset
// 0..1,000,000, a 1-based page, or a cursor (startingAfter or endingBefore: an item's
// id, described by idExample in errors).
func parsePageRequest(q listParams, idExample string) (services.PageRequest, error) {
	r := services.PageRequest{Limit: defaultLimit}
	if err := idParam("startingAfter", q.StartingAfter, idExample, &r.StartingAfter); err != nil {
		return r, err
	}
	if err := idParam("endingBefore", q.EndingBefore, idExample, &r.EndingBefore); err != nil {
		return r, err
	}
	if r.StartingAfter != "" && r.EndingBefore != "" {
		return r, badRequest("endingBefore", "use either startingAfter or endingBefore, not both")
	}
	if (r.StartingAfter != "" || r.EndingBefore != "") && (q.Offset != "" || q.Page != "") {
		return r, badRequest("startingAfter", "a cursor (startingAfter, endingBefore) pages by itself: leave offset and page out")
	}
	var err error
	if r.Limit, err = intParam("limit", q.Limit, defaultLimit, 1, maxLimit); err != nil {
		return r, err
	}
	if q.Offset != "" && q.Page != "" {
		return r, badRequest("page", "use either offset or page, not both")
	}
	if r.Offset, err = intParam("offset", q.Offset, 0, 0, maxOffset); err != nil {
		return r, err
	}
	if q.Page != "" {
		page, err := intParam("page", q.Page, 1, 1, maxOffset/r.Limit+1)
		if err != nil {
			return r, err
		}
		r.Offset = (page - 1) * r.Limit
	}
	return r, nil
}

// pageQuery is a listing's paging parameters, as received.
func pageQuery(c echo.Context) listParams {
	return listParams{Limit: c.QueryParam("limit"), Offset: c.QueryParam("offset"), Page: c.QueryParam("page"),
		StartingAfter: c.QueryParam("startingAfter"), EndingBefore: c.QueryParam("endingBefore")}
}

// idParam reads an id-shaped parameter (letters, digits and _, at most 64) into dst.
func idParam(name, value, example string, dst *string) error {
	if value == "" {
		return nil
	}
	if len(value) > 64 || strings.ContainsFunc(value, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_'
	}) {
		return badRequest(name, "%s must be %s", name, example)
	}
	*dst = value
	return nil
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

// boolParam reads true or false; absent is false.
func boolParam(name, raw string) (bool, error) {
	switch raw {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, badRequest(name, "%s must be true or false", name)
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
