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
	req := c.Request()
	mediaType, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mediaType != echo.MIMEApplicationJSON {
		return newAPIError(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return newAPIError(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "Request body exceeds %d bytes", maxBodyBytes)
		}
		return badRequest("", "Could not read the request body")
	}
	if !utf8.Valid(body) {
		return badRequest("", "Request body is not valid UTF-8")
	}
	// encoding/json keeps the last of duplicate keys silently; a payments API must not
	// guess which amount or address was meant.
	if err := checkJSONShape(body); err != nil {
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
// object (compared after unescaping, as the decoder reads them) and nesting deeper than
// maxJSONDepth. It runs on every write request and allocates nothing for an ordinary
// body: encoding/json's token stream, which did this before, cost as much CPU as the
// decoding itself (BENCHMARKS.md). Malformed JSON is left to the decoder's message: the
// scan returns nil where the body stops making sense.
func checkJSONShape(body []byte) error {
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
			if top != nil && top.object {
				f.under = top.key
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
			end := closingQuote(body, i)
			if end < 0 {
				return nil
			}
			if top != nil && top.object && top.expectKey {
				key, ok := unquoteKey(body[i : end+1])
				if !ok {
					return nil
				}
				if top.repeats(keys[top.firstKey:], key) {
					field := fieldPath(stack, key)
					return badRequest(field, "Duplicate key %q", field)
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
// body[open], or -1 when the body ends first.
func closingQuote(body []byte, open int) int {
	for i := open + 1; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++ // the escaped character, whatever it is
		case '"':
			return i
		}
	}
	return -1
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
