package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// Timeouts bound a scrape.
type Timeouts struct {
	// Offset is taken off Prometheus's scrape timeout so the answer leaves in time.
	Offset time.Duration
	// Default applies when the request carries no timeout header.
	Default time.Duration
	// Max caps whatever the header says.
	Max time.Duration
}

// Deadline returns how long a scrape may take, from the request's
// X-Prometheus-Scrape-Timeout-Seconds header (or the default), less the offset.
func (t Timeouts) Deadline(r *http.Request) time.Duration {
	d := t.Default
	if h := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); h != "" {
		// Clamp before converting: a huge value would overflow time.Duration
		// and slip past the maximum as a negative number.
		if secs, err := strconv.ParseFloat(h, 64); err == nil && secs > 0 && !math.IsInf(secs, 0) {
			if t.Max > 0 && secs > t.Max.Seconds() {
				secs = t.Max.Seconds()
			}
			if secs < float64(math.MaxInt64)/float64(time.Second) {
				d = time.Duration(secs * float64(time.Second))
			}
		}
	}
	if t.Max > 0 && d > t.Max {
		d = t.Max
	}
	// Keep at least a tenth of the budget when the offset would eat it all.
	if d-t.Offset > d/10 {
		d -= t.Offset
	} else {
		d /= 10
	}
	return d
}

// Server holds what the handlers share.
type Server struct {
	Manager  *target.Manager
	scraper  atomic.Pointer[collector.Scraper]
	labels   atomic.Pointer[constLabels]
	Timeouts Timeouts
	Logger   *slog.Logger
	// Self is the registry of the exporter's own metrics, served on /metrics.
	Self *prometheus.Registry
}

// SetScraper puts a scraper (a set of built collectors) in force.
func (s *Server) SetScraper(sc *collector.Scraper) { s.scraper.Store(sc) }

// targetCollector scrapes one target when gathered; it lives for one
// request. The per-object families go to blocks, for exposition.Serve.
type targetCollector struct {
	ctx     context.Context
	scraper *collector.Scraper
	only    collector.Subset
	target  *target.Target
	blocks  *exposition.Blocks
}

func (c targetCollector) Describe(chan<- *prometheus.Desc) {} // unchecked: families vary by server

func (c targetCollector) Collect(ch chan<- prometheus.Metric) {
	c.scraper.ScrapeBlocks(c.ctx, c.target, c.only, ch, c.blocks.Add)
}

// subset reads collect[]=name or exclude[]=name (repeated): the scrape runs
// those collectors only, or all but those, as node_exporter's does; a probe
// per database can leave the server-wide collectors to a probe per server,
// which leaves the database-scoped ones out. A name that is not an enabled
// collector is answered 400 here, before any target is made.
func (s *Server) subset(w http.ResponseWriter, r *http.Request) (*collector.Scraper, collector.Subset, bool) {
	sc := s.scraper.Load()
	q := r.URL.Query()
	only, err := sc.Subset(q["collect[]"], q["exclude[]"])
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, nil, false
	}
	return sc, only, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, sc *collector.Scraper, only collector.Subset, t *target.Target, extra prometheus.Gatherer, labels *exposition.ConstLabels) {
	ctx, cancel := context.WithTimeoutCause(r.Context(), s.Timeouts.Deadline(r), errors.New("scrape timeout"))
	defer cancel()
	reg := prometheus.NewRegistry()
	var g prometheus.Gatherers
	blocks := &exposition.Blocks{}
	if t != nil {
		reg.MustRegister(targetCollector{ctx: ctx, scraper: sc, only: only, target: t, blocks: blocks})
		g = append(g, reg)
	}
	if extra != nil {
		g = append(g, extra)
	}
	// As promhttp.HandlerFor(g, opts), with the per-object families
	// streamed from their blocks and the constant labels on every series.
	exposition.Serve(w, r, g, blocks, labels, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(s.Logger.Handler(), slog.LevelError),
		// OpenMetrics when the scraper asks for it (Prometheus does by
		// default), with the _created samples client_golang can give:
		// Prometheus turns them into created timestamps.
		EnableOpenMetrics:                   true,
		EnableOpenMetricsTextCreatedSamples: true,
	})
}

// Metrics serves the default target (if any) and the exporter's own metrics.
func (s *Server) Metrics(w http.ResponseWriter, r *http.Request) {
	var labels *exposition.ConstLabels
	if l := s.labels.Load(); l != nil {
		labels = l.global
	}
	sc, only, ok := s.subset(w, r)
	if !ok {
		return
	}
	s.serve(w, r, sc, only, s.Manager.Default(), s.Self, labels)
}

// Probe serves /probe?target=&auth_module=. A refused probe is answered
// with what to change (400, 403); any other failure with a body that says
// nothing about the configuration (500), the details going to the log.
func (s *Server) Probe(w http.ResponseWriter, r *http.Request) {
	sc, only, ok := s.subset(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	t, err := s.Manager.Probe(q.Get("target"), q.Get("auth_module"))
	if err != nil {
		var (
			bad       *target.BadRequestError
			forbidden *target.ForbiddenError
		)
		// The caller chose the target's text: log a bounded part of it.
		log := s.Logger.With("target", clip(q.Get("target")), "auth_module", clip(q.Get("auth_module")), "err", err)
		switch {
		case errors.As(err, &bad):
			log.Debug("probe refused")
			http.Error(w, err.Error(), http.StatusBadRequest)
		case errors.As(err, &forbidden):
			log.Warn("probe refused: the auth module does not allow this target")
			http.Error(w, err.Error(), http.StatusForbidden)
		default:
			log.Error("probe failed")
			http.Error(w, "cannot probe this target; the exporter's log says why", http.StatusInternalServerError)
		}
		return
	}
	s.serve(w, r, sc, only, t, nil, s.labels.Load().forProbe(q.Get("target"), q.Get("auth_module")))
}

// clip shortens text chosen by a caller before it goes to the log.
func clip(s string) string {
	const n = 256
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Healthy answers 200 while the process runs.
func Healthy(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	fmt.Fprintln(w, "Healthy")
}

// Ready answers 200 once the exporter serves with a valid config.
func Ready(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	fmt.Fprintln(w, "Ready")
}

// Routes returns the exporter's HTTP routes: metricsPath, /probe, the role
// checks under /health/, /-/reload, /-/healthy, /-/ready, and landing for
// everything else (if not nil).
func (s *Server) Routes(metricsPath string, reload, landing http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc(metricsPath, s.Metrics)
	mux.HandleFunc("/probe", s.Probe)
	mux.HandleFunc("/health/primary", s.HealthPrimary)
	mux.HandleFunc("/health/replica", s.HealthReplica)
	mux.HandleFunc("/health/read", s.HealthRead)
	mux.Handle("/-/reload", reload)
	mux.HandleFunc("/-/healthy", Healthy)
	mux.HandleFunc("/-/ready", Ready)
	if landing != nil && metricsPath != "/" {
		mux.Handle("/", landing)
	}
	return mux
}
