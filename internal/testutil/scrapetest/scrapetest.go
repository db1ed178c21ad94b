// Package scrapetest runs collectors in-process against a real server for
// integration tests: one scrape, its metric families, promlint problems, and
// lookups by name and labels.
package scrapetest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
)

// Logger discards unless a test asks for output.
var Logger = slog.New(slog.NewTextHandler(io.Discard, nil))

// Scraper is a target plus the collectors to run on it.
type Scraper struct {
	Target  *target.Target
	Scraper *collector.Scraper
	Timeout time.Duration
}

// New builds a target for dsn and the named collectors (all registered ones
// when names is empty), with cfg (defaults when nil).
func New(tb testing.TB, dsn string, cfg *config.Config, names ...string) *Scraper {
	tb.Helper()
	if cfg == nil {
		var err error
		if cfg, err = config.Load(""); err != nil {
			tb.Fatal(err)
		}
	}
	cc, err := target.ParseDSN("test DSN", dsn, "")
	if err != nil {
		tb.Fatal(err)
	}
	if len(names) == 0 {
		for _, s := range collector.Specs() {
			names = append(names, s.Name)
		}
	}
	ins, err := collector.Build(names, collector.Options{Config: cfg, Logger: Logger})
	if err != nil {
		tb.Fatal(err)
	}
	t := target.New("test", cc, cfg, Logger)
	tb.Cleanup(t.Close)
	return &Scraper{Target: t, Scraper: collector.NewScraper(ins, Logger), Timeout: 10 * time.Second}
}

// Collector adapts one scrape to prometheus.Collector for testutil.
func (s *Scraper) Collector() prometheus.Collector {
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
		defer cancel()
		s.Scraper.Scrape(ctx, s.Target, ch)
	})
}

type collectorFunc func(chan<- prometheus.Metric)

// Describe sends nothing: the collector is unchecked. Describing by collecting
// once would make a family that appears only on a later collection (a session
// that was connecting, say) an "unregistered descriptor" error.
func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// Scrape gathers one scrape (see families.Gather).
func (s *Scraper) Scrape(tb testing.TB) families.Result {
	tb.Helper()
	return families.Gather(tb, s.Collector())
}

// Lint returns promlint's problems with one scrape.
func (s *Scraper) Lint(tb testing.TB) []promlint.Problem {
	tb.Helper()
	problems, err := testutil.CollectAndLint(s.Collector())
	if err != nil {
		tb.Fatal(err)
	}
	return problems
}
