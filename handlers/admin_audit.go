package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/audit"
)

type auditRecordDTO struct {
	ID         string          `json:"id"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	TargetType string          `json:"targetType"`
	TargetID   string          `json:"targetId"`
	Details    json.RawMessage `json:"details"`
	CreatedAt  string          `json:"createdAt"`
}

func auditRecordOf(a models.AdminAction) auditRecordDTO {
	return auditRecordDTO{ID: a.ID, Actor: a.Actor, Action: a.Action, TargetType: a.TargetType, TargetID: a.TargetID,
		Details: json.RawMessage(a.Details), CreatedAt: timestamp(a.CreatedAt)}
}

// listAuditLog: GET /api/admin/audit-log, newest first, filtered by actor, action,
// target and date.
func (s *Server) listAuditLog(c echo.Context) error {
	r, err := parsePageRequest(pageQuery(c), "an audit record's id such as act_...")
	if err != nil {
		return err
	}
	since, before, err := parseDateRange(c.QueryParam("startDate"), c.QueryParam("endDate"))
	if err != nil {
		return err
	}
	page, err := s.AuditLog.List(c.Request().Context(), audit.Filter{
		Actor: c.QueryParam("actor"), Action: c.QueryParam("action"),
		TargetType: c.QueryParam("targetType"), TargetID: c.QueryParam("targetId"),
		Since: since, Before: before, PageRequest: r,
	})
	if err != nil {
		return err
	}
	return renderCursorPage(c, "records", page, auditRecordOf, func(a models.AdminAction) string { return a.ID })
}

type sandboxDTO struct {
	Fault string `json:"fault"`
}

func (s *Server) getSandbox(c echo.Context) error {
	fault, err := s.Payouts.SandboxFault(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sandboxDTO{Fault: fault})
}

type sandboxRequest struct {
	Fault *string `json:"fault" validate:"required,max=32"`
}

// setSandbox switches the sandbox's rehearsed incident while the service runs.
func (s *Server) setSandbox(c echo.Context) error {
	var req sandboxRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	if err := s.Payouts.SetSandboxFault(c.Request().Context(), *req.Fault, principal(c).KeyID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sandboxDTO{Fault: *req.Fault})
}
