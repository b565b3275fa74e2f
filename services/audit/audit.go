// Package audit is the audit trail: every admin action (merchants, keys, credits, fee
// changes, payout decisions, sandbox faults) is one admin_actions row, written in the
// transaction of the change it records, so a change without its record cannot commit.
// The table is append-only in the database itself (migrations/00008_hardening.sql):
// neither the service nor an operator's SQL can rewrite it.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
)

// Audited actions.
const (
	MerchantCreate    = "merchant.create"
	KeyCreate         = "api_key.create"
	KeyRevoke         = "api_key.revoke"
	Credit            = "merchant.credit"
	FeeScheduleSet    = "fee_schedule.set"
	NetworkSet        = "token_network.set"
	PayoutsFreeze     = "merchant.payouts_freeze"
	LimitSet          = "payout_limit.set"
	ApprovalRuleSet   = "approval_rule.set"
	WithdrawalApprove = "withdrawal.approve"
	WithdrawalReject  = "withdrawal.reject"
	ApprovalExpire    = "withdrawal.approval_expire"
	PayoutsUnfreeze   = "merchant.payouts_unfreeze"
	BatchRetry        = "batch.retry"
	PayoutsRun        = "payouts.run"
	SandboxFault      = "sandbox.fault"
	WithdrawalPrefix  = "withdrawal." // withdrawal.confirm, withdrawal.fail
)

// Record appends to the audit trail in the caller's transaction.
func Record(tx *gorm.DB, actor, action, targetType, targetID string, details map[string]any, now time.Time) error {
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if err := tx.Create(&models.AdminAction{ID: ids.Action(), Actor: actor, Action: action, TargetType: targetType,
		TargetID: targetID, Details: b, CreatedAt: now}).Error; err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// Log reads the audit trail.
type Log struct{ db *gorm.DB }

// NewLog wires the audit trail's reader.
func NewLog(db *gorm.DB) *Log { return &Log{db: db} }

// Filter narrows the audit trail; empty fields match everything.
type Filter struct {
	Actor, Action, TargetType, TargetID string
	Since, Before                       *time.Time
	services.PageRequest
}

// List pages through the audit trail, newest first. The total is counted up to
// services.CountBound.
func (l *Log) List(ctx context.Context, f Filter) (services.Page[models.AdminAction], error) {
	page := services.Page[models.AdminAction]{Limit: f.Limit, Offset: f.Offset, Items: []models.AdminAction{}}
	all := func() *gorm.DB { return l.db.WithContext(ctx).Model(&models.AdminAction{}) }
	rows := func() *gorm.DB {
		q := all()
		for column, value := range map[string]string{"actor": f.Actor, "action": f.Action, "target_type": f.TargetType, "target_id": f.TargetID} {
			if value != "" {
				q = q.Where(column+" = ?", value)
			}
		}
		if f.Since != nil {
			q = q.Where("created_at >= ?", *f.Since)
		}
		if f.Before != nil {
			q = q.Where("created_at < ?", *f.Before)
		}
		return q
	}
	if err := services.CountUpTo(rows(), &page); err != nil {
		return page, fmt.Errorf("count audit log: %w", err)
	}
	if err := services.ReadPage(rows, all, f.PageRequest, "an audit record", &page); err != nil {
		return page, fmt.Errorf("list audit log: %w", err)
	}
	return page, nil
}
