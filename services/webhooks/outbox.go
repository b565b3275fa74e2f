package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/models"
)

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
	evt := models.WebhookEvent{ID: ids.Event(), MerchantID: merchantID, Type: eventType, CreatedAt: now}
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

// Scope narrows what Write delivers.
type Scope struct {
	// Endpoint, when set, is the only endpoint the events go to, subscribed or not and
	// even disabled (a test ping).
	Endpoint string
	// ExistingWithdrawals keeps only the events whose withdrawal exists when the
	// statement runs: in withdrawal creation's pipeline, an earlier statement may have
	// left a withdrawal out.
	ExistingWithdrawals bool
}

// notifyEvery bounds how often a write wakes the delivery workers of every instance
// (River's insert notification); a write in between is fetched by the wake-up before it
// or by the workers' poll.
const notifyEvery = 10 * time.Millisecond

// Write writes events, a delivery to each endpoint subscribed to each (enabled, not
// deleted, listing the event's type), and each delivery's River job, in one statement
// in the caller's transaction or pipeline. A delivery's id is its event's and its
// endpoint's joined: one event reaches one endpoint at most once.
//
// The jobs are rows of river_job as River's own insert writes them, pinned to River's
// schema version by TestDeliveryJobsAreRiverJobs; the notification is River's too.
func (o *Outbox) Write(ctx context.Context, ex dbtx.Execer, events []models.WebhookEvent, scope Scope) error {
	if len(events) == 0 {
		return nil
	}
	var (
		evIDs, merchants, types, payloads []string
		subjects                          []*string
		at                                []time.Time
	)
	for _, e := range events {
		evIDs, merchants, types = append(evIDs, e.ID), append(merchants, e.MerchantID), append(types, e.Type)
		subjects, payloads, at = append(subjects, e.SubjectID), append(payloads, string(e.Payload)), append(at, e.CreatedAt)
	}
	now := time.Now().UnixNano()
	last := o.lastNotify.Load()
	notify := now-last >= int64(notifyEvery) && o.lastNotify.CompareAndSwap(last, now)
	err := ex.Execute(ctx, `
		WITH ev AS (
			INSERT INTO webhook_events (id, merchant_id, type, subject_id, payload, created_at)
			SELECT x.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]::json[], $6::timestamptz[])
			                AS x(id, merchant_id, type, subject_id, payload, created_at)
			 WHERE NOT $8 OR EXISTS (SELECT 1 FROM withdrawals w WHERE w.id = x.subject_id)
			RETURNING id, merchant_id, type, created_at),
		d AS (
			INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, event_type, status, created_at, updated_at)
			SELECT 'whd_' || substr(ev.id, 5) || substr(ep.id, 4), ev.id, ep.id, ev.merchant_id, ev.type, 'pending', ev.created_at, ev.created_at
			  FROM ev JOIN webhook_endpoints ep ON ep.merchant_id = ev.merchant_id
			 WHERE CASE WHEN $7 = '' THEN ep.deleted_at IS NULL AND ep.disabled_at IS NULL AND jsonb_exists(ep.events, ev.type)
			            ELSE ep.id = $7 END
			RETURNING id),
		jobs AS (
			INSERT INTO river_job (args, kind, max_attempts, queue, state)
			SELECT jsonb_build_object('delivery_id', d.id), $9, $10, $11, 'available' FROM d
			RETURNING id)
		SELECT pg_notify(current_schema() || '.river_insert', json_build_object('queue', $11::text)::text)
		 WHERE $12 AND EXISTS (SELECT 1 FROM jobs)`,
		evIDs, merchants, types, subjects, payloads, at, scope.Endpoint, scope.ExistingWithdrawals,
		DeliverArgs{}.Kind(), o.maxAttempts, Queue, notify)
	if err != nil {
		return fmt.Errorf("outbox: write %d events: %w", len(events), err)
	}
	return nil
}
