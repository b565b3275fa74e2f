package services

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/webhooks"
)

// webhookQueue is the River queue of deliveries, apart from the payout jobs so a slow
// receiver can only ever hold up other deliveries' workers, and only for one timeout.
const webhookQueue = "webhooks"

// DeliverWebhookArgs delivers one event to one endpoint.
type DeliverWebhookArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (DeliverWebhookArgs) Kind() string { return "webhook_deliver" }

type webhookSender struct{ client *http.Client }

// errDeliveryFailed makes River retry a delivery on its webhook schedule.
var errDeliveryFailed = errors.New("webhook delivery failed")

// maxRetryAfter bounds how long a receiver's Retry-After can postpone a delivery.
const maxRetryAfter = time.Hour

// Deliver makes one attempt of a delivery and records it. It returns a delay when the
// receiver asked to wait (429 with Retry-After), errDeliveryFailed when it should be
// retried, nil when the delivery is settled either way.
func (s *Webhooks) Deliver(ctx context.Context, deliveryID string, lastAttempt bool) (time.Duration, error) {
	var (
		d   models.WebhookDelivery
		evt models.WebhookEvent
		ep  models.WebhookEndpoint
	)
	res := s.db.WithContext(ctx).Where("id = ?", deliveryID).Limit(1).Find(&d)
	if res.Error != nil {
		return 0, fmt.Errorf("load delivery: %w", res.Error)
	}
	if res.RowsAffected == 0 || d.Status != models.DeliveryPending {
		return 0, nil
	}
	if err := s.db.WithContext(ctx).Where("id = ?", d.EventID).Take(&evt).Error; err != nil {
		return 0, fmt.Errorf("load event: %w", err)
	}
	if err := s.db.WithContext(ctx).Where("id = ?", d.EndpointID).Take(&ep).Error; err != nil {
		return 0, fmt.Errorf("load endpoint: %w", err)
	}
	now := s.clock.now()
	if ep.DeletedAt != nil || (ep.DisabledAt != nil && evt.Type != EventPing) {
		return 0, s.finish(ctx, d.ID, models.DeliveryFailed, nil, "endpoint deleted or disabled", now)
	}

	secrets := []string{ep.Secret}
	if ep.PreviousSecret != nil && ep.PreviousSecretExpiresAt != nil && now.Before(*ep.PreviousSecretExpiresAt) {
		secrets = append(secrets, *ep.PreviousSecret)
	}
	headers, err := webhooks.Headers(secrets, evt.ID, now.Unix(), evt.Payload)
	if err != nil {
		return 0, err
	}
	attemptCtx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	result := webhooks.Post(attemptCtx, s.sender.client, ep.URL, headers, evt.Payload)
	cancel()
	if err := s.recordAttempt(ctx, d.ID, result, now); err != nil {
		return 0, err
	}

	outcome := "retry"
	defer func() { s.metrics.ObserveWebhook(outcome, result.Latency) }()
	switch {
	case result.Err == nil && result.StatusCode >= 200 && result.StatusCode < 300:
		outcome = "succeeded"
		if err := s.db.WithContext(ctx).Model(&models.WebhookEndpoint{}).Where("id = ?", ep.ID).UpdateColumns(
			map[string]any{"failing_since": nil, "disabled_at": nil, "disabled_reason": nil}).Error; err != nil {
			return 0, fmt.Errorf("endpoint healthy: %w", err)
		}
		return 0, s.finish(ctx, d.ID, models.DeliverySucceeded, &result.StatusCode, "", now)
	case result.StatusCode == http.StatusGone:
		outcome = "gone"
		// The receiver says it is gone for good: stop sending to it.
		if err := s.disable(ctx, ep.ID, "gone", now); err != nil {
			return 0, err
		}
		return 0, s.finish(ctx, d.ID, models.DeliveryFailed, &result.StatusCode, "endpoint answered 410 Gone; disabled", now)
	}

	failingSince := now
	if ep.FailingSince != nil {
		failingSince = *ep.FailingSince
	} else if err := s.db.WithContext(ctx).Model(&models.WebhookEndpoint{}).Where("id = ? AND failing_since IS NULL", ep.ID).
		UpdateColumn("failing_since", now).Error; err != nil {
		return 0, fmt.Errorf("mark endpoint failing: %w", err)
	}
	if now.Sub(failingSince) >= s.cfg.DisableAfter {
		outcome = "failed"
		if err := s.disable(ctx, ep.ID, "failing", now); err != nil {
			return 0, err
		}
		return 0, s.finish(ctx, d.ID, models.DeliveryFailed, statusOrNil(result), "endpoint failing since "+failingSince.Format(time.RFC3339)+"; disabled", now)
	}
	if lastAttempt {
		outcome = "failed"
		return 0, s.finish(ctx, d.ID, models.DeliveryFailed, statusOrNil(result), "retries exhausted", now)
	}
	if result.StatusCode == http.StatusTooManyRequests && result.RetryAfter > 0 {
		return min(result.RetryAfter, maxRetryAfter), nil
	}
	return 0, errDeliveryFailed
}

