package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
)

const principalKey = "principal"

// authenticate resolves the API key of "Authorization: Bearer <key>" (or a bare
// "Authorization: <key>", as DCE Pay accepts) on every /api request.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		header := strings.TrimSpace(c.Request().Header.Get(echo.HeaderAuthorization))
		if header == "" {
			return newAPIError(http.StatusUnauthorized, "UNAUTHORIZED", "Missing API key: send Authorization: Bearer <key>")
		}
		key := header
		if scheme, rest, ok := strings.Cut(header, " "); ok && strings.EqualFold(scheme, "Bearer") {
			key = strings.TrimSpace(rest)
		}
		p, err := s.Accounts.Authenticate(c.Request().Context(), key)
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
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

// requireWriteScope lets read-only keys through on GET only: every other method moves
// money or changes settings.
func requireWriteScope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodGet && principal(c).Scope != models.ScopeReadWrite {
			return newAPIError(http.StatusForbidden, "FORBIDDEN", "This API key is read-only")
		}
		return next(c)
	}
}

func principal(c echo.Context) services.Principal {
	p, _ := c.Get(principalKey).(services.Principal)
	return p
}
