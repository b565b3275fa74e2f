package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		s.Logger.WarnContext(ctx, "not ready", "error", err.Error())
		return c.JSON(http.StatusServiceUnavailable, newAPIError(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Database is not reachable"))
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", s.OpenAPI)
}
