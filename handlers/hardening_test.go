package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/internal/apitest"
	"github.com/paycore/withdrawals/internal/testdb"
)

// Hostile input on every surface gets a clear 4xx in the contract's format and changes
// nothing.
func TestHostileInputChangesNothing(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	merchantID, key := env.Merchant("Acme")
	env.Credit(merchantID, "BTC", "1")
	existing := env.Withdraw(key, "BTC", "0.01", apitest.BTCAddress)

	addr := `"address":"` + apitest.BTCAddress + `"`
	bodies := map[string]string{
		"invalid UTF-8 in a string": `{"token":"BTC","amount":"0.01",` + addr + `,"metadata":{"note":"` + "\xff\xfe" + `"}}`,
		"invalid UTF-8 in a key":    `{"token":"BTC","amount":"0.01",` + addr + `,"metadata":{"` + "\xc3\x28" + `":1}}`,
		"duplicate amount":          `{"token":"BTC","amount":"0.01","amount":"0.5",` + addr + `}`,
		"duplicate key in metadata": `{"token":"BTC","amount":"0.01",` + addr + `,"metadata":{"orderId":"a","orderId":"b"}}`,
		"duplicate key deep":        `{"token":"BTC","amount":"0.01",` + addr + `,"metadata":{"a":{"b":1,"b":2}}}`,
		"10,000 levels of nesting":  `{"token":"BTC","amount":"0.01",` + addr + `,"metadata":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
		"array of 20,000 metadata":  `{"token":"BTC","amount":"0.01",` + addr + `,"metadata":{"a":[` + strings.Repeat("1,", 20000) + `1]}}`,
		"exponent amount":           `{"token":"BTC","amount":1E-2,` + addr + `}`,
		"huge exponent":             `{"token":"BTC","amount":1e999999999,` + addr + `}`,
		"hundreds of digits":        `{"token":"BTC","amount":` + strings.Repeat("1", 400) + `,` + addr + `}`,
		"NaN-like string":           `{"token":"BTC","amount":"NaN",` + addr + `}`,
		"infinity-like string":      `{"token":"BTC","amount":"Infinity",` + addr + `}`,
		"hex amount":                `{"token":"BTC","amount":"0x10",` + addr + `}`,
		"amount with spaces":        `{"token":"BTC","amount":" 0.01 ",` + addr + `}`,
		"SQL in the token":          `{"token":"BTC'; DROP TABLE withdrawals;--","amount":"0.01",` + addr + `}`,
		"SQL in the address":        `{"token":"BTC","amount":"0.01","address":"' OR '1'='1"}`,
		"null byte in the address":  `{"token":"BTC","amount":"0.01","address":"bc1q\u0000x"}`,
		"trailing garbage":          `{"token":"BTC","amount":"0.01",` + addr + `} xyz`,
	}
	for name, body := range bodies {
		r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key, Body: []byte(body)})
		if r.Status < 400 || r.Status >= 500 || r.ErrorCode() == "" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := env.Do(apitest.Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Body: []byte(`{"token":"BTC","amount":"0.01","amount":"0.5",` + addr + `}`)}); !strings.Contains(string(r.Body), `"field":"amount"`) {
		t.Errorf("duplicate key not named: %s", r.Body)
	}

	// Filters and path parameters: SQL-looking, negative, huge, malformed.
	for _, q := range []string{
		"status=pending%27%20OR%20%271%27=%271", "token=USDT%3B%20DELETE%20FROM%20balances", "limit=-1", "limit=1e3",
		"limit=18446744073709551616", "offset=-5", "offset=9999999999999", "startDate=2024-02-30", "endDate=%27%3B--",
		"startDate=" + url.QueryEscape("2024-12-19T10:30:00+25:00"),
	} {
		if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/withdrawals?" + q, Key: key}); r.Status != http.StatusBadRequest {
			t.Errorf("filter %s: %d %s", q, r.Status, r.Body)
		}
	}
	for _, path := range []string{
		"/api/withdrawals/" + url.PathEscape("' OR 1=1--"), "/api/withdrawals/" + url.PathEscape(existing+"' OR '1'='1"),
		"/api/withdrawals/" + strings.Repeat("x", 5000),
	} {
		if r := env.Do(apitest.Request{Method: http.MethodGet, Path: path, Key: key}); r.Status != http.StatusNotFound {
			t.Errorf("path %s: %d", path[:40], r.Status)
		}
	}
	for _, q := range []string{"endpointId=" + url.QueryEscape("' OR 1=1--"), "status=" + url.QueryEscape("x' OR 'a'='a"), "eventType=" + url.QueryEscape("a;b")} {
		r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/webhook-deliveries?" + q, Key: key})
		if r.Status != http.StatusOK && r.Status != http.StatusBadRequest {
			t.Errorf("deliveries %s: %d", q, r.Status)
		}
		if r.Status == http.StatusOK && strings.Contains(string(r.Body), `"total":0`) == false {
			t.Errorf("deliveries %s matched something: %s", q, r.Body)
		}
	}
	if r := env.Do(apitest.Request{Method: http.MethodGet, Path: "/api/admin/withdrawals?merchantId=" + url.QueryEscape("' OR ''='"), Key: env.AdminKey}); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"total":0`) {
		t.Errorf("admin merchantId filter: %d %s", r.Status, r.Body)
	}

	var rows int64
	env.DB.Table("withdrawals").Count(&rows)
	available, pending := env.Balance(key, "BTC")
	if rows != 1 || !available.Equal(decimal.RequireFromString("0.99")) || !pending.Equal(decimal.RequireFromString("0.01")) {
		t.Errorf("hostile input changed state: %d withdrawals, balance %s/%s", rows, available, pending)
	}
	testdb.AssertLedgerConsistent(t, env.DB)
}
