package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (nearest rank) of ds, or 0 for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// fmtDur prints a duration in milliseconds below 10 s and in seconds above, as the tables do.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

// ratio is how many times slower b is than a ("12.3x"), from their medians.
func ratio(a, b time.Duration) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return float64(b) / float64(a)
}

// meanStages averages the stage splits of a series.
func meanStages(ss []stages) stages {
	var m stages
	if len(ss) == 0 {
		return m
	}
	for _, s := range ss {
		m.detect += s.detect
		m.quiet += s.quiet
		m.plan += s.plan
		m.transfer += s.transfer
		m.write += s.write
		m.steps += s.steps
		m.restart += s.restart
		m.response += s.response
	}
	n := time.Duration(len(ss))
	return stages{m.detect / n, m.quiet / n, m.plan / n, m.transfer / n, m.write / n, m.steps / n, m.restart / n, m.response / n}
}
