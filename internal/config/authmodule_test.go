package config

import (
	"strings"
	"testing"
)

func TestAllowedTargetsMatch(t *testing.T) {
	cfg, err := Parse("a.yml", []byte(`auth_modules:
  m:
    type: userpass
    userpass: {username: u, password: p}
    allowed_targets:
      hosts: [db1.example.internal, "*.fleet.example.internal", "DB9.Example.Internal.", "pg-*.example.internal", 10.1.0.0/16, 192.0.2.7, "fd00::/64"]
      ports: [5432, 6432]
`))
	if err != nil {
		t.Fatal(err)
	}
	at := cfg.AuthModules["m"].AllowedTargets
	for _, c := range []struct {
		host string
		port uint16
		want bool
	}{
		{"db1.example.internal", 5432, true},
		{"DB1.example.INTERNAL.", 6432, true},
		{"db1.example.internal", 5433, false},
		{"db2.example.internal", 5432, false},
		{"db9.example.internal", 5432, true}, // the entry's case and trailing dot do not matter
		{"x.fleet.example.internal", 5432, true},
		{"x.y.fleet.example.internal", 5432, false}, // '*' stays within one label
		{"fleet.example.internal", 5432, false},
		{"pg-orders.example.internal", 5432, true},
		{"pg.example.internal", 5432, false},
		{"10.1.255.1", 5432, true},
		{"::ffff:10.1.0.1", 5432, true}, // the same IPv4 address
		{"10.2.0.1", 5432, false},
		{"192.0.2.7", 5432, true},
		{"192.0.2.8", 5432, false},
		{"fd00::1", 5432, true},
		{"fd00:0:0:1::1", 5432, false},
		{"fe80::1%eth0", 5432, false},
		{"/var/run/postgresql", 5432, false},
		{"10.1.0.1.example.internal", 5432, false}, // a name is not checked against a CIDR
		{"", 5432, false},
	} {
		if got := at.Allows(c.host, c.port); got != c.want {
			t.Errorf("Allows(%q, %d) = %v, want %v", c.host, c.port, got, c.want)
		}
	}
	// Without ports, only 5432.
	cfg, err = Parse("a.yml", []byte("auth_modules:\n  m:\n    type: userpass\n    userpass: {username: u, password: p}\n    allowed_targets: {hosts: [db1]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if at := cfg.AuthModules["m"].AllowedTargets; !at.Allows("db1", 5432) || at.Allows("db1", 5433) {
		t.Error("without ports, allowed_targets must allow 5432 and nothing else")
	}
	if (AllowedTargets{}).Allows("db1", 5432) || !(AllowedTargets{}).Empty() {
		t.Error("an empty list must allow nothing")
	}
}

func TestAllowedTargetsErrors(t *testing.T) {
	for entry, want := range map[string]string{
		`hosts: ["10.0.0.*"]`:      `host "10.0.0.*" is neither a host name`,
		`hosts: ["10.1.2.3/8"]`:    `has bits set past its prefix length; write 10.0.0.0/8`,
		`hosts: ["10.0.0.0/33"]`:   `is not a CIDR`,
		`hosts: ["db_1 .example"]`: `is neither a host name`,
		`hosts: ["127.1"]`:         `is neither a host name`,
		`hosts: ["fe80::1%eth0"]`:  `has a zone`,
		`hosts: [db1], ports: [0]`: `port 0 is not a TCP port`,
		`hosts: ["*"]`:             `host "*" is only wildcards`,
		`hosts: ["*.*"]`:           `host "*.*" is only wildcards`,
		`hosts: ["0.0.0.0/0"]`:     `host "0.0.0.0/0" allows every address`,
		`hosts: ["::/0"]`:          `host "::/0" allows every address`,
	} {
		yml := "auth_modules:\n  m:\n    type: userpass\n    userpass: {username: u, password: p}\n    allowed_targets: {" + entry + "}\n"
		_, err := Parse("a.yml", []byte(yml))
		if err == nil || !strings.Contains(err.Error(), `a.yml:5: auth module "m": allowed_targets `) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a.yml:5 and %q", entry, err, want)
		}
	}
	_, err := Parse("a.yml", []byte("auth_modules:\n  m:\n    type: userpass\n    userpass: {username: u, password: p}\n    allowed_targets: {hostz: [db1]}\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown key "hostz" in allowed_targets`) {
		t.Errorf("unknown key: %v", err)
	}
}
