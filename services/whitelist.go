package services

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/address"
)

// ErrAddressNotWhitelisted: enforcement is on and the address is not a usable entry.
var ErrAddressNotWhitelisted = errors.New("address is not whitelisted")

// Whitelist owns merchants' address whitelists. Every loosening takes a cooldown
// (a new entry, turning enforcement off), so a stolen key cannot add an address and
// drain the balance at once; every tightening (enabling, deleting) is immediate.
type Whitelist struct {
	db        *gorm.DB
	addresses *address.Validator
	clock     Clock
	cooldown  time.Duration
}

// NewWhitelist wires the whitelist use cases; cooldown is WHITELIST_COOLDOWN.
func NewWhitelist(db *gorm.DB, addresses *address.Validator, clock Clock, cooldown time.Duration) *Whitelist {
	return &Whitelist{db: db, addresses: addresses, clock: clock, cooldown: cooldown}
}

// WhitelistSettings is a merchant's enforcement state.
type WhitelistSettings struct {
	Enabled       bool       // what the merchant asked for
	Enforced      bool       // whether withdrawals are checked now
	EnforcedUntil *time.Time // when a requested "off" takes effect
	Cooldown      time.Duration
}

func (s *Whitelist) settingsOf(enabled bool, until *time.Time, now time.Time) WhitelistSettings {
	return WhitelistSettings{Enabled: enabled, Enforced: enforced(enabled, until, now), EnforcedUntil: until, Cooldown: s.cooldown}
}

func enforced(enabled bool, until *time.Time, now time.Time) bool {
	return enabled || (until != nil && now.Before(*until))
}

// Settings reads the merchant's enforcement state.
func (s *Whitelist) Settings(ctx context.Context, merchantID string) (WhitelistSettings, error) {
	var m struct {
		WhitelistEnabled       bool
		WhitelistEnforcedUntil *time.Time
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT whitelist_enabled, whitelist_enforced_until FROM merchants WHERE id = ?`, merchantID).Scan(&m).Error; err != nil {
		return WhitelistSettings{}, fmt.Errorf("whitelist settings: %w", err)
	}
	return s.settingsOf(m.WhitelistEnabled, m.WhitelistEnforcedUntil, s.clock.now()), nil
}

// SetEnabled turns enforcement on at once, or off after the cooldown.
func (s *Whitelist) SetEnabled(ctx context.Context, merchantID string, enabled bool) (WhitelistSettings, error) {
	now := s.clock.now()
	var out WhitelistSettings
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
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
		out = s.settingsOf(enabled, until, now)
		return nil
	})
	return out, err
}

// EntryInput is a new whitelist entry.
type EntryInput struct {
	MerchantID, Token, Address, Label string
}

// Add validates and lists an address; it becomes usable after the cooldown.
func (s *Whitelist) Add(ctx context.Context, in EntryInput) (models.WhitelistEntry, error) {
	tok, err := loadPricedToken(ctx, s.db, in.Token)
	if err != nil {
		return models.WhitelistEntry{}, err
	}
	in.Address = strings.TrimSpace(in.Address)
	if err := s.addresses.Validate(tok.AddressFormat, in.Address); err != nil {
		return models.WhitelistEntry{}, invalid(CodeInvalidAddress, "address", "Invalid %s address: %v", tok.Symbol, err)
	}
	if len(in.Label) > 200 {
		return models.WhitelistEntry{}, invalid(CodeInvalidRequest, "label", "label must be at most 200 characters")
	}
	now := s.clock.now()
	e := models.WhitelistEntry{ID: newWhitelistID(), MerchantID: in.MerchantID, Token: tok.Symbol, Address: in.Address,
		NormalizedAddress: address.Normalize(tok.AddressFormat, in.Address), Label: in.Label, CreatedAt: now, UsableAt: now.Add(s.cooldown)}
	if err := s.db.WithContext(ctx).Create(&e).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return e, &ConflictError{Message: fmt.Sprintf("%s is already whitelisted for %s", in.Address, tok.Symbol)}
		}
		return e, fmt.Errorf("add whitelist entry: %w", err)
	}
	return e, nil
}

// List returns the merchant's entries, oldest first.
func (s *Whitelist) List(ctx context.Context, merchantID string) ([]models.WhitelistEntry, error) {
	entries := []models.WhitelistEntry{}
	err := s.db.WithContext(ctx).Where("merchant_id = ? AND deleted_at IS NULL", merchantID).Order("created_at, id").Find(&entries).Error
	return entries, err
}

// Remove deletes an entry at once.
func (s *Whitelist) Remove(ctx context.Context, merchantID, id string) error {
	res := s.db.WithContext(ctx).Model(&models.WhitelistEntry{}).Where("id = ? AND merchant_id = ? AND deleted_at IS NULL", id, merchantID).
		UpdateColumn("deleted_at", s.clock.now())
	if res.Error != nil {
		return fmt.Errorf("remove whitelist entry: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("whitelist entry %s: %w", id, ErrNotFound)
	}
	return nil
}

// Now is the whitelist's clock, for rendering whether an entry is usable yet.
func (s *Whitelist) Now() time.Time { return s.clock.now() }
