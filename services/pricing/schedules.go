package pricing

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm/clause"

	"github.com/paycore/withdrawals/fees"
	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/audit"
)

// EffectiveSchedule is the schedule a token is priced with on a network, and where it
// comes from.
type EffectiveSchedule struct {
	Token    string
	Network  string
	Source   string // "network", "token" or "default"
	Schedule models.FeeSchedule
}

// Overview is every schedule: the default, the tokens' and networks' own ("USDT",
// "USDT:tron"), and what applies per token and network.
type Overview struct {
	Default   models.FeeSchedule
	Tokens    []models.FeeSchedule
	Effective []EffectiveSchedule
}

// Overview reads all fee schedules.
func (s *Service) Overview(ctx context.Context) (Overview, error) {
	var all []models.FeeSchedule
	if err := s.db.Gorm(ctx).Order("scope").Find(&all).Error; err != nil {
		return Overview{}, fmt.Errorf("list fee schedules: %w", err)
	}
	var networks []models.TokenNetwork
	if err := s.db.Gorm(ctx).Order("token, network").Find(&networks).Error; err != nil {
		return Overview{}, fmt.Errorf("list token networks: %w", err)
	}
	out := Overview{Tokens: []models.FeeSchedule{}}
	own := map[string]models.FeeSchedule{}
	for _, fs := range all {
		if fs.Scope == models.FeeScheduleDefault {
			out.Default = fs
			continue
		}
		out.Tokens = append(out.Tokens, fs)
		own[fs.Scope] = fs
	}
	for _, n := range networks {
		e := EffectiveSchedule{Token: n.Token, Network: n.Network, Source: "default", Schedule: out.Default}
		if fs, ok := own[n.Token+":"+n.Network]; ok {
			e.Source, e.Schedule = "network", fs
		} else if fs, ok := own[n.Token]; ok {
			e.Source, e.Schedule = "token", fs
		}
		out.Effective = append(out.Effective, e)
	}
	return out, nil
}

// SetInput is an admin's new schedule. Token empty sets the default schedule; Network
// set (with Token) sets that network's own.
type SetInput struct {
	Token    string
	Network  string
	Schedule fees.Schedule
	Actor    string // the admin key id
}

// Set replaces a schedule and records the change (who, when, old, new) in the same
// transaction. Withdrawals already created keep the fee they were quoted.
func (s *Service) Set(ctx context.Context, in SetInput) (models.FeeSchedule, error) {
	if err := in.Schedule.Validate(); err != nil {
		return models.FeeSchedule{}, services.Invalid(services.CodeInvalidRequest, "", "%v", err)
	}
	if in.Network != "" && in.Token == "" {
		return models.FeeSchedule{}, services.Invalid(services.CodeInvalidRequest, "token", "a network's schedule needs its token")
	}
	scope := models.FeeScheduleDefault
	if in.Token != "" {
		tok, err := s.Token(ctx, in.Token)
		if err != nil {
			return models.FeeSchedule{}, err
		}
		scope = tok.Symbol
		if in.Network != "" {
			n, ok := tok.OnNetwork(strings.ToLower(in.Network))
			if !ok {
				return models.FeeSchedule{}, services.Invalid(services.CodeInvalidRequest, "network", "Network %q is not supported for %s (networks: %s)", in.Network, tok.Symbol, tok.NetworkNames())
			}
			scope = tok.Symbol + ":" + n.Network
		}
		if !in.Schedule.BaseFee.Equal(in.Schedule.BaseFee.Truncate(tok.Decimals)) {
			return models.FeeSchedule{}, services.Invalid(services.CodeInvalidRequest, "baseFee", "baseFee has more than %d decimal places, the precision of %s", tok.Decimals, tok.Symbol)
		}
	}
	next := models.FeeSchedule{
		Scope: scope, BaseFee: in.Schedule.BaseFee, MarkupRate: in.Schedule.MarkupRate, Enabled: in.Schedule.Enabled,
		UpdatedAt: s.clock.Now(), UpdatedBy: in.Actor,
	}
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		var old models.FeeSchedule
		res := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("scope = ?", scope).Limit(1).Find(&old)
		if res.Error != nil {
			return fmt.Errorf("read fee schedule: %w", res.Error)
		}
		var oldValue any // null for a schedule set for the first time
		if res.RowsAffected == 1 {
			oldValue = scheduleJSON(old)
		}
		if err := tx.Save(&next).Error; err != nil {
			return fmt.Errorf("save fee schedule: %w", err)
		}
		tx.AfterCommit(s.catalog.Invalidate)
		return audit.Record(tx.DB, in.Actor, audit.FeeScheduleSet, "fee_schedule", scope,
			map[string]any{"old": oldValue, "new": scheduleJSON(next)}, next.UpdatedAt)
	})
	return next, err
}

// FeeChange is one fee schedule change of the audit trail.
type FeeChange struct {
	ID        string
	Scope     string
	ChangedBy string
	ChangedAt time.Time
	Old, New  json.RawMessage // Old is null for a schedule's first setting
}

// History returns the latest fee changes, newest first, from the audit trail.
func (s *Service) History(ctx context.Context, limit int) ([]FeeChange, error) {
	var actions []models.AdminAction
	if err := s.db.Gorm(ctx).Where("action = ?", audit.FeeScheduleSet).
		Order("created_at DESC, id DESC").Limit(limit).Find(&actions).Error; err != nil {
		return nil, fmt.Errorf("list fee changes: %w", err)
	}
	changes := make([]FeeChange, len(actions))
	for i, a := range actions {
		var d struct{ Old, New json.RawMessage }
		if err := json.Unmarshal(a.Details, &d); err != nil {
			return nil, fmt.Errorf("fee change %s: %w", a.ID, err)
		}
		changes[i] = FeeChange{ID: a.ID, Scope: a.TargetID, ChangedBy: a.Actor, ChangedAt: a.CreatedAt, Old: d.Old, New: d.New}
	}
	return changes, nil
}

// scheduleJSON is the audit form of a schedule, with amounts as strings.
func scheduleJSON(fs models.FeeSchedule) map[string]any {
	return map[string]any{"baseFee": fs.BaseFee.String(), "markupRate": fs.MarkupRate.String(), "enabled": fs.Enabled}
}
