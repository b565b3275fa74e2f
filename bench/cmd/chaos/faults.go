package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycore/withdrawals/bench/internal/apiclient"
)

// Each fault returns how it was proven to have hit: a fault that cannot show the
// database or the service saw it fails the run, so none can pass by being too short.

// The process dies mid-flight, with no chance to finish anything.
func (h *harness) killAndRestart(ctx context.Context) (string, error) {
	a := h.instances[0]
	h.stop(a, syscall.SIGKILL)
	h.sleep(ctx, time.Second)
	return "instance a killed with SIGKILL and restarted", h.start(ctx, a)
}

// Every connection of the service to the database is cut, three times; the service
// must answer in the contract's format meanwhile and recover by itself.
func (h *harness) terminateConnections(ctx context.Context) (string, error) {
	cut := 0
	for range 3 {
		n, err := h.count(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`)
		if err != nil {
			return "", err
		}
		cut += n
		h.sleep(ctx, time.Second)
	}
	if cut == 0 {
		return "", fmt.Errorf("no connection of the service was found to cut")
	}
	return fmt.Sprintf("%d connections terminated", cut), h.allRecovered(ctx, "recovery without a restart")
}

// PostgreSQL itself restarts (fast shutdown, then start) under load: the run's own
// cluster, never a shared server. The service must come back by itself.
func (h *harness) restartDatabase(ctx context.Context) (string, error) {
	if h.cfg.PGRestart == "" {
		return "", fmt.Errorf("-pg-restart is required: the command that restarts the run's own cluster")
	}
	var before time.Time
	if err := h.query(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT pg_postmaster_start_time()`).Scan(&before)
	}); err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "bash", "-c", h.cfg.PGRestart).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("restart: %v: %s", err, out)
	}
	var after time.Time
	if err := h.query(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT pg_postmaster_start_time()`).Scan(&after)
	}); err != nil {
		return "", err
	}
	if !after.After(before) {
		return "", fmt.Errorf("the server did not restart: started at %v, then %v", before, after)
	}
	if err := h.allRecovered(ctx, "recovery after the database restart"); err != nil {
		return "", err
	}
	return fmt.Sprintf("server restarted (postmaster up since %s)", after.Format(time.TimeOnly)), nil
}

// clientPID reads the process id out of a River client id (services.jobClientID).
var clientPID = regexp.MustCompile(`_pid(\d+)_`)

// A second instance joins on the same database; then the elected leader is killed
// while it runs a payout job, which the provider holds (stall) so the kill lands
// inside it. The other instance must take the lead; the killed job is rescued and
// resubmitted under its batch id, never paid twice.
func (h *harness) twoInstancesLeaderKilled(ctx context.Context) (string, error) {
	b := &instance{name: "b", port: h.cfg.Port + 1}
	b.client = &apiclient.Client{Base: b.base(), HTTP: h.http}
	h.mu.Lock()
	h.instances = append(h.instances, b)
	h.mu.Unlock()
	if err := h.start(ctx, b); err != nil {
		return "", err
	}
	if err := h.setSandboxFault(ctx, "stall"); err != nil {
		return "", err
	}
	var victim *instance
	var leader, job string
	err := h.until(ctx, "a payout job running on the leader", func() (bool, error) {
		_, _, _ = h.admin(ctx, http.MethodPost, "/api/admin/payout-runs", nil)
		err := h.query(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT l.leader_id, j.kind FROM river_job j, river_leader l
				WHERE j.state = 'running' AND j.kind LIKE 'payout_%' AND j.attempted_by[array_upper(j.attempted_by, 1)] = l.leader_id
				LIMIT 1`).Scan(&leader, &job)
		})
		if err == pgx.ErrNoRows {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		m := clientPID.FindStringSubmatch(leader)
		if m == nil {
			return false, fmt.Errorf("leader id %q names no process", leader)
		}
		pid, _ := strconv.Atoi(m[1])
		for _, i := range h.live() {
			if i.cmd.Process.Pid == pid {
				victim = i
			}
		}
		return victim != nil, nil
	})
	if err != nil {
		return "", err
	}
	h.stop(victim, syscall.SIGKILL)
	if err := h.setSandboxFault(ctx, ""); err != nil {
		return "", err
	}
	var next string
	if err := h.until(ctx, "another leader", func() (bool, error) {
		err := h.query(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `SELECT leader_id FROM river_leader`).Scan(&next)
		})
		return err == nil && next != leader, nil
	}); err != nil {
		return "", err
	}
	if err := h.start(ctx, victim); err != nil {
		return "", err
	}
	return fmt.Sprintf("leader %s killed during %s; %s took the lead", victim.name, job, next), nil
}

