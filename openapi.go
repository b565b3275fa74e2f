// Package withdrawals is the module root; it embeds the API contract, openapi.yaml,
// so the binary serves the same file the tests validate against.
package withdrawals

import _ "embed"

// OpenAPI is the contract (openapi.yaml).
//
//go:embed openapi.yaml
var OpenAPI []byte
