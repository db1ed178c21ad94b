package target

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Getenv reads one environment variable; tests pass their own.
type Getenv func(string) string

// DSNSettings are the places a connection string can come from, in order of
// precedence: the --data-source.name flag, DATA_SOURCE_NAME, then the split
// DATA_SOURCE_URI / DATA_SOURCE_USER / DATA_SOURCE_PASS settings (each also as a
// *_FILE variable naming a file that holds the value). DATA_SOURCE_PASS_FILE also
// overrides the password of a full DSN, so the DSN can live in a unit file and
// the password in a file only the exporter can read.
type DSNSettings struct {
	FlagDSN string
}

// Resolved is a connection string with where it came from and its password kept
// apart, so that only redacted forms reach logs and errors.
type Resolved struct {
	Setting  string // the setting that supplied it, for messages
	DSN      string
	Password string // from a separate setting or file, "" if none
}

// Resolve finds the DSN; ok is false when no setting supplies one.
func (s DSNSettings) Resolve(getenv Getenv) (r Resolved, ok bool, err error) {
	pass, passSetting, err := valueOrFile(getenv, "DATA_SOURCE_PASS")
	if err != nil {
		return r, false, err
	}
	switch {
	case s.FlagDSN != "":
		r = Resolved{Setting: "--data-source.name", DSN: s.FlagDSN}
	case getenv("DATA_SOURCE_NAME") != "":
		r = Resolved{Setting: "DATA_SOURCE_NAME", DSN: getenv("DATA_SOURCE_NAME")}
	default:
		uri, uriSetting, err := valueOrFile(getenv, "DATA_SOURCE_URI")
		if err != nil {
			return r, false, err
		}
		if uri == "" {
			return r, false, nil
		}
		user, _, err := valueOrFile(getenv, "DATA_SOURCE_USER")
		if err != nil {
			return r, false, err
		}
		uri = strings.TrimPrefix(strings.TrimPrefix(uri, "postgresql://"), "postgres://")
		if strings.Contains(strings.SplitN(uri, "/", 2)[0], "@") {
			return r, false, fmt.Errorf("%s must not contain credentials; put the user in DATA_SOURCE_USER and the password in DATA_SOURCE_PASS_FILE", uriSetting)
		}
		u := "postgresql://"
		if user != "" {
			u += url.PathEscape(user) + "@"
		}
		r = Resolved{Setting: uriSetting, DSN: u + uri}
	}
	if pass != "" {
		r.Password = pass
		r.Setting += " with " + passSetting
	}
	return r, true, nil
}

// valueOrFile reads NAME or, if unset, the file named by NAME_FILE (trailing
// newlines trimmed).
func valueOrFile(getenv Getenv, name string) (value, setting string, err error) {
	if v := getenv(name); v != "" {
		return v, name, nil
	}
	path := getenv(name + "_FILE")
	if path == "" {
		return "", "", nil
	}
	v, err := readSecret(path)
	if err != nil {
		return "", "", fmt.Errorf("%s_FILE: cannot read %s: %v; make the file readable by the exporter's user", name, path, err)
	}
	return v, name + "_FILE", nil
}

func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// dsnList finds where a comma-separated list of connection URLs (as
// postgres_exporter reads DATA_SOURCE_NAME) starts its next element. Read as
// one URL, the rest of the list would become the database name, the next
// password with it.
var dsnList = regexp.MustCompile(`(?i),\s*postgres(ql)?://`)

// ParseDSN parses a connection string (URL or key=value) and applies a separate
// password. Errors name the setting and never contain the password.
func ParseDSN(setting, dsn, password string) (*pgx.ConnConfig, error) {
	if n := len(dsnList.FindAllStringIndex(dsn, -1)); n > 0 {
		return nil, fmt.Errorf("%s holds %d connection strings separated by commas (postgres_exporter's list form); here it holds one: "+
			"keep the first, and name the other servers as targets in the config file and scrape them with /probe?target=<name>", setting, n+1)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		msg := Redact(err.Error(), dsn, password)
		return nil, fmt.Errorf("%s is not a valid PostgreSQL connection string: %s; use postgres://user@host:5432/db?sslmode=... or host=... user=... form", setting, msg)
	}
	if password != "" {
		cfg.Password = password
	}
	return cfg, nil
}

// Redact removes the password of dsn, and the extra secrets, from s.
func Redact(s, dsn string, secrets ...string) string {
	if cfg, err := pgx.ParseConfig(dsn); err == nil && cfg.Password != "" {
		secrets = append(secrets, cfg.Password, url.QueryEscape(cfg.Password), url.PathEscape(cfg.Password))
	}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	// key=value form: password=... up to the next space.
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			secrets = append(secrets, strings.Trim(v, "'"))
		}
	}
	for _, sec := range secrets {
		if len(sec) > 0 {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}

// Describe is a password-free description of a connection: host:port/db.
func Describe(cfg *pgx.ConnConfig) string {
	host := cfg.Host
	if strings.HasPrefix(host, "/") {
		host = "unix:" + host
	}
	return fmt.Sprintf("%s:%d/%s", host, cfg.Port, cfg.Database)
}
