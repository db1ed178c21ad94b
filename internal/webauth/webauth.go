// Package webauth tells whether an exporter-toolkit web configuration makes
// every client authenticate, which decides what an HTTP answer may reveal
// (and whether the receiver may act).
package webauth

import (
	"fmt"
	"os"

	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"
)

// RequireClientCert is the only client_auth_type under which a client
// without a certificate the CA signed cannot get in.
const RequireClientCert = "RequireAndVerifyClientCert"

// Authenticates reports whether the web configuration file (exporter-toolkit's
// format, --web.config.file; "" for none) makes every client authenticate, by
// basic auth or by a verified client certificate. When it does not, why says
// so. exporter-toolkit checks the file before any handler runs, so what it
// requires covers every path alike.
func Authenticates(file string) (ok bool, why string, err error) {
	if file == "" {
		return false, "no --web.config.file is given", nil
	}
	if err := web.Validate(file); err != nil {
		return false, "", fmt.Errorf("web configuration %s: %v", file, err)
	}
	data, err := os.ReadFile(file)
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
		return false, "", fmt.Errorf("web configuration %s: %v", file, err)
	}
	if len(c.Users) > 0 || c.TLS.ClientAuth == RequireClientCert {
		return true, "", nil
	}
	return false, fmt.Sprintf("%s sets neither basic_auth_users nor tls_server_config.client_auth_type: %s", file, RequireClientCert), nil
}
