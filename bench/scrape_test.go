// Package bench holds the exporter's Go benchmarks; run.sh is the side-by-side
// comparison with postgres_exporter.
package bench

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// BenchmarkScrape times whole /metrics scrapes, every default collector on,
// in this process, against the server in BENCH_DSN (run.sh sets it to its
// fixture). BENCH_CONFIG names an exporter config file; without it the
// defaults apply. Time and allocations per scrape are the exporter's and the
// server's together; the CPU profile (-cpuprofile) shows the exporter's part.
func BenchmarkScrape(b *testing.B) {
	dsn := os.Getenv("BENCH_DSN")
	if dsn == "" {
		b.Skip("BENCH_DSN is not set: bench/run.sh sets it to its fixture; or point it at a server to measure")
	}
	// Without BENCH_CONFIG, Load gives the defaults the exporter runs with.
	cfg, err := config.Load(os.Getenv("BENCH_CONFIG"))
	if err != nil {
		b.Fatal(err)
	}
	cc, err := target.ParseDSN("BENCH_DSN", dsn, "")
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	exp, err := exporter.New(exporter.Options{Config: cfg, Default: cc,
		Build: exporter.BuildCollectors(exporter.DefaultCollectors(), quiet), Logger: quiet,
		Timeouts: exporter.Timeouts{Offset: 100 * time.Millisecond, Default: time.Minute, Max: time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Close()
	scrape := func() int {
		rec := httptest.NewRecorder()
		exp.Server.Metrics(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("scrape answered %d: %s", rec.Code, rec.Body.String())
		}
		return rec.Body.Len()
	}
	scrape() // the cold scrape fills the TTL caches
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int
	for b.Loop() {
		bytes = scrape()
	}
	b.ReportMetric(float64(bytes), "bytes/scrape")
}
