package withdrawals

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
	"github.com/paycore/withdrawals/services/webhooks"
)

// Mass payout modes.
const (
	AllOrNothing = "all_or_nothing" // every item valid and the total affordable, or nothing is created
	Partial      = "partial"        // the valid items are created, the others answered with their error
)

// MaxBatchItems bounds a mass payout request.
const MaxBatchItems = 1000

// BatchItem is one payout of a mass payout request. Err, when set, is the item's own
// problem found before the service saw it (an amount that is not a number).
type BatchItem struct {
	Reference string
	Token     string
	Amount    decimal.Decimal
	Address   string
	Network   string
	Metadata  json.RawMessage
	Err       error
}

// BatchInput is a merchant's mass payout request.
type BatchInput struct {
	MerchantID     string
	KeyID          string
	Mode           string
	IdempotencyKey string // optional, for the whole request
	Items          []BatchItem
}

// ItemOutcome is what became of one item, as stored with the request (its outcomes).
type ItemOutcome struct {
	Index        int        `json:"index"`
	Reference    string     `json:"reference"`
	WithdrawalID *string    `json:"withdrawalId"`
	Error        *ItemError `json:"error"`
	// what the item asked (the CSV shows it for refused items, which have no withdrawal)
	Token   string `json:"token,omitempty"`
	Network string `json:"network,omitempty"`
	Amount  string `json:"amount,omitempty"`
	Address string `json:"address,omitempty"`
}

