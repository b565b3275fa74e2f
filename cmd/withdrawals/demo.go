package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
)

const demoMerchantName = "Demo Merchant"

// demoFunding is what the demo merchant starts with, so the README's curl examples work.
var demoFunding = map[string]string{"BTC": "1", "ETH": "10", "USDT": "10000"}

// seedDemo (DEMO_SEED=true, set by make run) makes sure a funded demo merchant exists
// and prints a fresh merchant key and admin key for it. For local use only: the keys
// go to stdout in plain text.
func seedDemo(ctx context.Context, accounts *services.Accounts, addr string, stdout io.Writer) error {
	m, found, err := accounts.MerchantByName(ctx, demoMerchantName)
	if err != nil {
		return err
	}
	if !found {
		if m, err = accounts.CreateMerchant(ctx, demoMerchantName); err != nil {
			return err
		}
	}
	for token, amount := range demoFunding {
		_, err := accounts.Credit(ctx, services.CreditInput{
			MerchantID: m.ID, Token: token, Amount: decimal.RequireFromString(amount),
			Reference: "demo-seed-" + token, Actor: "demo-seed",
		})
		var conflict *services.ConflictError
		if err != nil && !errors.As(err, &conflict) { // already funded on an earlier start
			return err
		}
	}
	merchantKey, err := accounts.CreateMerchantKey(ctx, m.ID, "demo (make run)", models.ScopeReadWrite)
	if err != nil {
		return err
	}
	adminKey, err := accounts.CreateAdminKey(ctx, "demo (make run)")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, `
Demo mode: merchant %q (%s) is funded with 1 BTC, 10 ETH and 10000 USDT.
Paste these into another shell to use the README's examples:

  export API=http://%s
  export MERCHANT_KEY=%s
  export ADMIN_KEY=%s

`, m.Name, m.ID, addr, merchantKey.Plaintext, adminKey.Plaintext)
	return err
}
