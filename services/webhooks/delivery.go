package webhooks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/internal/dbtx"
	"github.com/paycore/withdrawals/internal/ids"
	"github.com/paycore/withdrawals/internal/webhookhttp"
	"github.com/paycore/withdrawals/models"
)

// errDeliveryFailed makes River retry a delivery on its webhook schedule.
var errDeliveryFailed = errors.New("webhook delivery failed")

// maxRetryAfter bounds how long a receiver's Retry-After can postpone a delivery.
const maxRetryAfter = time.Hour

// Deliver makes one attempt of a delivery, as River job job, and records it. It returns
// a delay when the attempt must wait (the receiver answered 429 with Retry-After, the
// merchant already has WebhookConfig.MerchantConcurrency deliveries in flight, or
// another job's attempt is in flight: at most one ever is), errDeliveryFailed when it
// should be retried, and nil when the delivery is settled either way.
func (s *Service) Deliver(ctx context.Context, deliveryID string, job int64, lastAttempt bool) (time.Duration, error) {
	now := s.clock.Now()
	var row struct {
		models.WebhookEndpoint
		EventID     string
		EventType   string
		Payload     []byte
		Status      models.DeliveryStatus
		LeasedUntil *time.Time
		Claimed     bool
	}
	// One statement claims the delivery's lease (while it is pending and not leased by
	// another job) and reads it with its event and endpoint as they were before.
	res := s.db.Gorm(ctx).Raw(`
		WITH claim AS (
			UPDATE webhook_deliveries d SET lease_until = @until, lease_job = @job
			 WHERE d.id = @id AND d.status = 'pending'
			   AND (d.lease_until IS NULL OR d.lease_until <= @now OR d.lease_job = @job)
			RETURNING d.id)
		SELECT ep.*, ev.id AS event_id, ev.type AS event_type, ev.payload, d.status, d.lease_until AS leased_until,
		       EXISTS (SELECT 1 FROM claim) AS claimed
		FROM webhook_deliveries d
		JOIN webhook_events ev ON ev.id = d.event_id
		JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
		WHERE d.id = @id`, map[string]any{"id": deliveryID, "job": job, "now": now, "until": now.Add(s.leaseFor())}).Scan(&row)
	if res.Error != nil {
		return 0, fmt.Errorf("load delivery: %w", res.Error)
	}
	switch {
	case res.RowsAffected == 0 || row.Status != models.DeliveryPending:
		return 0, nil // gone or settled
	case !row.Claimed:
		return row.LeasedUntil.Sub(now), nil // in flight in another job: look again when its lease ends
	}
	if !s.inFlight.acquire(row.MerchantID) {
		// The merchant's cap: give the lease back and wait for one of its attempts to end.
		if err := s.db.Gorm(ctx).Exec(`UPDATE webhook_deliveries SET lease_until = NULL, lease_job = NULL
			WHERE id = ? AND lease_job = ?`, deliveryID, job).Error; err != nil {
			return 0, fmt.Errorf("release delivery: %w", err)
		}
		return max(s.cfg.Timeout/2, time.Second), nil
	}
	defer s.inFlight.release(row.MerchantID)
	ep := row.WebhookEndpoint
	if ep.DeletedAt != nil || (ep.DisabledAt != nil && row.EventType != EventPing) {
		return 0, s.record(ctx, deliveryID, ep.ID, nil, outcome{status: models.DeliveryFailed, reason: "endpoint deleted or disabled"}, now)
	}

	secrets := []string{ep.Secret}
	if ep.PreviousSecret != nil && ep.PreviousSecretExpiresAt != nil && now.Before(*ep.PreviousSecretExpiresAt) {
		secrets = append(secrets, *ep.PreviousSecret)
	}
	headers, err := webhookhttp.Headers(secrets, row.EventID, now.Unix(), row.Payload)
	if err != nil {
		return 0, err
	}
	attemptCtx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	result := webhookhttp.Post(attemptCtx, s.client, ep.URL, headers, row.Payload)
	cancel()

	o := s.decide(ep, result, lastAttempt, now)
	s.metrics.ObserveWebhook(o.metric, result.Latency)
	if err := s.record(ctx, deliveryID, ep.ID, &result, o, now); err != nil {
		return 0, err
	}
	switch {
	case o.status != models.DeliveryPending:
		return 0, nil
	case o.wait > 0:
		return o.wait, nil
	default:
		return 0, errDeliveryFailed
	}
}

// outcome is what one attempt means for the delivery and its endpoint.
type outcome struct {
	status       models.DeliveryStatus // pending: try again
	reason       string
	wait         time.Duration // honour the receiver's Retry-After
	metric       string
	healthy      bool   // clear the endpoint's failure state
	failingSince bool   // the endpoint starts failing now
	disable      string // disable the endpoint with this reason
}

func (s *Service) decide(ep models.WebhookEndpoint, r webhookhttp.Result, lastAttempt bool, now time.Time) outcome {
	if r.Err == nil && r.StatusCode >= 200 && r.StatusCode < 300 {
		return outcome{status: models.DeliverySucceeded, metric: "succeeded", healthy: ep.FailingSince != nil || ep.DisabledAt != nil}
	}
	if r.StatusCode == http.StatusGone {
		// The receiver says it is gone for good: stop sending to it.
		return outcome{status: models.DeliveryFailed, reason: "endpoint answered 410 Gone; disabled", metric: "gone", disable: "gone"}
	}
	o := outcome{status: models.DeliveryPending, metric: "retry", failingSince: ep.FailingSince == nil}
	failingSince := now
	if ep.FailingSince != nil {
		failingSince = *ep.FailingSince
	}
	switch {
	case now.Sub(failingSince) >= s.cfg.DisableAfter:
		o.status, o.metric, o.disable = models.DeliveryFailed, "failed", "failing"
		o.reason = "endpoint failing since " + failingSince.Format(time.RFC3339) + "; disabled"
	case lastAttempt:
		o.status, o.metric, o.reason = models.DeliveryFailed, "failed", "retries exhausted"
	case r.StatusCode == http.StatusTooManyRequests && r.RetryAfter > 0:
		o.wait = min(r.RetryAfter, maxRetryAfter)
	}
	return o
}

