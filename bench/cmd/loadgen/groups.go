package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/paycore/withdrawals/bench/internal/apiclient"
)

// groupStats is the service's group-commit totals (withdrawals_group_commit_* in
// /metrics, withdrawal_group_* in releases before the names took the service's prefix):
// how many groups were written, how many withdrawals they carried, and the time spent
// writing them.
type groupStats struct {
	groups, withdrawals, seconds float64
}

// readGroupStats scrapes the service's metrics listener; a service that cannot be read
// gives zeros, and the phase prints no group line.
func readGroupStats(ctx context.Context, a *api, metricsURL string) groupStats {
	metrics := apiclient.Client{Base: metricsURL, HTTP: a.HTTP}
	status, body, err := metrics.Call(ctx, http.MethodGet, "/metrics", "", nil, nil)
	if err != nil || status != http.StatusOK {
		return groupStats{}
	}
	return parseGroupStats(bytes.NewReader(body))
}

// parseGroupStats reads the three samples it needs from Prometheus's text format.
func parseGroupStats(r io.Reader) groupStats {
	var g groupStats
	samples := map[string]*float64{
		"withdrawals_group_commit_size_count":           &g.groups,
		"withdrawals_group_commit_size_sum":             &g.withdrawals,
		"withdrawals_group_commit_duration_seconds_sum": &g.seconds,
		"withdrawal_group_size_count":                   &g.groups,
		"withdrawal_group_size_sum":                     &g.withdrawals,
		"withdrawal_group_duration_seconds_sum":         &g.seconds,
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if into := samples[name]; ok && into != nil {
			if v, err := strconv.ParseFloat(value, 64); err == nil {
				*into = v
			}
		}
	}
	return g
}

// since describes the groups written between s and the later totals, over a phase of
// elapsed seconds: their mean size and write time, and how many were being written at
// once on average (2 means both of the service's group writers were always busy).
func (s groupStats) since(later groupStats, elapsed float64) string {
	n := later.groups - s.groups
	if n <= 0 || elapsed <= 0 {
		return ""
	}
	busy := later.seconds - s.seconds
	return fmt.Sprintf("groups: %.0f, %.2f withdrawals each, written in %.2f ms on average, %.2f being written at once",
		n, (later.withdrawals-s.withdrawals)/n, busy/n*1000, busy/elapsed)
}
