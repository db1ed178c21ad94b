// Command pg_hardening_exporter is a Prometheus exporter for PostgreSQL. Its
// default command serves metrics; later commands of the same binary run the
// remediation receiver and render the rule pack.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

const (
	name = "pg_hardening_exporter"
	// defaultAddress avoids postgres_exporter's 9187 so both can run side by side.
	defaultAddress = ":9932"
)

// Help of the flags the exporter and check-config share.
const (
	dsnHelp       = "Connection string of the server /metrics scrapes. Prefer DATA_SOURCE_NAME or DATA_SOURCE_URI with DATA_SOURCE_PASS_FILE: a flag is visible in the process list."
	queryPathHelp = "A queries.yaml file of custom SQL collectors (repeatable; with the config file's custom_queries). Without any, the built-in queries.yaml runs; \"none\" turns it off."
	labelsHelp    = "Labels added to every series served, as name=value,name=value (repeatable; over the config file's constant_labels)."
	dbIncludeHelp = "Regular expression of databases the database-scoped collectors visit (repeatable; beside the config file's databases.include)."
	dbExcludeHelp = "Regular expression of databases the database-scoped collectors skip (repeatable; beside the config file's databases.exclude)."
)

// exit ends the process after --help and --version; tests replace it.
var exit = os.Exit

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New(name, "Prometheus exporter for PostgreSQL 13-18 with an alert rule pack, dashboards and guarded remediation.")
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	app.UsageWriter(stdout)
	app.Terminate(exit)
	app.ErrorWriter(stderr)
	logCfg := &promslog.Config{Style: promslog.GoKitStyle}
	promslogflag.AddFlags(app, logCfg)

	exp := app.Command("exporter", "Serve metrics (the default command: its flags need no command name; \"help exporter\" lists them).").Default()
	// The exporter's own flags belong to its command (the default one, so
	// they need no command name), so the other commands' --help lists only
	// what they read.
	ef := addExporterFlags(exp, "The exporter's configuration file: targets, auth modules, connection, database and collector settings (docs/configuration.md).")
	ef.web = kingpinflag.AddFlags(exp, defaultAddress)
	ef.check = exp.Flag("config.check", "Validate the exporter's configuration file, the data source settings and the custom queries, then exit.").Bool()
	ef.metricsPath = exp.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	ef.timeouts = [3]*time.Duration{
		exp.Flag("scrape.timeout-offset", "Subtracted from Prometheus's scrape timeout so the answer leaves in time.").Default("500ms").Duration(),
		exp.Flag("scrape.default-timeout", "Scrape deadline when the request carries no X-Prometheus-Scrape-Timeout-Seconds header.").Default("10s").Duration(),
		exp.Flag("scrape.max-timeout", "Upper bound on any scrape's deadline.").Default("2m").Duration(),
	}
	ef.compat = addCompatFlags(exp, true)
	mixinCmd, mixinFl := addMixinCommand(app)
	rem := addRemediateCommand(app)
	record := addBackupRecord(app)
	checkCmd := addCheckConfigCommand(app)
	given := addEnvars(app)

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v; see --help\n", name, err)
		return 2
	}
	logCfg.Writer = stderr
	logger := promslog.New(logCfg)
	switch cmd {
	case exp.FullCommand():
		er, err := ef.exporterRun(given, logger)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
		return er.run(stdout, stderr, logger)
	case mixinCmd.FullCommand():
		return runMixin(stdout, stderr, mixinFl)
	case rem.cmd.FullCommand():
		return rem.run(stdout, stderr, logger)
	case record.cmd.FullCommand():
		return record.run(stdout, stderr)
	case checkCmd.cmd.FullCommand():
		return checkCmd.run(stdout, stderr, given, logger)
	}
	return 2
}

// exporterFlags are the exporter command's flags; check-config declares the
// ones that change what is validated (web, check and timeouts stay nil).
type exporterFlags struct {
	configFile, dsn, metricsPath *string
	check                        *bool
	queryPaths, labels           *[]string
	dbInclude, dbExclude         *[]string
	collectors                   *collector.Selection
	web                          *web.FlagConfig
	timeouts                     [3]*time.Duration
	compat                       *compatFlags
}

func addExporterFlags(cmd *kingpin.CmdClause, configHelp string) *exporterFlags {
	return &exporterFlags{
		configFile: cmd.Flag("config.file", configHelp).String(),
		dsn:        cmd.Flag("data-source.name", dsnHelp).String(),
		queryPaths: cmd.Flag("collector.custom.query-path", queryPathHelp).Strings(),
		labels:     cmd.Flag("constant-labels", labelsHelp).PlaceHolder("NAME=VALUE,...").Strings(),
		dbInclude:  cmd.Flag("databases.include", dbIncludeHelp).PlaceHolder("REGEX").Strings(),
		dbExclude:  cmd.Flag("databases.exclude", dbExcludeHelp).PlaceHolder("REGEX").Strings(),
		collectors: exporter.CollectorFlags(cmd),
	}
}

