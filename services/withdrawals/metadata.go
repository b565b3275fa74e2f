package withdrawals

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/paycore/withdrawals/services"
)

// Metadata limits: enough for order ids and customer references, small enough that a
// merchant cannot use withdrawals as blob storage.
const (
	maxMetadataBytes = 4096
	maxMetadataDepth = 5
)

// canonicalMetadata checks that metadata is a small JSON object and re-encodes it with
// sorted keys, so equal objects hash equally for idempotency.
func canonicalMetadata(raw json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	if len(trimmed) > maxMetadataBytes {
		return nil, services.Invalid(services.CodeInvalidRequest, "metadata", "metadata must be at most %d bytes of JSON", maxMetadataBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, services.Invalid(services.CodeInvalidRequest, "metadata", "metadata must be a JSON object")
	}
	if depth(obj) > maxMetadataDepth {
		return nil, services.Invalid(services.CodeInvalidRequest, "metadata", "metadata may nest at most %d levels", maxMetadataDepth)
	}
	if n, ok := badMetadataNumber(obj); ok {
		return nil, services.Invalid(services.CodeInvalidRequest, "metadata", "metadata number %.50s must be a plain decimal of at most %d characters, without exponent; send it as a string", n, maxMetadataNumber)
	}
	// Written without HTML escapes: "<" stays one byte instead of six.
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, services.Invalid(services.CodeInvalidRequest, "metadata", "metadata must be valid JSON")
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// maxMetadataNumber bounds a metadata number's text: a 128-bit integer fits.
const maxMetadataNumber = 40

// badMetadataNumber finds a number the service could not give back as it was written,
// at the size it was written: PostgreSQL keeps 1e131071 in a few bytes and writes it out
// as 131,072 digits, so a small request could make every read of it megabytes long.
func badMetadataNumber(v any) (string, bool) {
	switch t := v.(type) {
	case map[string]any:
		for _, child := range t {
			if n, bad := badMetadataNumber(child); bad {
				return n, true
			}
		}
	case []any:
		for _, child := range t {
			if n, bad := badMetadataNumber(child); bad {
				return n, true
			}
		}
	case json.Number:
		if len(t) > maxMetadataNumber || strings.ContainsAny(string(t), "eE") {
			return string(t), true
		}
	}
	return "", false
}

func depth(v any) int {
	deepest := 0
	switch t := v.(type) {
	case map[string]any:
		for _, child := range t {
			deepest = max(deepest, depth(child))
		}
	case []any:
		for _, child := range t {
			deepest = max(deepest, depth(child))
		}
	default:
		return 0
	}
	return deepest + 1
}
