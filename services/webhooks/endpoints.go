// Package webhooks is merchants' webhook endpoints and the delivery of the events the
// service announces: the outbox that writes events with the change they announce, the
// delivery job that signs and sends them, and the delivery log.
package webhooks

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/internal/metrics"
	"github.com/paycore/withdrawals/internal/webhookhttp"
	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services"
)

// Config tunes webhook registration and delivery.
type Config struct {
	AllowPrivateURLs bool          // WEBHOOK_ALLOW_PRIVATE_URLS: local development only
	Timeout          time.Duration // per attempt
	DisableAfter     time.Duration // continuous failure before an endpoint is disabled
	RotationOverlap  time.Duration // how long the old secret keeps signing
	RetryBase        time.Duration // first retry delay; grows threefold per attempt
	RetryMax         time.Duration // cap on one retry delay
	// MerchantConcurrency caps one merchant's attempts in flight per instance
	// (WEBHOOK_MERCHANT_CONCURRENCY), so a receiver that hangs holds that many of an
	// instance's delivery workers at most.
	MerchantConcurrency int
}

// maxEndpoints keeps one merchant from fanning every event out to hundreds of URLs.
const maxEndpoints = 16

// JobInserter puts River jobs in the caller's transaction; River's client is one.
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Service owns merchants' webhook endpoints and the delivery of their events.
type Service struct {
	db      *dbtx.DB
	clock   services.Clock
	cfg     Config
	outbox  *Outbox
	jobs    JobInserter
	client  *http.Client
	metrics *metrics.Metrics
	logger  *slog.Logger
	// inFlight counts each merchant's attempts in flight on this instance.
	inFlight *merchantSlots
}

// New wires the webhook use cases.
func New(db *dbtx.DB, clock services.Clock, cfg Config, outbox *Outbox, jobs JobInserter, m *metrics.Metrics, logger *slog.Logger) *Service {
	cfg.MerchantConcurrency = cmp.Or(cfg.MerchantConcurrency, 4)
	return &Service{db: db, clock: clock, cfg: cfg, outbox: outbox, jobs: jobs, metrics: m, logger: logger,
		inFlight: newMerchantSlots(cfg.MerchantConcurrency), client: webhookhttp.NewClient(cfg.Timeout, cfg.AllowPrivateURLs)}
}

// EndpointInput registers an endpoint.
type EndpointInput struct {
	MerchantID  string
	URL         string
	Events      []string // empty: every event
	Description string
}

// CreateEndpoint registers a receiver and returns it with its secret, which is shown
// only now.
func (s *Service) CreateEndpoint(ctx context.Context, in EndpointInput) (models.WebhookEndpoint, error) {
	in.URL = strings.TrimSpace(in.URL)
	if err := webhookhttp.ValidateURL(in.URL, s.cfg.AllowPrivateURLs); err != nil {
		return models.WebhookEndpoint{}, services.Invalid(services.CodeInvalidRequest, "url", "%v", err)
	}
	events := in.Events
	if len(events) == 0 {
		events = EventTypes
	}
	for _, e := range events {
		if !slices.Contains(EventTypes, e) {
			return models.WebhookEndpoint{}, services.Invalid(services.CodeInvalidRequest, "events", "unknown event %q (known: %s)", e, strings.Join(EventTypes, ", "))
		}
	}
	if len(in.Description) > 500 {
		return models.WebhookEndpoint{}, services.Invalid(services.CodeInvalidRequest, "description", "description must be at most 500 characters")
	}
	ep := models.WebhookEndpoint{ID: ids.Endpoint(), MerchantID: in.MerchantID, URL: in.URL, Description: in.Description,
		Events: slices.Compact(slices.Sorted(slices.Values(events))), Secret: webhookhttp.NewSecret(), CreatedAt: s.clock.Now()}
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		// Concurrent registrations of one merchant take turns, so the count below cannot
		// be passed by requests that each saw room for one more. NO KEY UPDATE does not
		// block the inserts that reference the merchant (withdrawals, deliveries).
		if err := tx.Exec(`SELECT 1 FROM merchants WHERE id = ? FOR NO KEY UPDATE`, in.MerchantID).Error; err != nil {
			return fmt.Errorf("lock merchant: %w", err)
		}
		var n int64
		if err := tx.Model(&models.WebhookEndpoint{}).Where("merchant_id = ? AND deleted_at IS NULL", in.MerchantID).Count(&n).Error; err != nil {
			return fmt.Errorf("count endpoints: %w", err)
		}
		if n >= maxEndpoints {
			return services.Invalid(services.CodeInvalidRequest, "url", "a merchant can have at most %d webhook endpoints", maxEndpoints)
		}
		return tx.Create(&ep).Error
	})
	return ep, err
}

