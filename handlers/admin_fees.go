package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/fees"
	"github.com/paycore/withdrawals/services/pricing"
)

func (s *Server) getFeeSchedules(c echo.Context) error {
	o, err := s.Pricing.Overview(c.Request().Context())
	if err != nil {
		return err
	}
	tokens := make([]feeScheduleDTO, len(o.Tokens))
	for i, fs := range o.Tokens {
		tokens[i] = feeScheduleOf(fs)
	}
	type effectiveDTO struct {
		Token   string `json:"token"`
		Network string `json:"network"`
		Source  string `json:"source"`
		feeScheduleDTO
	}
	effective := make([]effectiveDTO, len(o.Effective))
	for i, e := range o.Effective {
		effective[i] = effectiveDTO{Token: e.Token, Network: e.Network, Source: e.Source, feeScheduleDTO: feeScheduleOf(e.Schedule)}
	}
	return c.JSON(http.StatusOK, map[string]any{"default": feeScheduleOf(o.Default), "tokens": tokens, "effective": effective})
}

type setFeeScheduleRequest struct {
	BaseFee    json.RawMessage `json:"baseFee"`
	MarkupRate json.RawMessage `json:"markupRate"`
	Enabled    *bool           `json:"enabled" validate:"required"`
	Token      string          `json:"token" validate:"max=16"`
	Network    string          `json:"network" validate:"max=32"`
}

// setFeeSchedule: without token it sets the default schedule, with token that token's
// own, with token and network that network's own.
func (s *Server) setFeeSchedule(c echo.Context) error {
	var req setFeeScheduleRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	baseFee, err := parseRate("baseFee", req.BaseFee)
	if err != nil {
		return err
	}
	markupRate, err := parseRate("markupRate", req.MarkupRate)
	if err != nil {
		return err
	}
	fs, err := s.Pricing.Set(c.Request().Context(), pricing.SetInput{
		Token:    req.Token,
		Network:  req.Network,
		Schedule: fees.Schedule{BaseFee: baseFee, MarkupRate: markupRate, Enabled: *req.Enabled},
		Actor:    principal(c).KeyID,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, feeScheduleOf(fs))
}

// parseRate reads a fee setting; a malformed one is INVALID_REQUEST, not INVALID_AMOUNT,
// since no withdrawal amount is involved.
func parseRate(field string, raw json.RawMessage) (decimal.Decimal, error) {
	v, err := parseAmount(field, raw)
	if err != nil {
		api := toAPIError(err)
		api.Code = "INVALID_REQUEST"
		return v, api
	}
	return v, nil
}

type testFeeRequest struct {
	Amount   json.RawMessage `json:"amount"`
	Currency string          `json:"currency" validate:"required,max=16"`
	Network  string          `json:"network" validate:"max=32"`
}

// testFeeCalculation: PUT /api/admin/withdrawal-fees prices an amount, changing nothing.
func (s *Server) testFeeCalculation(c echo.Context) error {
	var req testFeeRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	amount, err := parseAmount("amount", req.Amount)
	if err != nil {
		return err
	}
	q, symbol, err := s.Pricing.Quote(c.Request().Context(), req.Currency, req.Network, amount)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"amount": q.Gross.String(), "currency": symbol, "feeInfo": feeInfoOf(q)})
}

func (s *Server) listFeeChanges(c echo.Context) error {
	changes, err := s.Pricing.History(c.Request().Context(), 100)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(changes))
	for i, ch := range changes {
		old := ch.Old
		if len(old) == 0 {
			old = json.RawMessage("null")
		}
		out[i] = map[string]any{
			"id": ch.ID, "scope": ch.Scope, "changedBy": ch.ChangedBy, "changedAt": timestamp(ch.ChangedAt),
			"old": old, "new": ch.New,
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"changes": out})
}
