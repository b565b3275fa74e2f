package console

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/internal/ratelimit"
	"github.com/paycore/withdrawals/services"
)

type signInView struct {
	Nonce, Next, Error string
	TTL                string
}

// signInPage shows the form, with a one-time value that must come back with it, kept in
// a cookie as well: a sign-in forged by another site has neither (login CSRF).
func (cs *console) signInPage(c echo.Context) error {
	return cs.renderSignIn(c, http.StatusOK, safeNext(c.QueryParam("next")), "")
}

func (cs *console) renderSignIn(c echo.Context, status int, next, problem string) error {
	nonce := randomString()
	c.SetCookie(&http.Cookie{Name: signInCookie, Value: nonce, Path: "/console/sign-in", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.Request().TLS != nil, MaxAge: 3600})
	return cs.render(c, status, "sign_in", view{Title: "Sign in", Data: signInView{Nonce: nonce, Next: next, Error: problem,
		TTL: cs.SessionTTL.String()}})
}

// signIn trades an API key for a session. Failures count against the client's address
// as the API's failed authentications do.
func (cs *console) signIn(c echo.Context) error {
	client := c.RealIP()
	if d := cs.AuthFailures.Peek(client); !d.Allowed {
		return cs.renderSignIn(c, http.StatusTooManyRequests, safeNext(c.FormValue("next")), "Too many failed sign-ins from this address; wait a minute and try again.")
	}
	cookie, err := c.Cookie(signInCookie)
	nonce := c.FormValue("signin")
	if err != nil || nonce == "" || subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(nonce)) != 1 {
		return cs.renderSignIn(c, http.StatusForbidden, safeNext(c.FormValue("next")), "This sign-in form expired: please sign in again.")
	}
	token, sess, err := cs.Accounts.StartSession(c.Request().Context(), strings.TrimSpace(c.FormValue("key")), cs.SessionTTL)
	if errors.Is(err, services.ErrUnauthorized) {
		ratelimit.TakeAll(client, cs.AuthFailures)
		return cs.renderSignIn(c, http.StatusUnauthorized, safeNext(c.FormValue("next")), "This key is unknown or revoked.")
	}
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: signInCookie, Path: "/console/sign-in", MaxAge: -1})
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: token, Path: "/console", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.Request().TLS != nil, Expires: sess.ExpiresAt})
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}

func (cs *console) signOut(c echo.Context) error {
	if cookie, err := c.Cookie(sessionCookie); err == nil {
		if err := cs.Accounts.EndSession(c.Request().Context(), cookie.Value); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Path: "/console", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return c.Redirect(http.StatusSeeOther, "/console/sign-in")
}

// safeNext is where to go after signing in: a console page, never another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}