// ListEndpoints returns the merchant's endpoints, with whether each is disabled and why.
func (s *Service) ListEndpoints(ctx context.Context, merchantID string) ([]models.WebhookEndpoint, error) {
	eps := []models.WebhookEndpoint{}
	err := s.db.Gorm(ctx).Where("merchant_id = ? AND deleted_at IS NULL", merchantID).Order("created_at, id").Find(&eps).Error
	return eps, err
}

func (s *Service) endpoint(ctx context.Context, tx *gorm.DB, merchantID, id string) (models.WebhookEndpoint, error) {
	var ep models.WebhookEndpoint
	res := tx.WithContext(ctx).Where("id = ? AND merchant_id = ? AND deleted_at IS NULL", id, merchantID).Limit(1).Find(&ep)
	if res.Error != nil {
		return ep, fmt.Errorf("find endpoint: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ep, fmt.Errorf("endpoint %s: %w", id, services.ErrNotFound)
	}
	return ep, nil
}

// DeleteEndpoint stops all deliveries to an endpoint. Its delivery history stays.
func (s *Service) DeleteEndpoint(ctx context.Context, merchantID, id string) error {
	res := s.db.Gorm(ctx).Model(&models.WebhookEndpoint{}).
		Where("id = ? AND merchant_id = ? AND deleted_at IS NULL", id, merchantID).UpdateColumn("deleted_at", s.clock.Now())
	if res.Error != nil {
		return fmt.Errorf("delete endpoint: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("endpoint %s: %w", id, services.ErrNotFound)
	}
	return nil
}

// RotateSecret gives an endpoint a new secret; the old one keeps signing alongside it
// for RotationOverlap, so receivers can switch without losing a delivery.
func (s *Service) RotateSecret(ctx context.Context, merchantID, id string) (models.WebhookEndpoint, error) {
	var ep models.WebhookEndpoint
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		var err error
		if ep, err = s.endpoint(ctx, tx.Clauses(clause.Locking{Strength: "UPDATE"}), merchantID, id); err != nil {
			return err
		}
		now := s.clock.Now()
		expires := now.Add(s.cfg.RotationOverlap)
		old := ep.Secret
		ep.PreviousSecret, ep.PreviousSecretExpiresAt, ep.Secret = &old, &expires, webhookhttp.NewSecret()
		return tx.Model(&models.WebhookEndpoint{}).Where("id = ?", id).UpdateColumns(map[string]any{
			"secret": ep.Secret, "previous_secret": old, "previous_secret_expires_at": expires}).Error
	})
	return ep, err
}

// SendTest queues a "ping" event to one endpoint, enabled or not: a way to check a
// receiver, and to see a disabled one answer again.
func (s *Service) SendTest(ctx context.Context, merchantID, id string) (models.WebhookEvent, error) {
	var evt models.WebhookEvent
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		ep, err := s.endpoint(ctx, tx.DB, merchantID, id)
		if err != nil {
			return err
		}
		evt, err = NewEvent(merchantID, EventPing, ep.ID,
			map[string]any{"endpointId": ep.ID, "message": "Test event from the withdrawals service"}, s.clock.Now())
		if err != nil {
			return err
		}
		return s.outbox.Write(ctx, tx, []models.WebhookEvent{evt}, ep.ID)
	})
	return evt, err
}

// DeliveryFilter narrows the delivery log.
type DeliveryFilter struct {
	MerchantID, EndpointID, Status, EventType string
	SubjectID                                 string // the deliveries of the events about one withdrawal
	services.PageRequest
}

// DeliveryView is a delivery with its attempts.
type DeliveryView struct {
	models.WebhookDelivery
	Attempts []models.WebhookAttempt
}

