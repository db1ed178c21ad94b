package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// envPrefix starts the environment variable of every flag: the exporter's
// and check-config's flags and the shared ones are PG_HARDENING_EXPORTER_<FLAG>,
// the other commands' PG_HARDENING_EXPORTER_<COMMAND>_<FLAG>, with every
// character that is not a letter or digit turned into '_'.
const envPrefix = "PG_HARDENING_EXPORTER"

var envUnsafe = regexp.MustCompile(`[^A-Za-z0-9]+`)

// envName is the environment variable of a flag of command ("" for the
// shared flags and those of the exporter and check-config).
func envName(command, flag string) string {
	parts := []string{envPrefix}
	if command != "" && command != "exporter" && command != "check-config" {
		parts = append(parts, command)
	}
	return strings.ToUpper(envUnsafe.ReplaceAllString(strings.Join(append(parts, flag), "_"), "_"))
}

// addEnvars gives every visible flag its environment variable (the hidden
// aliases keep postgres_exporter's) and returns what tells, after parsing,
// which flags were given.
func addEnvars(app *kingpin.Application) flagsGiven {
	skip := map[string]bool{"help": true, "help-long": true, "help-man": true, "version": true,
		"completion-bash": true, "completion-script-bash": true, "completion-script-zsh": true}
	given := flagsGiven{}
	track := func(f *kingpin.FlagClause, env string) {
		set := new(bool)
		f.IsSetByUser(set)
		given[f] = set
		if env != "" {
			f.Envar(env)
		}
	}
	m := app.Model()
	for _, f := range m.Flags {
		if !f.Hidden && !skip[f.Name] {
			track(app.GetFlag(f.Name), envName("", f.Name))
		}
	}
	for _, c := range m.FlattenedCommands() {
		cmd := app.GetCommand(c.Name)
		for _, f := range c.Flags {
			env := ""
			if !f.Hidden {
				env = envName(c.Name, f.Name)
			}
			track(cmd.GetFlag(f.Name), env)
		}
	}
	return given
}

// flagsGiven tells which flags were set on the command line.
type flagsGiven map[*kingpin.FlagClause]*bool

// onCommandLine reports whether f was set on the command line.
func (g flagsGiven) onCommandLine(f *kingpin.FlagClause) bool {
	set := g[f]
	return set != nil && *set
}

// ours reports whether a flag of ours was set on the command line or by its
// environment variable.
func (g flagsGiven) ours(cmd *kingpin.CmdClause, flag string) bool {
	f := cmd.GetFlag(flag)
	return f != nil && (g.onCommandLine(f) || f.HasEnvarValue())
}

// peCollector is one of postgres_exporter's collectors and what covers it here.
type peCollector struct {
	name, ours string
	// partial: ours reads much more, so --no-collector.<name> leaves it on.
	partial bool
	// why there is no counterpart, when ours is "".
	why string
}

// peCollectors are postgres_exporter's collectors (its collector/ package,
// v0.20) whose names are not ours; database, locks, postmaster, replication,
// replication_slots, settings and wal are names of ours already.
var peCollectors = []peCollector{
	{name: "buffercache_summary", why: "it needs the pg_buffercache extension, which pg_monitor alone cannot install or read on every version"},
	{name: "database_wraparound", ours: "wraparound"},
	{name: "long_running_transactions", ours: "activity", partial: true},
	{name: "process_idle", ours: "activity", partial: true},
	{name: "roles", ours: "security", partial: true},
	{name: "stat_activity", ours: "activity"},
	{name: "stat_activity_autovacuum", ours: "activity", partial: true},
	{name: "stat_archiver", ours: "archiver"},
	{name: "stat_bgwriter", ours: "bgwriter"},
	{name: "stat_checkpointer", ours: "bgwriter"},
	{name: "stat_database", ours: "database"},
	{name: "stat_progress_vacuum", ours: "progress"},
	{name: "stat_replication", ours: "replication"},
	{name: "stat_statements", ours: "statements"},
	{name: "stat_user_tables", ours: "tables"},
	{name: "stat_wal_receiver", ours: "replication", partial: true},
	{name: "statio_user_indexes", ours: "indexes"},
	{name: "statio_user_tables", ours: "tables"},
	{name: "xlog_location", ours: "archiver", partial: true},
}

