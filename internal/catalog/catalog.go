// Package catalog is the one cache of the tokens the service pays out and the fee
// schedule in force for each (its own, else the default), so pricing a withdrawal or
// listing a balance costs no database round trip. Entries live for a second at most on
// an instance that did not make a change; the instance that changes a fee schedule
// drops them at once (Invalidate).
package catalog

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/fees"
	"github.com/paycore/withdrawals/models"
)

// TTL bounds how stale a token or a fee schedule can be on an instance that did not
// change it.
const TTL = time.Second

// Token is a token with its networks, the default one first.
type Token struct {
	models.Token
	Networks []Network
}

// Network is one of a token's networks with the fee schedule in force for it: its own
// ("USDT:tron"), else the token's, else the default.
type Network struct {
	models.TokenNetwork
	Schedule fees.Schedule
}

// Default is the token's default network.
func (t Token) Default() Network { return t.Networks[0] }

// OnNetwork returns the token's network of that name.
func (t Token) OnNetwork(name string) (Network, bool) {
	for _, n := range t.Networks {
		if n.Network == name {
			return n, true
		}
	}
	return Network{}, false
}

// NetworkNames lists the token's networks, for messages.
func (t Token) NetworkNames() string {
	names := make([]string, len(t.Networks))
	for i, n := range t.Networks {
		names[i] = n.Network
	}
	return strings.Join(names, ", ")
}

// Catalog holds every token, reloaded as a whole when older than TTL.
type Catalog struct {
	db    *gorm.DB
	clock func() time.Time

	mu       sync.Mutex
	loadedAt time.Time
	tokens   []Token // by symbol
}

// New returns an empty catalog over db.
func New(db *gorm.DB, clock func() time.Time) *Catalog { return &Catalog{db: db, clock: clock} }

// Tokens returns every token, enabled or not, ordered by symbol.
func (c *Catalog) Tokens(ctx context.Context) ([]Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock()
	if c.tokens != nil && now.Sub(c.loadedAt) < TTL {
		return c.tokens, nil
	}
	var rows []struct {
		models.TokenNetwork
		Decimals     int32
		TokenEnabled bool
		IsDefault    bool
		BaseFee      decimal.Decimal
		MarkupRate   decimal.Decimal
		FeeEnabled   bool
	}
	if err := c.db.WithContext(ctx).Raw(`
		SELECT n.*, t.decimals, t.enabled AS token_enabled, t.network = n.network AS is_default,
		       COALESCE(sn.base_fee, st.base_fee, d.base_fee) AS base_fee,
		       COALESCE(sn.markup_rate, st.markup_rate, d.markup_rate) AS markup_rate,
		       COALESCE(sn.enabled, st.enabled, d.enabled) AS fee_enabled
		FROM token_networks n
		JOIN tokens t ON t.symbol = n.token
		JOIN fee_schedules d ON d.scope = 'default'
		LEFT JOIN fee_schedules st ON st.scope = n.token
		LEFT JOIN fee_schedules sn ON sn.scope = n.token || ':' || n.network
		ORDER BY n.token, t.network = n.network DESC, n.network`).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("catalog: load tokens: %w", err)
	}
	var tokens []Token
	for _, r := range rows {
		if len(tokens) == 0 || tokens[len(tokens)-1].Symbol != r.Token {
			if !r.IsDefault {
				return nil, fmt.Errorf("catalog: token %s has no default network", r.Token)
			}
			tokens = append(tokens, Token{Token: models.Token{Symbol: r.Token, Network: r.Network, Decimals: r.Decimals, Enabled: r.TokenEnabled}})
		}
		t := &tokens[len(tokens)-1]
		t.Networks = append(t.Networks, Network{TokenNetwork: r.TokenNetwork, Schedule: fees.Schedule{BaseFee: r.BaseFee, MarkupRate: r.MarkupRate, Enabled: r.FeeEnabled}})
	}
	c.tokens, c.loadedAt = tokens, now
	return tokens, nil
}

// Token returns one token by symbol, in any case; found is false for an unknown one.
func (c *Catalog) Token(ctx context.Context, symbol string) (tok Token, found bool, err error) {
	tokens, err := c.Tokens(ctx)
	if err != nil {
		return Token{}, false, err
	}
	symbol = strings.ToUpper(symbol)
	for _, t := range tokens {
		if t.Symbol == symbol {
			return t, true, nil
		}
	}
	return Token{}, false, nil
}

// Enabled returns the enabled tokens' symbols, ordered.
func (c *Catalog) Enabled(ctx context.Context) ([]string, error) {
	tokens, err := c.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tokens {
		if t.Enabled {
			out = append(out, t.Symbol)
		}
	}
	return out, nil
}

// Invalidate drops the catalog, after a change to tokens or fee schedules.
func (c *Catalog) Invalidate() {
	c.mu.Lock()
	c.tokens = nil
	c.mu.Unlock()
}