func statusOrNil(r webhooks.Result) *int {
	if r.StatusCode == 0 {
		return nil
	}
	return &r.StatusCode
}

func (s *Webhooks) recordAttempt(ctx context.Context, deliveryID string, r webhooks.Result, now time.Time) error {
	a := models.WebhookAttempt{ID: newAttemptID(), DeliveryID: deliveryID, AttemptedAt: now, HTTPStatus: statusOrNil(r), LatencyMs: int(r.Latency.Milliseconds())}
	if r.Err != nil {
		msg := r.Err.Error()
		a.Error = &msg
	} else if r.StatusCode < 200 || r.StatusCode >= 300 {
		msg := fmt.Sprintf("HTTP %d", r.StatusCode)
		a.Error = &msg
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&a).Error; err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		return tx.Model(&models.WebhookDelivery{}).Where("id = ?", deliveryID).UpdateColumns(map[string]any{
			"attempts": gorm.Expr("attempts + 1"), "last_http_status": a.HTTPStatus, "last_error": a.Error, "updated_at": now}).Error
	})
}

func (s *Webhooks) finish(ctx context.Context, deliveryID string, status models.DeliveryStatus, httpStatus *int, reason string, now time.Time) error {
	updates := map[string]any{"status": status, "updated_at": now}
	if status == models.DeliverySucceeded {
		updates["delivered_at"] = now
	} else {
		updates["last_error"] = reason
	}
	return s.db.WithContext(ctx).Model(&models.WebhookDelivery{}).Where("id = ?", deliveryID).UpdateColumns(updates).Error
}

func (s *Webhooks) disable(ctx context.Context, endpointID, reason string, now time.Time) error {
	return s.db.WithContext(ctx).Model(&models.WebhookEndpoint{}).Where("id = ? AND disabled_at IS NULL", endpointID).
		UpdateColumns(map[string]any{"disabled_at": now, "disabled_reason": reason}).Error
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverWebhookArgs]
	webhooks *Webhooks
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverWebhookArgs]) error {
	wait, err := w.webhooks.Deliver(ctx, job.Args.DeliveryID, job.Attempt >= job.MaxAttempts)
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

// Timeout leaves room for one attempt plus the bookkeeping around it.
func (w *deliverWorker) Timeout(*river.Job[DeliverWebhookArgs]) time.Duration {
	return w.webhooks.cfg.Timeout + 10*time.Second
}

// NextRetry spreads a delivery's attempts over about a day: the delay grows threefold
// per attempt from RetryBase (5 s, 15 s, 45 s, ...) up to RetryMax, with jitter so
// that a receiver coming back is not hit by every delivery at once.
func (w *deliverWorker) NextRetry(job *river.Job[DeliverWebhookArgs]) time.Time {
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