// peIgnored are postgres_exporter flags with no counterpart that are accepted
// so a deployment keeps starting; each is reported with why.
var peIgnored = map[string]string{
	"collector.stat_statements.include_query":     "query text is off by default here; objects.statements.query_text in the config file turns it on",
	"collector.stat_statements.query_length":      "objects.statements.query_text_length in the config file sets it",
	"collector.stat_statements.limit":             "objects.statements.top_n in the config file sets it",
	"collector.stat_statements.exclude_databases": "--databases.exclude selects the databases every database-scoped collector visits",
	"collector.stat_statements.exclude_users":     "there is no per-user filter of statements here",
}

// compatFlags are postgres_exporter's flags, hidden, each read as the flag of
// ours it maps to (docs/configuration.md lists them).
type compatFlags struct {
	cmd                                            *kingpin.CmdClause
	queryPath, constantLabels, include, exclude    *string
	metricPrefix, collectionTimeout                *string
	autoDiscover, disableDefaults, disableSettings *bool
	dumpMaps                                       *bool
	collectors                                     map[string]*bool
	ignored                                        map[string]*string
	flags                                          map[string]*kingpin.FlagClause

	// set by apply
	given  flagsGiven
	logger *slog.Logger
}

func addCompatFlags(cmd *kingpin.CmdClause, serving bool) *compatFlags {
	c := &compatFlags{cmd: cmd, collectors: map[string]*bool{}, ignored: map[string]*string{}, flags: map[string]*kingpin.FlagClause{}}
	alias := func(flag, env string) *kingpin.FlagClause {
		f := cmd.Flag(flag, "postgres_exporter's --"+flag+" (deprecated alias).").Hidden()
		if env != "" {
			f.Envar(env)
		}
		c.flags[flag] = f
		return f
	}
	c.queryPath = alias("extend.query-path", "PG_EXPORTER_EXTEND_QUERY_PATH").String()
	c.constantLabels = alias("constantLabels", "PG_EXPORTER_CONSTANT_LABELS").String()
	c.include = alias("include-databases", "PG_EXPORTER_INCLUDE_DATABASES").String()
	c.exclude = alias("exclude-databases", "PG_EXPORTER_EXCLUDE_DATABASES").String()
	c.autoDiscover = alias("auto-discover-databases", "PG_EXPORTER_AUTO_DISCOVER_DATABASES").Bool()
	c.disableDefaults = alias("disable-default-metrics", "PG_EXPORTER_DISABLE_DEFAULT_METRICS").Bool()
	c.disableSettings = alias("disable-settings-metrics", "PG_EXPORTER_DISABLE_SETTINGS_METRICS").Bool()
	c.metricPrefix = alias("metric-prefix", "PG_EXPORTER_METRIC_PREFIX").String()
	c.dumpMaps = alias("dumpmaps", "").Bool()
	if serving {
		c.collectionTimeout = alias("collection-timeout", "PG_EXPORTER_COLLECTION_TIMEOUT").String()
	}
	for _, pc := range peCollectors {
		c.collectors[pc.name] = alias("collector."+pc.name, "").Bool()
	}
	for flag := range peIgnored {
		c.ignored[flag] = alias(flag, "").String()
	}
	return c
}

// source says how an alias was given: "--flag" or its environment variable;
// "" when it was not.
func (c *compatFlags) source(flag string) string {
	f := c.flags[flag]
	switch {
	case c.given.onCommandLine(f):
		return "--" + flag
	case f.HasEnvarValue():
		return f.Model().Envar
	}
	return ""
}

