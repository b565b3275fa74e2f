package main

import (
	"context"

	"encoding/json"
	"fmt"
	"github.com/jackc/pgx/v5"
	"net/http"
	"time"
)

type report struct {
	lost, duplicated, ledger, paidTwice, releasedAmbiguous, webhooksMissing int
	details                                                                 []string
}

func (r *report) ok() bool {
	return r.lost+r.duplicated+r.ledger+r.paidTwice+r.releasedAmbiguous+r.webhooksMissing == 0
}

func (r *report) add(counter *int, format string, args ...any) {
	*counter++
	if len(r.details) < 20 {
		r.details = append(r.details, fmt.Sprintf(format, args...))
	}
}

// quickCheck runs the checks that must hold at any moment, even mid-flight.
func (h *harness) quickCheck(ctx context.Context) string {
	negative, err := h.count(ctx, `SELECT COUNT(*) FROM balances WHERE available < 0 OR pending < 0`)
	if err != nil {
		return "query: " + err.Error()
	}
	if negative > 0 {
		return fmt.Sprintf("%d negative balances", negative)
	}
	twice, err := h.count(ctx, `SELECT COUNT(*) FROM (SELECT withdrawal_id FROM sandbox_payouts GROUP BY withdrawal_id HAVING COUNT(*) > 1) x`)
	if err != nil {
		return "query: " + err.Error()
	}
	if twice > 0 {
		return fmt.Sprintf("%d withdrawals paid twice", twice)
	}
	return ""
}

