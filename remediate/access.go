package remediate

import (
	"fmt"

	"github.com/pghardening/pg_hardening_exporter/internal/webauth"
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

// check decides whether a receiver in mode may serve with this access, and
// whether its clients are authenticated. Enforce mode needs authentication
// unless the network is declared trusted.
func (a Access) check(mode string) (authenticated bool, err error) {
	ok, why, err := webauth.Authenticates(a.WebConfigFile)
	if err != nil {
		return false, err
	}
	if ok || mode != ModeEnforce || a.TrustedNetwork {
		return ok, nil
	}
	return false, fmt.Errorf("mode is enforce but %s, so anyone who can reach the receiver could make it VACUUM, REINDEX, "+
		"end sessions and run commands; give --web.config.file a file with basic_auth_users or tls_server_config.client_auth_type: %s "+
		"(docs/remediation.md, Security), or, if only trusted clients can reach the listen address, start with --web.trusted-network", why, webauth.RequireClientCert)
}
