package handlers

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/recovered"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/withdrawals"
)

// apiError is the contract's error body (openapi.yaml: Error).
type apiError struct {
	Code       string        `json:"error"`
	Message    string        `json:"message"`
	StatusCode int           `json:"statusCode"`
	Details    []errorDetail `json:"details,omitempty"`
	// Items are a refused mass payout's items and their problems (BATCH_REJECTED).
	Items []withdrawals.ItemOutcome `json:"items,omitempty"`
}

type errorDetail struct {
	Field string `json:"field"`
	Issue string `json:"issue"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...), StatusCode: status}
}

func badRequest(field, format string, args ...any) *apiError {
	e := newAPIError(http.StatusBadRequest, "INVALID_REQUEST", format, args...)
	if field != "" {
		e.Details = []errorDetail{{Field: field, Issue: e.Message}}
	}
	return e
}

// errorHandler maps every error a handler returns to the contract's error body, in one
// flat switch. Anything unrecognised is logged and answered as a bare INTERNAL_ERROR.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		body := toAPIError(err)
		if body.StatusCode >= 500 {
			attrs := []any{"method", c.Request().Method, "route", c.Path(), "error", err.Error()}
			var panicked *recovered.Error
			if errors.As(err, &panicked) {
				attrs = append(attrs, "stack", string(panicked.Stack))
			}
			logger.ErrorContext(c.Request().Context(), "request failed", attrs...)
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(body.StatusCode)
		} else {
			err = c.JSON(body.StatusCode, body)
		}
		if err != nil {
			logger.Error("writing error response", "error", err.Error())
		}
	}
}

// Problem is how the API describes an error: the console shows the same words.
type Problem struct {
	Status        int
	Code, Message string
	Field         string // the field at fault, when one is
}

// Describe is the API's description of err.
func Describe(err error) Problem {
	e := toAPIError(err)
	p := Problem{Status: e.StatusCode, Code: e.Code, Message: e.Message}
	if len(e.Details) > 0 {
		p.Field = e.Details[0].Field
	}
	return p
}

func toAPIError(err error) *apiError {
	var (
		api          *apiError
		validation   *services.ValidationError
		insufficient *services.InsufficientBalanceError
		limit        *services.LimitExceededError
		state        *services.InvalidStateError
		rejected     *withdrawals.BatchRejectedError
		conflict     *services.ConflictError
		httpErr      *echo.HTTPError
	)
	switch {
	case errors.As(err, &api):
		return api
	case errors.As(err, &validation):
		e := newAPIError(http.StatusBadRequest, string(validation.Code), "%s", validation.Message)
		if validation.Field != "" {
			e.Details = []errorDetail{{Field: validation.Field, Issue: validation.Message}}
		}
		return e
	case errors.As(err, &insufficient):
		return newAPIError(http.StatusBadRequest, "INSUFFICIENT_BALANCE", "%s", insufficient.Error())
	case errors.As(err, &limit):
		e := newAPIError(http.StatusBadRequest, "LIMIT_EXCEEDED", "%s", limit.Error())
		e.Details = []errorDetail{{Field: "amount", Issue: fmt.Sprintf("%s limit %s %s, remaining %s %s", limit.Kind, limit.Limit, limit.Token, limit.Remaining, limit.Token)}}
		return e
	case errors.As(err, &rejected):
		e := newAPIError(http.StatusBadRequest, "BATCH_REJECTED", "%s", rejected.Message)
		e.Items = rejected.Items
		return e
	case errors.As(err, &state):
		return newAPIError(http.StatusConflict, "INVALID_STATE", "%s", state.Message)
	case errors.As(err, &conflict):
		return newAPIError(http.StatusConflict, cmp.Or(conflict.Code, "INVALID_STATE"), "%s", conflict.Message)
	case errors.Is(err, services.ErrSelfApproval):
		return newAPIError(http.StatusForbidden, "SELF_APPROVAL", "A withdrawal cannot be approved or rejected by the API key that created it")
	case errors.Is(err, services.ErrAddressNotWhitelisted):
		return newAPIError(http.StatusBadRequest, "ADDRESS_NOT_WHITELISTED", "Address is not in the whitelist, or its cooldown has not passed yet")
	case errors.Is(err, services.ErrPayoutsFrozen):
		return newAPIError(http.StatusForbidden, "PAYOUTS_FROZEN", "Payouts of this merchant are frozen by an operator; nothing was created")
	case errors.Is(err, services.ErrNotFound):
		return newAPIError(http.StatusNotFound, "NOT_FOUND", "Resource not found")
	case errors.Is(err, services.ErrUnauthorized):
		return newAPIError(http.StatusUnauthorized, "UNAUTHORIZED", "Missing, invalid or revoked API key")
	case errors.Is(err, services.ErrIdempotencyMismatch):
		return newAPIError(http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was already used with a different request body")
	case errors.Is(err, services.ErrIdempotencyInUse):
		return newAPIError(http.StatusConflict, "IDEMPOTENCY_KEY_IN_USE", "A request with this Idempotency-Key is still being processed; retry shortly")
	case errors.As(err, &httpErr):
		return fromEchoError(httpErr)
	default:
		return newAPIError(http.StatusInternalServerError, "INTERNAL_ERROR", "Internal error")
	}
}

// fromEchoError covers what Echo itself refuses: unknown routes and methods.
func fromEchoError(e *echo.HTTPError) *apiError {
	switch e.Code {
	case http.StatusNotFound:
		return newAPIError(http.StatusNotFound, "NOT_FOUND", "No such route")
	case http.StatusMethodNotAllowed:
		return newAPIError(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Method not allowed on this route")
	case http.StatusRequestEntityTooLarge:
		return newAPIError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "Request body is too large")
	case http.StatusUnsupportedMediaType:
		return newAPIError(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
	case http.StatusUnauthorized:
		return newAPIError(http.StatusUnauthorized, "UNAUTHORIZED", "Missing, invalid or revoked API key")
	case http.StatusForbidden:
		return newAPIError(http.StatusForbidden, "FORBIDDEN", "Forbidden")
	}
	if e.Code >= 400 && e.Code < 500 {
		return newAPIError(e.Code, "INVALID_REQUEST", "%s", http.StatusText(e.Code))
	}
	return newAPIError(http.StatusInternalServerError, "INTERNAL_ERROR", "Internal error")
}
