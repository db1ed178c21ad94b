package dashboards

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

func TestBucketMatcher(t *testing.T) {
	for v, want := range map[float64]string{0.5: `le="0.5"`, 0.001: `le="0.001"`, 2.5: `le="2.5"`, 1: `le=~"1([.]0)?"`, 10: `le=~"10([.]0)?"`} {
		if got := bucket(v); got != want {
			t.Errorf("bucket(%g) = %s, want %s", v, got, want)
		}
	}
}

// TestBucketMatcherScraped has every stack's Prometheus scrape a histogram
// written as the exporter writes it (client_golang's text format: le="1")
// and checks that bucket finds each bound, whole or fractional, whether
// Prometheus keeps le as written (2.x) or rewrites it as a float (3.x).
func TestBucketMatcherScraped(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# TYPE %[1]s histogram\n%[1]s_bucket{le=\"0.5\"} 3\n%[1]s_bucket{le=\"1\"} 5\n%[1]s_bucket{le=\"+Inf\"} 6\n%[1]s_sum 4\n%[1]s_count 6\n",
			strings.TrimSuffix(names.StmtBucket, "_bucket"))
	}))
	defer target.Close()
	promtest.RunPrometheus(t, func(t *testing.T, st promtest.Stack) {
		prom := st.Start(t, promtest.Options{Targets: map[string][]string{"h": {strings.TrimPrefix(target.URL, "http://")}}})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := prom.WaitFor(ctx, names.StmtBucket); err != nil {
			t.Fatal(err)
		}
		for bound, want := range map[float64]string{0.5: "3", 1: "5"} {
			q := names.StmtBucket + "{" + bucket(bound) + "}"
			res, err := prom.Query(ctx, q)
			if err != nil || len(res) != 1 || res[0].Value != want {
				t.Errorf("%s: %v %v, want one series of value %s", q, res, err, want)
			}
		}
	})
}
