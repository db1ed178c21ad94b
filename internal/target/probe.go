package target

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// A probe address (/probe?target=<host[:port][/database][?options]>&auth_module=<name>)
// comes from whoever can reach the exporter; the credentials it is scraped
// with come from the operator's file. So the address is read on its own
// first, without credentials, and checked against the module's
// allowed_targets before anything else happens: no file is read, no
// connection is opened and no password is sent for an address the module
// does not list. The address may not name files (sslrootcert, passfile,
// service...) nor ask for weaker TLS than the module's, and what a refusal
// says quotes the address and never the module's user or files.

// BadRequestError is a problem with a /probe request's parameters (HTTP 400).
type BadRequestError struct{ Msg string }

func (e *BadRequestError) Error() string { return e.Msg }

// ForbiddenError refuses a probe the configuration does not allow (HTTP 403).
type ForbiddenError struct{ Msg string }

func (e *ForbiddenError) Error() string { return e.Msg }

// maxProbeAddress bounds the address, which is echoed in errors and logs.
const maxProbeAddress = 512

// probeOptions are the connection options a probe address may carry. None
// names a file, and sslmode may only ask for as much TLS as the module's or
// more.
var probeOptions = map[string]bool{"sslmode": true, "connect_timeout": true, "target_session_attrs": true, "dbname": true}

// sslModes ranks sslmode values from the weakest.
var sslModes = map[string]int{"disable": 0, "allow": 1, "prefer": 2, "require": 3, "verify-ca": 4, "verify-full": 5}

// defaultSSLMode is libpq's and pgx's when nothing sets one.
const defaultSSLMode = "prefer"

// probeAddress is a probe's target parameter, read and checked.
type probeAddress struct {
	text string          // as given
	url  *url.URL        // postgresql://host[:port][/db][?options], no user
	conn *pgx.ConnConfig // its hosts and ports, before any credentials or TLS
}

// parseProbeAddress reads a probe address. Errors quote the address only.
func parseProbeAddress(addr string) (*probeAddress, error) {
	bad := func(format string, args ...any) error {
		return &BadRequestError{fmt.Sprintf("target %q ", addr) + fmt.Sprintf(format, args...)}
	}
	if len(addr) > maxProbeAddress {
		return nil, &BadRequestError{fmt.Sprintf("the target parameter is %d bytes long; an address is host[:port][/database][?sslmode=...], at most %d bytes", len(addr), maxProbeAddress)}
	}
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "postgresql://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" || u.Opaque != "" || strings.Contains(raw, "#") {
		return nil, bad("is not an address of the form host[:port][/database][?sslmode=...]")
	}
	if u.User != nil {
		addr = u.Redacted()
		return nil, bad("carries credentials; the auth module supplies them")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, bad("has options that are not a valid URL query: %v", err)
	}
	for k, vs := range q {
		if !probeOptions[k] {
			return nil, bad("has option %q, which a probe may not set; a probe may set %s", k, strings.Join(sortedOptions(probeOptions), ", "))
		}
		if len(vs) != 1 {
			return nil, bad("sets option %q %d times; set it once", k, len(vs))
		}
	}
	// A database name becomes a label value and a pattern of the probe's
	// database selection; PostgreSQL names in a UTF-8 server are UTF-8.
	if !utf8.ValidString(addr) || !utf8.ValidString(u.Path) || !utf8.ValidString(q.Get("dbname")) {
		return nil, bad("is not valid UTF-8; percent-encode the database name's UTF-8 bytes")
	}
	if path, db := strings.Trim(u.Path, "/"), q.Get("dbname"); path != "" && db != "" && path != db {
		return nil, bad("names database %q and dbname=%q; name the database once", path, db)
	}
	if m, ok := q["sslmode"]; ok {
		if _, known := sslModes[m[0]]; !known {
			return nil, bad("has sslmode=%q; use disable, allow, prefer, require, verify-ca or verify-full", m[0])
		}
	}
	u.RawQuery = q.Encode()
	// Parsed for its hosts and ports, and to check its values, with the TLS
	// files blanked, which pgx reads whatever the sslmode: none that the
	// environment names (PGSSLROOTCERT...) is read, and no error says whether
	// one exists. The module's options and the environment apply later, to
	// a target already allowed.
	check := *u
	q.Set("sslmode", "disable")
	for _, k := range []string{"sslrootcert", "sslcert", "sslkey"} {
		q.Set(k, "")
	}
	check.RawQuery = q.Encode()
	cc, err := pgx.ParseConfig(check.String())
	if err != nil {
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, "`: "); ok {
			msg = after // drop pgx's quote of the string we built
		}
		return nil, bad("is not a valid address: %s", msg)
	}
	return &probeAddress{text: addr, url: u, conn: cc}, nil
}

