package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"

	"github.com/pghardening/pg_hardening_exporter/mixin"
	"github.com/pghardening/pg_hardening_exporter/remediate"
)

// checkConfigCommand validates every configuration a deployment uses in one
// run, for a CI pipeline or a pre-deploy hook: the exporter's (as
// --config.check does), and the receiver's and the mixin's when named.
type checkConfigCommand struct {
	cmd       *kingpin.CmdClause
	remediate *string
	mixin     *string
	exporter  *exporterFlags
}

func addCheckConfigCommand(app *kingpin.Application) *checkConfigCommand {
	cmd := app.Command("check-config", "Validate the exporter's configuration (--config.file, the data source settings, --collector.custom.query-path, the collector flags) and, when named, the receiver's and the mixin's, then exit; 1 if any is invalid.")
	cc := &checkConfigCommand{
		cmd:       cmd,
		remediate: cmd.Flag("remediate.config", "The receiver's configuration file to validate as well.").String(),
		mixin:     cmd.Flag("mixin.config", "The mixin's configuration file to validate as well.").String(),
		exporter:  addExporterFlags(cmd, "The exporter's configuration file to validate (the one the exporter command reads)."),
	}
	cc.exporter.compat = addCompatFlags(cmd, false)
	return cc
}

// run checks each configuration and reports on each, so one run shows every
// problem.
func (cc *checkConfigCommand) run(stdout, stderr io.Writer, given flagsGiven, logger *slog.Logger) int {
	er, err := cc.exporter.exporterRun(given, logger)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	code := er.run(stdout, stderr, logger)
	if *cc.remediate != "" {
		cfg, err := remediate.Load(*cc.remediate)
		if err != nil {
			fmt.Fprintf(stderr, "%s: invalid remediation configuration:\n%v\n", name, err)
			code = 1
		} else {
			fmt.Fprintf(stdout, "remediation configuration OK: %s (mode %s, %d targets, %d rules)\n",
				cfg.File(), cfg.Mode, len(cfg.Targets), len(cfg.Rules))
		}
	}
	if *cc.mixin != "" {
		if _, err := mixin.Load(*cc.mixin); err != nil {
			fmt.Fprintf(stderr, "%s: invalid mixin configuration:\n%v\n", name, err)
			code = 1
		} else {
			fmt.Fprintf(stdout, "mixin configuration OK: %s\n", *cc.mixin)
		}
	}
	return code
}