// ItemError is an item's refusal, in the contract's error format.
type ItemError struct {
	Code    string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// BatchRejectedError: nothing of the request was created; Items are the items'
// problems (an all_or_nothing request with an invalid item, a request whose valid items
// the balance or limits do not cover, or a partial one with no valid item).
type BatchRejectedError struct {
	Message string
	Items   []ItemOutcome
}

func (e *BatchRejectedError) Error() string { return e.Message }

// BatchView is a mass payout request and where its withdrawals are.
type BatchView struct {
	models.BatchRequest
	Counts map[models.WithdrawalStatus]int
	Totals []BatchTotal
	Items  []ItemOutcome
}

// BatchTotal sums a request's withdrawals of one token and network: what they carry,
// their fees and net amounts, and what of it was paid.
type BatchTotal struct {
	Token, Network             string
	Amount, Fee, Net, Paid     decimal.Decimal
	Withdrawals, ConfirmedOnes int
}

// BatchSummary is a request as the API and the withdrawal_batch.completed event show
// it. Amounts are decimal strings.
type BatchSummary struct {
	ID            string              `json:"id"`
	Mode          string              `json:"mode"`
	Status        string              `json:"status"` // processing until every withdrawal is final, then completed
	ItemsReceived int                 `json:"itemsReceived"`
	ItemsCreated  int                 `json:"itemsCreated"`
	ItemsRefused  int                 `json:"itemsRefused"`
	Counts        map[string]int      `json:"counts"`
	Totals        []BatchTotalSummary `json:"totals"`
	CreatedAt     string              `json:"createdAt"`
	CompletedAt   *string             `json:"completedAt"`
	Items         []ItemOutcome       `json:"items,omitempty"`
}

// BatchTotalSummary is a BatchTotal as shown.
type BatchTotalSummary struct {
	Token       string `json:"token"`
	Network     string `json:"network"`
	Withdrawals int    `json:"withdrawals"`
	Amount      string `json:"amount"`
	Fee         string `json:"fee"`
	NetAmount   string `json:"netAmount"`
	Confirmed   int    `json:"confirmed"`
	PaidAmount  string `json:"paidAmount"`
}

// SummaryOf shows v.
func SummaryOf(v BatchView) BatchSummary {
	out := BatchSummary{ID: v.ID, Mode: v.Mode, Status: "processing", ItemsReceived: v.ItemsReceived, ItemsCreated: v.ItemsCreated,
		ItemsRefused: v.ItemsReceived - v.ItemsCreated, Counts: map[string]int{}, Totals: []BatchTotalSummary{},
		CreatedAt: eventTime(v.CreatedAt), Items: v.Items}
	if v.CompletedAt != nil {
		at := eventTime(*v.CompletedAt)
		out.Status, out.CompletedAt = "completed", &at
	}
	for st, n := range v.Counts {
		out.Counts[string(st)] = n
	}
	for _, t := range v.Totals {
		out.Totals = append(out.Totals, BatchTotalSummary{Token: t.Token, Network: t.Network, Withdrawals: t.Withdrawals,
			Amount: models.FormatAmount(t.Amount), Fee: models.FormatAmount(t.Fee), NetAmount: models.FormatAmount(t.Net),
			Confirmed: t.ConfirmedOnes, PaidAmount: models.FormatAmount(t.Paid)})
	}
	return out
}

// BatchResult is a created (or replayed) request.
type BatchResult struct {
	Batch    BatchView
	Replayed bool
}

// CreateBatch validates every item, then records the request and its valid items in one
// transaction. The balance and the limits are the request's: when its valid items do
// not fit them together, nothing is created, in either mode (a partial payout of an
// arbitrary subset is not what a merchant paying a list wants). With an idempotency key
// a repeated request is answered with the request first created.
func (s *Service) CreateBatch(ctx context.Context, in BatchInput) (BatchResult, error) {
	if in.Mode != AllOrNothing && in.Mode != Partial {
		return BatchResult{}, services.Invalid(services.CodeInvalidRequest, "mode", "mode must be all_or_nothing or partial")
	}
	if len(in.Items) == 0 || len(in.Items) > MaxBatchItems {
		return BatchResult{}, services.Invalid(services.CodeInvalidRequest, "items", "items must hold 1 to %d payouts", MaxBatchItems)
	}
	if in.IdempotencyKey != "" {
		if err := validateIdempotencyKey(in.IdempotencyKey); err != nil {
			return BatchResult{}, err
		}
	}
	b := models.BatchRequest{ID: ids.BatchRequest(), MerchantID: in.MerchantID, Mode: in.Mode, ItemsReceived: len(in.Items),
		CreatedAt: s.clock.Now()}
	if in.KeyID != "" {
		b.CreatedByKey = &in.KeyID
	}
	outcomes, prepared := s.prepareItems(ctx, b.ID, in)
	if in.IdempotencyKey != "" {
		key := in.IdempotencyKey
		b.IdempotencyKey, b.RequestHash = &key, batchHash(in, outcomes)
		if res, found, err := s.replayBatch(ctx, b); found || err != nil {
			return res, err
		}
	}
	for {
		refused, valid := refusedItems(outcomes)
		if len(refused) > 0 && (in.Mode == AllOrNothing || valid == 0) {
			return BatchResult{}, &BatchRejectedError{Message: fmt.Sprintf("%d of %d items were refused; nothing was created", len(refused), len(in.Items)), Items: refused}
		}
		var ws []NewWithdrawal
		var at []int
		for i, w := range prepared {
			if outcomes[i].Error == nil {
				ws, at = append(ws, w), append(at, i)
			}
		}
		var err error
		if b.Outcomes, err = json.Marshal(outcomes); err != nil {
			return BatchResult{}, err
		}
		results, err := s.recorder.RecordBatch(ctx, b, ws)
		if err == nil {
			view, err := s.batchView(ctx, b.MerchantID, b.ID)
			view.Items = outcomes
			return BatchResult{Batch: view}, err
		}
		if !errors.Is(err, ErrBatchIncomplete) {
			return s.batchConflict(ctx, b, err)
		}
		// Refused by the database's rules: those items take their errors; a balance or
		// limit that does not cover the request refuses it whole.
		whole, refusedNow := false, 0
		for j, o := range results {
			if o.Kind == Created {
				continue
			}
			refusedNow++
			item := &prepared[at[j]]
			e := outcomeError(item, o)
			if errors.Is(e, services.ErrPayoutsFrozen) {
				return BatchResult{}, e
			}
			whole = whole || o.Kind == Insufficient || o.Kind == LimitExceeded
			outcomes[at[j]] = refusedOutcome(outcomes[at[j]], e)
		}
		if whole {
			refused, _ := refusedItems(outcomes)
			return BatchResult{}, &BatchRejectedError{Message: "The available balance or the payout limits do not cover this request's items together; nothing was created", Items: refused}
		}
		if refusedNow == 0 { // every item recorded, yet not the request: never resend blindly
			return BatchResult{}, fmt.Errorf("batch request %s: rolled back with every item recorded", b.ID)
		}
	}
}

// prepareItems validates and prices every item; an item's problem becomes its outcome.
func (s *Service) prepareItems(ctx context.Context, batchID string, in BatchInput) ([]ItemOutcome, []NewWithdrawal) {
	outcomes := make([]ItemOutcome, len(in.Items))
	prepared := make([]NewWithdrawal, len(in.Items))
	seen := make(map[string]bool, len(in.Items))
	for i, it := range in.Items {
		outcomes[i] = ItemOutcome{Index: i, Reference: it.Reference, Token: strings.ToUpper(it.Token), Network: strings.ToLower(it.Network),
			Amount: models.FormatAmount(it.Amount), Address: it.Address}
		err := it.Err
		switch {
		case err != nil:
		case !validReference(it.Reference):
			err = services.Invalid(services.CodeInvalidRequest, "reference", "reference must be 1 to 64 printable ASCII characters")
		case seen[it.Reference]:
			err = services.Invalid(services.CodeDuplicateReference, "reference", "reference %q appears more than once in this request", it.Reference)
		default:
			prepared[i], err = s.Prepare(ctx, CreateInput{MerchantID: in.MerchantID, Token: it.Token, Amount: it.Amount,
				Address: it.Address, Network: it.Network, Metadata: it.Metadata, KeyID: in.KeyID,
				BatchRequestID: batchID, Reference: it.Reference})
		}
		seen[it.Reference] = true
		if err != nil {
			outcomes[i] = refusedOutcome(outcomes[i], err)
		} else {
			outcomes[i].WithdrawalID = &prepared[i].ID
			outcomes[i].Token, outcomes[i].Network = prepared[i].Token, prepared[i].Network
		}
	}
	return outcomes, prepared
}

func validReference(r string) bool {
	if len(r) == 0 || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		if r[i] < 0x20 || r[i] > 0x7e {
			return false
		}
	}
	return true
}

