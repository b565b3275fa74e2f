package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

func TestBadWithdrawalInputChangesNothing(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "BTC", "1")
	env.Credit(merchantID, "USDT", "100")

	btc := func(extra string) string {
		return `{"token":"BTC","address":"` + apitest.BTCAddress + `"` + extra + `}`
	}
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		field       string
	}{
		{"malformed JSON", `{"token":"BTC",`, "", 400, "INVALID_REQUEST", ""},
		{"not an object", `[1,2]`, "", 400, "INVALID_REQUEST", ""},
		{"two objects", btc(`,"amount":"0.01"`) + `{}`, "", 400, "INVALID_REQUEST", ""},
		{"empty body", ``, "", 400, "INVALID_REQUEST", ""},
		{"unknown field", btc(`,"amount":"0.01","memo":"x"`), "", 400, "INVALID_REQUEST", "memo"},
		{"token wrong type", `{"token":1,"amount":"0.01","address":"` + apitest.BTCAddress + `"}`, "", 400, "INVALID_REQUEST", "token"},
		{"amount wrong type", btc(`,"amount":true`), "", 400, "INVALID_REQUEST", "amount"},
		{"amount object", btc(`,"amount":{"v":1}`), "", 400, "INVALID_REQUEST", "amount"},
		{"missing amount", btc(``), "", 400, "INVALID_REQUEST", "amount"},
		{"null amount", btc(`,"amount":null`), "", 400, "INVALID_REQUEST", "amount"},
		{"missing token", `{"amount":"0.01","address":"` + apitest.BTCAddress + `"}`, "", 400, "INVALID_REQUEST", "token"},
		{"missing address", `{"token":"BTC","amount":"0.01"}`, "", 400, "INVALID_REQUEST", "address"},
		{"negative amount", btc(`,"amount":-0.01`), "", 400, "INVALID_AMOUNT", "amount"},
		{"zero amount", btc(`,"amount":"0"`), "", 400, "INVALID_AMOUNT", "amount"},
		{"exponent", btc(`,"amount":1e-2`), "", 400, "INVALID_AMOUNT", "amount"},
		{"exponent in string", btc(`,"amount":"1e-2"`), "", 400, "INVALID_AMOUNT", "amount"},
		{"hundreds of digits", btc(`,"amount":"` + strings.Repeat("9", 300) + `"`), "", 400, "INVALID_AMOUNT", "amount"},
		{"not a number", btc(`,"amount":"abc"`), "", 400, "INVALID_AMOUNT", "amount"},
		{"too precise for BTC", btc(`,"amount":"0.000000001"`), "", 400, "INVALID_AMOUNT", "amount"},
		{"below BTC minimum", btc(`,"amount":"0.00001"`), "", 400, "INVALID_AMOUNT", "amount"},
		{"USDT not above fee", `{"token":"USDT","amount":"1","address":"` + apitest.ETHAddress + `"}`, "", 400, "INVALID_AMOUNT", "amount"},
		{"more than balance", btc(`,"amount":"2"`), "", 400, "INSUFFICIENT_BALANCE", ""},
		{"unknown token", `{"token":"DOGE","amount":"1","address":"D8vFz4p1L37jdg9xpEiPU3ea5CQYmZbQJe"}`, "", 400, "UNSUPPORTED_TOKEN", "token"},
		{"bech32 bad checksum", `{"token":"BTC","amount":"0.01","address":"bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlj"}`, "", 400, "INVALID_ADDRESS", "address"},
		{"base58 bad checksum", `{"token":"BTC","amount":"0.01","address":"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"}`, "", 400, "INVALID_ADDRESS", "address"},
		{"ETH address for BTC", `{"token":"BTC","amount":"0.01","address":"` + apitest.ETHAddress + `"}`, "", 400, "INVALID_ADDRESS", "address"},
		{"EIP-55 bad checksum", `{"token":"USDT","amount":"10","address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"}`, "", 400, "INVALID_ADDRESS", "address"},
		{"unknown network", btc(`,"amount":"0.01","network":"lightning"`), "", 400, "INVALID_REQUEST", "network"},
		{"network of another token", btc(`,"amount":"0.01","network":"ethereum"`), "", 400, "INVALID_REQUEST", "network"},
		{"metadata not an object", btc(`,"amount":"0.01","metadata":[1]`), "", 400, "INVALID_REQUEST", "metadata"},
		{"metadata too deep", btc(`,"amount":"0.01","metadata":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}`), "", 400, "INVALID_REQUEST", "metadata"},
		{"metadata too large", btc(`,"amount":"0.01","metadata":{"a":"` + strings.Repeat("x", 5000) + `"}`), "", 400, "INVALID_REQUEST", "metadata"},
		{"body too large", btc(`,"amount":"0.01","metadata":{"a":"` + strings.Repeat("x", 70_000) + `"}`), "", 413, "PAYLOAD_TOO_LARGE", ""},
		{"wrong content type", btc(`,"amount":"0.01"`), "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"form content type", `token=BTC`, "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Body: []byte(tt.body), ContentType: tt.contentType})
			if r.Status != tt.status || r.ErrorCode() != tt.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tt.status, tt.code)
			}
			body := r.JSON()
			if body["message"] == "" || int(body["statusCode"].(float64)) != tt.status {
				t.Errorf("error body incomplete: %s", r.Body)
			}
			if tt.field != "" {
				details, _ := body["details"].([]any)
				if len(details) == 0 || details[0].(map[string]any)["field"] != tt.field {
					t.Errorf("details do not name %q: %s", tt.field, r.Body)
				}
			}
		})
	}

	var rows int64
	env.DB.Table("withdrawals").Count(&rows)
	if rows != 0 {
		t.Errorf("%d withdrawals created by bad input", rows)
	}
	if available, pending := env.Balance(key, "BTC"); !available.Equal(decimal.NewFromInt(1)) || !pending.IsZero() {
		t.Errorf("balance changed: %s/%s", available, pending)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}

func TestBadListFilters(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	_, key := env.Merchant("Acme")
	for _, q := range []string{
		"status=done", "limit=0", "limit=101", "limit=-5", "limit=abc", "limit=99999999999999999999",
		"offset=-1", "offset=x", "offset=1&page=2", "page=0", "startDate=yesterday", "endDate=2024-13-01",
		"startDate=2024-12-20&endDate=2024-12-19", "token=BTC'%20OR%201=1--", "status=pending'%3B%20DROP%20TABLE%20withdrawals",
	} {
		r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals?" + q, Key: key})
		if r.Status != http.StatusBadRequest || r.ErrorCode() != "INVALID_REQUEST" {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	_, key := env.Merchant("Acme")
	if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/nope"}); r.Status != http.StatusNotFound || r.ErrorCode() != "NOT_FOUND" {
		t.Errorf("unknown route: %d %s", r.Status, r.Body)
	}
	if r := env.Do(apitest.Request{Method: http.MethodDelete, Path: "/api/balance", Key: key}); r.Status != http.StatusMethodNotAllowed && r.Status != http.StatusNotFound {
		t.Errorf("wrong method: %d %s", r.Status, r.Body)
	}
}