// allowedBy refuses an address that would connect to a host or port the
// module does not list, counting every host of a multi-host address.
func (a *probeAddress) allowedBy(name string, am config.AuthModule, file string) error {
	if am.AllowedTargets.Empty() {
		return &ForbiddenError{fmt.Sprintf("auth module %q lists no allowed_targets, so its credentials go to no address given in a probe; "+
			"list the hosts (names, patterns or CIDRs) and ports it may be used for under auth_modules.%s.allowed_targets in %s", name, name, file)}
	}
	hosts, ports := []string{a.conn.Host}, []uint16{a.conn.Port}
	for _, f := range a.conn.Fallbacks {
		hosts, ports = append(hosts, f.Host), append(ports, f.Port)
	}
	for i, h := range hosts {
		if !am.AllowedTargets.Allows(h, ports[i]) {
			return &ForbiddenError{fmt.Sprintf("auth module %q may not be used for %s port %d (target %q); "+
				"add the host, or a pattern or CIDR that covers it, and the port to auth_modules.%s.allowed_targets in %s", name, h, ports[i], a.text, name, file)}
		}
	}
	return nil
}

// addressTarget builds the connection settings of a probe: the address, the
// module's options over it, and the module's user and password; it also says
// whether the address names a database (a path, or the dbname option), whose
// name is then cc.Database. The address is checked against the module's
// allowed_targets before the module's files are read. Problems of the module
// itself (a certificate or password file that became unreadable) are plain
// errors, which /probe answers with 500 and a body that names nothing.
func addressTarget(addr, name string, am config.AuthModule, file string) (cc *pgx.ConnConfig, namesDB bool, err error) {
	a, err := parseProbeAddress(addr)
	if err != nil {
		return nil, false, err
	}
	namesDB = strings.Trim(a.url.Path, "/") != "" || a.url.Query().Get("dbname") != ""
	if err := a.allowedBy(name, am, file); err != nil {
		return nil, false, err
	}
	q := a.url.Query()
	moduleMode := am.Options["sslmode"]
	if moduleMode == "" {
		moduleMode = defaultSSLMode
	}
	if mode := q.Get("sslmode"); mode != "" && sslModes[mode] < sslModes[moduleMode] {
		return nil, false, &BadRequestError{fmt.Sprintf("target %q asks for sslmode=%s, weaker than auth module %q's %s; leave sslmode out or ask for a stricter one", addr, mode, name, moduleMode)}
	}
	for k, v := range am.Options {
		if k == "sslmode" && q.Get("sslmode") != "" {
			continue // the probe's, checked above to be at least as strict
		}
		if k == "dbname" && q.Get("dbname") != "" {
			continue // the module's dbname is for addresses that name none
		}
		q.Set(k, v)
	}
	u := *a.url
	if db := q.Get("dbname"); db != "" && strings.Trim(u.Path, "/") == "" {
		u.Path = "/" + db
	}
	q.Del("dbname")
	u.RawQuery = q.Encode()
	cc, err = pgx.ParseConfig(u.String())
	if err != nil {
		return nil, false, fmt.Errorf("auth module %q: its options do not apply to target %q: %s", name, addr, Redact(err.Error(), "", am.Options["sslpassword"]))
	}
	// The module's options name no host, but check what will be dialled.
	if err := (&probeAddress{text: addr, conn: cc}).allowedBy(name, am, file); err != nil {
		return nil, false, err
	}
	pass, err := modulePassword(name, am)
	if err != nil {
		return nil, false, err
	}
	cc.User, cc.Password = am.UserPass.Username, pass
	return cc, namesDB, nil
}

func modulePassword(name string, am config.AuthModule) (string, error) {
	if am.UserPass.PasswordFile == "" {
		return am.UserPass.Password, nil
	}
	pass, err := readSecret(am.UserPass.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("auth module %q: cannot read userpass.password_file: %v; make it readable by the user pg_hardening_exporter runs as", name, err)
	}
	return pass, nil
}

// checkAuthModule reads what an auth module names (its certificate and
// password files) and parses its options, so that a module that cannot work
// is found when the file loads.
func checkAuthModule(name string, am config.AuthModule) error {
	q := url.Values{}
	for k, v := range am.Options {
		q.Set(k, v)
	}
	if _, err := pgx.ParseConfig((&url.URL{Scheme: "postgresql", Host: "localhost", Path: "/", RawQuery: q.Encode()}).String()); err != nil {
		return fmt.Errorf("auth module %q: its options are not valid connection options: %s", name, Redact(err.Error(), "", am.Options["sslpassword"]))
	}
	_, err := modulePassword(name, am)
	return err
}

func sortedOptions(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}
