package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/models"
)

type tokenDTO struct {
	Symbol         string       `json:"symbol"`
	Decimals       int32        `json:"decimals"`
	Enabled        bool         `json:"enabled"`
	DefaultNetwork string       `json:"defaultNetwork"`
	Networks       []networkDTO `json:"networks"`
}

type networkDTO struct {
	Network             string `json:"network"`
	AddressFormat       string `json:"addressFormat"`
	MinWithdrawal       string `json:"minWithdrawal"`
	DustLimit           string `json:"dustLimit"`
	ConfirmationSeconds int    `json:"confirmationSeconds"`
	Enabled             bool   `json:"enabled"`
}

func networkOf(n catalog.Network) networkDTO {
	return networkDTO{Network: n.Network, AddressFormat: n.AddressFormat, MinWithdrawal: models.FormatAmount(n.MinWithdrawal),
		DustLimit: models.FormatAmount(n.DustLimit), ConfirmationSeconds: n.ConfirmationSeconds, Enabled: n.Enabled}
}

// listTokens: GET /api/admin/tokens, every token with its networks.
func (s *Server) listTokens(c echo.Context) error {
	tokens, err := s.Pricing.Tokens(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]tokenDTO, len(tokens))
	for i, t := range tokens {
		out[i] = tokenDTO{Symbol: t.Symbol, Decimals: t.Decimals, Enabled: t.Enabled, DefaultNetwork: t.Network, Networks: make([]networkDTO, len(t.Networks))}
		for j, n := range t.Networks {
			out[i].Networks[j] = networkOf(n)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": out})
}

type setNetworkRequest struct {
	Enabled *bool `json:"enabled" validate:"required"`
}

// setNetwork: PUT /api/admin/tokens/:token/networks/:network turns a network on or off.
func (s *Server) setNetwork(c echo.Context) error {
	var req setNetworkRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	n, err := s.Pricing.SetNetworkEnabled(c.Request().Context(), c.Param("token"), c.Param("network"), *req.Enabled, principal(c).KeyID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, networkOf(n))
}
