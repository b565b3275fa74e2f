package pricing

import (
	"context"
	"fmt"
	"strings"

	"github.com/paycore/withdrawals/internal/catalog"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/audit"
)

// Tokens lists every token with its networks and the schedule in force on each.
func (s *Service) Tokens(ctx context.Context) ([]catalog.Token, error) {
	return s.catalog.Tokens(ctx)
}

// SetNetworkEnabled turns a token's network on or off for new withdrawals (off: they
// are refused with UNSUPPORTED_NETWORK; those already created are paid as usual), and
// records who did it.
func (s *Service) SetNetworkEnabled(ctx context.Context, token, network string, enabled bool, actor string) (catalog.Network, error) {
	tok, found, err := s.catalog.Token(ctx, token)
	if err != nil {
		return catalog.Network{}, err
	}
	if !found {
		return catalog.Network{}, fmt.Errorf("token %s: %w", token, services.ErrNotFound)
	}
	n, ok := tok.OnNetwork(strings.ToLower(network))
	if !ok {
		return catalog.Network{}, fmt.Errorf("network %s of %s: %w", network, tok.Symbol, services.ErrNotFound)
	}
	now := s.clock.Now()
	err = s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		if err := tx.Exec(`UPDATE token_networks SET enabled = ? WHERE token = ? AND network = ?`, enabled, tok.Symbol, n.Network).Error; err != nil {
			return fmt.Errorf("set network: %w", err)
		}
		tx.AfterCommit(s.catalog.Invalidate)
		return audit.Record(tx.DB, actor, audit.NetworkSet, "token_network", tok.Symbol+":"+n.Network,
			map[string]any{"old": map[string]any{"enabled": n.Enabled}, "new": map[string]any{"enabled": enabled}}, now)
	})
	n.Enabled = enabled
	return n, err
}
