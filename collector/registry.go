package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// Namespace prefixes every PostgreSQL metric.
const Namespace = "pg"

// ErrNoData tells the framework that the collector found nothing to report
// on this server (a view that is empty or not readable here); it is logged at
// debug level and reported as success 0, never as a failed scrape.
var ErrNoData = errors.New("collector returned no data")

// ErrNotApplicable tells the framework that the collector does not apply to
// this server or database right now (a predicate of a custom query is false,
// a primary-only query on a replica): nothing is emitted for it, not even
// its success and duration, as for a collector whose version or extension
// predicate does not hold.
var ErrNotApplicable = errors.New("collector does not apply here")

// Scope says where a collector's data lives.
type Scope int

const (
	// Cluster collectors read server-wide views once per scrape.
	Cluster Scope = iota
	// Database collectors read per-database catalogs, once per discovered database.
	Database
)

func (s Scope) String() string {
	if s == Database {
		return "database"
	}
	return "cluster"
}

// Collector reads one group of views and emits const metrics.
type Collector interface {
	Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error
}

// Scrape is what a collector sees during one scrape of one target (and, for
// database-scoped collectors, one database).
type Scrape struct {
	Target     *target.Target
	Facts      *target.Facts
	Conn       *target.Conn
	Database   string            // the database Conn is connected to
	Extensions map[string]string // extensions installed in Database
}

// Options are given to every collector's constructor.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
}

// Spec describes a collector for the registry.
type Spec struct {
	Name    string
	Help    string // one line for --help
	Scope   Scope
	Default bool // enabled unless disabled by flag
	// MinVersion and MaxVersion bound server_version_num: the collector runs
	// where MinVersion <= version < MaxVersion (0 means unbounded).
	MinVersion int
	MaxVersion int
	// Extension, if set, must be installed in the database scraped.
	Extension string
	// TTL, if set, serves the last result for that long (configurable per
	// collector with collectors.<name>.ttl).
	TTL time.Duration
	// Metrics are the families the collector can emit, for docs/metrics.md.
	Metrics []*metric.Metric
	New     func(Options) (Collector, error)
}

var specs = map[string]*Spec{}

// Register adds a collector; called from init().
func Register(s *Spec) {
	if _, dup := specs[s.Name]; dup {
		panic("collector registered twice: " + s.Name)
	}
	specs[s.Name] = s
}

// Specs returns every registered collector, sorted by name.
func Specs() []*Spec {
	out := make([]*Spec, 0, len(specs))
	for _, s := range specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Known reports whether a collector of that name exists.
func Known(name string) bool { _, ok := specs[name]; return ok }

// Selection is the set of enabled collectors, from flags.
type Selection struct {
	enabled         map[string]*bool
	explicit        map[string]bool
	flags           map[string]*kingpin.FlagClause
	disableDefaults *bool
}

// flagger is a kingpin application or command.
type flagger interface {
	Flag(name, help string) *kingpin.FlagClause
}

// AddFlags adds --[no-]collector.<name> for every collector and
// --collector.disable-defaults.
func AddFlags(app flagger) *Selection {
	sel := &Selection{enabled: map[string]*bool{}, explicit: map[string]bool{}, flags: map[string]*kingpin.FlagClause{}}
	for _, s := range Specs() {
		name := s.Name
		state := "disabled"
		if s.Default {
			state = "enabled"
		}
		f := app.Flag("collector."+name, fmt.Sprintf("%s (default: %s).", s.Help, state)).
			Default(fmt.Sprint(s.Default)).
			Action(func(*kingpin.ParseContext) error { sel.explicit[name] = true; return nil })
		sel.flags[name] = f
		sel.enabled[name] = f.Bool()
	}
	sel.disableDefaults = app.Flag("collector.disable-defaults",
		"Disable every collector not enabled explicitly with --collector.<name>.").Default("false").Bool()
	return sel
}

// Given reports whether the collector's flag was given, on the command line
// or in its environment variable.
func (sel *Selection) Given(name string) bool {
	return sel.explicit[name] || sel.flags[name] != nil && sel.flags[name].HasEnvarValue()
}

// Set enables or disables a collector as its flag would; aliases of other
// exporters' flags use it.
func (sel *Selection) Set(name string, on bool) {
	*sel.enabled[name] = on
	sel.explicit[name] = true
}

// DisableDefaults does what --collector.disable-defaults does.
func (sel *Selection) DisableDefaults() { *sel.disableDefaults = true }

// Names returns the enabled collectors' names, sorted.
func (sel *Selection) Names() []string {
	var out []string
	for name, on := range sel.enabled {
		if *sel.disableDefaults && !sel.Given(name) {
			continue
		}
		if *on {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Build constructs the named collectors.
func Build(names []string, opts Options) ([]*Instance, error) {
	var out []*Instance
	for _, name := range names {
		s, ok := specs[name]
		if !ok {
			return nil, fmt.Errorf("unknown collector %q; known collectors: %s", name, strings.Join(allNames(), ", "))
		}
		c, err := s.New(opts)
		if err != nil {
			return nil, fmt.Errorf("collector %s: %w", name, err)
		}
		out = append(out, &Instance{Spec: s, Collector: c, TTL: opts.Config.TTL(name, s.TTL)})
	}
	return out, nil
}

func allNames() []string {
	var out []string
	for _, s := range Specs() {
		out = append(out, s.Name)
	}
	return out
}

// Instance is a built collector with its effective settings.
type Instance struct {
	Spec      *Spec
	Collector Collector
	TTL       time.Duration
}

// runsOn reports whether the instance's predicates hold, and why not.
func (in *Instance) runsOn(f *target.Facts, exts map[string]string) (bool, string) {
	s := in.Spec
	if s.MinVersion > 0 && f.VersionNum < s.MinVersion {
		return false, fmt.Sprintf("needs server_version_num >= %d", s.MinVersion)
	}
	if s.MaxVersion > 0 && f.VersionNum >= s.MaxVersion {
		return false, fmt.Sprintf("needs server_version_num < %d", s.MaxVersion)
	}
	if s.Extension != "" {
		if _, ok := exts[s.Extension]; !ok {
			return false, fmt.Sprintf("needs extension %s", s.Extension)
		}
	}
	return true, ""
}
