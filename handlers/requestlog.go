package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/logging"
)

const headerRequestID = "X-Request-ID"

// validRequestID bounds what a client may choose as request id, so it is safe to log.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestLog gives every request an id (the client's X-Request-ID when sane, else a
// new one), returns it, puts it in the context for every log line of the request, and
// writes one access line. Query strings, headers and bodies are never logged: they can
// hold keys, secrets and addresses.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := c.Request().Header.Get(headerRequestID)
		if !validRequestID.MatchString(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(headerRequestID, id)
		ctx := logging.WithRequestID(c.Request().Context(), id)
		c.SetRequest(c.Request().WithContext(ctx))

		err := next(c)
		if err != nil {
			c.Error(err) // write the error response now, so its status is logged
		}
		elapsed := time.Since(start)
		s.Metrics.ObserveRequest(c.Path(), c.Request().Method, strconv.Itoa(c.Response().Status), elapsed)
		s.Logger.InfoContext(ctx, "request",
			"method", c.Request().Method,
			"route", c.Path(),
			"status", c.Response().Status,
			"duration_ms", float64(elapsed.Microseconds())/1000,
		)
		return nil
	}
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "req_" + hex.EncodeToString(b)
}
