package handlers

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzCheckJSONShape: the one-pass scan gives, for every valid JSON body, the verdict of
// the token walk it replaced (tokenShape below, encoding/json's own reading of the
// body): the same duplicate or depth error, or none. On any other body it only must not
// panic, since the decoder answers those.
func FuzzCheckJSONShape(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"a":2}`, `{"a":{"b":[{"c":1,"c":2}]}}`, `{"a\u0062":1,"ab":2}`, `{"a":"x\"y","b":"}","a":0}`,
		`[{"k":1},{"k":1}]`, `{"m":[[{"x":{"y":1,"y":1}}]]}`, strings.Repeat("[", 40) + strings.Repeat("]", 40),
		strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33), `{"\ud800":1,"\ufffd":2}`, `{"a":1,`, `"`, `}`,
		manyKeysBody(100, true), manyKeysBody(100, false), `{"a":[],"b":{},"a":null}`, `{"a":"x\u0000"}`, `{"a\u0000":1}`, `{"a":["\\u0000"]}`, `{"":1,"":2}`, `{"":{"b":1,"b":2}}`, `{"a":{"":{"c":1,"c":1}}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got := checkJSONShape([]byte(body), nil)
		if !json.Valid([]byte(body)) {
			return
		}
		want := tokenShape([]byte(body))
		if (got == nil) != (want == nil) || (got != nil && !reflect.DeepEqual(got, want)) {
			t.Fatalf("%q: scan says %v, token walk says %v", body, got, want)
		}
	})
}

func TestCheckJSONShapeManyKeys(t *testing.T) {
	if err := checkJSONShape([]byte(manyKeysBody(5000, false)), nil); err != nil {
		t.Fatalf("distinct keys refused: %v", err)
	}
	err := checkJSONShape([]byte(manyKeysBody(5000, true)), nil)
	if err == nil || !strings.Contains(err.Error(), `Duplicate key "k0"`) {
		t.Fatalf("a repeat after 5000 keys: %v", err)
	}
}

// manyKeysBody is an object of n distinct keys, then k0 again when repeat.
func manyKeysBody(n int, repeat bool) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		b.WriteString(`"k` + strconv.Itoa(i) + `":1,`)
	}
	if repeat {
		b.WriteString(`"k0":2,`)
	}
	b.WriteString(`"end":0}`)
	return b.String()
}

func BenchmarkCheckJSONShape(b *testing.B) {
	body := []byte(`{"token":"USDT","amount":"10","address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","metadata":{"orderId":"bench"}}`)
	for _, c := range []struct {
		name  string
		check func([]byte) error
	}{{"scan", func(b []byte) error { return checkJSONShape(b, schemaOf(reflect.TypeOf(createWithdrawalRequest{}))) }}, {"tokens", tokenShape}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.check(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// tokenShape is the check checkJSONShape replaced, kept as its reference: it walks a body's
// encoding/json tokens and refuses duplicate keys in any object and
// nesting deeper than maxJSONDepth, and NUL in any string. Malformed JSON is left to the
// decoder's message.
func tokenShape(body []byte) error {
	type frame struct {
		path      string          // where this object or array sits, e.g. "metadata"
		keys      map[string]bool // nil for arrays
		key       string          // the key whose value comes next
		expectKey bool
	}
	join := func(path, key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error the decoder reports properly
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if str, ok := tok.(string); ok && strings.ContainsRune(str, 0) {
			field := ""
			if top != nil && top.keys != nil && !top.expectKey {
				field = join(top.path, top.key)
			}
			return badRequest(field, "Strings must not contain NUL characters (\\u0000)")
		}
		if key, ok := tok.(string); ok && top != nil && top.keys != nil && top.expectKey {
			field := join(top.path, key)
			if top.keys[key] {
				return badRequest(field, "Duplicate key %q", field)
			}
			top.keys[key], top.key, top.expectKey = true, key, false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return badRequest("", "Request body nests deeper than %d levels", maxJSONDepth)
			}
			f := &frame{}
			if top != nil {
				f.path = top.path
				if top.keys != nil {
					f.path = join(top.path, top.key)
				}
			}
			if tok == json.Delim('{') {
				f.keys, f.expectKey = map[string]bool{}, true
			}
			stack = append(stack, f)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the enclosing object expects its next key.
		if len(stack) > 0 && stack[len(stack)-1].keys != nil {
			stack[len(stack)-1].expectKey = true
		}
	}
}
