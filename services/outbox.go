package services

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
)

// JobInserter puts River jobs in the caller's transaction; *river.Client[*sql.Tx] is one.
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Outbox is everything a transaction hands to the world after it commits: webhook
// events (and their deliveries) and background jobs. Both are rows written in the
// caller's transaction, so a rolled-back change leaves neither, and a committed one
// always has both.
type Outbox struct {
	jobs               JobInserter
	maxWebhookAttempts int
}

// NewOutbox returns an outbox; AttachJobs gives it the job queue once that exists.
func NewOutbox(maxWebhookAttempts int) *Outbox {
	return &Outbox{maxWebhookAttempts: maxWebhookAttempts}
}

// AttachJobs gives the outbox its job queue. The queue's workers use the services
// that write to the outbox, so the two are wired in two steps.
func (o *Outbox) AttachJobs(jobs JobInserter) { o.jobs = jobs }

// enqueue inserts a River job in the transaction.
func (o *Outbox) enqueue(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error {
	sqlTx, err := o.jobTx(tx)
	if err != nil {
		return err
	}
	if opts == nil {
		opts = &river.InsertOpts{}
	}
	if _, err := o.jobs.InsertTx(ctx, sqlTx, args, opts); err != nil {
		return fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// jobTx is the database/sql transaction under a GORM one, which River inserts into.
func (o *Outbox) jobTx(tx *gorm.DB) (*sql.Tx, error) {
	if o.jobs == nil {
		return nil, errors.New("outbox: no job queue attached")
	}
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return nil, errors.New("outbox: enqueue needs a database transaction")
	}
	return sqlTx, nil
}

// Event types announced to merchants.
const (
	EventWithdrawalPending    = "withdrawal.pending"
	EventWithdrawalProcessing = "withdrawal.processing"
	EventWithdrawalConfirmed  = "withdrawal.confirmed"
	EventWithdrawalFailed     = "withdrawal.failed"
	EventWithdrawalCancelled  = "withdrawal.cancelled"
	EventPing                 = "ping"
)

// EventTypes are the events an endpoint can subscribe to.
var EventTypes = []string{EventWithdrawalPending, EventWithdrawalProcessing, EventWithdrawalConfirmed, EventWithdrawalFailed, EventWithdrawalCancelled}

// record writes one event and a delivery (with its job) for every enabled endpoint of
// the merchant subscribed to it. only, when set, restricts delivery to that endpoint
// (test pings).
func (o *Outbox) record(ctx context.Context, tx *gorm.DB, merchantID, eventType, subjectID string, data any, now time.Time, only *models.WebhookEndpoint) (models.WebhookEvent, error) {
	evt, err := newEvent(merchantID, eventType, subjectID, data, now)
	if err != nil {
		return evt, err
	}
	if err := tx.Create(&evt).Error; err != nil {
		return evt, fmt.Errorf("outbox: insert event: %w", err)
	}
	var endpointIDs []string
	if only != nil {
		endpointIDs = []string{only.ID}
	} else if err := tx.Model(&models.WebhookEndpoint{}).
		Where("merchant_id = ? AND deleted_at IS NULL AND disabled_at IS NULL AND jsonb_exists(events, ?)", merchantID, eventType).
		Pluck("id", &endpointIDs).Error; err != nil {
		return evt, fmt.Errorf("outbox: find endpoints: %w", err)
	}
	return evt, o.fanOut(ctx, tx, evt, endpointIDs)
}

// recordMany writes one event per withdrawal (their status change) and the deliveries
// to each merchant's subscribed endpoints: one insert for the events and one query for
// the endpoints of every merchant concerned.
func (o *Outbox) recordMany(ctx context.Context, tx *gorm.DB, ws []*models.Withdrawal, eventType string, now time.Time) error {
	events := make([]models.WebhookEvent, len(ws))
	merchants := make([]string, 0, len(ws))
	seen := map[string]bool{}
	for i, w := range ws {
		evt, err := newEvent(w.MerchantID, eventType, w.ID, eventData(*w), now)
		if err != nil {
			return err
		}
		events[i] = evt
		if !seen[w.MerchantID] {
			seen[w.MerchantID] = true
			merchants = append(merchants, w.MerchantID)
		}
	}
	if err := tx.CreateInBatches(&events, 1000).Error; err != nil {
		return fmt.Errorf("outbox: insert events: %w", err)
	}
	var subscribed []struct{ ID, MerchantID string }
	if err := tx.Model(&models.WebhookEndpoint{}).Select("id, merchant_id").
		Where("merchant_id IN ? AND deleted_at IS NULL AND disabled_at IS NULL AND jsonb_exists(events, ?)", merchants, eventType).
		Find(&subscribed).Error; err != nil {
		return fmt.Errorf("outbox: find endpoints: %w", err)
	}
	if len(subscribed) == 0 {
		return nil
	}
	byMerchant := map[string][]string{}
	for _, ep := range subscribed {
		byMerchant[ep.MerchantID] = append(byMerchant[ep.MerchantID], ep.ID)
	}
	var deliveries []models.WebhookDelivery
	for _, evt := range events {
		deliveries = appendDeliveries(deliveries, evt, byMerchant[evt.MerchantID])
	}
	return o.writeDeliveries(ctx, tx, deliveries)
}

// newEvent builds an event and its body: the exact bytes every delivery will send.
func newEvent(merchantID, eventType, subjectID string, data any, now time.Time) (models.WebhookEvent, error) {
	evt := models.WebhookEvent{ID: newEventID(), MerchantID: merchantID, Type: eventType, CreatedAt: now}
	if subjectID != "" {
		evt.SubjectID = &subjectID
	}
	body, err := json.Marshal(map[string]any{"id": evt.ID, "event": eventType, "data": data, "timestamp": now.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return evt, fmt.Errorf("outbox: encode %s: %w", eventType, err)
	}
	evt.Payload = body
	return evt, nil
}

// fanOut writes a delivery and its job for each endpoint, in the event's transaction.
func (o *Outbox) fanOut(ctx context.Context, tx *gorm.DB, evt models.WebhookEvent, endpointIDs []string) error {
	return o.writeDeliveries(ctx, tx, appendDeliveries(nil, evt, endpointIDs))
}

// appendDeliveries adds a pending delivery of the event to each endpoint.
func appendDeliveries(ds []models.WebhookDelivery, evt models.WebhookEvent, endpointIDs []string) []models.WebhookDelivery {
	for _, endpointID := range endpointIDs {
		ds = append(ds, models.WebhookDelivery{ID: newDeliveryID(), EventID: evt.ID, EndpointID: endpointID, MerchantID: evt.MerchantID,
			EventType: evt.Type, Status: models.DeliveryPending, CreatedAt: evt.CreatedAt, UpdatedAt: evt.CreatedAt})
	}
	return ds
}

// writeDeliveries inserts the deliveries and one job each, in two statements whatever
// their number.
func (o *Outbox) writeDeliveries(ctx context.Context, tx *gorm.DB, ds []models.WebhookDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	sqlTx, err := o.jobTx(tx)
	if err != nil {
		return err
	}
	if err := tx.CreateInBatches(&ds, 1000).Error; err != nil {
		return fmt.Errorf("outbox: insert deliveries: %w", err)
	}
	jobs := make([]river.InsertManyParams, len(ds))
	for i, d := range ds {
		jobs[i] = river.InsertManyParams{Args: DeliverWebhookArgs{DeliveryID: d.ID}, InsertOpts: o.deliveryOpts()}
	}
	if _, err := o.jobs.InsertManyTx(ctx, sqlTx, jobs); err != nil {
		return fmt.Errorf("outbox: enqueue deliveries: %w", err)
	}
	return nil
}

func (o *Outbox) enqueueDelivery(ctx context.Context, tx *gorm.DB, deliveryID string) error {
	return o.enqueue(ctx, tx, DeliverWebhookArgs{DeliveryID: deliveryID}, o.deliveryOpts())
}

func (o *Outbox) deliveryOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: webhookQueue, MaxAttempts: o.maxWebhookAttempts}
}
