package withdrawals

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzCanonicalMetadata: metadata the service accepts is a JSON object no larger, once
// canonical, than a small constant past what was sent (escapes written shorter, never
// longer, numbers as written), so what it stores and returns cannot outgrow the request.
func FuzzCanonicalMetadata(f *testing.F) {
	for _, seed := range []string{
		`{"orderId":"order_123"}`, `{"n":1e131071}`, `{"n":12345678901234567891.50}`, `{"a":[1,{"b":-0.5}]}`,
		`{"html":"<>&"}`, `{"u":"\u00e9\u2028"}`, `{"deep":{"a":{"b":{"c":{"d":1}}}}}`, `[]`, `null`, `{"x":1E2}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := canonicalMetadata(json.RawMessage(raw))
		if err != nil || out == nil {
			return
		}
		if !json.Valid(out) || out[0] != '{' {
			t.Fatalf("%q accepted as %q", raw, out)
		}
		// encoding/json escapes U+2028 and U+2029 (3 bytes) as 6; nothing else grows.
		if limit := len(bytes.TrimSpace([]byte(raw))) + 3*bytes.Count([]byte(raw), []byte("\u2028")) + 3*bytes.Count([]byte(raw), []byte("\u2029")) + 16; len(out) > limit {
			t.Fatalf("%q (%d bytes) became %d bytes", raw, len(raw), len(out))
		}
		if bytes.ContainsAny(out, "eE") {
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.UseNumber()
			var v any
			_ = dec.Decode(&v)
			if n, bad := badMetadataNumber(v); bad {
				t.Fatalf("%q accepted with number %s", raw, n)
			}
		}
	})
}
