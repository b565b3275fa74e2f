package apitest

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
)

// Addresses valid for each seeded token (mainnet).
const (
	BTCAddress = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh" // DCE Pay's example
	ETHAddress = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" // EIP-55 vector
	// TronAddress is Tether's TRC-20 contract, a valid Tron address.
	TronAddress = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
)

// Merchant creates a merchant and a key for it through the admin API.
func (e *Env) Merchant(name string) (id, key string) {
	e.T.Helper()
	m := e.Do(Request{Method: http.MethodPost, Path: "/api/admin/merchants", Key: e.AdminKey, Body: map[string]any{"name": name}})
	if m.Status != http.StatusCreated {
		e.T.Fatalf("create merchant: %d %s", m.Status, m.Body)
	}
	id = m.JSON()["id"].(string)
	k := e.Do(Request{Method: http.MethodPost, Path: "/api/admin/merchants/" + id + "/api-keys", Key: e.AdminKey, Body: map[string]any{"name": "test"}})
	if k.Status != http.StatusCreated {
		e.T.Fatalf("create key: %d %s", k.Status, k.Body)
	}
	return id, k.JSON()["key"].(string)
}

var creditSeq atomic.Int64

// Credit funds a merchant through the admin API.
func (e *Env) Credit(merchantID, token, amount string) {
	e.T.Helper()
	r := e.Do(Request{Method: http.MethodPost, Path: "/api/admin/merchants/" + merchantID + "/credits", Key: e.AdminKey,
		Body: map[string]any{"token": token, "amount": amount, "reference": fmt.Sprintf("test-credit-%d", creditSeq.Add(1))}})
	if r.Status != http.StatusCreated {
		e.T.Fatalf("credit: %d %s", r.Status, r.Body)
	}
}

// Balance returns a merchant's available and pending balance in a token.
func (e *Env) Balance(key, token string) (available, pending decimal.Decimal) {
	e.T.Helper()
	var body struct {
		Balances []struct{ Token, Available, Pending, Total string }
	}
	e.Do(Request{Method: http.MethodGet, Path: "/api/balance", Key: key}).Decode(e.T, &body)
	for _, b := range body.Balances {
		if b.Token == token {
			return decimal.RequireFromString(b.Available), decimal.RequireFromString(b.Pending)
		}
	}
	e.T.Fatalf("no %s balance", token)
	return
}

// Withdraw creates a withdrawal and returns its id.
func (e *Env) Withdraw(key, token, amount, address string) string {
	e.T.Helper()
	r := e.Do(Request{Method: http.MethodPost, Path: "/api/withdrawals", Key: key,
		Body: map[string]any{"token": token, "amount": amount, "address": address}})
	if r.Status != http.StatusCreated {
		e.T.Fatalf("withdraw: %d %s", r.Status, r.Body)
	}
	return r.JSON()["id"].(string)
}

// WaitFor polls cond every 50 ms until it holds, failing the test after timeout.
func (e *Env) WaitFor(timeout time.Duration, what string, cond func() bool) {
	e.T.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.T.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
