package remediate

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkWebhookAccept posts distinct notifications (one alert each, as
// Alertmanager sends with group_by ['...']) over loopback HTTP to a receiver
// whose rule maps them, with an audit log file, and reports accepted
// notifications per second and the 99th percentile of the request latency.
// The queue is large enough for the run and its workers stop at the first
// job (no database is involved): what is measured is validation, dedupe,
// rule matching and queueing, the work done inside the request.
func BenchmarkWebhookAccept(b *testing.B) { benchmarkAccept(b, 0) }

// BenchmarkWebhookAcceptAt2000PerSecond sends at a steady 2 000
// notifications per second (the target rate) and reports the latency
// percentiles there, free of the queueing a saturating load adds.
func BenchmarkWebhookAcceptAt2000PerSecond(b *testing.B) { benchmarkAccept(b, 2000) }

func benchmarkAccept(b *testing.B, rate int) {
	cfg, err := Parse("b.yml", []byte(fmt.Sprintf(`
queue: {size: %d, workers: 1}
audit: {file: %s}
targets:
  - name: db1
    match: {instance: "db1:9932"}
    dsn: postgres://remediate@127.0.0.1:1/postgres
rules:
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
    window: never
    outside_window: skip
windows:
  never: {start: "00:00", end: "00:01", days: [sun]}
`, b.N+10, filepath.Join(b.TempDir(), "audit.jsonl"))))
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := New(cfg, Options{Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	srv := httptest.NewServer(r.Routes(reg, nil))
	defer srv.Close()
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = payloadOf(firing("alertname", "PostgresDeadTuplesHigh", "datname", "app", "schemaname", "public", "relname", fmt.Sprintf("t%d", i)))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	const clients = 4
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if rate > 0 { // notification i is due at start + i/rate
					time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
				}
				t0 := time.Now()
				resp, err := client.Post(srv.URL+WebhookPath, "application/json", bytes.NewReader(bodies[i]))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body) // drained, so the connection is reused
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "notifications/s")
	b.ReportMetric(float64(lat[(len(lat)*50)/100].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
}
