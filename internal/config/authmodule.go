package config

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// AuthModule holds credentials for probing targets given by address:
// /probe?target=<host:port/db>&auth_module=<name>. The layout is
// postgres_exporter's, so existing files keep working, plus password_file and
// allowed_targets.
type AuthModule struct {
	Type     string            `yaml:"type"`
	UserPass UserPass          `yaml:"userpass"`
	Options  map[string]string `yaml:"options"`
	// AllowedTargets are the servers the module's credentials may be sent
	// to. Without it every probe with the module is refused: /probe answers
	// anyone who can reach the exporter, and the address is theirs to choose.
	AllowedTargets AllowedTargets `yaml:"allowed_targets"`
	// AllDatabases keeps a probe that names a database visiting every
	// database the top level's databases section selects; without it such a
	// probe's database-scoped collectors visit the named database only.
	AllDatabases bool `yaml:"all_databases"`

	Line int `yaml:"-"`
}

// UserPass is a user name with a password given inline or in a file.
type UserPass struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// AllowedTargets lists the servers an auth module may be used for. A host
// entry is a host name, a host name pattern whose '*' stands for one label
// or part of one (*.db.example.internal, db-*.example.internal), an IP
// address, or a CIDR (10.20.0.0/16). Names match names and addresses match
// addresses: the exporter does not resolve a name to check it against a
// CIDR, so a pattern trusts the DNS of its domain and a CIDR is for targets
// given as addresses.
type AllowedTargets struct {
	Hosts []string `yaml:"hosts"`
	// Ports are the ports allowed on those hosts; DefaultProbePort when empty.
	Ports []int `yaml:"ports"`

	names    [][]string // host name patterns, lower case, split into labels
	prefixes []netip.Prefix
}

// DefaultProbePort is the only port an auth module allows when its
// allowed_targets lists none.
const DefaultProbePort = 5432

// UnmarshalYAML records the line of each auth module.
func (a *AuthModule) UnmarshalYAML(n *yaml.Node) error {
	type plain AuthModule
	if err := strictDecode(n, (*plain)(a), "config.AuthModule"); err != nil {
		return err
	}
	a.Line = n.Line
	return nil
}

// authOptions are the connection options an auth module may set. File paths
// are allowed here, in the operator's file, and nowhere a probe URL reaches.
var authOptions = map[string]bool{
	"sslmode": true, "sslrootcert": true, "sslcert": true, "sslkey": true, "sslpassword": true,
	"connect_timeout": true, "target_session_attrs": true, "dbname": true,
}

func (c *Config) validateAuthModules(errs *yamlfile.Errors) {
	for _, name := range slices.Sorted(maps.Keys(c.AuthModules)) {
		a := c.AuthModules[name]
		add := func(format string, args ...any) {
			errs.Add(a.Line, "auth module %q "+format, append([]any{name}, args...)...)
		}
		if a.Type != "userpass" {
			add("has type %q; the only supported type is userpass", a.Type)
		}
		if a.UserPass.Username == "" {
			add("needs userpass.username")
		}
		if a.UserPass.Password != "" && a.UserPass.PasswordFile != "" {
			add("sets both userpass.password and userpass.password_file; keep one")
		}
		for k := range a.Options {
			if !authOptions[k] {
				add("has option %q; allowed options are %s", k, strings.Join(slices.Sorted(maps.Keys(authOptions)), ", "))
			}
		}
		line := errs.Line("auth_modules", name, "allowed_targets")
		for _, p := range a.AllowedTargets.compile() {
			errs.Add(line, "auth module %q: allowed_targets %s", name, p)
		}
		c.AuthModules[name] = a
	}
}

