package backup

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/prometheus/client_golang/prometheus"
)

type collectFunc func(chan<- prometheus.Metric)

func (f collectFunc) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(f, ch) }
func (f collectFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// reportMetrics renders a report as one source's series.
func reportMetrics(t *testing.T, r *Report, now time.Time, retention time.Duration, window int) families.Result {
	t.Helper()
	return families.Gather(t, collectFunc(func(ch chan<- prometheus.Metric) { r.emit(ch, "src", now, retention, window) }))
}

func absent(t *testing.T, r families.Result, name string, labels map[string]string) {
	t.Helper()
	if vs := r.Values(name, labels); len(vs) > 0 {
		t.Errorf("%s%v present (%v), want absent", name, labels, vs)
	}
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
