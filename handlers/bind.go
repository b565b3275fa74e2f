package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/models"
)

// maxBodyBytes bounds every request body; withdrawals with 4 KB of metadata fit easily.
const maxBodyBytes = 64 << 10

// newValidator reports fields by their JSON names.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}

// bindJSON decodes a JSON body strictly: application/json only, one object, no unknown
// fields, bounded size, numbers kept as text; then runs the struct's validate tags.
func (s *Server) bindJSON(c echo.Context, dst any) error {
	return s.bindJSONUpTo(c, dst, maxBodyBytes)
}

// maxBatchBodyBytes bounds a mass payout's body: 1,000 items of about 2 KB each.
const maxBatchBodyBytes = 2 << 20

// bindJSONUpTo is bindJSON with a body of up to limit bytes.
func (s *Server) bindJSONUpTo(c echo.Context, dst any, limit int64) error {
	req := c.Request()
	mediaType, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mediaType != echo.MIMEApplicationJSON {
		return newAPIError(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return newAPIError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "Request body exceeds %d bytes", limit)
		}
		return badRequest("", "Could not read the request body")
	}
	if !utf8.Valid(body) {
		return badRequest("", "Request body is not valid UTF-8")
	}
	// encoding/json keeps the last of duplicate keys silently and matches keys to fields
	// without regard to case (with Unicode folding: "ſ" is "s", "K" is "k"), so
	// {"amount":"3","AMOUNT":"900"} would mean 900. A payments API must not guess which
	// amount or address was meant: the scan refuses duplicates, any spelling of a field
	// other than the contract's own, and NUL characters, before the decoder runs.
	if err := checkJSONShape(body, schemaOf(reflect.TypeOf(dst))); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "Request body must contain a single JSON object")
	}
	if err := s.validate.Struct(dst); err != nil {
		return validationError(err)
	}
	return nil
}

// maxJSONDepth bounds nesting anywhere in a body; metadata has its own, smaller limit.
const maxJSONDepth = 32

// checkJSONShape scans a body once, byte by byte, and refuses duplicate keys in any
// object (compared after unescaping, as the decoder reads them), nesting deeper than
// maxJSONDepth, a key of an object with a schema that is not exactly one of its fields,
// and the escape \u0000 anywhere (PostgreSQL's text and jsonb cannot hold NUL; a raw NUL
// byte is not valid JSON at all). It runs on every write request and allocates nothing
// for an ordinary body: encoding/json's token stream cost as much CPU as the decoding
// itself (BENCHMARKS.md). Malformed JSON is left to the decoder's message: the scan
// returns nil where the body stops making sense. schema nil checks no field names.
func checkJSONShape(body []byte, schema *objectSchema) error {
	var (
		frames  [8]shapeFrame
		stack   = frames[:0]
		keysBuf [16][]byte
		keys    = keysBuf[:0] // keys of the open objects, outermost first
	)
	for i := 0; i < len(body); i++ {
		var top *shapeFrame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		switch c := body[i]; c {
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return badRequest("", "Request body nests deeper than %d levels", maxJSONDepth)
			}
			f := shapeFrame{object: c == '{', expectKey: c == '{', firstKey: len(keys)}
			switch {
			case top == nil && f.object:
				f.schema = schema
			case top != nil && top.object:
				f.under = top.key
				if top.schema != nil { // an array's schema is its elements'
					f.schema = top.schema.fields[string(top.key)]
				}
			case top != nil && f.object: // an element of an array
				f.schema = top.schema
			}
			stack = append(stack, f)
		case '}', ']':
			if top == nil {
				return nil
			}
			keys = keys[:top.firstKey]
			stack = stack[:len(stack)-1]
		case ',':
			if top != nil && top.object {
				top.expectKey = true
			}
		case '"':
			end, nul := closingQuote(body, i)
			if end < 0 {
				return nil
			}
			isKey := top != nil && top.object && top.expectKey
			if nul {
				field := ""
				if top != nil && top.object && !isKey {
					field = fieldPath(stack, top.key)
				}
				return badRequest(field, "Strings must not contain NUL characters (\\u0000)")
			}
			if isKey {
				key, ok := unquoteKey(body[i : end+1])
				if !ok {
					return nil
				}
				if top.repeats(keys[top.firstKey:], key) {
					field := fieldPath(stack, key)
					return badRequest(field, "Duplicate key %q", field)
				}
				if top.schema != nil && !top.schema.has(key) {
					field := fieldPath(stack, key)
					return badRequest(field, "Unknown field %q", field)
				}
				keys = append(keys, key)
				top.key, top.expectKey = key, false
			}
			i = end
		}
	}
	return nil
}

// shapeFrame is an object or array that checkJSONShape is inside of.
type shapeFrame struct {
	under     []byte // the key it is the value of, when its parent is an object
	object    bool
	expectKey bool   // the object's next string is a key
	key       []byte // the key whose value comes next
	firstKey  int    // the object's keys start at this index of the scan's keys
	many      map[string]bool
	schema    *objectSchema // the fields the object may have; nil: any
}

// manyKeys is where an object's keys move from a comparison with each to a map, so a
// body of thousands of keys costs no more than its length.
const manyKeys = 32

