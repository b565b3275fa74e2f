// Package handlers is the HTTP face of the service: Echo routes, strict request
// binding, API-key authentication and the mapping of service errors to the contract's
// error body. Handlers bind, call one service method and render a DTO; they never
// touch the database.
package handlers

import (
	"context"
	"log/slog"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/metrics"
	"github.com/paycore/withdrawals/services"
)

// Deps is what the HTTP layer needs from the rest of the service.
type Deps struct {
	Withdrawals  *services.Withdrawals
	Balances     *services.Balances
	Accounts     *services.Accounts
	FeeSchedules *services.FeeSchedules
	Payouts      *services.Payouts
	Webhooks     *services.Webhooks
	Ledger       *services.Ledger
	Whitelist    *services.Whitelist
	RateLimits   RateLimits
	Metrics      *metrics.Metrics
	// Ready reports whether the service can serve traffic (the database answers).
	Ready   func(ctx context.Context) error
	OpenAPI []byte
	Logger  *slog.Logger
}

// Server holds the handlers' dependencies.
type Server struct {
	Deps
	validate *validator.Validate
}

// New returns the Echo router with every route of openapi.yaml.
func New(d Deps) *echo.Echo {
	s := &Server{Deps: d, validate: newValidator()}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(d.Logger)
	e.Use(s.requestLog, recoverPanics)
	s.routes(e)
	return e
}
