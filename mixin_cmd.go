package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/alecthomas/kingpin/v2"

	"github.com/pghardening/pg_hardening_exporter/mixin"
	"github.com/pghardening/pg_hardening_exporter/mixin/kube"
)

type mixinFlags struct {
	config, output *string
	example        *bool
}

func addMixinCommand(app *kingpin.Application) (*kingpin.CmdClause, *mixinFlags) {
	cmd := app.Command("mixin", "Render the recording and alerting rules (DIR/rules/*.yml), the Grafana dashboards (DIR/dashboards/*.json) and both as Kubernetes objects (DIR/kubernetes/: PrometheusRules, and ConfigMaps labelled grafana_dashboard=\"1\") from a configuration of thresholds and selectors.")
	return cmd, &mixinFlags{
		config:  cmd.Flag("mixin.config", "Mixin configuration file (see examples/mixin.yml); the defaults when not given.").String(),
		output:  cmd.Flag("mixin.output", "Directory to write rules/ and dashboards/ into.").Default(".").String(),
		example: cmd.Flag("mixin.print-example", "Print the commented default configuration and exit.").Bool(),
	}
}

func runMixin(stdout, stderr io.Writer, fl *mixinFlags) int {
	if *fl.example {
		_, _ = stdout.Write(mixin.Example())
		return 0
	}
	cfg := mixin.Defaults()
	if *fl.config != "" {
		var err error
		if cfg, err = mixin.Load(*fl.config); err != nil {
			fmt.Fprintf(stderr, "%s: invalid mixin configuration:\n%v\n", name, err)
			return 1
		}
	}
	if err := cfg.Write(*fl.output); err != nil {
		fmt.Fprintf(stderr, "%s: cannot write the rules: %v\n", name, err)
		return 1
	}
	if err := cfg.WriteDashboards(*fl.output); err != nil {
		fmt.Fprintf(stderr, "%s: cannot write the dashboards: %v\n", name, err)
		return 1
	}
	if err := kube.Write(*fl.output, cfg); err != nil {
		fmt.Fprintf(stderr, "%s: cannot write the Kubernetes objects: %v\n", name, err)
		return 1
	}
	dir, _ := filepath.Abs(*fl.output)
	fmt.Fprintf(stdout, "rules, dashboards and Kubernetes objects written to %s/rules, %s/dashboards and %s/kubernetes\n", dir, dir, dir)
	return 0
}