// compile reads the host entries and checks the ports; it returns what is
// wrong, one problem per entry.
func (t *AllowedTargets) compile() (problems []string) {
	t.names, t.prefixes = nil, nil
	for _, h := range t.Hosts {
		if strings.Contains(h, "/") {
			p, err := netip.ParsePrefix(h)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("host %q is not a CIDR such as 10.20.0.0/16 or fd00::/8", h))
			case p != p.Masked():
				problems = append(problems, fmt.Sprintf("host %q has bits set past its prefix length; write %s", h, p.Masked()))
			case p.Bits() == 0:
				problems = append(problems, fmt.Sprintf("host %q allows every address, so a probe URL could send the credentials anywhere; list the networks the servers are in", h))
			default:
				t.prefixes = append(t.prefixes, p)
			}
			continue
		}
		if ip, err := netip.ParseAddr(h); err == nil {
			if ip.Zone() != "" {
				problems = append(problems, fmt.Sprintf("host %q has a zone; list the address without it", h))
				continue
			}
			t.prefixes = append(t.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		labels, ok := hostLabels(h, true)
		if !ok {
			problems = append(problems, fmt.Sprintf("host %q is neither a host name or pattern (db1.example.internal, *.db.example.internal) nor an IP address or CIDR (10.20.0.0/16)", h))
			continue
		}
		if strings.Trim(strings.Join(labels, ""), "*") == "" {
			problems = append(problems, fmt.Sprintf("host %q is only wildcards, each standing for one label, not for every host; list the hosts, a pattern under their domain (*.db.example.internal) or a CIDR", h))
			continue
		}
		t.names = append(t.names, labels)
	}
	for _, p := range t.Ports {
		if p < 1 || p > 65535 {
			problems = append(problems, fmt.Sprintf("port %d is not a TCP port; use 1 to 65535", p))
		}
	}
	return problems
}

// Empty reports whether no host is listed, so that every probe is refused.
func (t AllowedTargets) Empty() bool { return len(t.Hosts) == 0 }

// Allows reports whether the module's credentials may be sent to host:port.
// host is an IP address or a host name, as the connection will use it.
func (t AllowedTargets) Allows(host string, port uint16) bool {
	ports := t.Ports
	if len(ports) == 0 {
		ports = []int{DefaultProbePort}
	}
	if !slices.Contains(ports, int(port)) {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return false
		}
		for _, p := range t.prefixes {
			if p.Contains(ip.Unmap()) {
				return true
			}
		}
		return false
	}
	labels, ok := hostLabels(host, false)
	if !ok {
		return false
	}
	for _, pattern := range t.names {
		if matchLabels(pattern, labels) {
			return true
		}
	}
	return false
}

// hostLabels splits a host name (or, with wildcards, a pattern) into lower
// case labels. It refuses what is not a DNS name, and names made only of
// numbers, which some resolvers read as IPv4 addresses (127.1, 0x7f000001)
// and which would otherwise slip past the CIDRs.
func hostLabels(host string, wildcards bool) ([]string, bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" || len(host) > 253 {
		return nil, false
	}
	labels := strings.Split(host, ".")
	numeric, digits := true, false
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return nil, false
		}
		for _, c := range l {
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || wildcards && c == '*'
			if !ok {
				return nil, false
			}
		}
		digits = digits || strings.ContainsAny(l, "0123456789")
		if !numberLike(l) {
			numeric = false
		}
	}
	return labels, !(numeric && digits)
}

// numberLike: a label of decimal digits, or hexadecimal 0x..., wildcards
// included (10.0.0.* is an address pattern, which a CIDR says instead).
func numberLike(l string) bool {
	if h, ok := strings.CutPrefix(l, "0x"); ok {
		return strings.Trim(h, "0123456789abcdef*") == ""
	}
	return strings.Trim(l, "0123456789*") == ""
}

func matchLabels(pattern, labels []string) bool {
	if len(pattern) != len(labels) {
		return false
	}
	for i := range pattern {
		// Labels hold no '/', '?', '[' or '\\', so path.Match's '*' is the
		// only special character and stays within the label.
		if ok, _ := path.Match(pattern[i], labels[i]); !ok {
			return false
		}
	}
	return true
}
