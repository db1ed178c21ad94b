package exporter

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/backup"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/pgbouncer"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// NoQueries, given as a query path, turns the built-in queries.yaml off.
const NoQueries = "none"

// Settings are what the command line fixes for the life of the process; the
// configuration file is re-read on every reload.
type Settings struct {
	// ConfigFile is the file New and every reload read ("" for the defaults).
	ConfigFile string
	// Collectors are the enabled built-in collectors.
	Collectors []string
	// QueryPaths are queries.yaml files from the command line, loaded with the
	// config file's custom_queries.
	QueryPaths []string
	// ConstantLabels go on every series served, over the file's
	// constant_labels.
	ConstantLabels config.ConstantLabels
	// DatabasesInclude and DatabasesExclude are database patterns from the
	// command line, applied beside the file's databases section.
	DatabasesInclude, DatabasesExclude []string
	// BuiltinQueries is the queries.yaml that runs when no file is named
	// (nil: none).
	BuiltinQueries []byte
	// Default is the target /metrics scrapes; nil serves only the exporter's
	// own metrics there.
	Default  *pgx.ConnConfig
	Timeouts Timeouts
	Logger   *slog.Logger
	// Runtime are more collectors for /metrics (the Go runtime and process).
	Runtime []prometheus.Collector
	// WebConfigFile is --web.config.file: a refused reload's error, which
	// names files, lines and settings, is shown to callers of /-/reload only
	// when it makes every client authenticate.
	WebConfigFile string
}

