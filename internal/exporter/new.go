package exporter

import (
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// Options describe one exporter: what main serves, and what tests start in-process.
type Options struct {
	ConfigFile string // the file SIGHUP and /-/reload re-read
	Config     *config.Config
	// Default is the target /metrics scrapes; nil serves only the exporter's
	// own metrics there.
	Default *pgx.ConnConfig
	// Build makes the scraper for a config on every reload, and at start
	// unless Scraper is already built from Config.
	Build    func(*config.Config) (*collector.Scraper, error)
	Scraper  *collector.Scraper
	Timeouts Timeouts
	Logger   *slog.Logger
	// Self are more collectors for /metrics besides the pools, the reload
	// state and the build info (Go runtime, PgBouncers, backup sources).
	Self []prometheus.Collector
}

// Exporter is the exporter put together.
type Exporter struct {
	Server   *Server
	Reloader *Reloader
	Manager  *target.Manager
	State    *State
}

// New builds the scraper, the target manager, the /metrics registry and the
// reloader. Close releases the targets' connections.
func New(o Options) (*Exporter, error) {
	sc := o.Scraper
	if sc == nil {
		var err error
		if sc, err = o.Build(o.Config); err != nil {
			return nil, err
		}
	}
	mgr := target.NewManager(o.Config, o.Default, o.Logger)
	state := NewState()
	self := prometheus.NewRegistry()
	self.MustRegister(append([]prometheus.Collector{PoolCollector{Manager: mgr}, state}, o.Self...)...)
	srv := &Server{Manager: mgr, Timeouts: o.Timeouts, Logger: o.Logger, Self: self}
	srv.SetScraper(sc)
	return &Exporter{
		Server:   srv,
		Reloader: &Reloader{Path: o.ConfigFile, Server: srv, State: state, Logger: o.Logger, Build: o.Build},
		Manager:  mgr,
		State:    state,
	}, nil
}

// Close closes every target's pool.
func (e *Exporter) Close() { e.Manager.Close() }

// BuildCollectors returns a Build function for the named collectors.
func BuildCollectors(names []string, logger *slog.Logger) func(*config.Config) (*collector.Scraper, error) {
	return func(c *config.Config) (*collector.Scraper, error) {
		ins, err := collector.Build(names, collector.Options{Config: c, Logger: logger})
		if err != nil {
			return nil, err
		}
		return collector.NewScraper(ins, logger), nil
	}
}

// DefaultCollectors names the collectors enabled by default.
func DefaultCollectors() []string {
	var names []string
	for _, s := range collector.Specs() {
		if s.Default {
			names = append(names, s.Name)
		}
	}
	return names
}