// refusedOutcome is o refused by err, in the contract's error format.
func refusedOutcome(o ItemOutcome, err error) ItemOutcome {
	o.WithdrawalID = nil
	o.Error = &ItemError{Code: "INVALID_REQUEST", Message: err.Error()}
	var validation *services.ValidationError
	var insufficient *services.InsufficientBalanceError
	var limit *services.LimitExceededError
	switch {
	case errors.As(err, &validation):
		o.Error.Code, o.Error.Field = string(validation.Code), validation.Field
	case errors.As(err, &insufficient):
		o.Error.Code = "INSUFFICIENT_BALANCE"
	case errors.As(err, &limit):
		o.Error.Code = "LIMIT_EXCEEDED"
	case errors.Is(err, services.ErrAddressNotWhitelisted):
		o.Error.Code, o.Error.Field = "ADDRESS_NOT_WHITELISTED", "address"
	}
	return o
}

// refusedItems returns the refused items' outcomes and counts the others.
func refusedItems(outcomes []ItemOutcome) (refused []ItemOutcome, valid int) {
	for _, o := range outcomes {
		if o.Error != nil {
			refused = append(refused, o)
		} else {
			valid++
		}
	}
	return refused, valid
}

// batchConflict answers a request whose transaction PostgreSQL refused: a concurrent
// request with the same idempotency key, or an item reference a concurrent request took.
func (s *Service) batchConflict(ctx context.Context, b models.BatchRequest, err error) (BatchResult, error) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return BatchResult{}, err
	}
	if pgErr.ConstraintName == "withdrawal_batch_requests_idempotency_idx" {
		if res, found, err := s.replayBatch(ctx, b); found || err != nil {
			return res, err
		}
		return BatchResult{}, services.ErrIdempotencyInUse
	}
	return BatchResult{}, &services.ConflictError{Code: "DUPLICATE_REFERENCE",
		Message: "A reference of this request was taken by a concurrent request; nothing was created, retry to see which"}
}

