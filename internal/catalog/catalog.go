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

// Token is a token with the fee schedule in force for it.
type Token struct {
	models.Token
	Schedule fees.Schedule
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
		models.Token
		BaseFee    decimal.Decimal
		MarkupRate decimal.Decimal
		FeeEnabled bool
	}
	if err := c.db.WithContext(ctx).Raw(`
		SELECT t.*, COALESCE(s.base_fee, d.base_fee) AS base_fee, COALESCE(s.markup_rate, d.markup_rate) AS markup_rate,
		       COALESCE(s.enabled, d.enabled) AS fee_enabled
		FROM tokens t
		JOIN fee_schedules d ON d.scope = 'default'
		LEFT JOIN fee_schedules s ON s.scope = t.symbol
		ORDER BY t.symbol`).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("catalog: load tokens: %w", err)
	}
	tokens := make([]Token, len(rows))
	for i, r := range rows {
		tokens[i] = Token{Token: r.Token, Schedule: fees.Schedule{BaseFee: r.BaseFee, MarkupRate: r.MarkupRate, Enabled: r.FeeEnabled}}
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