// repeats reports whether key is among the object's earlier keys (seen), and remembers
// it once there are many.
func (f *shapeFrame) repeats(seen [][]byte, key []byte) bool {
	if f.many == nil && len(seen) < manyKeys {
		for _, k := range seen {
			if bytes.Equal(k, key) {
				return true
			}
		}
		return false
	}
	if f.many == nil {
		f.many = make(map[string]bool, 2*manyKeys)
		for _, k := range seen {
			f.many[string(k)] = true
		}
	}
	if f.many[string(key)] {
		return true
	}
	f.many[string(key)] = true
	return false
}

// closingQuote returns the index of the quote that ends the string opening at
// body[open], or -1 when the body ends first, and whether the string holds the escape
// \u0000.
func closingQuote(body []byte, open int) (end int, nul bool) {
	for i := open + 1; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++ // the escaped character, whatever it is
			if i+4 < len(body) && body[i] == 'u' && string(body[i+1:i+5]) == "0000" {
				nul = true
			}
		case '"':
			return i, nul
		}
	}
	return -1, nul
}

// objectSchema is the exact field names a request object may have, and the schema of
// each field that is itself an object (nil for free-form values such as metadata).
type objectSchema struct {
	fields map[string]*objectSchema
}

func (o *objectSchema) has(key []byte) bool {
	_, ok := o.fields[string(key)]
	return ok
}

var schemas sync.Map // reflect.Type -> *objectSchema

// schemaOf derives the field names a body decoded into t may use from its json tags,
// once per type; nil for a type that is not a struct (nothing to check).
func schemaOf(t reflect.Type) *objectSchema {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Slice && t != reflect.TypeOf(json.RawMessage{}) {
		return schemaOf(t.Elem()) // the schema of its elements
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	if s, ok := schemas.Load(t); ok {
		return s.(*objectSchema)
	}
	s := &objectSchema{fields: map[string]*objectSchema{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		s.fields[name] = schemaOf(f.Type)
	}
	schemas.Store(t, s)
	return s
}

// unquoteKey returns a quoted key's text: in place when it is plain UTF-8 without
// escapes, decoded as the decoder reads it (escapes resolved, invalid UTF-8 replaced,
// allocated) otherwise; ok is false for an escape the decoder would refuse.
func unquoteKey(quoted []byte) (key []byte, ok bool) {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return inner, true
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

// fieldPath names key of the innermost object of stack by the keys leading to it, e.g.
// "metadata.orderId" (arrays add nothing).
func fieldPath(stack []shapeFrame, key []byte) string {
	path := ""
	join := func(part []byte) {
		if path == "" {
			path = string(part)
		} else {
			path += "." + string(part)
		}
	}
	for _, f := range stack {
		if f.under != nil {
			join(f.under)
		}
	}
	join(key)
	return path
}

func decodeError(err error) error {
	var (
		syntax    *json.SyntaxError
		typeError *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("", "Request body is empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "Request body is not valid JSON")
	case errors.As(err, &typeError):
		if typeError.Field == "" {
			return badRequest("", "Request body must be a JSON object")
		}
		return badRequest(typeError.Field, "Field %q must be of type %s", typeError.Field, jsonType(typeError.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(field, "Unknown field %q", field)
	default:
		return badRequest("", "Request body is not valid JSON")
	}
}

func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
		return "number"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice:
		return "array"
	}
	return t.String()
}

func validationError(err error) error {
	var fieldErrors validator.ValidationErrors
	if !errors.As(err, &fieldErrors) || len(fieldErrors) == 0 {
		return badRequest("", "Invalid request body")
	}
	out := badRequest("", "Invalid field %q", fieldErrors[0].Field())
	for _, fe := range fieldErrors {
		issue := "is invalid"
		switch fe.Tag() {
		case "required":
			issue = "is required"
		case "max":
			issue = "must be at most " + fe.Param() + " characters"
		case "min":
			issue = "must be at least " + fe.Param() + " characters"
		case "oneof":
			issue = "must be one of " + fe.Param()
		}
		out.Details = append(out.Details, errorDetail{Field: fe.Field(), Issue: fe.Field() + " " + issue})
	}
	out.Message = out.Details[0].Issue
	return out
}

// parseAmount reads a money field sent as a JSON number (0.001) or string ("0.001")
// straight from its text, never through float64.
func parseAmount(field string, raw json.RawMessage) (decimal.Decimal, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return decimal.Decimal{}, badRequest(field, "%s is required", field)
	}
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return decimal.Decimal{}, badRequest(field, "%s must be a decimal number or string", field)
		}
	} else if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return decimal.Decimal{}, badRequest(field, "%s must be a decimal number or string", field)
	}
	return parseAmountText(field, text)
}

// parseAmountText reads a money value from its decimal text (a query parameter or a
// JSON string's content).
func parseAmountText(field, text string) (decimal.Decimal, error) {
	d, err := models.ParseAmount(text)
	if err != nil {
		e := newAPIError(http.StatusBadRequest, "INVALID_AMOUNT", "%s must be a positive decimal with at most 20 integer and 18 fraction digits, without exponent", field)
		e.Details = []errorDetail{{Field: field, Issue: e.Message}}
		return decimal.Decimal{}, e
	}
	return d, nil
}
