package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/recovered"
)

// recoverPanics answers a handler's panic like any other unexpected failure: an
// INTERNAL_ERROR in the contract's body, logged with the panic's stack, and the request's
// access line. Left to net/http, a panic drops the connection without an answer.
// http.ErrAbortHandler is net/http's way of aborting a response on purpose: it goes on.
func recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				err = recovered.New(v)
			}
		}()
		return next(c)
	}
}