// merchantSlots caps each merchant's delivery attempts in flight on this instance, so
// that a receiver that hangs holds that many of the instance's delivery workers at most.
type merchantSlots struct {
	mu    sync.Mutex
	limit int
	taken map[string]int
}

func newMerchantSlots(limit int) *merchantSlots {
	return &merchantSlots{limit: limit, taken: map[string]int{}}
}

func (m *merchantSlots) acquire(merchantID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.taken[merchantID] >= m.limit {
		return false
	}
	m.taken[merchantID]++
	return true
}

func (m *merchantSlots) release(merchantID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.taken[merchantID]--; m.taken[merchantID] <= 0 {
		delete(m.taken, merchantID)
	}
}

// leaseFor is how long a claimed attempt holds its delivery: the attempt's timeout and
// the deliver job's own margin. A lease outlives its holder only when the process died;
// the job River rescues then finds it expired.
func (s *Service) leaseFor() time.Duration { return s.cfg.Timeout + 10*time.Second }

// record writes the attempt (when one was made), the delivery's new state and the
// endpoint's health in one transaction, and ends the attempt's lease.
func (s *Service) record(ctx context.Context, deliveryID, endpointID string, r *webhookhttp.Result, o outcome, now time.Time) error {
	return s.db.Transaction(ctx, func(tx *dbtx.Tx) error {
		updates := map[string]any{"status": o.status, "updated_at": now, "lease_until": nil, "lease_job": nil}
		if r != nil {
			a := models.WebhookAttempt{ID: ids.Attempt(), DeliveryID: deliveryID, AttemptedAt: now, HTTPStatus: statusOrNil(*r), LatencyMs: int(r.Latency.Milliseconds())}
			if r.Err != nil {
				// The merchant sees a class; the error itself can name our network's
				// addresses, so it goes to the log only.
				msg := webhookhttp.ErrorClass(r.Err)
				a.Error = &msg
				s.logger.WarnContext(ctx, "webhook attempt failed", "delivery", deliveryID, "class", msg, "error", r.Err.Error())
			} else if r.StatusCode < 200 || r.StatusCode >= 300 {
				msg := fmt.Sprintf("HTTP %d", r.StatusCode)
				a.Error = &msg
			}
			if err := tx.Create(&a).Error; err != nil {
				return fmt.Errorf("record attempt: %w", err)
			}
			updates["attempts"] = gorm.Expr("attempts + 1")
			updates["last_http_status"] = a.HTTPStatus
			updates["last_error"] = a.Error
		}
		if o.status == models.DeliverySucceeded {
			updates["delivered_at"] = now
		} else if o.reason != "" {
			updates["last_error"] = o.reason
		}
		if err := tx.Model(&models.WebhookDelivery{}).Where("id = ?", deliveryID).UpdateColumns(updates).Error; err != nil {
			return fmt.Errorf("record delivery: %w", err)
		}
		ep := tx.Model(&models.WebhookEndpoint{}).Where("id = ?", endpointID)
		switch {
		case o.healthy:
			return ep.UpdateColumns(map[string]any{"failing_since": nil, "disabled_at": nil, "disabled_reason": nil}).Error
		case o.disable != "":
			return ep.Where("disabled_at IS NULL").UpdateColumns(map[string]any{"disabled_at": now, "disabled_reason": o.disable}).Error
		case o.failingSince:
			return ep.Where("failing_since IS NULL").UpdateColumn("failing_since", now).Error
		}
		return nil
	})
}

func statusOrNil(r webhookhttp.Result) *int {
	if r.StatusCode == 0 {
		return nil
	}
	return &r.StatusCode
}

// Worker is the delivery job's River worker.
type Worker struct {
	river.WorkerDefaults[DeliverArgs]
	webhooks *Service
}

// NewWorker returns the delivery job's worker.
func NewWorker(s *Service) *Worker { return &Worker{webhooks: s} }

// Work makes one attempt.
func (w *Worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	wait, err := w.webhooks.Deliver(ctx, job.Args.DeliveryID, job.ID, job.Attempt >= job.MaxAttempts)
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

// Timeout leaves room for one attempt plus the bookkeeping around it.
func (w *Worker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.webhooks.cfg.Timeout + 10*time.Second
}

// NextRetry spreads a delivery's attempts over about a day: the delay grows threefold
// per attempt from RetryBase (5 s, 15 s, 45 s, ...) up to RetryMax, with jitter so
// that a receiver coming back is not hit by every delivery at once.
func (w *Worker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return webhookRetryAt(job.JobRow, w.webhooks.cfg.RetryBase, w.webhooks.cfg.RetryMax)
}

func webhookRetryAt(job *rivertype.JobRow, base, maxDelay time.Duration) time.Time {
	delay := base
	for i := 1; i < job.Attempt && delay < maxDelay; i++ {
		delay *= 3
	}
	delay = min(delay, maxDelay)
	jittered := delay*3/4 + rand.N(delay/2+1)
	return time.Now().Add(jittered)
}
