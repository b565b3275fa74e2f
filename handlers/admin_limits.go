package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/services/policies"
)

type limitDTO struct {
	MerchantID    *string `json:"merchantId"`
	Token         string  `json:"token"`
	PerWithdrawal *string `json:"perWithdrawal"`
	PerDay        *string `json:"perDay"`
	PerWeek       *string `json:"perWeek"`
	UpdatedAt     string  `json:"updatedAt"`
	UpdatedBy     string  `json:"updatedBy"`
}

func limitOf(l policies.Limit) limitDTO {
	return limitDTO{MerchantID: l.MerchantID, Token: l.Token, PerWithdrawal: optionalAmount(l.PerWithdrawal), PerDay: optionalAmount(l.PerDay),
		PerWeek: optionalAmount(l.PerWeek), UpdatedAt: timestamp(l.UpdatedAt), UpdatedBy: l.UpdatedBy}
}

// listLimits: GET /api/admin/limits[?merchantId=], the defaults first.
func (s *Server) listLimits(c echo.Context) error {
	limits, err := s.Limits.List(c.Request().Context(), c.QueryParam("merchantId"))
	if err != nil {
		return err
	}
	out := make([]limitDTO, len(limits))
	for i, l := range limits {
		out[i] = limitOf(l)
	}
	return c.JSON(http.StatusOK, map[string]any{"limits": out})
}

type setLimitsRequest struct {
	MerchantID    string          `json:"merchantId" validate:"max=64"`
	Token         string          `json:"token" validate:"required,max=16"`
	PerWithdrawal json.RawMessage `json:"perWithdrawal"`
	PerDay        json.RawMessage `json:"perDay"`
	PerWeek       json.RawMessage `json:"perWeek"`
}

// setLimits: PUT /api/admin/limits replaces a token's limits, for a merchant or (without
// merchantId) the platform's default; null or absent means no limit.
func (s *Server) setLimits(c echo.Context) error {
	var req setLimitsRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	l := policies.Limit{Token: req.Token}
	if req.MerchantID != "" {
		l.MerchantID = &req.MerchantID
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  **decimal.Decimal
	}{{"perWithdrawal", req.PerWithdrawal, &l.PerWithdrawal}, {"perDay", req.PerDay, &l.PerDay}, {"perWeek", req.PerWeek, &l.PerWeek}} {
		if len(f.raw) == 0 || string(f.raw) == "null" {
			continue
		}
		v, err := parseRate(f.name, f.raw)
		if err != nil {
			return err
		}
		*f.dst = &v
	}
	saved, err := s.Limits.Set(c.Request().Context(), l, principal(c).KeyID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, limitOf(saved))
}