// waitSettled waits until no withdrawal is pending or processing and every webhook
// delivery succeeded, doing meanwhile what merchants do for endpoints the 410 stage
// disabled (recoverEndpoints).
func (h *harness) waitSettled(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	lastRecovery := time.Time{}
	for {
		if time.Since(lastRecovery) > 5*time.Second {
			if err := h.recoverEndpoints(ctx); err != nil {
				return fmt.Errorf("merchants recovering their endpoints: %w", err)
			}
			lastRecovery = time.Now()
		}
		var open, flagged, undelivered int
		err := h.query(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT
			(SELECT COUNT(*) FROM withdrawals WHERE status IN ('pending_approval', 'pending', 'processing')),
			(SELECT COUNT(*) FROM payout_batches WHERE status = 'needs_review'),
			(SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'succeeded')`).Scan(&open, &flagged, &undelivered)
		})
		if err != nil {
			return err
		}
		if flagged > 0 {
			return fmt.Errorf("%d batches were flagged for review: the retry budget should outlast the faults", flagged)
		}
		if open == 0 && undelivered == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not settled after %v: %d withdrawals open, %d deliveries not succeeded\n%s", limit, open, undelivered, h.diagnose(ctx))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// check proves every invariant once everything has settled.
func (h *harness) check(ctx context.Context) report {
	var r report
	acked, conflicts := h.load.snapshot()
	for _, c := range conflicts {
		r.add(&r.duplicated, "%s", c)
	}
	// Every acknowledged withdrawal exists exactly once, under its key, for its merchant.
	for key, a := range acked {
		var n int
		var id string
		if err := h.db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MIN(id), '') FROM withdrawals WHERE merchant_id = $1 AND idempotency_key = $2`,
			a.merchant.id, key).Scan(&n, &id); err != nil {
			r.add(&r.lost, "key %s: %v", key, err)
			continue
		}
		switch {
		case n == 0:
			r.add(&r.lost, "acknowledged %s (key %s) does not exist", a.id, key)
		case n > 1:
			r.add(&r.duplicated, "key %s has %d withdrawals", key, n)
		case id != a.id:
			r.add(&r.duplicated, "key %s acknowledged as %s but bound to %s", key, a.id, id)
		}
	}
	// The ledger reconciles in full (through the API, as an operator would check it).
	status, out, err := h.admin(ctx, http.MethodGet, "/api/admin/ledger/reconciliation?full=true", nil)
	var rec struct {
		OK            bool
		Discrepancies []map[string]any
	}
	if err != nil || status != http.StatusOK || json.Unmarshal(out, &rec) != nil {
		r.add(&r.ledger, "reconciliation unavailable: %d %v", status, err)
	} else {
		for _, d := range rec.Discrepancies {
			r.add(&r.ledger, "%v", d)
		}
	}
	// Paid once: one sandbox payout at most per withdrawal, one for every confirmed one;
	// no failed withdrawal the provider had accepted (released while ambiguous).
	count := func(q string) int {
		var n int
		if err := h.db.QueryRow(ctx, q).Scan(&n); err != nil {
			r.details = append(r.details, "query: "+err.Error())
			return 1
		}
		return n
	}
	for range count(`SELECT COUNT(*) FROM (SELECT withdrawal_id FROM sandbox_payouts GROUP BY withdrawal_id HAVING COUNT(*) > 1) x`) {
		r.add(&r.paidTwice, "a withdrawal has more than one sandbox payout")
	}
	for range count(`SELECT COUNT(*) FROM withdrawals w WHERE w.status = 'confirmed'
		AND NOT EXISTS (SELECT 1 FROM sandbox_payouts p WHERE p.withdrawal_id = w.id AND p.status = 'accepted')`) {
		r.add(&r.paidTwice, "a confirmed withdrawal has no accepted payout")
	}
	for range count(`SELECT COUNT(*) FROM withdrawals w WHERE w.status IN ('failed', 'cancelled')
		AND EXISTS (SELECT 1 FROM sandbox_payouts p WHERE p.withdrawal_id = w.id AND p.status = 'accepted')`) {
		r.add(&r.releasedAmbiguous, "funds released for a withdrawal the provider accepted")
	}
	// Every status change produced its event, and every event reached the receiver
	// under its one id.
	for range count(`SELECT COUNT(*) FROM withdrawals w WHERE
		(SELECT COUNT(DISTINCT type) FROM webhook_events e WHERE e.subject_id = w.id) <>
		CASE w.status WHEN 'confirmed' THEN 3 WHEN 'failed' THEN 3 WHEN 'cancelled' THEN 2 ELSE 0 END`) {
		r.add(&r.webhooksMissing, "a withdrawal lacks an event for one of its status changes")
	}
	received := h.receiver.received()
	rows, err := h.db.Query(ctx, `SELECT e.id FROM webhook_events e JOIN webhook_deliveries d ON d.event_id = e.id`)
	if err != nil {
		r.add(&r.webhooksMissing, "query: %v", err)
		return r
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil && received[id] == 0 {
			r.add(&r.webhooksMissing, "event %s never reached the receiver", id)
		}
	}
	return r
}

// diagnose describes where work is stuck.
func (h *harness) diagnose(ctx context.Context) string {
	var out string
	for _, q := range []string{
		`SELECT 'withdrawals ' || status, COUNT(*) FROM withdrawals GROUP BY status`,
		`SELECT 'batches ' || status || ' attempts ' || attempts || ' ' || COALESCE(last_error, ''), COUNT(*) FROM payout_batches GROUP BY 1`,
		`SELECT 'jobs ' || kind || ' ' || state || ' attempt ' || attempt || ' ' || COALESCE(errors[array_length(errors, 1)]->>'error', ''), COUNT(*) FROM river_job GROUP BY 1`,
		`SELECT 'deliveries ' || status || ' ' || COALESCE(last_error, ''), COUNT(*) FROM webhook_deliveries GROUP BY 1`,
	} {
		rows, err := h.db.Query(ctx, q)
		if err != nil {
			out += "  " + err.Error() + "\n"
			continue
		}
		for rows.Next() {
			var what string
			var n int
			if rows.Scan(&what, &n) == nil {
				out += fmt.Sprintf("  %s: %d\n", what, n)
			}
		}
		rows.Close()
	}
	return out
}
