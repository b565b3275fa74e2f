package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/withdrawals"
)

type whitelistSettingsDTO struct {
	Enabled         bool    `json:"enabled"`
	Enforced        bool    `json:"enforced"`
	EnforcedUntil   *string `json:"enforcedUntil"`
	CooldownSeconds int64   `json:"cooldownSeconds"`
}

func whitelistSettingsOf(s withdrawals.WhitelistSettings) whitelistSettingsDTO {
	return whitelistSettingsDTO{Enabled: s.Enabled, Enforced: s.Enforced, EnforcedUntil: optionalTimestamp(s.EnforcedUntil),
		CooldownSeconds: int64(s.Cooldown.Seconds())}
}

type whitelistEntryDTO struct {
	ID        string `json:"id"`
	Token     string `json:"token"`
	Network   string `json:"network"`
	Address   string `json:"address"`
	Label     string `json:"label"`
	CreatedAt string `json:"createdAt"`
	UsableAt  string `json:"usableAt"`
	Usable    bool   `json:"usable"`
}

func (s *Server) whitelistEntryOf(e models.WhitelistEntry) whitelistEntryDTO {
	return whitelistEntryDTO{ID: e.ID, Token: e.Token, Network: e.Network, Address: e.Address, Label: e.Label,
		CreatedAt: timestamp(e.CreatedAt), UsableAt: timestamp(e.UsableAt), Usable: !s.Whitelist.Now().Before(e.UsableAt)}
}

func (s *Server) getWhitelist(c echo.Context) error {
	ctx, merchantID := c.Request().Context(), principal(c).MerchantID
	settings, err := s.Whitelist.Settings(ctx, merchantID)
	if err != nil {
		return err
	}
	entries, err := s.Whitelist.List(ctx, merchantID)
	if err != nil {
		return err
	}
	out := make([]whitelistEntryDTO, len(entries))
	for i, e := range entries {
		out[i] = s.whitelistEntryOf(e)
	}
	return c.JSON(http.StatusOK, map[string]any{"settings": whitelistSettingsOf(settings), "entries": out})
}

type whitelistEntryRequest struct {
	Token   string `json:"token" validate:"required,max=16"`
	Network string `json:"network" validate:"max=32"`
	Address string `json:"address" validate:"required,max=128"`
	Label   string `json:"label" validate:"max=200"`
}

func (s *Server) addWhitelistEntry(c echo.Context) error {
	var req whitelistEntryRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	e, err := s.Whitelist.Add(c.Request().Context(), withdrawals.EntryInput{
		MerchantID: principal(c).MerchantID, Token: req.Token, Network: req.Network, Address: req.Address, Label: req.Label})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s.whitelistEntryOf(e))
}

func (s *Server) removeWhitelistEntry(c echo.Context) error {
	if err := s.Whitelist.Remove(c.Request().Context(), principal(c).MerchantID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type whitelistSettingsRequest struct {
	Enabled *bool `json:"enabled" validate:"required"`
}

func (s *Server) setWhitelistSettings(c echo.Context) error {
	var req whitelistSettingsRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	settings, err := s.Whitelist.SetEnabled(c.Request().Context(), principal(c).MerchantID, *req.Enabled)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, whitelistSettingsOf(settings))
}