// exporterRun turns the parsed flags (and postgres_exporter's, read as
// aliases) into what the exporter runs with.
func (ef *exporterFlags) exporterRun(given flagsGiven, logger *slog.Logger) (*exporterRun, error) {
	if err := ef.compat.apply(ef, given, logger); err != nil {
		return nil, err
	}
	labels := config.ConstantLabels{}
	for _, l := range *ef.labels {
		parsed, err := config.ParseConstantLabels("--constant-labels", l)
		if err != nil {
			return nil, err
		}
		labels = labels.Merge(parsed)
	}
	er := &exporterRun{
		settings: exporter.Settings{
			ConfigFile: *ef.configFile, Collectors: ef.collectors.Names(), QueryPaths: *ef.queryPaths, BuiltinQueries: defaultQueries,
			ConstantLabels: labels, DatabasesInclude: *ef.dbInclude, DatabasesExclude: *ef.dbExclude,
		},
		check: true, dsnFlag: *ef.dsn,
	}
	if ef.web != nil {
		er.check, er.web, er.metricsPath = *ef.check, ef.web, *ef.metricsPath
		er.settings.WebConfigFile = *ef.web.WebConfigFile
		er.settings.Timeouts = exporter.Timeouts{Offset: *ef.timeouts[0], Default: *ef.timeouts[1], Max: *ef.timeouts[2]}
	}
	return er, nil
}

// exporterRun is what the exporter command (and check-config) run with.
type exporterRun struct {
	settings    exporter.Settings
	check       bool
	web         *web.FlagConfig
	metricsPath string
	dsnFlag     string
}

// resolveDataSource sets the default target from the data source settings
// (the flag and the environment, which it reads).
func (er *exporterRun) resolveDataSource() (resolved target.Resolved, haveDSN bool, err error) {
	resolved, haveDSN, err = target.DSNSettings{FlagDSN: er.dsnFlag}.Resolve(os.Getenv)
	if err == nil && haveDSN {
		er.settings.Default, err = target.ParseDSN(resolved.Setting, resolved.DSN, resolved.Password)
	}
	return resolved, haveDSN, err
}

func (er *exporterRun) run(stdout, stderr io.Writer, logger *slog.Logger) int {
	er.settings.Logger = logger
	cfg, err := exporter.Load(er.settings)
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%v\n", name, err)
		return 1
	}
	resolved, haveDSN, err := er.resolveDataSource()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	if er.check {
		summary := fmt.Sprintf("%s (%d targets, %d auth modules, collectors: %v)",
			orDefault(er.settings.ConfigFile), len(cfg.Targets), len(cfg.AuthModules), er.settings.Collectors)
		if !haveDSN {
			fmt.Fprintf(stdout, "exporter configuration valid: %s\nbut no data source is set (--data-source.name, DATA_SOURCE_NAME, DATA_SOURCE_URI): "+
				"/metrics would serve only the exporter's own metrics; /probe serves the targets and auth modules of the file\n", summary)
			return 0
		}
		fmt.Fprintf(stdout, "exporter configuration OK: %s; data source %s from %s\n", summary, target.Describe(er.settings.Default), resolved.Setting)
		return 0
	}

	// The Go runtime and process collectors sit beside the exporter's own
	// State, which reports pg_hardening_exporter_build_info (the Prometheus
	// convention <program>_build_info) and pg_exporter_build_info.
	er.settings.Runtime = []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	exp, err := exporter.NewFromConfig(er.settings, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	defer exp.Close()

	logger.Info("starting "+name, "version", version.Info(), "build_context", version.BuildContext())
	if haveDSN {
		logger.Info("scraping the default target on "+er.metricsPath, "target", target.Describe(er.settings.Default), "from", resolved.Setting)
	} else {
		logger.Info("no DATA_SOURCE_NAME or DATA_SOURCE_URI set: " + er.metricsPath + " serves only the exporter's own metrics; use /probe for configured targets")
	}
	logger.Info("enabled collectors", "collectors", er.settings.Collectors)

	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        name,
		Description: "Prometheus exporter for PostgreSQL",
		Version:     version.Info(),
		Links: []web.LandingLinks{
			{Address: er.metricsPath, Text: "Metrics"},
			{Address: "/probe?target=", Text: "Probe a configured target"},
			{Address: "/health/primary", Text: "Is the default target a writable primary (for load balancers)"},
			{Address: "/health/read", Text: "Can the default target serve reads (for load balancers)"},
			{Address: "/-/healthy", Text: "Health"},
		},
	})
	if err != nil {
		logger.Error("cannot build the landing page", "err", err)
		return 1
	}
	mux := exp.Server.Routes(er.metricsPath, exp.Reloader, landing)
	stop := onHangup(func() { _ = exp.Reloader.Reload() })
	defer stop()
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return serve(server, er.web, logger)
}

func orDefault(file string) string {
	if file == "" {
		return "built-in defaults"
	}
	return file
}
