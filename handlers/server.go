// Package handlers is the HTTP face of the service: Echo routes, strict request
// binding, API-key authentication and the mapping of service errors to the contract's
// error body. Handlers bind, call one service method and render a DTO; they never
// touch the database.
package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/metrics"
	"github.com/paycore/withdrawals/rails"
	"github.com/paycore/withdrawals/services/accounts"
	"github.com/paycore/withdrawals/services/audit"
	"github.com/paycore/withdrawals/services/ledger"
	"github.com/paycore/withdrawals/services/payouts"
	"github.com/paycore/withdrawals/services/policies"
	"github.com/paycore/withdrawals/services/pricing"
	"github.com/paycore/withdrawals/services/webhooks"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// Deps is what the HTTP layer needs from the rest of the service.
type Deps struct {
	Withdrawals *withdrawals.Service
	Ledger      *ledger.Ledger
	Accounts    *accounts.Service
	Pricing     *pricing.Service
	Payouts     *payouts.Service
	Webhooks    *webhooks.Service
	Whitelist   *withdrawals.Whitelist
	Limits      *policies.Service
	AuditLog    *audit.Log
	RateLimits  RateLimits
	Metrics     *metrics.Metrics
	// Ready reports whether the service can serve traffic (the database answers).
	Ready func(ctx context.Context) error
	// Rails reports whether each token's own payout rail answers; nil when none is
	// configured.
	Rails   func(ctx context.Context) []rails.Reachability
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
	e.JSONSerializer = jsonSerializer{}
	// The client's own address, never X-Forwarded-For or X-Real-IP, which anyone can
	// send: failed authentications are limited per address (auth.go).
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(s.requestLog, recoverPanics, refuseNUL)
	s.routes(e)
	return e
}

// jsonSerializer writes responses as Echo's default serializer does, but leaves <, >
// and & as they are instead of six-byte \u escapes: a body is application/json (and
// nosniff), never HTML, and escaping let a merchant's metadata of 4 KB of "<" grow to
// 24 KB in every response and list that carried it.
type jsonSerializer struct{ echo.DefaultJSONSerializer }

func (jsonSerializer) Serialize(c echo.Context, i any, indent string) error {
	enc := json.NewEncoder(c.Response())
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	return enc.Encode(i)
}

// refuseNUL answers 400 to a path or query string holding a NUL character before any
// handler sees it: PostgreSQL cannot store or compare NUL in text, so it would surface
// as a 500 from whatever query the value reached. Every response says nosniff, so no
// browser reads a JSON body as anything else.
func refuseNUL(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		u := c.Request().URL
		if strings.ContainsRune(u.Path, 0) || strings.Contains(u.RawQuery, "%00") || strings.ContainsRune(u.RawQuery, 0) {
			return newAPIError(http.StatusBadRequest, "INVALID_REQUEST", "The path and query must not contain NUL characters")
		}
		return next(c)
	}
}