// ListDeliveries pages through the merchant's deliveries, newest first, each with every
// attempt (two queries for the page). The total is counted up to services.CountBound.
func (s *Service) ListDeliveries(ctx context.Context, f DeliveryFilter) (services.Page[DeliveryView], error) {
	if f.Status != "" {
		switch models.DeliveryStatus(f.Status) {
		case models.DeliveryPending, models.DeliverySucceeded, models.DeliveryFailed:
		default:
			return services.Page[DeliveryView]{}, services.Invalid(services.CodeInvalidRequest, "status", "status must be pending, succeeded or failed")
		}
	}
	if f.EventType != "" && f.EventType != EventPing && !slices.Contains(EventTypes, f.EventType) {
		return services.Page[DeliveryView]{}, services.Invalid(services.CodeInvalidRequest, "eventType", "unknown event type %q", f.EventType)
	}
	owned := func() *gorm.DB {
		return s.db.Gorm(ctx).Model(&models.WebhookDelivery{}).Where("merchant_id = ?", f.MerchantID)
	}
	rows := func() *gorm.DB {
		q := owned()
		for column, value := range map[string]string{"endpoint_id": f.EndpointID, "status": f.Status, "event_type": f.EventType} {
			if value != "" {
				q = q.Where(column+" = ?", value)
			}
		}
		if f.SubjectID != "" {
			q = q.Where("event_id IN (SELECT id FROM webhook_events WHERE subject_id = ?)", f.SubjectID)
		}
		return q
	}
	page := services.Page[models.WebhookDelivery]{Limit: f.Limit, Offset: f.Offset}
	if err := services.CountUpTo(rows(), &page); err != nil {
		return services.Page[DeliveryView]{}, fmt.Errorf("count deliveries: %w", err)
	}
	if err := services.ReadPage(rows, owned, f.PageRequest, "one of your deliveries", &page); err != nil {
		return services.Page[DeliveryView]{}, fmt.Errorf("list deliveries: %w", err)
	}
	ids := make([]string, len(page.Items))
	for i, d := range page.Items {
		ids[i] = d.ID
	}
	attempts, err := services.Children(s.db.Gorm(ctx), ids, "delivery_id", "attempted_at, id", func(a models.WebhookAttempt) string { return a.DeliveryID })
	if err != nil {
		return services.Page[DeliveryView]{}, fmt.Errorf("list attempts: %w", err)
	}
	views := make([]DeliveryView, len(page.Items))
	for i, d := range page.Items {
		views[i] = DeliveryView{WebhookDelivery: d, Attempts: append([]models.WebhookAttempt{}, attempts[d.ID]...)}
	}
	return services.Carry(page, views), nil
}

// RetryDelivery sends a failed delivery again (the same event id and body, so a
// receiver that already has it deduplicates), on the deliver job's schedule from its
// first attempt. A delivery still pending (queued, being attempted or waiting for its
// next attempt) or already succeeded is left as it is: retrying cannot put a second
// attempt in flight or send a delivered event again. It returns the delivery's state.
func (s *Service) RetryDelivery(ctx context.Context, merchantID, id string) (models.WebhookDelivery, error) {
	var d models.WebhookDelivery
	err := s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		res := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ? AND merchant_id = ?", id, merchantID).Limit(1).Find(&d)
		if res.Error != nil {
			return fmt.Errorf("find delivery: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("delivery %s: %w", id, services.ErrNotFound)
		}
		switch d.Status {
		case models.DeliveryPending:
			return nil
		case models.DeliverySucceeded:
			return &services.InvalidStateError{ID: id, Status: string(d.Status), Message: fmt.Sprintf("Delivery %s already succeeded; it is not sent again", id)}
		}
		if _, err := s.endpoint(ctx, tx.DB, merchantID, d.EndpointID); err != nil {
			return &services.InvalidStateError{ID: id, Status: string(d.Status), Message: "The delivery's endpoint was deleted"}
		}
		now := s.clock.Now()
		res = tx.Model(&models.WebhookDelivery{}).Where("id = ? AND status = ?", id, models.DeliveryFailed).
			UpdateColumns(map[string]any{"status": models.DeliveryPending, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("retry delivery: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("retry delivery %s: the locked delivery changed", id)
		}
		d.Status, d.UpdatedAt = models.DeliveryPending, now
		if _, err := s.jobs.InsertTx(ctx, tx.SQLTx(), DeliverArgs{DeliveryID: id}, &river.InsertOpts{Queue: Queue, MaxAttempts: s.outbox.maxAttempts}); err != nil {
			return fmt.Errorf("retry delivery: enqueue: %w", err)
		}
		return nil
	})
	return d, err
}
