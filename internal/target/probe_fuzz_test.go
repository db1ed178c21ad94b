package target

import (
	"errors"
	"strings"
	"testing"
)

// FuzzProbeAddress: whatever the target parameter holds, the probe parser
// never panics, and either refuses it (400 or 403) or gives settings that
// connect only to hosts and ports the module allows, with the module's user
// and TLS; a refusal never shows the module's user name or password.
func FuzzProbeAddress(f *testing.F) {
	for _, s := range []string{
		"db1.example.internal/app", "db1.example.internal:6432/app?sslmode=verify-full",
		"pg-7.fleet.example.internal:5432/postgres", "10.1.2.3:6432?dbname=app",
		"postgresql://[fd00::1]:5432/x?connect_timeout=3", "db1.example.internal:5432,evil.example.com:5432/x",
		"u:pw@db1.example.internal/x", "db1.example.internal/x?host=evil", "db1.example.internal/x?sslmode=disable",
		"postgres://db1.example.internal:5432/x?target_session_attrs=read-write", "%2Ftmp/x", "127.1/x",
		"[::ffff:10.1.0.1]:5432/x", "db1.example.internal:/x", "db1.example.internal:0/x",
	} {
		f.Add(s)
	}
	am := probeModule(f, probeAllowed)
	f.Fuzz(func(t *testing.T, addr string) {
		cc, _, err := addressTarget(addr, "m", am, "probe.yml")
		if err != nil {
			var bad *BadRequestError
			var forbidden *ForbiddenError
			if !errors.As(err, &bad) && !errors.As(err, &forbidden) {
				t.Fatalf("%q: %v is neither a bad request nor forbidden", addr, err)
			}
			for _, secret := range []string{"modsecretuser", "modsecretpw"} {
				if strings.Contains(err.Error(), secret) && !strings.Contains(addr, secret) {
					t.Fatalf("%q: the refusal shows the module's %s: %v", addr, secret, err)
				}
			}
			return
		}
		if cc.User != "modsecretuser" || cc.Password != "modsecretpw" {
			t.Fatalf("%q: user %q, want the module's", addr, cc.User)
		}
		if !am.AllowedTargets.Allows(cc.Host, cc.Port) || cc.TLSConfig == nil {
			t.Fatalf("%q: connects to %s:%d (TLS %v), which the module does not allow", addr, cc.Host, cc.Port, cc.TLSConfig != nil)
		}
		for _, fb := range cc.Fallbacks {
			if !am.AllowedTargets.Allows(fb.Host, fb.Port) || fb.TLSConfig == nil {
				t.Fatalf("%q: falls back to %s:%d (TLS %v), which the module does not allow", addr, fb.Host, fb.Port, fb.TLSConfig != nil)
			}
		}
		if cc.LookupFunc == nil || cc.DialFunc == nil {
			t.Fatalf("%q: no resolver or dialer", addr)
		}
	})
}
