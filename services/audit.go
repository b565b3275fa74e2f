package services

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
)

// The audit trail: every admin action (merchants, keys, credits, fees, payout
// decisions) is one admin_actions row, written in the transaction of the change it
// records, so a change without its record cannot commit. The table is append-only in
// the database itself (migrations/00008_hardening.sql): neither the service nor an
// operator's SQL can rewrite it.

// Audited actions.
const (
	ActionMerchantCreate   = "merchant.create"
	ActionKeyCreate        = "api_key.create"
	ActionKeyRevoke        = "api_key.revoke"
	ActionCredit           = "merchant.credit"
	ActionFeeScheduleSet   = "fee_schedule.set"
	ActionBatchRetry       = "batch.retry"
	ActionPayoutsRun       = "payouts.run"
	ActionSandboxFault     = "sandbox.fault"
	actionWithdrawalPrefix = "withdrawal." // withdrawal.confirm, withdrawal.fail
)

// recordAction appends to the audit trail in the caller's transaction.
func recordAction(tx *gorm.DB, actor, action, targetType, targetID string, details map[string]any, now time.Time) error {
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if err := tx.Create(&models.AdminAction{ID: newActionID(), Actor: actor, Action: action, TargetType: targetType,
		TargetID: targetID, Details: b, CreatedAt: now}).Error; err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// AuditLog reads the audit trail.
type AuditLog struct{ db *gorm.DB }

// NewAuditLog wires the audit trail's reader.
func NewAuditLog(db *gorm.DB) *AuditLog { return &AuditLog{db: db} }

// AuditFilter narrows the audit trail; empty fields match everything.
type AuditFilter struct {
	Actor, Action, TargetType, TargetID string
	Since, Before                       *time.Time
	Limit, Offset                       int
}

// List pages through the audit trail, newest first.
func (a *AuditLog) List(ctx context.Context, f AuditFilter) (Page[models.AdminAction], error) {
	page := Page[models.AdminAction]{Limit: f.Limit, Offset: f.Offset, Items: []models.AdminAction{}}
	q := a.db.WithContext(ctx).Model(&models.AdminAction{})
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
	if err := q.Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count audit log: %w", err)
	}
	if err := q.Order("created_at DESC, id DESC").Limit(f.Limit).Offset(f.Offset).Find(&page.Items).Error; err != nil {
		return page, fmt.Errorf("list audit log: %w", err)
	}
	return page, nil
}
