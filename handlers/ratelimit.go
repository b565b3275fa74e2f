package handlers

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/ratelimit"
)

// RateLimits are the per-key limits (every request, and withdrawal creation on top) and
// the per-address limit on failed authentication.
type RateLimits struct {
	All          *ratelimit.Limiter
	Withdrawals  *ratelimit.Limiter
	AuthFailures *ratelimit.Limiter
}

// rateLimit applies the key's buckets and reports them in RateLimit-* headers; over
// the limit it answers 429 RATE_LIMITED with Retry-After.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limiters := []*ratelimit.Limiter{s.RateLimits.All}
		// A mass payout is one creation request, whatever its size: the velocity limits
		// bound what it may carry.
		if c.Request().Method == http.MethodPost && (c.Path() == "/api/withdrawals" || c.Path() == "/api/withdrawal-batches") {
			limiters = append(limiters, s.RateLimits.Withdrawals)
		}
		d := ratelimit.TakeAll(principal(c).KeyID, limiters...)
		if d.Limit > 0 {
			h := c.Response().Header()
			h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
			h.Set("RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
			h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
		}
		if !d.Allowed {
			return rateLimited(c, d, "Rate limit of %d requests per minute exceeded; retry in %d s")
		}
		return next(c)
	}
}

// rateLimited answers 429 RATE_LIMITED with Retry-After; message takes the limit and
// the seconds to wait.
func rateLimited(c echo.Context, d ratelimit.Decision, message string) error {
	retry := ceilSeconds(d.RetryAfter)
	c.Response().Header().Set("Retry-After", strconv.Itoa(retry))
	return newAPIError(http.StatusTooManyRequests, "RATE_LIMITED", message, d.Limit, retry)
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
