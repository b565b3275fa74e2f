package policies

import (
	"context"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/audit"
)

// ApprovalRule is when a token's withdrawals wait for approval: above an amount, or to
// an address first paid less than NewAddressDays ago (or never), with how many distinct
// admin approvals they then need. MerchantID nil is the platform's default; a merchant's
// own rule replaces it whole.
type ApprovalRule struct {
	MerchantID        *string
	Token             string
	AmountAbove       *decimal.Decimal
	NewAddressDays    *int
	ApprovalsRequired int
	UpdatedAt         time.Time
	UpdatedBy         string
}

// TableName is the rules' table.
func (ApprovalRule) TableName() string { return "approval_rules" }

// MaxApprovals bounds the approvals a rule may require.
const MaxApprovals = 5

// SetApprovalRule replaces the approval rule of a token for a merchant (or the default,
// merchant nil), and records the change.
func (s *Service) SetApprovalRule(ctx context.Context, r ApprovalRule, actor string) (ApprovalRule, error) {
	tok, err := s.pricing.Token(ctx, r.Token)
	if err != nil {
		return r, err
	}
	r.Token = tok.Symbol
	if v := r.AmountAbove; v != nil && (!v.IsPositive() || !v.Equal(v.Truncate(tok.Decimals))) {
		return r, services.Invalid(services.CodeInvalidRequest, "amountAbove", "amountAbove must be a positive amount with at most %d decimal places, or null", tok.Decimals)
	}
	if d := r.NewAddressDays; d != nil && (*d < 1 || *d > 3650) {
		return r, services.Invalid(services.CodeInvalidRequest, "newAddressDays", "newAddressDays must be 1 to 3650, or null")
	}
	if r.AmountAbove == nil && r.NewAddressDays == nil {
		return r, services.Invalid(services.CodeInvalidRequest, "amountAbove", "a rule needs amountAbove, newAddressDays or both; to remove a merchant's rule, DELETE it")
	}
	if r.ApprovalsRequired == 0 {
		r.ApprovalsRequired = 1
	}
	if r.ApprovalsRequired < 1 || r.ApprovalsRequired > MaxApprovals {
		return r, services.Invalid(services.CodeInvalidRequest, "approvalsRequired", "approvalsRequired must be 1 to %d", MaxApprovals)
	}
	if r.MerchantID != nil && *r.MerchantID == "" {
		r.MerchantID = nil
	}
	r.UpdatedAt, r.UpdatedBy = s.clock.Now(), actor
	return r, replace(ctx, s, r.MerchantID, r.Token, &r, actor, r.UpdatedAt, audit.ApprovalRuleSet, "approval_rule")
}

// RemoveApprovalRule deletes a token's rule for a merchant, or with merchantID empty the
// platform's default, and records it.
func (s *Service) RemoveApprovalRule(ctx context.Context, merchantID, token, actor string) error {
	return replace[ApprovalRule](ctx, s, merchantScope(merchantID), strings.ToUpper(token), nil, actor, s.clock.Now(), audit.ApprovalRuleSet, "approval_rule")
}

// ApprovalRules returns the defaults and every merchant's own rules (or one merchant's,
// with the defaults), defaults first.
func (s *Service) ApprovalRules(ctx context.Context, merchantID string) ([]ApprovalRule, error) {
	return list[ApprovalRule](ctx, s, merchantID)
}
