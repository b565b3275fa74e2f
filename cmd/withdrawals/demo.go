package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/accounts"
)

const demoMerchantName = "Demo Merchant"

// demoFunding is what the demo merchant starts with, so the README's curl examples work.
var demoFunding = map[string]string{"BTC": "1", "ETH": "10", "LTC": "10", "USDT": "10000"}

// demoKeyName names the keys the demo mints, so each start revokes the previous ones.
const demoKeyName = "demo (make run)"

// demoActor is who the audit trail says seeded the demo.
const demoActor = "demo-seed"

// seedDemo (DEMO_SEED=true, set by make run) makes sure a funded demo merchant exists
// and prints a fresh merchant key and admin key for it, revoking the keys an earlier
// start printed: only the keys of the latest start work. For local use only: the keys
// go to stdout in plain text.
func seedDemo(ctx context.Context, acc *accounts.Service, addr string, stdout io.Writer) error {
	m, found, err := acc.MerchantByName(ctx, demoMerchantName)
	if err != nil {
		return err
	}
	if !found {
		if m, err = acc.CreateMerchant(ctx, demoMerchantName, demoActor); err != nil {
			return err
		}
	}
	for token, amount := range demoFunding {
		_, err := acc.Credit(ctx, accounts.CreditInput{
			MerchantID: m.ID, Token: token, Amount: decimal.RequireFromString(amount),
			Reference: "demo-seed-" + token, Actor: demoActor,
		})
		var conflict *services.ConflictError
		if err != nil && !errors.As(err, &conflict) { // already funded on an earlier start
			return err
		}
	}
	if _, err := acc.RevokeKeysNamed(ctx, demoKeyName, demoActor); err != nil {
		return err
	}
	merchantKey, err := acc.CreateMerchantKey(ctx, m.ID, demoKeyName, models.ScopeReadWrite, demoActor)
	if err != nil {
		return err
	}
	adminKey, err := acc.CreateAdminKey(ctx, demoKeyName, models.ScopeReadWrite, demoActor)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, `
Demo mode: merchant %q (%s) is funded with 1 BTC, 10 ETH, 10 LTC and 10000 USDT.
Paste these into another shell to use the README's examples:

  export API=http://%s
  export MERCHANT_KEY=%s
  export ADMIN_KEY=%s

`, m.Name, m.ID, addr, merchantKey.Plaintext, adminKey.Plaintext)
	return err
}
