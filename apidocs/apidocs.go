// Package apidocs serves the API reference at /docs: openapi.yaml rendered in the
// browser by Redoc. Redoc's standalone bundle is vendored here (redoc.standalone.js,
// from the npm package redoc at the version scripts/redoc.sh pins, which make lint
// checks it against), so the page works offline and asks no host but the service.
package apidocs

import (
	"bytes"
	"embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

//go:embed index.html redoc.standalone.js
var files embed.FS

// remoteLogo is the one remote resource Redoc's bundle asks for (its sidebar logo, from
// Redocly's CDN); the script is served with it replaced by an empty image, which Redoc
// then leaves out. The vendored file stays byte for byte the npm package's.
var remoteLogo = []byte(`src:"https://cdn.redoc.ly/redoc/logo-mini.svg"`)

// script is the bundle as served.
var script = func() []byte {
	raw, err := files.ReadFile("redoc.standalone.js")
	if err != nil || !bytes.Contains(raw, remoteLogo) {
		panic("apidocs: redoc.standalone.js is missing or no longer asks for the logo this package replaces")
	}
	return bytes.Replace(raw, remoteLogo, []byte(`src:"data:,"`), 1)
}()

// contentSecurityPolicy lets the page load only from the service: Redoc injects its
// styles at run time and builds its search worker from a blob.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'"

// Page answers GET /docs.
func Page(c echo.Context) error {
	page, err := files.ReadFile("index.html")
	if err != nil {
		return err
	}
	return serve(c, page, "text/html; charset=utf-8", "no-cache")
}

// Script answers GET /docs/redoc.standalone.js; it changes only with a new build.
func Script(c echo.Context) error {
	return serve(c, script, "text/javascript; charset=utf-8", "public, max-age=86400")
}

func serve(c echo.Context, body []byte, contentType, cacheControl string) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Cache-Control", cacheControl)
	return c.Blob(http.StatusOK, contentType, body)
}
