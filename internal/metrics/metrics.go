// Package metrics defines the service's Prometheus metrics on a registry of its own
// (served at GET /metrics on METRICS_ADDR, apart from the API). Every metric of the
// service is named withdrawals_*; the Go runtime's and the process's keep their standard
// names. deploy/prometheus/alerts.yml alerts on them. Every method is safe on a nil
// *Metrics, so code paths can record unconditionally and tests can leave metrics out.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's instruments.
type Metrics struct {
	Registry        *prometheus.Registry
	requests        *prometheus.HistogramVec
	batchSize       *prometheus.HistogramVec
	providerLatency *prometheus.HistogramVec
	webhookOutcomes *prometheus.CounterVec
	webhookLatency  prometheus.Histogram
	// groupSize and groupDuration describe the create path's group commit: how many
	// withdrawals each statement carried and how long it took, commit included.
	groupSize, groupDuration prometheus.Histogram
	// balanceReads by where they were answered from, resolved once: the read is the
	// API's hottest path.
	balanceFromCache, balanceFromDatabase prometheus.Counter
}

// Build is the running build, as withdrawals_build_info labels it.
type Build struct{ Version, Revision string }

// New registers the instruments, the Go runtime's, withdrawals_build_info, and the
// gauges source supplies at scrape time.
func New(source Source, build Build, logger *slog.Logger) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "withdrawals_http_request_duration_seconds", Help: "HTTP request latency by route, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "status"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "withdrawals_payout_batch_size", Help: "Withdrawals per claimed payout batch.",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000},
		}, []string{"token"}),
		providerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "withdrawals_payout_provider_duration_seconds", Help: "Payout provider call latency by operation and outcome.",
			Buckets: prometheus.DefBuckets,
		}, []string{"operation", "outcome"}),
		webhookOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "withdrawals_webhook_delivery_attempts_total", Help: "Webhook delivery attempts by outcome (succeeded, retry, failed, gone).",
		}, []string{"outcome"}),
		webhookLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "withdrawals_webhook_delivery_duration_seconds", Help: "Latency of webhook delivery attempts.",
			Buckets: prometheus.DefBuckets,
		}),
		groupSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "withdrawals_group_commit_size", Help: "Withdrawals per group commit (one statement and one commit for concurrent creates).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}),
		groupDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "withdrawals_group_commit_duration_seconds", Help: "Time to write one group of withdrawals, round trip and commit included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
	}
	balanceReads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "withdrawals_balance_reads_total", Help: "GET /api/balance reads by where they were answered from (cache, database).",
	}, []string{"source"})
	m.balanceFromCache, m.balanceFromDatabase = balanceReads.WithLabelValues("cache"), balanceReads.WithLabelValues("database")
	m.Registry.MustRegister(m.requests, m.batchSize, m.providerLatency, m.webhookOutcomes, m.webhookLatency, m.groupSize, m.groupDuration, balanceReads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "withdrawals_build_info", Help: "The running build: always 1, labelled with its version, commit and Go version.",
			ConstLabels: prometheus.Labels{"version": build.Version, "revision": build.Revision, "goversion": runtime.Version()}},
			func() float64 { return 1 }),
		&sourceCollector{source: source, logger: logger})
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// ObserveRequest records one HTTP request.
func (m *Metrics) ObserveRequest(route, method, status string, d time.Duration) {
	if m != nil {
		m.requests.WithLabelValues(route, method, status).Observe(d.Seconds())
	}
}

// ObserveBatch records a claimed batch's size.
func (m *Metrics) ObserveBatch(token string, items int) {
	if m != nil {
		m.batchSize.WithLabelValues(token).Observe(float64(items))
	}
}

// ObserveProvider records one provider call.
func (m *Metrics) ObserveProvider(operation string, err error, d time.Duration) {
	if m != nil {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		m.providerLatency.WithLabelValues(operation, outcome).Observe(d.Seconds())
	}
}

// ObserveWebhook records one delivery attempt.
func (m *Metrics) ObserveWebhook(outcome string, d time.Duration) {
	if m != nil {
		m.webhookOutcomes.WithLabelValues(outcome).Inc()
		m.webhookLatency.Observe(d.Seconds())
	}
}

// ObserveGroup records one group commit of withdrawals: its size and how long its
// write took, commit included.
func (m *Metrics) ObserveGroup(withdrawals int, seconds float64) {
	if m != nil {
		m.groupSize.Observe(float64(withdrawals))
		m.groupDuration.Observe(seconds)
	}
}

