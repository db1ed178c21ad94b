package remediate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/certtest"
)

// Client certificates authenticate only when the server requires and
// verifies them; TLS alone, or a certificate the client may leave out, does
// not, and enforce mode then needs --web.trusted-network.
func TestAccessClientCertificates(t *testing.T) {
	dir := t.TempDir()
	certs := certtest.Write(t)
	tls := "tls_server_config:\n  cert_file: " + certs.CertFile + "\n  key_file: " + certs.KeyFile + "\n"
	for _, tc := range []struct {
		name, web string
		enforce   bool // enforce mode may start without --web.trusted-network
	}{
		{"TLS without client certificates", tls, false},
		{"client certificate if given", tls + "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: " + certs.CAFile + "\n", false},
		{"any client certificate, unverified", tls + "  client_auth_type: RequireAnyClientCert\n", false},
		{"verified client certificate", tls + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: " + certs.CAFile + "\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yml")
			if err := os.WriteFile(file, []byte(tc.web), 0o600); err != nil {
				t.Fatal(err)
			}
			authenticated, err := Access{WebConfigFile: file}.check(ModeEnforce)
			if tc.enforce && (err != nil || !authenticated) {
				t.Fatalf("refused: authenticated %v, %v", authenticated, err)
			}
			if !tc.enforce && (err == nil || !strings.Contains(err.Error(), "sets neither basic_auth_users nor tls_server_config.client_auth_type: RequireAndVerifyClientCert")) {
				t.Fatalf("error %v; want enforce mode refused", err)
			}
			if ok, err := (Access{WebConfigFile: file, TrustedNetwork: true}).check(ModeEnforce); err != nil || ok != tc.enforce {
				t.Errorf("with --web.trusted-network: authenticated %v, %v", ok, err)
			}
		})
	}
	// A web configuration exporter-toolkit rejects is reported as such.
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("basic_auth_users:\n  am: not-a-bcrypt-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (Access{WebConfigFile: bad}).check(ModeDryRun); err == nil || !strings.Contains(err.Error(), "web configuration "+bad) {
		t.Errorf("invalid web configuration: %v", err)
	}
}
