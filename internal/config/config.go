// Package config reads and validates the exporter's configuration file. Every
// error names the file and line it concerns, and a file that fails validation is
// never half-applied: Load returns either a complete Config or an error.
package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// Config is the exporter's configuration file.
type Config struct {
	// Targets are servers that /probe?target=<name> can scrape by name.
	Targets []Target `yaml:"targets"`
	// AuthModules hold credentials for /probe?target=<host:port/db>&auth_module=<name>.
	AuthModules map[string]AuthModule `yaml:"auth_modules"`
	// Connection tunes every target's connection pool.
	Connection Connection `yaml:"connection"`
	// Databases selects the databases that database-scoped collectors visit.
	Databases Databases `yaml:"databases"`
	// MaxTargets caps the number of targets with an open pool at once.
	MaxTargets int `yaml:"max_targets"`
	// Collectors holds per-collector settings, keyed by collector name.
	Collectors Collectors `yaml:"collectors"`
	// Pools and Activity tune the pools and activity collectors (pools.go).
	Pools    []Pool   `yaml:"pools"`
	Activity Activity `yaml:"activity"`
	// PgBouncers are the PgBouncers whose admin console /metrics reads.
	PgBouncers []PgBouncer `yaml:"pgbouncers"`
	// CustomQueries are queries.yaml files of user-defined SQL collectors.
	CustomQueries QueryFiles `yaml:"custom_queries"`
	// BackupSources are backup repositories reported under pg_backup_*.
	BackupSources []BackupSource `yaml:"backup_sources"`
	// Objects bounds per-object series (tables, indexes, statements); objects.go.
	Objects Objects `yaml:"objects"`
	// ConstantLabels go on every series the exporter serves (labels.go).
	ConstantLabels ConstantLabels `yaml:"constant_labels"`

	file       string
	labelLines map[string]int // constant_labels key -> line
}

// Target is a named server.
type Target struct {
	Name       string `yaml:"name"`
	ConnSource `yaml:",inline"`
	// ConstantLabels go on every series of this target's /probe, after the
	// top level's.
	ConstantLabels ConstantLabels `yaml:"constant_labels"`
	// Databases, when given, replaces the top level's include and exclude
	// patterns for this target (TargetDatabases).
	Databases *Databases `yaml:"databases"`

	Line int `yaml:"-"`
}

// Connection tunes the pools.
type Connection struct {
	// MaxConnections caps each target's connections across all its databases.
	MaxConnections int `yaml:"max_connections"`
	// IdleTimeout closes connections unused for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// StatementTimeout and LockTimeout are set on every session.
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	LockTimeout      time.Duration `yaml:"lock_timeout"`
	// Retries after a failed connection attempt, the first after RetryBackoff,
	// each following one after twice the previous wait, within the scrape deadline.
	Retries      int           `yaml:"retries"`
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// BreakerFailures consecutive failed scrapes open the circuit for BreakerOpenFor.
	BreakerFailures int           `yaml:"breaker_failures"`
	BreakerOpenFor  time.Duration `yaml:"breaker_open_for"`
}

// Databases selects databases for database-scoped collectors. Patterns are
// anchored regular expressions matched against the database name.
type Databases struct {
	Include      []string      `yaml:"include"`
	Exclude      []string      `yaml:"exclude"`
	DiscoveryTTL time.Duration `yaml:"discovery_ttl"`

	Line int `yaml:"-"`

	include, exclude []*regexp.Regexp
	// flagInclude and flagExclude come from the command line (SetFlagPatterns).
	flagInclude, flagExclude []*regexp.Regexp
}

// SetFlagPatterns sets the include and exclude patterns given on the command
// line, which apply beside the file's (an include from either admits a
// database; an exclude from either drops it). Setting them again replaces them.
func (d *Databases) SetFlagPatterns(include, exclude []string) error {
	in, err := compileAll(include)
	if err != nil {
		return fmt.Errorf("--databases.include: %v", err)
	}
	ex, err := compileAll(exclude)
	if err != nil {
		return fmt.Errorf("--databases.exclude: %v", err)
	}
	d.flagInclude, d.flagExclude = in, ex
	return nil
}

// UnmarshalYAML records the line of the section for later messages.
func (d *Databases) UnmarshalYAML(n *yaml.Node) error {
	type plain Databases
	if err := strictDecode(n, (*plain)(d), "config.Databases"); err != nil {
		return err
	}
	d.Line = n.Line
	return nil
}

