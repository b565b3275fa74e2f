package withdrawals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/address"
	"github.com/paycore/withdrawals/services/pricing"
)

// Whitelist owns merchants' address whitelists. Every loosening takes a cooldown
// (a new entry, turning enforcement off), so a stolen key cannot add an address and
// drain the balance at once; every tightening (enabling, deleting) is immediate.
type Whitelist struct {
	db        *dbtx.DB
	pricing   *pricing.Service
	addresses *address.Validator
	clock     services.Clock
	cooldown  time.Duration
}

// NewWhitelist wires the whitelist use cases; cooldown is WHITELIST_COOLDOWN. Whether a
// withdrawal passes is decided by SQL (admission_verdicts, migrations/00013), which the
// recorder calls; settings are read through the same definition.
func NewWhitelist(db *dbtx.DB, p *pricing.Service, addresses *address.Validator, clock services.Clock, cooldown time.Duration) *Whitelist {
	return &Whitelist{db: db, pricing: p, addresses: addresses, clock: clock, cooldown: cooldown}
}

// WhitelistSettings is a merchant's enforcement state.
type WhitelistSettings struct {
	Enabled       bool       // what the merchant asked for
	Enforced      bool       // whether withdrawals are checked now
	EnforcedUntil *time.Time // when a requested "off" takes effect
	Cooldown      time.Duration
}

// settingsQuery reads a merchant's settings, with whether they enforce the whitelist at
// a moment by the rule's one definition.
const settingsQuery = `SELECT whitelist_enabled AS enabled, whitelist_enforced_until AS enforced_until,
	whitelist_enforced(whitelist_enabled, whitelist_enforced_until, ?) AS enforced FROM merchants WHERE id = ?`

type settingsRow struct {
	Enabled       bool
	EnforcedUntil *time.Time
	Enforced      bool
}

func (s *Whitelist) settingsOf(r settingsRow) WhitelistSettings {
	return WhitelistSettings{Enabled: r.Enabled, Enforced: r.Enforced, EnforcedUntil: r.EnforcedUntil, Cooldown: s.cooldown}
}

// Settings reads the merchant's enforcement state.
func (s *Whitelist) Settings(ctx context.Context, merchantID string) (WhitelistSettings, error) {
	var r settingsRow
	if err := s.db.Gorm(ctx).Raw(settingsQuery, s.clock.Now(), merchantID).Scan(&r).Error; err != nil {
		return WhitelistSettings{}, fmt.Errorf("whitelist settings: %w", err)
	}
	return s.settingsOf(r), nil
}

// SetEnabled turns enforcement on at once, or off after the cooldown.
func (s *Whitelist) SetEnabled(ctx context.Context, merchantID string, enabled bool) (WhitelistSettings, error) {
	now := s.clock.Now()
	var out WhitelistSettings
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		var m struct {
			WhitelistEnabled       bool
			WhitelistEnforcedUntil *time.Time
		}
		if err := tx.Raw(`SELECT whitelist_enabled, whitelist_enforced_until FROM merchants WHERE id = ? FOR UPDATE`, merchantID).Scan(&m).Error; err != nil {
			return fmt.Errorf("whitelist settings: %w", err)
		}
		until := m.WhitelistEnforcedUntil
		switch {
		case enabled:
			until = nil
		case m.WhitelistEnabled:
			// Turning off: enforcement continues for the cooldown.
			t := now.Add(s.cooldown)
			until = &t
		}
		if err := tx.Exec(`UPDATE merchants SET whitelist_enabled = ?, whitelist_enforced_until = ? WHERE id = ?`, enabled, until, merchantID).Error; err != nil {
			return fmt.Errorf("whitelist settings: %w", err)
		}
		var r settingsRow
		if err := tx.Raw(settingsQuery, now, merchantID).Scan(&r).Error; err != nil {
			return fmt.Errorf("whitelist settings: %w", err)
		}
		out = s.settingsOf(r)
		return nil
	})
	return out, err
}

// EntryInput is a new whitelist entry. Network may be empty when the address tells it.
type EntryInput struct {
	MerchantID, Token, Network, Address, Label string
}

// Add validates and lists an address; it becomes usable after the cooldown.
func (s *Whitelist) Add(ctx context.Context, in EntryInput) (models.WhitelistEntry, error) {
	tok, err := s.pricing.Token(ctx, in.Token)
	if err != nil {
		return models.WhitelistEntry{}, err
	}
	in.Address = strings.TrimSpace(in.Address)
	network, err := resolveNetwork(s.addresses, tok, strings.ToLower(in.Network), in.Address)
	if err != nil {
		return models.WhitelistEntry{}, err
	}
	if len(in.Label) > 200 {
		return models.WhitelistEntry{}, services.Invalid(services.CodeInvalidRequest, "label", "label must be at most 200 characters")
	}
	now := s.clock.Now()
	e := models.WhitelistEntry{ID: ids.Whitelist(), MerchantID: in.MerchantID, Token: tok.Symbol, Network: network.Network, Address: in.Address,
		NormalizedAddress: address.Normalize(network.AddressFormat, in.Address), Label: in.Label, CreatedAt: now, UsableAt: now.Add(s.cooldown)}
	if err := s.db.Gorm(ctx).Create(&e).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return e, &services.ConflictError{Message: fmt.Sprintf("%s is already whitelisted for %s on %s", in.Address, tok.Symbol, network.Network)}
		}
		return e, fmt.Errorf("add whitelist entry: %w", err)
	}
	return e, nil
}

// List returns the merchant's entries, oldest first.
func (s *Whitelist) List(ctx context.Context, merchantID string) ([]models.WhitelistEntry, error) {
	entries := []models.WhitelistEntry{}
	err := s.db.Gorm(ctx).Where("merchant_id = ? AND deleted_at IS NULL", merchantID).Order("created_at, id").Find(&entries).Error
	return entries, err
}

// Remove deletes an entry at once.
func (s *Whitelist) Remove(ctx context.Context, merchantID, id string) error {
	res := s.db.Gorm(ctx).Model(&models.WhitelistEntry{}).Where("id = ? AND merchant_id = ? AND deleted_at IS NULL", id, merchantID).
		UpdateColumn("deleted_at", s.clock.Now())
	if res.Error != nil {
		return fmt.Errorf("remove whitelist entry: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("whitelist entry %s: %w", id, services.ErrNotFound)
	}
	return nil
}

// Now is the whitelist's clock, for rendering whether an entry is usable yet.
func (s *Whitelist) Now() time.Time { return s.clock.Now() }
