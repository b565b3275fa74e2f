package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/models"
)

// Event types announced to merchants.
const (
	EventWithdrawalApprovalRequired = "withdrawal.approval_required"
	EventWithdrawalPending          = "withdrawal.pending"
	EventWithdrawalProcessing       = "withdrawal.processing"
	EventWithdrawalConfirmed        = "withdrawal.confirmed"
	EventWithdrawalFailed           = "withdrawal.failed"
	EventWithdrawalCancelled        = "withdrawal.cancelled"
	EventBatchCompleted             = "withdrawal_batch.completed"
	EventPing                       = "ping"
)

// EventTypes are the events an endpoint can subscribe to.
var EventTypes = []string{EventWithdrawalApprovalRequired, EventWithdrawalPending, EventWithdrawalProcessing,
	EventWithdrawalConfirmed, EventWithdrawalFailed, EventWithdrawalCancelled, EventBatchCompleted}

// Queue is the River queue of deliveries, apart from the payout jobs, so a slow
// receiver can only ever hold up other deliveries' workers.
const Queue = "webhooks"

// DeliverArgs is the job that delivers one event to one endpoint.
type DeliverArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "webhook_deliver" }

// NewEvent builds an event and its body: the exact bytes every delivery will send.
func NewEvent(merchantID, eventType, subjectID string, data any, now time.Time) (models.WebhookEvent, error) {
	return EventWithID(ids.Event(), merchantID, eventType, subjectID, data, now)
}

// EventWithID is NewEvent with the event's id given: for the other form of an event
// whose form is decided when it is written (at most one of them is).
func EventWithID(id, merchantID, eventType, subjectID string, data any, now time.Time) (models.WebhookEvent, error) {
	evt := models.WebhookEvent{ID: id, MerchantID: merchantID, Type: eventType, CreatedAt: now}
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

// Outbox is how a transaction announces its changes: events, with a delivery and a
// delivery job for each endpoint that should get them, written with the change, so a
// rolled-back change leaves none and a committed one always has them.
type Outbox struct {
	maxAttempts int
	// lastNotify throttles the wake-up of delivery workers (unix nanoseconds).
	lastNotify atomic.Int64
}

// NewOutbox returns the outbox; maxAttempts is a delivery job's (WEBHOOK_MAX_ATTEMPTS).
func NewOutbox(maxAttempts int) *Outbox { return &Outbox{maxAttempts: maxAttempts} }

// notifyEvery bounds how often a write wakes the delivery workers of every instance
// (River's insert notification); a write in between is fetched by the wake-up before it
// or by the workers' poll.
const notifyEvery = 10 * time.Millisecond

// Write writes events and delivers each (Deliveries) in one statement in the caller's
// transaction. only, when set, is the one endpoint they go to, subscribed or not and
// even disabled (a test ping).
func (o *Outbox) Write(ctx context.Context, tx *dbtx.Tx, events []models.WebhookEvent, only string) error {
	if len(events) == 0 {
		return nil
	}
	var c EventColumns
	for _, e := range events {
		c.Add(e)
	}
	deliveries, args := o.Deliveries(7, only)
	err := tx.Execute(ctx, `
		WITH events AS (
			INSERT INTO webhook_events (id, merchant_id, type, subject_id, payload, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]::json[], $6::timestamptz[])
			RETURNING id, merchant_id, type, created_at),
		`+deliveries+`
		SELECT count(*) FROM wake`, append(c.Args(), args...)...)
	if err != nil {
		return fmt.Errorf("outbox: write %d events: %w", len(events), err)
	}
	return nil
}

// Deliveries is the one definition of who gets an event: the CTEs that write, for each
// row of a CTE named events (id, merchant_id, type, created_at) written before them in
// the same statement, a delivery to every endpoint of the event's merchant subscribed
// to its type (enabled, not deleted, listing the type), or to only, and each
// delivery's River job; then wake, which the statement must select from, sends River's
// insert notification. Its parameters are numbered from first; args are their values.
// A delivery's id is its event's and its endpoint's joined: one event reaches one
// endpoint at most once.
//
// The jobs are rows of river_job as River's own insert writes them, and the wake-up is
// River's, pinned to River's schema version by TestDeliveryJobsAreRiverJobs.
func (o *Outbox) Deliveries(first int, only string) (sql string, args []any) {
	now := time.Now().UnixNano()
	last := o.lastNotify.Load()
	notify := now-last >= int64(notifyEvery) && o.lastNotify.CompareAndSwap(last, now)
	p := func(i int) string { return "$" + strconv.Itoa(first+i) }
	sql = `deliveries AS (
			INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, event_type, status, created_at, updated_at)
			SELECT 'whd_' || substr(ev.id, 5) || substr(ep.id, 4), ev.id, ep.id, ev.merchant_id, ev.type, 'pending', ev.created_at, ev.created_at
			  FROM events ev JOIN webhook_endpoints ep ON ep.merchant_id = ev.merchant_id
			 WHERE CASE WHEN ` + p(0) + `::text = '' THEN ep.deleted_at IS NULL AND ep.disabled_at IS NULL AND jsonb_exists(ep.events, ev.type)
			            ELSE ep.id = ` + p(0) + ` END
			RETURNING id),
		delivery_jobs AS (
			INSERT INTO river_job (args, kind, max_attempts, queue, state)
			SELECT jsonb_build_object('delivery_id', d.id), ` + p(1) + `, ` + p(2) + `, ` + p(3) + `, 'available' FROM deliveries d
			RETURNING id),
		wake AS (
			SELECT pg_notify(current_schema() || '.river_insert', json_build_object('queue', ` + p(3) + `::text)::text)
			 WHERE ` + p(4) + `::boolean AND EXISTS (SELECT 1 FROM delivery_jobs))`
	return sql, []any{only, DeliverArgs{}.Kind(), o.maxAttempts, Queue, notify}
}

// EventColumns are events as the arrays an insert unnests: id, merchant_id, type,
// subject_id, payload (as text, to cast to json), created_at.
type EventColumns struct {
	ids, merchants, types, payloads []string
	subjects                        []*string
	at                              []time.Time
}

// Add appends an event.
func (c *EventColumns) Add(e models.WebhookEvent) {
	c.ids, c.merchants, c.types = append(c.ids, e.ID), append(c.merchants, e.MerchantID), append(c.types, e.Type)
	c.subjects, c.payloads, c.at = append(c.subjects, e.SubjectID), append(c.payloads, string(e.Payload)), append(c.at, e.CreatedAt)
}

// Args are the columns, in their order.
func (c *EventColumns) Args() []any {
	return []any{c.ids, c.merchants, c.types, c.subjects, c.payloads, c.at}
}
