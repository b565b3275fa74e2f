// Package pricing owns what a withdrawal costs: the tokens that can be paid out, the
// checks an amount must pass (precision, minimum, above the fee, above the chain's dust limit), the fee quote, and
// the admin's fee schedules with their audit trail.
package pricing

import (
	"context"
	"errors"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/fees"
	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/services"
)

// Service prices withdrawals and administers fee schedules.
type Service struct {
	db      *dbtx.DB
	clock   services.Clock
	catalog *catalog.Catalog
}

// New wires pricing over the shared token catalog.
func New(db *dbtx.DB, clock services.Clock, cat *catalog.Catalog) *Service {
	return &Service{db: db, clock: clock, catalog: cat}
}

// Token returns an enabled token with its fee schedule; an unknown or disabled one is
// UNSUPPORTED_TOKEN.
func (s *Service) Token(ctx context.Context, symbol string) (catalog.Token, error) {
	tok, found, err := s.catalog.Token(ctx, symbol)
	if err != nil {
		return tok, err
	}
	if !found {
		return tok, services.Invalid(services.CodeUnsupportedToken, "token", "Token %q is not supported", symbol)
	}
	if !tok.Enabled {
		return tok, services.Invalid(services.CodeUnsupportedToken, "token", "Token %s is currently disabled", tok.Symbol)
	}
	return tok, nil
}

// Price checks an amount against the token's rules on a network and quotes its fee:
// positive, no finer than the token's smallest unit, at least the network's minimum,
// above the fee, and leaving at least the network's dust limit.
func Price(tok catalog.Token, network catalog.Network, amount decimal.Decimal) (fees.Quote, error) {
	if !amount.IsPositive() {
		return fees.Quote{}, services.Invalid(services.CodeInvalidAmount, "amount", "Amount must be greater than 0")
	}
	if !amount.Equal(amount.Truncate(tok.Decimals)) {
		return fees.Quote{}, services.Invalid(services.CodeInvalidAmount, "amount", "Amount %s has more than %d decimal places, the precision of %s", amount, tok.Decimals, tok.Symbol)
	}
	if amount.LessThan(network.MinWithdrawal) {
		return fees.Quote{}, services.Invalid(services.CodeInvalidAmount, "amount", "Minimum withdrawal is %s %s, requested: %s %s", network.MinWithdrawal, tok.Symbol, amount, tok.Symbol)
	}
	q, err := fees.Calculate(amount, tok.Decimals, network.Schedule)
	if errors.Is(err, fees.ErrAmountNotAboveFee) {
		return q, services.Invalid(services.CodeInvalidAmount, "amount", "Amount %s %s does not exceed the withdrawal fee of %s %s", amount, tok.Symbol, q.TotalFee, tok.Symbol)
	}
	if err == nil && q.Net.LessThan(network.DustLimit) {
		return q, services.Invalid(services.CodeInvalidAmount, "amount", "Amount %s %s leaves %s %s after fees, below the %s network's minimum output (dust limit) of %s %s",
			amount, tok.Symbol, q.Net, tok.Symbol, network.Network, network.DustLimit, tok.Symbol)
	}
	return q, err
}

// Quote prices a withdrawal without locking anything (GET /api/withdrawals/fee and the
// admin test calculation), on the given network or the token's default one.
func (s *Service) Quote(ctx context.Context, token, network string, amount decimal.Decimal) (fees.Quote, string, error) {
	tok, err := s.Token(ctx, token)
	if err != nil {
		return fees.Quote{}, "", err
	}
	n := tok.Default()
	if network != "" {
		var ok bool
		if n, ok = tok.OnNetwork(strings.ToLower(network)); !ok {
			return fees.Quote{}, "", services.Invalid(services.CodeInvalidRequest, "network", "Network %q is not supported for %s (networks: %s)", network, tok.Symbol, tok.NetworkNames())
		}
	}
	q, err := Price(tok, n, amount)
	return q, tok.Symbol, err
}
