package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// The pgbench reference is measured twice in a run, right before the create phases and
// after the read phases, and each figure's ratio is to the mean of the two: the
// machine drifts within minutes (a reference taken once, before everything else, was
// seen 27% apart in two runs minutes apart while the service moved 2%), and measuring
// on both sides of the phases it is compared with follows the same drift.

// reference runs the reference command (scripts/bench.sh passes the shared run.sh) and
// keeps its "reference <script> clients=N tps=X p99_ms=Y" lines. Without a command the
// figures are printed without ratios.
func (b *bench) reference(ctx context.Context) error {
	if b.cfg.ReferenceCmd == "" {
		fmt.Println("reference: no command given, figures are printed without ratios")
		return nil
	}
	fmt.Println("reference: pgbench on this machine's PostgreSQL...")
	cmd := exec.CommandContext(ctx, "bash", "-c", b.cfg.ReferenceCmd)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	fmt.Print("  " + strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "\n  ") + "\n")
	for script, tps := range parseReference(string(out)) {
		b.refs[script] = append(b.refs[script], tps)
	}
	return nil
}

// parseReference reads the tps of each "reference <script> ... tps=X ..." line.
func parseReference(out string) map[string]float64 {
	tps := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 4 || fields[0] != "reference" {
			continue
		}
		for _, f := range fields[2:] {
			if v, ok := strings.CutPrefix(f, "tps="); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil && x > 0 {
					tps[fields[1]] = x
				}
			}
		}
	}
	return tps
}

// referenceOf is the mean of a script's measurements, with the measurements as text.
func (b *bench) referenceOf(script string) (mean float64, measured string, ok bool) {
	runs := b.refs[script]
	if len(runs) == 0 {
		return 0, "", false
	}
	texts := make([]string, len(runs))
	for i, r := range runs {
		mean += r / float64(len(runs))
		texts[i] = strconv.FormatFloat(r, 'f', 1, 64)
	}
	return mean, strings.Join(texts, " / "), true
}
