package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/pghardening/pg_hardening_exporter/remediate"
)

// remediateAddress is the receiver's default listen address, next to the exporter's.
const remediateAddress = ":9933"

// remediateCommand declares the remediate command with its own web and
// config flags, so its --help shows its own defaults.
type remediateCommand struct {
	cmd        *kingpin.CmdClause
	web        *web.FlagConfig
	configFile *string
	check      *bool
	trusted    *bool
}

func addRemediateCommand(app *kingpin.Application) *remediateCommand {
	cmd := app.Command("remediate",
		"Run the Alertmanager webhook receiver that carries out guarded remediation (see docs/remediation.md).")
	return &remediateCommand{
		cmd:        cmd,
		web:        kingpinflag.AddFlags(cmd, remediateAddress),
		configFile: cmd.Flag("config.file", "The receiver's configuration file: mode, targets, rules, guards and audit log (docs/remediation.md).").String(),
		check:      cmd.Flag("config.check", "Validate the receiver's configuration file, then exit.").Bool(),
		trusted: cmd.Flag("web.trusted-network",
			"Declare that only trusted clients can reach the listen address, so that mode: enforce may run without authentication. "+
				"Without it, enforce mode needs basic_auth_users or client_auth_type: RequireAndVerifyClientCert in --web.config.file.").Bool(),
	}
}

func (rc *remediateCommand) run(stdout, stderr io.Writer, logger *slog.Logger) int {
	configFile, webFlags := *rc.configFile, rc.web
	cfg, err := remediate.Load(configFile)
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid remediation configuration:\n%v\n", name, err)
		return 1
	}
	if *rc.check {
		fmt.Fprintf(stdout, "remediation configuration OK: %s (mode %s, %d targets, %d rules)\n",
			cfg.File(), cfg.Mode, len(cfg.Targets), len(cfg.Rules))
		return 0
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	access := remediate.Access{WebConfigFile: *webFlags.WebConfigFile, TrustedNetwork: *rc.trusted}
	recv, err := remediate.New(cfg, remediate.Options{Logger: logger, Registry: reg, Access: access})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	defer recv.Close()
	reload := func() error {
		c, err := remediate.Load(configFile)
		if err != nil {
			recv.ReloadFailed()
		} else {
			err = recv.Reload(c)
		}
		if err != nil {
			logger.Error("keeping the previous remediation configuration", "err", err)
			return err
		}
		logger.Info("remediation configuration reloaded", "file", configFile, "mode", c.Mode)
		return nil
	}
	stop := onHangup(func() { _ = reload() })
	defer stop()
	logger.Info("starting the remediation receiver", "version", version.Info(), "mode", cfg.Mode,
		"webhook", remediate.WebhookPath, "targets", len(cfg.Targets), "rules", len(cfg.Rules))
	if cfg.Mode == remediate.ModeDryRun {
		logger.Info("dry-run mode: actions are checked and audited but not carried out; set mode: enforce to act")
	}
	server := &http.Server{Handler: recv.Routes(reg, reload), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	return serve(server, webFlags, logger)
}
