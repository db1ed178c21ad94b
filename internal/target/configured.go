package target

import (
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// Configured are the targets of one configuration file with their
// connection settings resolved (files and environment variables read) and
// parsed, ready for the Manager.
type Configured struct {
	byName map[string]configuredTarget
}

// configuredTarget is a target's section of the file and its parsed
// connection settings.
type configuredTarget struct {
	config.Target
	conn *pgx.ConnConfig
}

// Prepare resolves and parses the connection settings of every target in
// cfg, and reads the files every auth module names, so that one that cannot
// be read or parsed stops a start, a reload and check-config with its file
// and line, instead of failing its first /probe. Files are read here, so a
// rotated secret takes effect on the next load (an auth module's password
// file is read again for each new probe target).
func Prepare(cfg *config.Config) (Configured, error) {
	errs := cfg.Errors()
	out := Configured{byName: make(map[string]configuredTarget, len(cfg.Targets))}
	for _, tc := range cfg.Targets {
		s := ConnSettings{Kind: "target", Name: tc.Name, ConnSource: tc.ConnSource}
		cc, err := s.ConnConfig(os.Getenv)
		if err != nil {
			errs.Add(tc.Line, "%v", err)
			continue
		}
		out.byName[tc.Name] = configuredTarget{Target: tc, conn: cc}
	}
	for name, am := range cfg.AuthModules {
		if err := checkAuthModule(name, am); err != nil {
			errs.Add(am.Line, "%v", err)
		}
	}
	return out, errs.Err()
}
