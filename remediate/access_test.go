package remediate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "remediate"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Client certificates authenticate only when the server requires and
// verifies them; TLS alone, or a certificate the client may leave out, does
// not, and enforce mode then needs --web.trusted-network.
func TestAccessClientCertificates(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	tls := "tls_server_config:\n  cert_file: " + cert + "\n  key_file: " + key + "\n"
	for _, tc := range []struct {
		name, web string
		enforce   bool // enforce mode may start without --web.trusted-network
	}{
		{"TLS without client certificates", tls, false},
		{"client certificate if given", tls + "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: " + cert + "\n", false},
		{"any client certificate, unverified", tls + "  client_auth_type: RequireAnyClientCert\n", false},
		{"verified client certificate", tls + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: " + cert + "\n", true},
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