// apply reads every alias given into ef, with one warning each naming the
// flag of ours to use. A flag of ours that is given wins over its alias.
func (c *compatFlags) apply(ef *exporterFlags, given flagsGiven, logger *slog.Logger) error {
	c.given, c.logger = given, logger
	if src := c.source("dumpmaps"); src != "" {
		return fmt.Errorf("%s (postgres_exporter's) has no counterpart here; docs/metrics.md lists every metric with its source view", src)
	}
	if src := c.source("metric-prefix"); src != "" {
		if *c.metricPrefix != "pg" {
			return fmt.Errorf("%s=%s: metric names here always start with pg_ (the rules and dashboards rely on them); drop the setting, or rename series in Prometheus with metric_relabel_configs", src, *c.metricPrefix)
		}
		c.warn(src, "ignored: names always start with pg_")
	}
	if src := c.source("extend.query-path"); src != "" && c.mapped(src, "collector.custom.query-path") {
		*ef.queryPaths = append(*ef.queryPaths, *c.queryPath)
	}
	if src := c.source("constantLabels"); src != "" && c.mapped(src, "constant-labels") {
		*ef.labels = append(*ef.labels, *c.constantLabels)
	}
	for _, d := range []struct {
		flag, ours string
		list       *string
		into       *[]string
	}{{"include-databases", "databases.include", c.include, ef.dbInclude}, {"exclude-databases", "databases.exclude", c.exclude, ef.dbExclude}} {
		if src := c.source(d.flag); src != "" && c.mapped(src, d.ours) {
			for _, db := range strings.Split(*d.list, ",") {
				if db = strings.TrimSpace(db); db != "" {
					*d.into = append(*d.into, regexp.QuoteMeta(db))
				}
			}
		}
	}
	if src := c.source("auto-discover-databases"); src != "" {
		c.warn(src, "not needed: database-scoped collectors always visit every database the role may connect to; --databases.include and --databases.exclude select them")
	}
	if src := c.source("disable-default-metrics"); src != "" && *c.disableDefaults && c.mapped(src, "collector.disable-defaults") {
		ef.collectors.DisableDefaults()
	}
	if src := c.source("disable-settings-metrics"); src != "" && *c.disableSettings {
		c.collector(ef, src, "settings", false, false)
	}
	if c.collectionTimeout != nil {
		if src := c.source("collection-timeout"); src != "" && c.mapped(src, "scrape.max-timeout") {
			d, err := time.ParseDuration(*c.collectionTimeout)
			if err != nil {
				return fmt.Errorf("%s=%s is not a duration such as 30s or 1m", src, *c.collectionTimeout)
			}
			*ef.timeouts[2] = d
		}
	}
	// postgres_exporter's variable of a flag whose name is ours too.
	if v := os.Getenv("PG_EXPORTER_WEB_TELEMETRY_PATH"); v != "" && ef.metricsPath != nil && c.mapped("PG_EXPORTER_WEB_TELEMETRY_PATH", "web.telemetry-path") {
		*ef.metricsPath = v
	}
	for _, pc := range peCollectors {
		src := c.source("collector." + pc.name)
		switch {
		case src == "":
		case pc.ours == "":
			c.warn(src, "ignored: there is no such collector here, as %s", pc.why)
		default:
			if !*c.collectors[pc.name] {
				src = "--no-" + strings.TrimPrefix(src, "--")
			}
			c.collector(ef, src, pc.ours, *c.collectors[pc.name], pc.partial)
		}
	}
	for _, flag := range slices.Sorted(maps.Keys(peIgnored)) {
		if src := c.source(flag); src != "" {
			c.warn(src, "ignored: %s", peIgnored[flag])
		}
	}
	c.missingConfigFile(ef, logger)
	return nil
}

func (c *compatFlags) warn(src, msg string, args ...any) {
	c.logger.Warn(src+" is postgres_exporter's: "+fmt.Sprintf(msg, args...), "deprecated", src)
}

// mapped reports whether an alias is read as our flag: not when ours is given.
func (c *compatFlags) mapped(src, ours string) bool {
	if c.given.ours(c.cmd, ours) {
		c.warn(src, "ignored, as --%s is given", ours)
		return false
	}
	c.warn(src, "read as --%s (%s); switch to it", ours, envName("", ours))
	return true
}

// collector turns one of postgres_exporter's collector flags into ours.
func (c *compatFlags) collector(ef *exporterFlags, src, ours string, on, partial bool) {
	flag := "collector." + ours
	switch {
	case ef.collectors.Given(ours):
		c.warn(src, "ignored, as --[no-]%s is given", flag)
	case on:
		ef.collectors.Set(ours, true)
		c.warn(src, "read as --%s; switch to it", flag)
	case partial:
		c.warn(src, "ignored: --%s covers more than it; pass --no-%s to drop all of that", flag, flag)
	default:
		ef.collectors.Set(ours, false)
		c.warn(src, "read as --no-%s; switch to it", flag)
	}
}

// missingConfigFile lets the exporter start without postgres_exporter's
// config file, as postgres_exporter does: its Helm chart names
// /etc/postgres_exporter.yml even when it mounts none.
func (c *compatFlags) missingConfigFile(ef *exporterFlags, logger *slog.Logger) {
	if filepath.Base(*ef.configFile) != "postgres_exporter.yml" {
		return
	}
	if _, err := os.Stat(*ef.configFile); errors.Is(err, fs.ErrNotExist) {
		logger.Warn("postgres_exporter's config file does not exist; starting with the defaults, as postgres_exporter does", "file", *ef.configFile)
		*ef.configFile = ""
	}
}