// CollectorFlags adds --[no-]collector.<name> for every built-in collector
// and --collector.disable-defaults; once the flags are parsed, the selection
// names the enabled collectors.
func CollectorFlags(cmd *kingpin.CmdClause) *collector.Selection {
	return collector.AddFlags(cmd)
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

// AllCollectors names every built-in collector.
func AllCollectors() []string {
	var names []string
	for _, s := range collector.Specs() {
		names = append(names, s.Name)
	}
	return names
}

// Exporter is the exporter put together: the HTTP endpoints, the targets,
// the PgBouncers and backup sources /metrics reports, and the reload state.
type Exporter struct {
	Server   *Server
	Reloader *Reloader
	Manager  *target.Manager
	State    *State

	settings Settings
	bouncers *pgbouncer.Collector
	backups  *backup.Collector
}

// plan is everything one configuration makes, built without side effects on
// the running exporter, so a configuration that fails anywhere changes
// nothing.
type plan struct {
	cfg      *config.Config
	targets  target.Configured
	scraper  *collector.Scraper
	bouncers pgbouncer.Set
	labels   *constLabels
}

// Load reads the configuration file and checks everything built from it
// (collectors, custom queries, PgBouncer connection settings) without
// starting anything; --config.check and check-config stop here.
func Load(s Settings) (*config.Config, error) {
	cfg, err := config.Load(s.ConfigFile)
	if err != nil {
		return nil, err
	}
	if _, err := s.prepare(cfg, pgbouncer.New(s.Logger)); err != nil {
		return nil, err
	}
	return cfg, nil
}

// New builds the exporter from the settings and the configuration file.
// Close releases its connections.
func New(s Settings) (*Exporter, error) {
	cfg, err := config.Load(s.ConfigFile)
	if err != nil {
		return nil, err
	}
	return NewFromConfig(s, cfg)
}

// NewFromConfig builds the exporter from a configuration already loaded
// (tests build one in memory); reloads still read s.ConfigFile.
func NewFromConfig(s Settings, cfg *config.Config) (_ *Exporter, err error) {
	e := &Exporter{
		settings: s,
		bouncers: pgbouncer.New(s.Logger),
		backups:  backup.NewCollector(nil, s.Logger),
		State:    NewState(),
	}
	p, err := s.prepare(cfg, e.bouncers)
	if err != nil {
		return nil, err
	}
	e.Manager = target.NewManager(cfg, p.targets, s.Default, s.Logger)
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	self := prometheus.NewRegistry()
	if err := self.Register(PoolCollector{Manager: e.Manager}); err != nil {
		return nil, err
	}
	for _, c := range append([]prometheus.Collector{e.State, e.bouncers, e.backups}, s.Runtime...) {
		if err := self.Register(c); err != nil {
			return nil, err
		}
	}
	e.Server = &Server{Manager: e.Manager, Timeouts: s.Timeouts, Logger: s.Logger, Self: self}
	e.apply(p, false)
	e.Reloader = &Reloader{exporter: e}
	return e, nil
}

// prepare builds what cfg makes: the targets' connection settings, the
// collectors, the custom queries and the PgBouncer list (bouncers is only
// asked to check, not to change).
func (s Settings) prepare(cfg *config.Config, bouncers *pgbouncer.Collector) (*plan, error) {
	if err := cfg.CheckCollectors(collector.Known); err != nil {
		return nil, err
	}
	if err := cfg.Databases.SetFlagPatterns(s.DatabasesInclude, s.DatabasesExclude); err != nil {
		return nil, err
	}
	targets, err := target.Prepare(cfg)
	if err != nil {
		return nil, err
	}
	opts := collector.Options{Config: cfg, Logger: s.Logger}
	ins, err := collector.Build(s.Collectors, opts)
	if err != nil {
		return nil, err
	}
	queries, err := collector.LoadCustomQueries(s.customSources(cfg), s.Collectors, servedFamilies()...)
	if err != nil {
		return nil, err
	}
	for _, q := range queries {
		ins = append(ins, q.Instance())
	}
	labels, err := s.buildConstLabels(cfg, queries)
	if err != nil {
		return nil, err
	}
	set, err := bouncers.Prepare(cfg.PgBouncers)
	if err != nil {
		return nil, err
	}
	return &plan{cfg: cfg, targets: targets, scraper: collector.NewScraper(ins, s.Logger), bouncers: set, labels: labels}, nil
}

// apply puts a prepared configuration in force: the targets (on a reload),
// the collectors, the PgBouncers and the backup sources.
func (e *Exporter) apply(p *plan, reload bool) {
	if reload {
		e.Manager.Reload(p.cfg, p.targets)
	}
	e.Server.SetScraper(p.scraper)
	e.Server.labels.Store(p.labels)
	e.bouncers.Apply(p.bouncers)
	e.backups.Configure(p.cfg.BackupSources)
}

// customSources lists the queries.yaml files to load: those named on the
// command line and by the config file's custom_queries, or the built-in
// file when neither names one.
func (s Settings) customSources(cfg *config.Config) []collector.CustomSource {
	paths := append(append([]string{}, s.QueryPaths...), cfg.CustomQueries.Paths...)
	if len(paths) == 0 {
		if s.BuiltinQueries == nil {
			return nil
		}
		return []collector.CustomSource{{Name: "queries.yaml (built in)", Data: s.BuiltinQueries}}
	}
	var out []collector.CustomSource
	for _, p := range paths {
		if p != NoQueries {
			out = append(out, collector.CustomSource{Name: p})
		}
	}
	return out
}

// servedFamilies are the families /metrics serves besides the collectors',
// which custom queries must not reuse.
func servedFamilies() []collector.Served {
	return []collector.Served{
		{By: "the exporter's own metrics", Metrics: SelfMetrics()},
		{By: "the exporter's PgBouncer metrics", Metrics: pgbouncer.Metrics()},
		{By: "the exporter's backup source metrics", Metrics: backup.Metrics()},
	}
}

// Close releases every target's and PgBouncer's connections.
func (e *Exporter) Close() {
	e.Manager.Close()
	e.bouncers.Close()
}

// Families returns every metric family the exporter can serve, grouped as
// docs/metrics.md lists them: first the framework's, the exporter's own, the
// custom queries', PgBouncers' and backup sources', then (collectors) one
// group per built-in collector.
func Families() (served, collectors []FamilyGroup) {
	served = []FamilyGroup{
		{Title: "Scrape meta-metrics", Intro: "Emitted on `/metrics` (default target) and `/probe`.", Metrics: collector.MetaMetrics()},
		{Title: "Exporter", Intro: "Emitted on `/metrics` only, with the Go runtime and process metrics (`go_*`, `process_*`).", Metrics: SelfMetrics()},
		{Title: "Custom queries", Intro: "One series per query of the loaded queries.yaml files (and per database, for queries that run on several); the queries' own metrics are named `<query>_<column>` (see docs/queries.md).", Metrics: collector.CustomQueryMetrics()},
		{Title: "PgBouncer", Intro: "Emitted on `/metrics` for every PgBouncer of the config file's `pgbouncers` section, labelled by its name. Versions are PgBouncer's; a column an older PgBouncer lacks is left out.", Metrics: pgbouncer.Metrics()},
		{Title: "Backup sources", Intro: "Emitted on `/metrics` only, one set per entry of `backup_sources` in the configuration file (docs/backup-manifest.md describes the manifest format).", Metrics: backup.Metrics()},
	}
	for _, s := range collector.Specs() {
		collectors = append(collectors, FamilyGroup{Title: fmt.Sprintf("Collector `%s`", s.Name), Intro: collectorIntro(s), Metrics: s.Metrics})
	}
	return served, collectors
}

// FamilyGroup is one section of docs/metrics.md.
type FamilyGroup struct {
	Title, Intro string
	Metrics      []*metric.Metric
}

func collectorIntro(s *collector.Spec) string {
	state := "disabled by default (`--collector.%s` enables it)"
	if s.Default {
		state = "enabled by default (`--no-collector.%s` disables it)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s. Scope: %s, %s.", s.Help, s.Scope, fmt.Sprintf(state, s.Name))
	if s.MinVersion > 0 {
		fmt.Fprintf(&b, " Needs server_version_num >= %d.", s.MinVersion)
	}
	if s.Extension != "" {
		fmt.Fprintf(&b, " Needs the `%s` extension.", s.Extension)
	}
	if s.TTL > 0 {
		fmt.Fprintf(&b, " Cached for %s by default (`collectors.%s.ttl`).", s.TTL, s.Name)
	}
	return b.String()
}
