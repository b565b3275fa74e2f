package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// writeBodies makes a fresh value of the request type of every write endpoint.
var writeBodies = map[string]func() any{
	"createWithdrawal":  func() any { return &createWithdrawalRequest{} },
	"setFeeSchedule":    func() any { return &setFeeScheduleRequest{} },
	"testFee":           func() any { return &testFeeRequest{} },
	"createMerchant":    func() any { return &createMerchantRequest{} },
	"createKey":         func() any { return &createKeyRequest{} },
	"credit":            func() any { return &creditRequest{} },
	"resolve":           func() any { return &resolveRequest{} },
	"createEndpoint":    func() any { return &createEndpointRequest{} },
	"whitelistEntry":    func() any { return &whitelistEntryRequest{} },
	"whitelistSettings": func() any { return &whitelistSettingsRequest{} },
}

// FuzzBindJSON: whatever the body, binding any write endpoint's request either succeeds
// or fails with a contract error of status 400, 413 or 415; it never panics; money
// fields that bind parse only as plain decimals; and a body that binds uses only the
// exact field names of its request (no other case, no Unicode folding) and holds no NUL.
func FuzzBindJSON(f *testing.F) {
	for _, seed := range []string{
		`{"token":"BTC","amount":0.001,"address":"bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh","metadata":{"orderId":"order_123"}}`,
		`{"baseFee":"1.5","markupRate":"0.02","enabled":true}`, `{"amount":"100","currency":"USDT"}`, `{"name":"Acme"}`,
		`{"token":"USDT","amount":"2500","reference":"wire"}`, `{"action":"confirm","txHash":"0x1"}`,
		`{"url":"https://merchant.example/hooks","events":["withdrawal.confirmed"]}`, `{"enabled":false}`,
		`{"amount":"1","amount":"2"}`, "{\"a\":\"\xff\"}", `[`, `{}`, `null`, `{"metadata":[[[[]]]]}`, `{"amount":1e400}`,
		`{"amount":"3","AMOUNT":"900"}`, `{"Amount":"1"}`, "{\"addre\u017fs\":\"x\"}", "{\"to\u212aen\":\"BTC\"}", `{"name":"a\u0000b"}`,
	} {
		f.Add(seed)
	}
	s := &Server{validate: newValidator()}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body string) {
		for name, newBody := range writeBodies {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
			c := e.NewContext(req, httptest.NewRecorder())
			dst := newBody()
			err := s.bindJSON(c, dst)
			if err == nil {
				var fields map[string]json.RawMessage
				if json.Unmarshal([]byte(body), &fields) == nil {
					for k := range fields {
						if !schemaOf(reflect.TypeOf(dst)).has([]byte(k)) {
							t.Fatalf("%s: %q bound with field %q, not one of the request's", name, body, k)
						}
					}
				}
				if strings.Contains(body, `\u0000`) && !strings.Contains(body, `\\u0000`) {
					t.Fatalf("%s: %q bound with a NUL", name, body)
				}
				if w, ok := dst.(*createWithdrawalRequest); ok {
					if _, aerr := parseAmount("amount", w.Amount); aerr != nil {
						var api *apiError
						if !errors.As(aerr, &api) || api.StatusCode != http.StatusBadRequest {
							t.Fatalf("%s: amount error %v is not a 400 contract error", name, aerr)
						}
					}
				}
				continue
			}
			var api *apiError
			if !errors.As(err, &api) {
				t.Fatalf("%s: %q gave a non-contract error %T %v", name, body, err, err)
			}
			switch api.StatusCode {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			default:
				t.Fatalf("%s: %q gave status %d", name, body, api.StatusCode)
			}
			if api.Code == "" || api.Message == "" {
				t.Fatalf("%s: incomplete error %+v", name, api)
			}
		}
	})
}