// replayBatch answers a request whose idempotency key is bound, when it is.
func (s *Service) replayBatch(ctx context.Context, b models.BatchRequest) (BatchResult, bool, error) {
	var existing models.BatchRequest
	res := s.db.Gorm(ctx).Where("merchant_id = ? AND idempotency_key = ?", b.MerchantID, *b.IdempotencyKey).Limit(1).Find(&existing)
	if res.Error != nil {
		return BatchResult{}, false, fmt.Errorf("find batch idempotency key: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return BatchResult{}, false, nil
	}
	if string(existing.RequestHash) != string(b.RequestHash) {
		return BatchResult{}, true, services.ErrIdempotencyMismatch
	}
	view, err := s.GetBatch(ctx, b.MerchantID, existing.ID)
	return BatchResult{Batch: view, Replayed: true}, true, err
}

// batchHash fingerprints a request as it was understood: its mode and each item
// normalised, so equal requests hash equally.
func batchHash(in BatchInput, outcomes []ItemOutcome) []byte {
	type item struct{ Reference, Token, Network, Amount, Address, Metadata string }
	items := make([]item, len(in.Items))
	for i, it := range in.Items {
		metadata, _ := canonicalMetadata(it.Metadata)
		items[i] = item{it.Reference, outcomes[i].Token, strings.ToLower(it.Network), it.Amount.String(), it.Address, string(metadata)}
	}
	canonical, _ := json.Marshal(map[string]any{"mode": in.Mode, "items": items})
	sum := sha256.Sum256(canonical)
	return sum[:]
}

// GetBatch returns one of the merchant's mass payout requests (any merchant's with
// merchantID empty) with its items' outcomes.
func (s *Service) GetBatch(ctx context.Context, merchantID, id string) (BatchView, error) {
	view, err := s.batchView(ctx, merchantID, id)
	if err != nil {
		return view, err
	}
	if err := json.Unmarshal(view.Outcomes, &view.Items); err != nil {
		return view, fmt.Errorf("batch %s outcomes: %w", id, err)
	}
	return view, nil
}

// batchView reads a request and sums its withdrawals.
func (s *Service) batchView(ctx context.Context, merchantID, id string) (BatchView, error) {
	var view BatchView
	q := s.db.Gorm(ctx).Where("id = ?", id)
	if merchantID != "" {
		q = q.Where("merchant_id = ?", merchantID)
	}
	res := q.Limit(1).Find(&view.BatchRequest)
	if res.Error != nil {
		return view, fmt.Errorf("get batch request: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return view, fmt.Errorf("batch request %s: %w", id, services.ErrNotFound)
	}
	var err error
	view.Counts, view.Totals, err = batchSums(s.db.Gorm(ctx), id)
	return view, err
}

// batchSums counts a request's withdrawals per status and sums them per token and
// network.
func batchSums(db *gorm.DB, id string) (map[models.WithdrawalStatus]int, []BatchTotal, error) {
	var rows []struct {
		Status           models.WithdrawalStatus
		Token, Network   string
		N                int
		Amount, Fee, Net decimal.Decimal
	}
	if err := db.Raw(`SELECT status, token, network, count(*) AS n, sum(amount) AS amount, sum(fee_total) AS fee, sum(net_amount) AS net
	                    FROM withdrawals WHERE batch_request_id = ? GROUP BY status, token, network`, id).Scan(&rows).Error; err != nil {
		return nil, nil, fmt.Errorf("sum batch request: %w", err)
	}
	counts := make(map[models.WithdrawalStatus]int, len(models.WithdrawalStatuses))
	for _, st := range models.WithdrawalStatuses {
		counts[st] = 0
	}
	byKey := map[[2]string]*BatchTotal{}
	for _, r := range rows {
		counts[r.Status] += r.N
		t := byKey[[2]string{r.Token, r.Network}]
		if t == nil {
			t = &BatchTotal{Token: r.Token, Network: r.Network}
			byKey[[2]string{r.Token, r.Network}] = t
		}
		t.Amount, t.Fee, t.Net, t.Withdrawals = t.Amount.Add(r.Amount), t.Fee.Add(r.Fee), t.Net.Add(r.Net), t.Withdrawals+r.N
		if r.Status == models.StatusConfirmed {
			t.Paid, t.ConfirmedOnes = t.Paid.Add(r.Net), t.ConfirmedOnes+r.N
		}
	}
	totals := make([]BatchTotal, 0, len(byKey))
	for _, t := range byKey {
		totals = append(totals, *t)
	}
	sort.Slice(totals, func(i, j int) bool {
		return totals[i].Token+"/"+totals[i].Network < totals[j].Token+"/"+totals[j].Network
	})
	return counts, totals, nil
}

// completeBatches marks the mass payouts of ws whose last open withdrawal ws just made
// final, and announces each with withdrawal_batch.completed. The requests' rows are
// locked first (in id order), so of two transactions finalising a request's last two
// withdrawals the later one sees the earlier one's change and completes it, once.
func (l *Lifecycle) completeBatches(ctx context.Context, tx *gorm.DB, ws []*models.Withdrawal, now time.Time) ([]models.WebhookEvent, error) {
	var batchIDs []string
	for _, w := range ws {
		if w.BatchRequestID != nil && !slices.Contains(batchIDs, *w.BatchRequestID) {
			batchIDs = append(batchIDs, *w.BatchRequestID)
		}
	}
	if len(batchIDs) == 0 {
		return nil, nil
	}
	sort.Strings(batchIDs)
	if err := tx.Exec(`SELECT FROM withdrawal_batch_requests WHERE id IN ? ORDER BY id FOR UPDATE`, batchIDs).Error; err != nil {
		return nil, fmt.Errorf("lock batch requests: %w", err)
	}
	var completed []models.BatchRequest
	if err := tx.Raw(`
		UPDATE withdrawal_batch_requests r SET completed_at = ?
		 WHERE r.id IN ? AND r.completed_at IS NULL
		   AND NOT EXISTS (SELECT 1 FROM withdrawals w WHERE w.batch_request_id = r.id AND w.status IN ?)
		RETURNING r.*`, now, batchIDs, models.OpenStatuses()).Scan(&completed).Error; err != nil {
		return nil, fmt.Errorf("complete batch requests: %w", err)
	}
	events := make([]models.WebhookEvent, 0, len(completed))
	for _, b := range completed {
		counts, totals, err := batchSums(tx, b.ID)
		if err != nil {
			return nil, err
		}
		evt, err := webhooks.NewEvent(b.MerchantID, webhooks.EventBatchCompleted, b.ID,
			SummaryOf(BatchView{BatchRequest: b, Counts: counts, Totals: totals}), now)
		if err != nil {
			return nil, err
		}
		events = append(events, evt)
	}
	return events, nil
}

// BatchWithdrawals returns a mass payout's withdrawals by id.
func (s *Service) BatchWithdrawals(ctx context.Context, id string) (map[string]models.Withdrawal, error) {
	var ws []models.Withdrawal
	if err := s.db.Gorm(ctx).Where("batch_request_id = ?", id).Find(&ws).Error; err != nil {
		return nil, fmt.Errorf("batch withdrawals: %w", err)
	}
	out := make(map[string]models.Withdrawal, len(ws))
	for _, w := range ws {
		out[w.ID] = w
	}
	return out, nil
}
