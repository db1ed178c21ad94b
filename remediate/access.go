package remediate

import (
	"fmt"
	"os"

	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"
)

// Access is who can reach the receiver: the web configuration file
// (exporter-toolkit's format, --web.config.file) that authenticates its
// clients, and whether the operator declared the network trusted
// (--web.trusted-network).
//
// exporter-toolkit wraps the whole HTTP server and re-reads the file on
// every request, so whatever it requires covers every endpoint (/webhook,
// /api/v1/actions, /-/reload, /metrics and /-/healthy alike). The receiver
// reads the file at start and at every reload to decide whether it may act.
type Access struct {
	WebConfigFile  string
	TrustedNetwork bool
}

// requireClientCert is the only client_auth_type under which a client
// without a certificate the CA signed cannot get in.
const requireClientCert = "RequireAndVerifyClientCert"

// authenticates reports whether the web configuration makes every client
// authenticate, by basic auth or by a verified client certificate. When it
// does not, why says so.
func (a Access) authenticates() (ok bool, why string, err error) {
	if a.WebConfigFile == "" {
		return false, "no --web.config.file is given", nil
	}
	if err := web.Validate(a.WebConfigFile); err != nil {
		return false, "", fmt.Errorf("web configuration %s: %v", a.WebConfigFile, err)
	}
	data, err := os.ReadFile(a.WebConfigFile)
	if err != nil {
		return false, "", fmt.Errorf("web configuration: %v", err)
	}
	var c struct {
		TLS struct {
			ClientAuth string `yaml:"client_auth_type"`
		} `yaml:"tls_server_config"`
		Users map[string]string `yaml:"basic_auth_users"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return false, "", fmt.Errorf("web configuration %s: %v", a.WebConfigFile, err)
	}
	if len(c.Users) > 0 || c.TLS.ClientAuth == requireClientCert {
		return true, "", nil
	}
	return false, fmt.Sprintf("%s sets neither basic_auth_users nor tls_server_config.client_auth_type: %s", a.WebConfigFile, requireClientCert), nil
}

// check decides whether a receiver in mode may serve with this access, and
// whether its clients are authenticated. Enforce mode needs authentication
// unless the network is declared trusted.
func (a Access) check(mode string) (authenticated bool, err error) {
	ok, why, err := a.authenticates()
	if err != nil {
		return false, err
	}
	if ok || mode != ModeEnforce || a.TrustedNetwork {
		return ok, nil
	}
	return false, fmt.Errorf("mode is enforce but %s, so anyone who can reach the receiver could make it VACUUM, REINDEX, "+
		"end sessions and run commands; give --web.config.file a file with basic_auth_users or tls_server_config.client_auth_type: %s "+
		"(docs/remediation.md, Security), or, if only trusted clients can reach the listen address, start with --web.trusted-network", why, requireClientCert)
}
