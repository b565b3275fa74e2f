package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/ratelimit"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/accounts"
)

const principalKey = "principal"

// authenticate resolves the API key of "Authorization: Bearer <key>" (or a bare
// "Authorization: <key>", as DCE Pay accepts) on every /api request. Failures are
// counted per client address: once an address has spent its allowance, it is answered
// 429 before its key is even looked at, so guessing keys costs the guesser, not the
// database.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		client := c.RealIP()
		if d := s.RateLimits.AuthFailures.Peek(client); !d.Allowed {
			return rateLimited(c, d, "Too many failed authentications from this address (limit %d per minute); retry in %d s")
		}
		p, err := s.principalOf(c)
		if err != nil {
			ratelimit.TakeAll(client, s.RateLimits.AuthFailures)
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

func (s *Server) principalOf(c echo.Context) (accounts.Principal, error) {
	header := strings.TrimSpace(c.Request().Header.Get(echo.HeaderAuthorization))
	if header == "" {
		return accounts.Principal{}, newAPIError(http.StatusUnauthorized, "UNAUTHORIZED", "Missing API key: send Authorization: Bearer <key>")
	}
	key := header
	if scheme, rest, ok := strings.Cut(header, " "); ok && strings.EqualFold(scheme, "Bearer") {
		key = strings.TrimSpace(rest)
	}
	return s.Accounts.Authenticate(c.Request().Context(), key)
}

// requireRole refuses keys of another role with 403: a merchant key on admin routes,
// and an admin key (which belongs to no merchant) on merchant routes.
func requireRole(role models.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if principal(c).Role != role {
				return newAPIError(http.StatusForbidden, "FORBIDDEN", "This route needs a %s API key", role)
			}
			return next(c)
		}
	}
}

// requireWriteScope lets read-only keys (merchant or admin) through on GET only: every
// other method moves money or changes settings.
func requireWriteScope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodGet && principal(c).Scope != models.ScopeReadWrite {
			return newAPIError(http.StatusForbidden, "FORBIDDEN", "This API key is read-only")
		}
		return next(c)
	}
}

func principal(c echo.Context) accounts.Principal {
	p, _ := c.Get(principalKey).(accounts.Principal)
	return p
}
