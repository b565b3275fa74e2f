package handlers

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/policies"
	"github.com/paycore/withdrawals/services/withdrawals"
)

type approvalDTO struct {
	KeyID     string  `json:"keyId"`
	Decision  string  `json:"decision"`
	Reason    *string `json:"reason"`
	CreatedAt string  `json:"createdAt"`
}

type awaitingDTO struct {
	Withdrawal withdrawalDTO `json:"withdrawal"`
	Approvals  []approvalDTO `json:"approvals"`
	ExpiresAt  string        `json:"expiresAt"`
}

// listApprovals: GET /api/admin/approvals[?merchantId=], the withdrawals waiting for
// approval, oldest first.
func (s *Server) listApprovals(c echo.Context) error {
	limit, err := intParam("limit", c.QueryParam("limit"), defaultLimit, 1, maxLimit)
	if err != nil {
		return err
	}
	offset, err := intParam("offset", c.QueryParam("offset"), 0, 0, maxOffset)
	if err != nil {
		return err
	}
	page, err := s.Withdrawals.ListAwaiting(c.Request().Context(), c.QueryParam("merchantId"), limit, offset)
	if err != nil {
		return err
	}
	return renderPage(c, "approvals", page, func(a withdrawals.Awaiting) awaitingDTO {
		out := awaitingDTO{Withdrawal: adminWithdrawalOf(a.Withdrawal), Approvals: make([]approvalDTO, len(a.Approvals)), ExpiresAt: timestamp(a.ExpiresAt)}
		for i, d := range a.Approvals {
			out.Approvals[i] = approvalDTO{KeyID: d.KeyID, Decision: d.Decision, Reason: d.Reason, CreatedAt: timestamp(d.CreatedAt)}
		}
		return out
	})
}

type decisionRequest struct {
	Reason string `json:"reason" validate:"max=200"`
}

// decision reads an approval's or rejection's optional body.
func (s *Server) decision(c echo.Context, approve bool) (withdrawals.Decision, error) {
	var req decisionRequest
	if c.Request().ContentLength != 0 {
		if err := s.bindJSON(c, &req); err != nil {
			return withdrawals.Decision{}, err
		}
	}
	return withdrawals.Decision{Approve: approve, KeyID: principal(c).KeyID, Reason: req.Reason}, nil
}

// approveWithdrawal and rejectWithdrawal: POST /api/admin/withdrawals/:id/approve|reject.
func (s *Server) approveWithdrawal(c echo.Context) error { return s.decideWithdrawal(c, true) }
func (s *Server) rejectWithdrawal(c echo.Context) error  { return s.decideWithdrawal(c, false) }

func (s *Server) decideWithdrawal(c echo.Context, approve bool) error {
	d, err := s.decision(c, approve)
	if err != nil {
		return err
	}
	w, err := s.Withdrawals.Decide(c.Request().Context(), c.Param("id"), d)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, adminWithdrawalOf(w))
}

// approveBatch and rejectBatch: POST /api/admin/withdrawal-batches/:id/approve|reject,
// one decision for every withdrawal of a mass payout that waits for approval.
func (s *Server) approveBatch(c echo.Context) error { return s.decideBatch(c, true) }
func (s *Server) rejectBatch(c echo.Context) error  { return s.decideBatch(c, false) }

func (s *Server) decideBatch(c echo.Context, approve bool) error {
	d, err := s.decision(c, approve)
	if err != nil {
		return err
	}
	view, err := s.Withdrawals.DecideBatch(c.Request().Context(), c.Param("id"), d)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, withdrawals.SummaryOf(view))
}

// adminGetBatch: GET /api/admin/withdrawal-batches/:id[.csv], any merchant's.
func (s *Server) adminGetBatch(c echo.Context) error { return s.renderBatch(c, "") }

type approvalRuleDTO struct {
	MerchantID        *string `json:"merchantId"`
	Token             string  `json:"token"`
	AmountAbove       *string `json:"amountAbove"`
	NewAddressDays    *int    `json:"newAddressDays"`
	ApprovalsRequired int     `json:"approvalsRequired"`
	UpdatedAt         string  `json:"updatedAt"`
	UpdatedBy         string  `json:"updatedBy"`
}

func approvalRuleOf(r policies.ApprovalRule) approvalRuleDTO {
	return approvalRuleDTO{MerchantID: r.MerchantID, Token: r.Token, AmountAbove: optionalAmount(r.AmountAbove),
		NewAddressDays: r.NewAddressDays, ApprovalsRequired: r.ApprovalsRequired, UpdatedAt: timestamp(r.UpdatedAt), UpdatedBy: r.UpdatedBy}
}

func optionalAmount(d *decimal.Decimal) *string {
	if d == nil {
		return nil
	}
	s := models.FormatAmount(*d)
	return &s
}

// listApprovalRules: GET /api/admin/approval-rules[?merchantId=], the defaults first.
func (s *Server) listApprovalRules(c echo.Context) error {
	rules, err := s.Limits.ApprovalRules(c.Request().Context(), c.QueryParam("merchantId"))
	if err != nil {
		return err
	}
	out := make([]approvalRuleDTO, len(rules))
	for i, r := range rules {
		out[i] = approvalRuleOf(r)
	}
	return c.JSON(http.StatusOK, map[string]any{"rules": out})
}

type setApprovalRuleRequest struct {
	MerchantID        string  `json:"merchantId" validate:"max=64"`
	Token             string  `json:"token" validate:"required,max=16"`
	AmountAbove       *string `json:"amountAbove"`
	NewAddressDays    *int    `json:"newAddressDays"`
	ApprovalsRequired int     `json:"approvalsRequired"`
}

// setApprovalRule: PUT /api/admin/approval-rules replaces a token's rule for a merchant
// or (without merchantId) the platform's default.
func (s *Server) setApprovalRule(c echo.Context) error {
	var req setApprovalRuleRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	r := policies.ApprovalRule{Token: req.Token, NewAddressDays: req.NewAddressDays, ApprovalsRequired: req.ApprovalsRequired}
	if req.MerchantID != "" {
		r.MerchantID = &req.MerchantID
	}
	if req.AmountAbove != nil {
		v, err := parseAmountText("amountAbove", *req.AmountAbove)
		if err != nil {
			return err
		}
		r.AmountAbove = &v
	}
	saved, err := s.Limits.SetApprovalRule(c.Request().Context(), r, principal(c).KeyID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, approvalRuleOf(saved))
}

// removeApprovalRule: DELETE /api/admin/approval-rules?token=[&merchantId=].
func (s *Server) removeApprovalRule(c echo.Context) error {
	return removeScoped(c, s.Limits.RemoveApprovalRule)
}

// removeLimits: DELETE /api/admin/limits?token=[&merchantId=].
func (s *Server) removeLimits(c echo.Context) error { return removeScoped(c, s.Limits.RemoveLimits) }

// removeScoped removes the policy row of ?token= for ?merchantId= (the default without).
func removeScoped(c echo.Context, remove func(ctx context.Context, merchantID, token, actor string) error) error {
	token := c.QueryParam("token")
	if token == "" {
		return badRequest("token", "token is required")
	}
	if err := remove(c.Request().Context(), c.QueryParam("merchantId"), token, principal(c).KeyID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
