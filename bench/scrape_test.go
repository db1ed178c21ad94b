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

	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// BenchmarkScrape times whole /metrics scrapes, every default collector on,
// in this process, in the text format and in protobuf, against the server in BENCH_DSN (run.sh sets it to its
// fixture). BENCH_CONFIG names an exporter config file; without it the
// defaults apply. Time and allocations per scrape are the exporter's and the
// server's together; the CPU profile (-cpuprofile) shows the exporter's part.
func BenchmarkScrape(b *testing.B) {
	dsn := os.Getenv("BENCH_DSN")
	if dsn == "" {
		b.Skip("BENCH_DSN is not set: bench/run.sh sets it to its fixture; or point it at a server to measure")
	}
	cc, err := target.ParseDSN("BENCH_DSN", dsn, "")
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The same assembly as the binary's: default collectors and the shipped
	// queries.yaml.
	exp, err := exporter.New(exporter.Settings{ConfigFile: os.Getenv("BENCH_CONFIG"), Collectors: exporter.DefaultCollectors(),
		QueryPaths: []string{"../queries.yaml"}, Default: cc, Logger: quiet,
		Timeouts: exporter.Timeouts{Offset: 100 * time.Millisecond, Default: time.Minute, Max: time.Minute}})
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Close()
	scrape := func(accept string) int {
		w := &discard{header: http.Header{}}
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		exp.Server.Metrics(w, r)
		if w.code != 0 && w.code != http.StatusOK {
			b.Fatalf("scrape answered %d", w.code)
		}
		return w.n
	}
	scrape("") // the cold scrape fills the TTL caches
	for _, f := range []struct{ name, accept string }{
		{"text", ""},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
	} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			var bytes int
			for b.Loop() {
				bytes = scrape(f.accept)
			}
			b.ReportMetric(float64(bytes), "bytes/scrape")
		})
	}
}

// discard is a ResponseWriter that counts the body and keeps none of it, as
// a socket would: the benchmark's memory is the exporter's alone.
type discard struct {
	header http.Header
	code   int
	n      int
}

func (d *discard) Header() http.Header  { return d.header }
func (d *discard) WriteHeader(code int) { d.code = code }
func (d *discard) Write(p []byte) (int, error) {
	d.n += len(p)
	return len(p), nil
}