// compile compiles the section's patterns, reporting a bad one at the
// section's line under the name where (databases, or targets[i].databases).
func (d *Databases) compile(where string, add func(int, string, ...any)) {
	var err error
	if d.include, err = compileAll(d.Include); err != nil {
		add(d.Line, "%s.include: %v; patterns are anchored regular expressions such as app_.* (quote them in YAML)", where, err)
	}
	if d.exclude, err = compileAll(d.Exclude); err != nil {
		add(d.Line, "%s.exclude: %v; patterns are anchored regular expressions such as app_.* (quote them in YAML)", where, err)
	}
}

// TargetDatabases is the selection of a configured target: the top level's,
// with the target's own include and exclude patterns in place of the top
// level's when it has a databases section (its discovery_ttl, when set,
// too). The command line's patterns apply to every target.
func (c *Config) TargetDatabases(t Target) Databases {
	d := c.Databases
	if t.Databases != nil {
		d.Include, d.Exclude = t.Databases.Include, t.Databases.Exclude
		d.include, d.exclude = t.Databases.include, t.Databases.exclude
		if t.Databases.DiscoveryTTL > 0 {
			d.DiscoveryTTL = t.Databases.DiscoveryTTL
		}
	}
	return d
}

// Only narrows the selection to the one database db: its include patterns
// (the file's and the command line's) give way to db itself, and its
// exclude patterns still apply.
func (d Databases) Only(db string) Databases {
	d.Include = []string{regexp.QuoteMeta(db)}
	d.include = []*regexp.Regexp{regexp.MustCompile("^(?:" + regexp.QuoteMeta(db) + ")$")}
	d.flagInclude = nil
	return d
}

// CollectorConfig holds settings common to every collector.
type CollectorConfig struct {
	// TTL serves the collector's last result for this long instead of querying.
	TTL *time.Duration `yaml:"ttl"`

	Line int `yaml:"-"`
}

// Defaults are the values used where the file is silent.
func Defaults() *Config {
	return &Config{
		Connection: Connection{
			MaxConnections:   2,
			IdleTimeout:      5 * time.Minute,
			ConnectTimeout:   5 * time.Second,
			StatementTimeout: 15 * time.Second,
			LockTimeout:      500 * time.Millisecond,
			Retries:          3,
			RetryBackoff:     100 * time.Millisecond,
			BreakerFailures:  5,
			BreakerOpenFor:   60 * time.Second,
		},
		Databases:  Databases{DiscoveryTTL: 5 * time.Minute},
		MaxTargets: 64,
		Activity:   Activity{}.withDefaults(),
		Objects:    defaultObjects(),
	}
}

// File is the path the config was read from ("" for defaults).
func (c *Config) File() string { return c.file }

// Load reads, decodes and validates path. An empty path gives the defaults,
// checked the same way.
func Load(path string) (*Config, error) {
	data, err := yamlfile.ReadFile(path, "config file")
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates data as if read from file.
func Parse(file string, data []byte) (*Config, error) {
	cfg := Defaults()
	cfg.file = file
	if err := yamlfile.Parse(file, data, cfg, fileNames, cfg.validate); err != nil {
		return nil, err
	}
	return cfg, nil
}

func section(goType string) string {
	switch strings.TrimPrefix(goType, "config.") {
	case "plain":
		return "this section"
	case "Config":
		return "the top level"
	case "Target":
		return "a target"
	case "AuthModule":
		return "an auth module"
	case "UserPass":
		return "userpass"
	case "AllowedTargets":
		return "allowed_targets"
	case "Connection":
		return "connection"
	case "Databases":
		return "databases"
	case "CollectorConfig":
		return "a collector's settings"
	case "Pool":
		return "a pool"
	case "Activity":
		return "activity"
	case "PgBouncer":
		return "pgbouncers"
	case "BackupSource":
		return "a backup source"
	case "Objects":
		return "objects"
	case "ObjectLimits":
		return "objects.tables or objects.indexes"
	case "BloatLimits":
		return "objects.bloat"
	case "SchemaLimits":
		return "objects.schema"
	case "FunctionLimits":
		return "objects.functions"
	case "StatementsLimits":
		return "objects.statements"
	}
	return goType
}

// UnmarshalYAML records the line of each target for later messages.
func (t *Target) UnmarshalYAML(n *yaml.Node) error {
	type plain Target
	if err := strictDecode(n, (*plain)(t), "config.Target"); err != nil {
		return err
	}
	t.Line = n.Line
	return nil
}

// Collectors maps collector names to their settings.
type Collectors map[string]CollectorConfig

// UnmarshalYAML records the line of each collector's name.
func (cs *Collectors) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: collectors must map collector names to their settings", n.Line)}}
	}
	out := Collectors{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		type plain CollectorConfig
		var c CollectorConfig
		if err := strictDecode(v, (*plain)(&c), "config.CollectorConfig"); err != nil {
			return err
		}
		c.Line = k.Line
		out[k.Value] = c
	}
	*cs = out
	return nil
}

var targetNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

// validate reports every problem of the decoded file to errs. It reads no
// files and no environment: connection settings are resolved when used.
func (c *Config) validate(errs *yamlfile.Errors) {
	add := errs.Add
	seen := map[string]int{}
	for _, t := range c.Targets {
		switch {
		case !targetNameRE.MatchString(t.Name):
			add(t.Line, "target name %q must be 1-128 letters, digits, '_', '.', ':' or '-'", t.Name)
		case seen[t.Name] != 0:
			add(t.Line, "target %q is defined twice (first at line %d); give each target its own name", t.Name, seen[t.Name])
		default:
			seen[t.Name] = t.Line
		}
		if p := t.Problem(); p != "" {
			add(t.Line, "target %q %s", t.Name, p)
		}
		if t.Databases != nil {
			t.Databases.compile(fmt.Sprintf("target %q: databases", t.Name), add)
			if t.Databases.DiscoveryTTL < 0 {
				add(t.Databases.Line, "target %q: databases.discovery_ttl must be a positive duration such as 5m, or left out to use the top level's", t.Name)
			}
		}
	}
	c.validateAuthModules(errs)
	cn := c.Connection
	if cn.MaxConnections < 1 || cn.MaxConnections > 50 {
		add(0, "connection.max_connections is %d; use 1 to 50 (the default 2 is enough for the built-in collectors)", cn.MaxConnections)
	}
	for name, d := range map[string]time.Duration{
		"connection.idle_timeout": cn.IdleTimeout, "connection.connect_timeout": cn.ConnectTimeout,
		"connection.statement_timeout": cn.StatementTimeout, "connection.lock_timeout": cn.LockTimeout,
		"connection.retry_backoff": cn.RetryBackoff, "connection.breaker_open_for": cn.BreakerOpenFor,
		"databases.discovery_ttl": c.Databases.DiscoveryTTL,
	} {
		if d <= 0 {
			add(0, "%s must be a positive duration such as 5s or 1m", name)
		}
	}
	if cn.Retries < 0 || cn.Retries > 10 {
		add(0, "connection.retries is %d; use 0 to 10", cn.Retries)
	}
	if cn.BreakerFailures < 1 {
		add(0, "connection.breaker_failures is %d; use 1 or more", cn.BreakerFailures)
	}
	if c.MaxTargets < 1 {
		add(0, "max_targets is %d; use 1 or more", c.MaxTargets)
	}
	c.Databases.compile("databases", add)
	for name, cc := range c.Collectors {
		if cc.TTL != nil && *cc.TTL < 0 {
			add(cc.Line, "collectors.%s.ttl must not be negative", name)
		}
	}
	c.validatePools(errs)
	c.validatePgBouncers(errs)
	c.validateCustomQueries(errs)
	c.validateBackupSources(errs)
	c.validateObjects(errs)
	c.validateConstantLabels(errs)
}

// Errors collects problems found in the file after it loaded (connection
// settings that do not parse, names no collector has), each reported as
// "file:line: ...", the way Load reports its own.
func (c *Config) Errors() *yamlfile.Errors { return yamlfile.NewErrors(c.file, fileNames) }

// CheckCollectors reports collector settings for collectors that do not exist.
func (c *Config) CheckCollectors(known func(string) bool) error {
	errs := c.Errors()
	for name, cc := range c.Collectors {
		if !known(name) {
			errs.Add(cc.Line, "collectors.%s: no collector has that name; --help lists them", name)
		}
	}
	return errs.Err()
}

func compileAll(patterns []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(patterns))
	for _, p := range patterns {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, fmt.Errorf("pattern %q is not a valid regular expression: %v", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// Wanted reports whether database-scoped collectors visit db.
func (d *Databases) Wanted(db string) bool {
	include := append(append([]*regexp.Regexp{}, d.include...), d.flagInclude...)
	if len(include) > 0 && !anyMatch(include, db) {
		return false
	}
	return !anyMatch(d.exclude, db) && !anyMatch(d.flagExclude, db)
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// TTL returns the configured cache TTL of a collector, or def.
func (c *Config) TTL(collector string, def time.Duration) time.Duration {
	if cc, ok := c.Collectors[collector]; ok && cc.TTL != nil {
		return *cc.TTL
	}
	return def
}
