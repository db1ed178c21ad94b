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
	webFlags := kingpinflag.AddFlags(app, defaultAddress)

	exp := app.Command("exporter", "Serve metrics (the default command: its flags need no command name; \"help exporter\" lists them).").Default()
	var (
		configFile    = app.Flag("config.file", "Path to the configuration file (the exporter's: targets, auth modules, connection and collector settings; each command reads its own kind).").String()
		configCheck   = app.Flag("config.check", "Validate the command's configuration file, then exit; the exporter also checks the data source settings and the custom queries.").Bool()
		dsnFlag       = exp.Flag("data-source.name", dsnHelp).String()
		metricsPath   = exp.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		timeoutOffset = exp.Flag("scrape.timeout-offset", "Subtracted from Prometheus's scrape timeout so the answer leaves in time.").Default("500ms").Duration()
		timeoutDef    = exp.Flag("scrape.default-timeout", "Scrape deadline when the request carries no X-Prometheus-Scrape-Timeout-Seconds header.").Default("10s").Duration()
		timeoutMax    = exp.Flag("scrape.max-timeout", "Upper bound on any scrape's deadline.").Default("2m").Duration()
		queryPaths    = exp.Flag("collector.custom.query-path", queryPathHelp).Strings()
	)
	// The exporter's own flags belong to its command (the default one, so
	// they need no command name), so the other commands' --help lists only
	// what they read.
	enabledCollectors := exporter.CollectorFlags(exp)
	mixinCmd, mixinFl := addMixinCommand(app)
	rem := addRemediateCommand(app)
	record := addBackupRecord(app)
	checkCmd := addCheckConfigCommand(app)

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v; see --help\n", name, err)
		return 2
	}
	logCfg.Writer = stderr
	logger := promslog.New(logCfg)
	switch cmd {
	case exp.FullCommand():
		er := &exporterRun{
			settings: exporter.Settings{
				ConfigFile: *configFile, Collectors: enabledCollectors(), QueryPaths: *queryPaths, BuiltinQueries: defaultQueries,
				Timeouts: exporter.Timeouts{Offset: *timeoutOffset, Default: *timeoutDef, Max: *timeoutMax},
			},
			check: *configCheck, web: webFlags, metricsPath: *metricsPath, dsnFlag: *dsnFlag,
		}
		return er.run(stdout, stderr, logger)
	case mixinCmd.FullCommand():
		return runMixin(stdout, stderr, mixinFl)
	case rem.cmd.FullCommand():
		return rem.run(stdout, stderr, logger, webFlags, *configFile, *configCheck)
	case record.cmd.FullCommand():
		return record.run(stdout, stderr)
	case checkCmd.cmd.FullCommand():
		return checkCmd.run(stdout, stderr, logger, *configFile)
	}
	return 2
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
		fmt.Fprintf(stdout, "exporter configuration OK: %s (%d targets, %d auth modules, collectors: %v)\n",
			orDefault(er.settings.ConfigFile), len(cfg.Targets), len(cfg.AuthModules), er.settings.Collectors)
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
