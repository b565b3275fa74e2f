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

// checkJSONShape walks a body's tokens and refuses duplicate keys in any object and
// nesting deeper than maxJSONDepth. Malformed JSON is left to the decoder's message.
func checkJSONShape(body []byte) error {
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