// ObserveBalanceRead records where a balance read was answered from.
func (m *Metrics) ObserveBalanceRead(cached bool) {
	switch {
	case m == nil:
	case cached:
		m.balanceFromCache.Inc()
	default:
		m.balanceFromDatabase.Inc()
	}
}

// Gauges are the figures that live in the database, as a Source reads them.
type Gauges struct {
	Withdrawals []struct {
		Token, Status string
		N             float64
	}
	Jobs []struct {
		Queue, State string
		N            float64
	}
	// Oldest is the age of the oldest withdrawal waiting in pending_approval, pending or
	// processing, per token and status (none waiting: no sample).
	Oldest []struct {
		Token, Status string
		Seconds       float64
	}
	// Locked is what merchants' withdrawals hold locked, per token.
	Locked []struct {
		Token  string
		Amount float64
	}
	NeedsReview       float64 // payout batches flagged for an admin
	DisabledEndpoints float64 // webhook endpoints disabled after failing for too long
	// Reconciliation is the last check that ran to its end; nil before the first.
	Reconciliation *Reconciliation
}

// Reconciliation is a check's outcome, with times as Unix seconds.
type Reconciliation struct {
	RanAt, LastOKAt float64 // LastOKAt 0: never clean
	OK              bool
	Discrepancies   float64
}

// Source supplies the database's figures at scrape time (services/ops).
type Source interface {
	Gauges(ctx context.Context) (Gauges, error)
}

// sourceCollector turns a Source's figures into gauges at scrape time, so every replica
// reports the same truth without keeping counters in step.
type sourceCollector struct {
	source Source
	logger *slog.Logger
}

var (
	withdrawalsDesc = prometheus.NewDesc("withdrawals_by_status", "Withdrawals by token and status.", []string{"token", "status"}, nil)
	queueDesc       = prometheus.NewDesc("withdrawals_job_queue_depth", "Background jobs waiting or running, by queue and state.", []string{"queue", "state"}, nil)
	oldestDesc      = prometheus.NewDesc("withdrawals_oldest_waiting_seconds",
		"Age of the oldest withdrawal in pending_approval, pending or processing, by token and status.", []string{"token", "status"}, nil)
	lockedDesc      = prometheus.NewDesc("withdrawals_funds_locked", "Amount merchants' withdrawals hold locked, by token (in the token's units).", []string{"token"}, nil)
	needsReviewDesc = prometheus.NewDesc("withdrawals_payout_batches_needs_review", "Payout batches flagged needs_review, waiting for an admin.", nil, nil)
	disabledDesc    = prometheus.NewDesc("withdrawals_webhook_endpoints_disabled", "Webhook endpoints disabled after failing too long.", nil, nil)
	reconOKDesc     = prometheus.NewDesc("withdrawals_reconciliation_ok", "1 when the last reconciliation found nothing wrong, else 0.", nil, nil)
	reconRunDesc    = prometheus.NewDesc("withdrawals_reconciliation_last_run_timestamp_seconds", "When the last reconciliation ran to its end.", nil, nil)
	reconGoodDesc   = prometheus.NewDesc("withdrawals_reconciliation_last_success_timestamp_seconds", "When the ledger last reconciled cleanly.", nil, nil)
	reconBadDesc    = prometheus.NewDesc("withdrawals_reconciliation_discrepancies", "Discrepancies the last reconciliation found.", nil, nil)
)

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{withdrawalsDesc, queueDesc, oldestDesc, lockedDesc, needsReviewDesc, disabledDesc,
		reconOKDesc, reconRunDesc, reconGoodDesc, reconBadDesc} {
		ch <- d
	}
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := c.source.Gauges(ctx)
	if err != nil {
		c.logger.Warn("metrics: gauges", "error", err.Error())
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, w := range g.Withdrawals {
		gauge(withdrawalsDesc, w.N, w.Token, w.Status)
	}
	for _, j := range g.Jobs {
		gauge(queueDesc, j.N, j.Queue, j.State)
	}
	for _, o := range g.Oldest {
		gauge(oldestDesc, o.Seconds, o.Token, o.Status)
	}
	for _, l := range g.Locked {
		gauge(lockedDesc, l.Amount, l.Token)
	}
	gauge(needsReviewDesc, g.NeedsReview)
	gauge(disabledDesc, g.DisabledEndpoints)
	if r := g.Reconciliation; r != nil {
		ok := 0.0
		if r.OK {
			ok = 1
		}
		gauge(reconOKDesc, ok)
		gauge(reconRunDesc, r.RanAt)
		gauge(reconBadDesc, r.Discrepancies)
		if r.LastOKAt > 0 {
			gauge(reconGoodDesc, r.LastOKAt)
		}
	}
}
