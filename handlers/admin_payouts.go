package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/services/payouts"
)

// adminListWithdrawals lists every merchant's withdrawals (merchantId narrows it) with
// the merchant filters.
func (s *Server) adminListWithdrawals(c echo.Context) error {
	return s.renderWithdrawalList(c, c.QueryParam("merchantId"), adminWithdrawalOf)
}

func (s *Server) listPayoutBatches(c echo.Context) error {
	r, err := parsePageRequest(pageQuery(c), "a payout batch's id such as bat_...")
	if err != nil {
		return err
	}
	page, err := s.Payouts.ListBatches(c.Request().Context(), c.QueryParam("status"), r)
	if err != nil {
		return err
	}
	return renderCursorPage(c, "batches", page, payoutBatchOf, func(b payouts.BatchView) string { return b.ID })
}

type resolveRequest struct {
	Action string `json:"action" validate:"required,oneof=confirm fail retry"`
	TxHash string `json:"txHash" validate:"max=200"`
	Reason string `json:"reason" validate:"max=200"`
}

func (s *Server) bindResolution(c echo.Context) (payouts.Resolution, error) {
	var req resolveRequest
	if err := s.bindJSON(c, &req); err != nil {
		return payouts.Resolution{}, err
	}
	return payouts.Resolution{Action: req.Action, TxHash: req.TxHash, Reason: req.Reason, Actor: principal(c).KeyID}, nil
}

// resolveWithdrawal: an admin confirms (with the tx hash) or fails one withdrawal of a
// batch flagged for review.
func (s *Server) resolveWithdrawal(c echo.Context) error {
	r, err := s.bindResolution(c)
	if err != nil {
		return err
	}
	w, err := s.Payouts.ResolveWithdrawal(c.Request().Context(), c.Param("id"), r)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, adminWithdrawalOf(w))
}

// resolvePayoutBatch: an admin confirms, fails or resubmits a flagged batch.
func (s *Server) resolvePayoutBatch(c echo.Context) error {
	r, err := s.bindResolution(c)
	if err != nil {
		return err
	}
	b, err := s.Payouts.ResolveBatch(c.Request().Context(), c.Param("id"), r)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, payoutBatchOf(b))
}

// runPayouts: POST /api/admin/payout-runs batches pending withdrawals now.
func (s *Server) runPayouts(c echo.Context) error {
	if err := s.Payouts.RunNow(c.Request().Context(), principal(c).KeyID); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": "queued"})
}
