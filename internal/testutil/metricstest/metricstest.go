// Package metricstest reads Prometheus metrics in tests, where prometheus/testutil has no
// helper (histograms).
package metricstest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Count returns how many observations a histogram child (one label set) holds.
func Count(t testing.TB, h prometheus.Observer) uint64 {
	t.Helper()
	m, ok := h.(prometheus.Metric)
	if !ok {
		t.Fatalf("%T is not a single metric", h)
	}
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	if out.Histogram == nil {
		t.Fatalf("%T is not a histogram", h)
	}
	return out.Histogram.GetSampleCount()
}
