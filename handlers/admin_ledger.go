package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/ledger"
)

// ReconciliationDTO is the reconciliation report as the API and the CLI print it.
type ReconciliationDTO struct {
	OK            bool             `json:"ok"`
	CheckedAt     string           `json:"checkedAt"`
	Full          bool             `json:"full"`
	Since         *string          `json:"since"` // the checkpoint an incremental check started from
	Tokens        []tokenTotalsDTO `json:"tokens"`
	Discrepancies []discrepancyDTO `json:"discrepancies"`
}

type tokenTotalsDTO struct {
	Token            string `json:"token"`
	Balances         int64  `json:"balances"`
	Available        string `json:"available"`
	Pending          string `json:"pending"`
	LedgerAvailable  string `json:"ledgerAvailable"`
	LedgerPending    string `json:"ledgerPending"`
	PlatformFees     string `json:"platformFees"`
	ExternalPayouts  string `json:"externalPayouts"`
	ExternalDeposits string `json:"externalDeposits"`
	Journals         int64  `json:"journals"`
}

type discrepancyDTO struct {
	Kind    string `json:"kind"`
	Token   string `json:"token"`
	Subject string `json:"subject"`
	Detail  string `json:"detail"`
}

// ReconciliationOf renders a reconciliation (shared with the CLI).
func ReconciliationOf(r ledger.Reconciliation) ReconciliationDTO {
	out := ReconciliationDTO{OK: r.OK, CheckedAt: timestamp(r.CheckedAt), Full: r.Full, Since: optionalTimestamp(r.Since), Tokens: []tokenTotalsDTO{}, Discrepancies: []discrepancyDTO{}}
	for _, t := range r.Tokens {
		out.Tokens = append(out.Tokens, tokenTotalsDTO{
			Token: t.Token, Balances: t.Balances, Journals: t.Journals,
			Available: models.FormatAmount(t.Available), Pending: models.FormatAmount(t.Pending),
			LedgerAvailable: models.FormatAmount(t.LedgerAvailable), LedgerPending: models.FormatAmount(t.LedgerPending),
			PlatformFees: models.FormatAmount(t.PlatformFees), ExternalPayouts: models.FormatAmount(t.ExternalPayouts),
			ExternalDeposits: models.FormatAmount(t.ExternalDeposits),
		})
	}
	for _, d := range r.Discrepancies {
		out.Discrepancies = append(out.Discrepancies, discrepancyDTO{Kind: d.Kind, Token: d.Token, Subject: d.Subject, Detail: d.Detail})
	}
	return out
}

// reconciliation answers 200 either way: a discrepancy is a finding, not a failure of
// the request. ?full=true reads the whole ledger; by default the check starts from the
// last verified checkpoint.
func (s *Server) reconciliation(c echo.Context) error {
	full, err := boolParam("full", c.QueryParam("full"))
	if err != nil {
		return err
	}
	r, err := s.Ledger.Reconcile(c.Request().Context(), full)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ReconciliationOf(r))
}

func (s *Server) feeRevenue(c echo.Context) error {
	since, before, err := parseDateRange(c.QueryParam("startDate"), c.QueryParam("endDate"))
	if err != nil {
		return err
	}
	rows, err := s.Ledger.FeeRevenue(c.Request().Context(), since, before)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = map[string]any{"token": r.Token, "collected": models.FormatAmount(r.Collected), "withdrawals": r.Withdrawals}
	}
	return c.JSON(http.StatusOK, map[string]any{
		"startDate": optionalTimestamp(since), "endDate": optionalTimestamp(before), "revenue": out,
	})
}
