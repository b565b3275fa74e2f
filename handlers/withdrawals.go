package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/withdrawals"
)

type createWithdrawalRequest struct {
	Token    string          `json:"token" validate:"required,max=16"`
	Amount   json.RawMessage `json:"amount"`
	Address  string          `json:"address" validate:"required,max=128"`
	Network  string          `json:"network" validate:"max=32"`
	Metadata json.RawMessage `json:"metadata"`
}

func (s *Server) createWithdrawal(c echo.Context) error {
	var req createWithdrawalRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	amount, err := parseAmount("amount", req.Amount)
	if err != nil {
		return err
	}
	in := withdrawals.CreateInput{
		MerchantID: principal(c).MerchantID, Token: req.Token, Amount: amount,
		Address: req.Address, Network: req.Network, Metadata: req.Metadata, KeyID: principal(c).KeyID,
	}
	if in.IdempotencyKey, err = idempotencyKey(c); err != nil {
		return err
	}
	res, err := s.Withdrawals.Create(c.Request().Context(), in)
	if err != nil {
		return err
	}
	if res.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	return c.JSON(http.StatusCreated, withdrawalOf(res.Withdrawal))
}

// idempotencyKey is the request's Idempotency-Key header: "" when absent, refused when
// sent twice or empty (its characters are the use case's to check).
func idempotencyKey(c echo.Context) (string, error) {
	key, hasKey := c.Request().Header["Idempotency-Key"]
	if !hasKey {
		return "", nil
	}
	if len(key) != 1 || key[0] == "" {
		return "", badRequest("Idempotency-Key", "Idempotency-Key must be sent once, with 1 to 255 printable ASCII characters")
	}
	return key[0], nil
}

func (s *Server) listWithdrawals(c echo.Context) error {
	return s.renderWithdrawalList(c, principal(c).MerchantID, withdrawalOf)
}

// renderWithdrawalList serves a filtered page of withdrawals; merchantID empty lists
// every merchant's (admin).
func (s *Server) renderWithdrawalList(c echo.Context, merchantID string, render func(models.Withdrawal) withdrawalDTO) error {
	f, err := parseListFilter(listQuery(c))
	if err != nil {
		return err
	}
	f.MerchantID = merchantID
	page, err := s.Withdrawals.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return renderCursorPage(c, "withdrawals", page, render, func(w models.Withdrawal) string { return w.ID })
}

func (s *Server) getWithdrawal(c echo.Context) error {
	w, err := s.Withdrawals.Get(c.Request().Context(), principal(c).MerchantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, withdrawalOf(w))
}

func (s *Server) cancelWithdrawal(c echo.Context) error {
	w, err := s.Withdrawals.Cancel(c.Request().Context(), principal(c).MerchantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, withdrawalOf(w))
}

// quoteFee serves GET /api/withdrawals/fee?token=&amount=&network=: the fee of a
// withdrawal that is not created (on the token's default network without network).
func (s *Server) quoteFee(c echo.Context) error {
	token := c.QueryParam("token")
	if token == "" {
		return badRequest("token", "token is required")
	}
	return s.renderQuote(c, token, c.QueryParam("network"), c.QueryParam("amount"))
}

// renderQuote prices amount (as text) in token and writes {token, amount, feeInfo}.
func (s *Server) renderQuote(c echo.Context, token, network, amountText string) error {
	if amountText == "" {
		return badRequest("amount", "amount is required")
	}
	amount, err := parseAmountText("amount", amountText)
	if err != nil {
		return err
	}
	q, symbol, err := s.Pricing.Quote(c.Request().Context(), token, network, amount)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"token": symbol, "amount": q.Gross.String(), "feeInfo": feeInfoOf(q)})
}

func (s *Server) getBalance(c echo.Context) error {
	rows, err := s.Ledger.Balances(c.Request().Context(), principal(c).MerchantID)
	if err != nil {
		return err
	}
	body := balancesBody(rows)
	if c.Request().URL.RawQuery != "" && c.QueryParams().Has("pretty") { // as c.JSON does
		var indented bytes.Buffer
		if err := json.Indent(&indented, body, "", "  "); err != nil {
			return err
		}
		body = indented.Bytes()
	}
	return c.JSONBlob(http.StatusOK, body)
}
