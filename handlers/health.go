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
	return c.JSON(http.StatusOK, readiness{Status: "ready", Rails: s.railReachability(ctx)})
}

type readiness struct {
	Status string    `json:"status"`
	Rails  []railDTO `json:"rails,omitempty"`
}

type railDTO struct {
	Token     string `json:"token"`
	Network   string `json:"network,omitempty"`
	Provider  string `json:"provider"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
}

// railReachability reports each configured rail. A rail that does not answer leaves
// the instance ready: the API still takes withdrawals for every token, and that token's
// batches wait with their funds locked until the node answers again.
func (s *Server) railReachability(ctx context.Context) []railDTO {
	if s.Rails == nil {
		return nil
	}
	var out []railDTO
	for _, r := range s.Rails(ctx) {
		dto := railDTO{Token: r.Token, Network: r.Network, Provider: r.Provider, Reachable: r.Err == nil}
		if r.Err != nil {
			dto.Error = r.Err.Error()
		}
		out = append(out, dto)
	}
	return out
}

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", s.OpenAPI)
}
