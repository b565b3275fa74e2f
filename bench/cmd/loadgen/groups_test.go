package main

import (
	"strings"
	"testing"
)

func TestGroupStatsFromMetrics(t *testing.T) {
	const scrape = `# HELP withdrawal_group_size Withdrawals per group commit.
# TYPE withdrawal_group_size histogram
withdrawal_group_size_bucket{le="1"} 3
withdrawal_group_size_bucket{le="+Inf"} 40
withdrawal_group_size_sum 170
withdrawal_group_size_count 40
withdrawal_group_duration_seconds_bucket{le="0.001"} 2
withdrawal_group_duration_seconds_sum 0.08
withdrawal_group_duration_seconds_count 40
payout_batch_size_sum{token="BTC"} 999
`
	got := parseGroupStats(strings.NewReader(scrape))
	if want := (groupStats{groups: 40, withdrawals: 170, seconds: 0.08}); got != want {
		t.Fatalf("parsed %+v, want %+v", got, want)
	}
	// The names with the service's prefix (this release on).
	if renamed := parseGroupStats(strings.NewReader(strings.ReplaceAll(scrape, "withdrawal_group_", "withdrawals_group_commit_"))); renamed != got {
		t.Fatalf("parsed %+v with the new names, want %+v", renamed, got)
	}

	before := groupStats{groups: 10, withdrawals: 20, seconds: 0.02}
	line := before.since(got, 0.05)
	const want = "groups: 30, 5.00 withdrawals each, written in 2.00 ms on average, 1.20 being written at once"
	if line != want {
		t.Errorf("since = %q, want %q", line, want)
	}
	if line := got.since(got, 1); line != "" {
		t.Errorf("no groups written, yet since = %q", line)
	}
}
