// Command benchcmp reads the logs of make bench's runs, each a baseline's (the previous
// release) or the new build's, and prints every figure for both: the median of the
// runs of each, and the change. A figure more than 10% worse is marked; BENCHMARKS.md
// must then say why. Higher is better for rates (a unit ending in /s), lower for
// everything else (times, latencies, memory). With the pgbench reference's log, the
// creation and read rates are also shown as ratios to the mean of its measurements.
//
//	benchcmp reference=ref.log baseline=run1.log new=run2.log baseline=run3.log new=run4.log
package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// worse is how much worse than the baseline a figure may be before it is marked.
const worse = 0.10

func main() {
	runs := map[string]map[string][]float64{} // label -> figure -> values
	units := map[string]string{}
	var order []string
	refs := map[string][]float64{}
	for _, arg := range os.Args[1:] {
		label, path, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintln(os.Stderr, "usage: benchcmp [reference=LOG] LABEL=LOG ...")
			os.Exit(2)
		}
		if label == "reference" {
			if err := readReference(path, refs); err != nil {
				fmt.Fprintln(os.Stderr, "benchcmp:", err)
				os.Exit(1)
			}
			continue
		}
		if runs[label] == nil {
			runs[label] = map[string][]float64{}
		}
		if err := read(path, runs[label], units, &order); err != nil {
			fmt.Fprintln(os.Stderr, "benchcmp:", err)
			os.Exit(1)
		}
	}
	base, next := runs["baseline"], runs["new"]
	fmt.Printf("\n%-22s %-8s %14s %14s %8s\n", "figure", "unit", "baseline", "new", "change")
	regressions := 0
	for _, name := range order {
		b, n := median(base[name]), median(next[name])
		line := fmt.Sprintf("%-22s %-8s %14s %14s", name, units[name], format(b, len(base[name])), format(n, len(next[name])))
		if len(base[name]) > 0 && len(next[name]) > 0 && b != 0 {
			change := n/b - 1
			line += fmt.Sprintf(" %+7.1f%%", 100*change)
			better := change
			if !strings.HasSuffix(units[name], "/s") {
				better = -change
			}
			if better < -worse {
				line += "  more than 10% worse"
				regressions++
			}
		}
		for i, script := range referenceOf[name] {
			ref := median(refs[script])
			if ref <= 0 {
				continue
			}
			what := "the reference"
			if i > 0 {
				what = "our own transaction"
			}
			line += fmt.Sprintf("  ratio to %s (%.0f tps): %.2f / %.2f", what, ref, b/ref, n/ref)
		}
		fmt.Println(line)
		fmt.Printf("benchcmp %s unit=%s baseline=%.3f new=%.3f\n", name, units[name], b, n)
	}
	fmt.Printf("benchcmp: %d figures more than 10%% worse than the baseline\n", regressions)
}

// read collects a log's "bench NAME value=X unit=U [p99_ms=Y ...]" lines.
func read(path string, into map[string][]float64, units map[string]string, order *[]string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[0] != "bench" {
			continue
		}
		name, kv := fields[1], map[string]string{}
		for _, field := range fields[2:] {
			if k, v, ok := strings.Cut(field, "="); ok {
				kv[k] = v
			}
		}
		add := func(name, value, unit string) {
			x, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return
			}
			if !slices.Contains(*order, name) {
				*order = append(*order, name)
			}
			into[name] = append(into[name], x)
			units[name] = unit
		}
		add(name, kv["value"], kv["unit"])
		if p99, ok := kv["p99_ms"]; ok {
			add(name+" p99", p99, "ms")
		}
	}
	return sc.Err()
}

// referenceOf is the pgbench scripts each rate is read next to: the minimal reference,
// then the database recording a withdrawal with the service's own statements
// (bench/cmd/ownref).
var referenceOf = map[string][]string{
	"create_spread": {"withdraw_spread", "own_spread"}, "create_hot": {"withdraw_hot", "own_hot"}, "balance_read": {"read_balance"},
}

// readReference collects "reference <script> clients=N tps=X p99_ms=Y" lines.
func readReference(path string, into map[string][]float64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[0] != "reference" {
			continue
		}
		for _, field := range fields[2:] {
			if v, ok := strings.CutPrefix(field, "tps="); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					into[fields[1]] = append(into[fields[1]], x)
				}
			}
		}
	}
	return sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func format(v float64, runs int) string {
	if runs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f (%d)", v, runs)
}
