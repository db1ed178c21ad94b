package target

import (
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// ConnSettings are the connection settings of a named server as a
// configuration file gives them: exactly one of DSN, DSNFile and DSNEnv, and
// optionally PasswordFile. The exporter's targets and PgBouncers and the
// receiver's targets all have this shape; they resolve it here so that a
// missing file or variable reads the same wherever it is configured.
type ConnSettings struct {
	Kind string // what messages call the server: "target", "pgbouncer"
	Name string
	config.ConnSource
}

// Resolve reads the file or environment variable that holds the connection
// string, and the password file. Files are read on every call, so a rotated
// secret takes effect on the next configuration load. Errors name the setting
// and never contain the file's contents.
func (s ConnSettings) Resolve(getenv Getenv) (Resolved, error) {
	who := fmt.Sprintf("%s %q", s.Kind, s.Name)
	r := Resolved{Setting: who + " dsn", DSN: s.DSN}
	switch {
	case s.DSNFile != "":
		b, err := os.ReadFile(s.DSNFile)
		if err != nil {
			return Resolved{}, fmt.Errorf("%s: cannot read dsn_file: %v; make it readable by the user pg_hardening_exporter runs as", who, pathError(err))
		}
		r.DSN, r.Setting = strings.TrimSpace(string(b)), who+" dsn_file"
	case s.DSNEnv != "":
		r.DSN, r.Setting = getenv(s.DSNEnv), fmt.Sprintf("%s dsn_env %s", who, s.DSNEnv)
		if r.DSN == "" {
			return Resolved{}, fmt.Errorf("%s: the environment variable is empty or unset; set it to the connection string", r.Setting)
		}
	}
	if s.PasswordFile != "" {
		pass, err := readSecret(s.PasswordFile)
		if err != nil {
			return Resolved{}, fmt.Errorf("%s: cannot read password_file: %v; make it readable by the user pg_hardening_exporter runs as", who, err)
		}
		r.Password = pass
	}
	return r, nil
}

// ConnConfig resolves the settings and parses the connection string.
func (s ConnSettings) ConnConfig(getenv Getenv) (*pgx.ConnConfig, error) {
	r, err := s.Resolve(getenv)
	if err != nil {
		return nil, err
	}
	return ParseDSN(r.Setting, r.DSN, r.Password)
}

// readSecret reads a file that holds one secret, without its trailing
// newline. The error leaves the path out: the caller names the setting.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", pathError(err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