// The provider's answers are lost after it accepts, then it stalls mid-call, then it
// is down: switched while the service runs. Each stage lasts until the database shows
// it hit (a provider call recorded as failed, by that stage's cause).
func (h *harness) providerFaults(ctx context.Context) (string, error) {
	for _, stage := range []struct{ fault, mark string }{
		{"timeout_after_accept", "answer lost"}, {"stall", "stalled"}, {"unavailable", "unavailable"},
	} {
		before, err := h.count(ctx, `SELECT COALESCE(SUM(attempts), 0) FROM payout_batches`)
		if err != nil {
			return "", err
		}
		if err := h.setSandboxFault(ctx, stage.fault); err != nil {
			return "", err
		}
		if err := h.until(ctx, "a provider call failing under "+stage.fault, func() (bool, error) {
			// Batches run on demand too, so the stage does not wait for the interval.
			_, _, _ = h.admin(ctx, http.MethodPost, "/api/admin/payout-runs", nil)
			n, err := h.count(ctx, `SELECT count(*) FROM payout_batches WHERE attempts > 0 AND last_error LIKE '%' || $1 || '%'`, stage.mark)
			if err != nil || n == 0 {
				return false, err
			}
			total, err := h.count(ctx, `SELECT COALESCE(SUM(attempts), 0) FROM payout_batches`)
			return total > before, err
		}); err != nil {
			return "", err
		}
		h.sleep(ctx, h.cfg.Phase/2)
	}
	return "timeout_after_accept, stall and unavailable each failed a provider call", h.setSandboxFault(ctx, "")
}

func (h *harness) setSandboxFault(ctx context.Context, fault string) error {
	status, out, err := h.admin(ctx, http.MethodPut, "/api/admin/sandbox", map[string]any{"fault": fault})
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("set sandbox fault %q: %d %s %v", fault, status, out, err)
	}
	return nil
}

// The merchants' webhook receiver goes down, then answers too slowly (past the
// attempt timeout), then 503, then 410 Gone, which disables their endpoints. Each stage
// lasts until an attempt shows it. Then it comes back and the merchants do what the
// README tells them: a test ping re-enables an endpoint, and failed deliveries are
// retried.
func (h *harness) receiverFaults(ctx context.Context) (string, error) {
	for _, stage := range []struct {
		name  string
		set   func()
		proof string
	}{
		{"down", func() { h.receiver.setDown(true) }, `error = 'connection_refused'`},
		{"slow", func() { h.receiver.setDown(false); h.receiver.setMode(receiverSlow) }, `error = 'timeout'`},
		{"503", func() { h.receiver.setMode(receiver5xx) }, `http_status = 503`},
		{"410", func() { h.receiver.setMode(receiverGone) }, `http_status = 410`},
	} {
		before, err := h.count(ctx, `SELECT count(*) FROM webhook_attempts WHERE `+stage.proof)
		if err != nil {
			return "", err
		}
		stage.set()
		if err := h.until(ctx, "a webhook attempt seeing the receiver "+stage.name, func() (bool, error) {
			n, err := h.count(ctx, `SELECT count(*) FROM webhook_attempts WHERE `+stage.proof)
			return n > before, err
		}); err != nil {
			return "", err
		}
		h.sleep(ctx, h.cfg.Phase/2)
	}
	disabled, err := h.count(ctx, `SELECT count(*) FROM webhook_endpoints WHERE disabled_reason = 'gone'`)
	if err != nil || disabled == 0 {
		return "", fmt.Errorf("no endpoint was disabled by 410: %d %v", disabled, err)
	}
	h.receiver.setMode(receiverUp)
	return fmt.Sprintf("receiver down, slow, 503, then 410 (%d endpoints disabled)", disabled), nil
}

// recoverEndpoints is what each merchant does once its receiver is back: a test ping
// to every disabled endpoint (its success re-enables it), then a retry of every failed
// delivery.
func (h *harness) recoverEndpoints(ctx context.Context) error {
	for _, m := range h.load.merchants {
		call := func(method, path string) (int, []byte, error) {
			return h.pick().client.Call(ctx, method, path, m.key, nil, nil)
		}
		status, out, err := call(http.MethodGet, "/api/webhook-endpoints")
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("list endpoints: %d %v", status, err)
		}
		var eps struct{ Endpoints []struct{ ID, Status string } }
		_ = json.Unmarshal(out, &eps)
		for _, ep := range eps.Endpoints {
			if ep.Status == "disabled" {
				if status, out, err := call(http.MethodPost, "/api/webhook-endpoints/"+ep.ID+"/test"); err != nil || status != http.StatusAccepted {
					return fmt.Errorf("test ping: %d %s %v", status, out, err)
				}
			}
		}
	}
	if err := h.until(ctx, "every endpoint enabled again", func() (bool, error) {
		n, err := h.count(ctx, `SELECT count(*) FROM webhook_endpoints WHERE disabled_at IS NOT NULL`)
		return n == 0, err
	}); err != nil {
		return err
	}
	for _, m := range h.load.merchants {
		for {
			status, out, err := h.pick().client.Call(ctx, http.MethodGet, "/api/webhook-deliveries?status=failed&limit=100", m.key, nil, nil)
			if err != nil || status != http.StatusOK {
				return fmt.Errorf("list failed deliveries: %d %v", status, err)
			}
			var page struct{ Deliveries []struct{ ID string } }
			_ = json.Unmarshal(out, &page)
			if len(page.Deliveries) == 0 {
				break
			}
			for _, d := range page.Deliveries {
				if status, out, err := h.pick().client.Call(ctx, http.MethodPost, "/api/webhook-deliveries/"+d.ID+"/retry", m.key, nil, nil); err != nil || status != http.StatusAccepted {
					return fmt.Errorf("retry delivery: %d %s %v", status, out, err)
				}
			}
		}
	}
	return nil
}
