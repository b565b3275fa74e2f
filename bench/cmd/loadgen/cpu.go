package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// cpuTimes is CPU time (user+system, in clock ticks) of the three parties sharing the
// machine during a phase: the service, PostgreSQL (every backend), and this process.
// Printed per phase, it says where the time went without a separate profiler run.
type cpuTimes struct{ service, postgres, loadgen int64 }

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func readCPU(servicePID int) cpuTimes {
	var t cpuTimes
	if servicePID != 0 {
		t.service, _ = procTicks(strconv.Itoa(servicePID))
	}
	t.loadgen, _ = procTicks("self")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || !bytes.HasPrefix(comm, []byte("postgres")) {
			continue
		}
		n, _ := procTicks(filepath.Base(d))
		t.postgres += n
	}
	return t
}

// procTicks reads utime+stime from /proc/PID/stat (fields 14 and 15; the command name,
// field 2, is parenthesised and may hold spaces, so fields are counted after it).
func procTicks(pid string) (int64, error) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	rest := stat[bytes.LastIndexByte(stat, ')')+2:]
	f := bytes.Fields(rest) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat for %s", pid)
	}
	u, _ := strconv.ParseInt(string(f[11]), 10, 64)
	s, _ := strconv.ParseInt(string(f[12]), 10, 64)
	return u + s, nil
}

// share formats each party's CPU use over secs as a percentage of one core, and per
// request in microseconds. Throughput on this shared machine swings by half between
// identical runs; CPU per request moves far less, so it is the figure to compare two
// versions of the code by.
func (a cpuTimes) share(b cpuTimes, secs float64, requests int64) string {
	pct := func(x, y int64) float64 { return float64(y-x) / clockTicks / secs * 100 }
	us := func(x, y int64) float64 {
		if requests == 0 {
			return 0
		}
		return float64(y-x) / clockTicks / float64(requests) * 1e6
	}
	return fmt.Sprintf("cpu %% of one core: service %.0f, postgres %.0f, loadgen %.0f; us per request: service %.0f, postgres %.0f, loadgen %.0f",
		pct(a.service, b.service), pct(a.postgres, b.postgres), pct(a.loadgen, b.loadgen),
		us(a.service, b.service), us(a.postgres, b.postgres), us(a.loadgen, b.loadgen))
}
