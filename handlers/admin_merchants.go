package handlers

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/accounts"
)

type createMerchantRequest struct {
	Name string `json:"name" validate:"required,max=200"`
}

func (s *Server) createMerchant(c echo.Context) error {
	var req createMerchantRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	m, err := s.Accounts.CreateMerchant(c.Request().Context(), req.Name, principal(c).KeyID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, merchantOf(m))
}

func (s *Server) listMerchants(c echo.Context) error {
	f, err := parseListFilter(listParams{Limit: c.QueryParam("limit"), Offset: c.QueryParam("offset")})
	if err != nil {
		return err
	}
	page, err := s.Accounts.ListMerchants(c.Request().Context(), f.Limit, f.Offset)
	if err != nil {
		return err
	}
	return renderPage(c, "merchants", page, merchantOf)
}

type createKeyRequest struct {
	Name  string `json:"name" validate:"max=200"`
	Scope string `json:"scope" validate:"omitempty,oneof=read read_write"`
}

// createMerchantKey returns the plaintext key once; only its hash is stored. The body
// is optional.
func (s *Server) createMerchantKey(c echo.Context) error {
	var req createKeyRequest
	if c.Request().ContentLength != 0 {
		if err := s.bindJSON(c, &req); err != nil {
			return err
		}
	}
	k, err := s.Accounts.CreateMerchantKey(c.Request().Context(), c.Param("id"), req.Name, models.Scope(req.Scope), principal(c).KeyID)
	if err != nil {
		return err
	}
	type issuedDTO struct {
		apiKeyDTO
		Key string `json:"key"`
	}
	return c.JSON(http.StatusCreated, issuedDTO{apiKeyDTO: apiKeyOf(k.APIKey), Key: k.Plaintext})
}

func (s *Server) listMerchantKeys(c echo.Context) error {
	keys, err := s.Accounts.ListMerchantKeys(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	out := make([]apiKeyDTO, len(keys))
	for i, k := range keys {
		out[i] = apiKeyOf(k)
	}
	return c.JSON(http.StatusOK, map[string]any{"apiKeys": out})
}

func (s *Server) revokeKey(c echo.Context) error {
	k, err := s.Accounts.RevokeKey(c.Request().Context(), c.Param("id"), principal(c).KeyID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiKeyOf(k))
}

type creditRequest struct {
	Token     string          `json:"token" validate:"required,max=16"`
	Amount    json.RawMessage `json:"amount"`
	Reference string          `json:"reference" validate:"required,max=200"`
}

// creditMerchant funds a merchant through the ledger.
func (s *Server) creditMerchant(c echo.Context) error {
	var req creditRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	amount, err := parseAmount("amount", req.Amount)
	if err != nil {
		return err
	}
	cr, err := s.Accounts.Credit(c.Request().Context(), accounts.CreditInput{
		MerchantID: c.Param("id"), Token: req.Token, Amount: amount, Reference: req.Reference, Actor: principal(c).KeyID,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{
		"id": cr.JournalID, "merchantId": cr.Input.MerchantID, "token": cr.Input.Token,
		"amount": cr.Input.Amount.String(), "reference": cr.Input.Reference, "createdAt": timestamp(cr.CreatedAt),
		"balance": balanceOf(cr.Balance),
	})
}

type freezeRequest struct {
	Reason string `json:"reason" validate:"max=200"`
}

// freezePayouts: POST /api/admin/merchants/:id/freeze.
func (s *Server) freezePayouts(c echo.Context) error {
	var req freezeRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	m, err := s.Accounts.SetPayoutsFrozen(c.Request().Context(), c.Param("id"), true, req.Reason, principal(c).KeyID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, merchantOf(m))
}

// unfreezePayouts: POST /api/admin/merchants/:id/unfreeze.
func (s *Server) unfreezePayouts(c echo.Context) error {
	m, err := s.Accounts.SetPayoutsFrozen(c.Request().Context(), c.Param("id"), false, "", principal(c).KeyID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, merchantOf(m))
}
