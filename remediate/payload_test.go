package remediate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const samplePayload = `{"version":"4","groupKey":"{}:{alertname=\"PostgresDeadTuplesHigh\"}","truncatedAlerts":0,
"status":"firing","receiver":"remediate","groupLabels":{},"commonLabels":{},"commonAnnotations":{},
"externalURL":"http://am:9093","alerts":[{"status":"firing","labels":{"alertname":"PostgresDeadTuplesHigh",
"datname":"app","schemaname":"public","relname":"orders","instance":"db1:9932"},"annotations":{},
"startsAt":"2025-01-01T02:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"3f2a1b4c5d6e7f80"}]}`

func TestDecode(t *testing.T) {
	m, err := Decode(strings.NewReader(samplePayload))
	if err != nil {
		t.Fatal(err)
	}
	a := m.Alerts[0]
	if a.Labels["relname"] != "orders" || a.Fingerprint != "3f2a1b4c5d6e7f80" || !a.StartsAt.Equal(time.Date(2025, 1, 1, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("decoded %+v", a)
	}
	for _, tc := range []struct{ body, want string }{
		{``, "empty body"},
		{`{`, "malformed JSON"},
		{`[]`, "wrong type"},
		{`{"version":"3","alerts":[]}`, `version is "3"`},
		{`{"version":"4","alerts":[]}`, "no alerts"},
		{`{"version":"4","alerts":[{"status":"firing","labels":{},"startsAt":"2025-01-01T00:00:00Z"}]}`, "no alertname"},
		{`{"version":"4","alerts":[{"status":"burning","labels":{"alertname":"A"}}]}`, `status is "burning"`},
		{`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"}}]}`, "no startsAt"},
		{`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A","bad-name":"x"},"startsAt":"2025-01-01T00:00:00Z"}]}`, "not a Prometheus label name"},
		{`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"2025-01-01T00:00:00Z","fingerprint":"../x"}]}`, "not an Alertmanager fingerprint"},
		{samplePayload + `{}`, "trailing data"},
	} {
		if _, err := Decode(strings.NewReader(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%.40q): %v, want %q", tc.body, err, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(samplePayload))
	f.Add([]byte(`{"version":"4","alerts":[{"status":"resolved","labels":{"alertname":"A"},"startsAt":"2025-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A","relname":"x; DROP TABLE y"},"startsAt":"2025-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(bytes.NewReader(data))
		if err != nil {
			if m != nil {
				t.Fatal("a message returned with an error")
			}
			return
		}
		if m.Version != "4" || len(m.Alerts) == 0 {
			t.Fatalf("accepted an invalid payload: %+v", m)
		}
		for _, a := range m.Alerts {
			if a.Labels["alertname"] == "" || a.StartsAt.IsZero() || !fingerprintRE.MatchString(a.Fingerprint) {
				t.Fatalf("accepted an invalid alert: %+v", a)
			}
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatalf("an accepted payload does not re-encode: %v", err)
		}
	})
}

// splitIdentifier parses a quoted, dotted SQL name as PostgreSQL would.
func splitIdentifier(s string) ([]string, bool) {
	var parts []string
	for len(s) > 0 {
		if s[0] != '"' {
			return nil, false
		}
		var b strings.Builder
		i := 1
		for ; i < len(s); i++ {
			if s[i] == '"' {
				if i+1 < len(s) && s[i+1] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, false
		}
		parts = append(parts, b.String())
		s = s[i+1:]
		if len(s) > 0 {
			if s[0] != '.' {
				return nil, false
			}
			s = s[1:]
		}
	}
	return parts, true
}

func FuzzLabelsToObject(f *testing.F) {
	cfg, err := Parse("f.yml", []byte("allow:\n  databases: [app]\n  schemas: ['public|sales']\n  tables: ['public\\..*', 'sales\\.orders']\n"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][3]string{
		{"app", "public", "orders"}, {"app", "public", "x; DROP TABLE y"}, {"app", "public", `"Orders"`},
		{"app", "public", "../etc"}, {"app", "pg_catalog", "pg_class"}, {"app", "sales", "orders"},
		{"app", "public", strings.Repeat("a", 10000)}, {"other", "public", "t"}, {"app", "public", "a\x00b"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, db, schema, name string) {
		labels := map[string]string{"datname": db, "schemaname": schema, "relname": name}
		ref, err := refFromLabels(cfg, labels, "relname")
		if err != nil {
			return
		}
		for _, v := range []string{ref.Database, ref.Schema, ref.Name} {
			if v == "" || len(v) > maxIdentifier || strings.ContainsRune(v, 0) {
				t.Fatalf("accepted %q", v)
			}
		}
		if systemSchema(ref.Schema) || !anyMatch(cfg.Allow.tables, ref.String()) || ref.Database != "app" {
			t.Fatalf("accepted %+v outside the allowlists", ref)
		}
		// The quoted form of whatever was accepted parses back to exactly two names.
		parts, ok := splitIdentifier(pgx.Identifier{ref.Schema, ref.Name}.Sanitize())
		if !ok || len(parts) != 2 || parts[0] != ref.Schema || parts[1] != ref.Name {
			t.Fatalf("quoting %+v gives %v", ref, parts)
		}
	})
}

func TestArgvExpand(t *testing.T) {
	p := &commandParams{argvSpec{Command: []string{"pgbackrest", "--stanza={stanza}", "--type={type}", "backup"},
		LabelPatterns: map[string]string{"type": "full|diff|incr"}}}
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	got, err := p.expand(map[string]string{"stanza": "main", "type": "full"}, "db1")
	if err != nil || strings.Join(got, " ") != "pgbackrest --stanza=main --type=full backup" {
		t.Fatalf("%v %v", got, err)
	}
	for _, labels := range []map[string]string{
		{"stanza": "main; rm -rf /", "type": "full"},
		{"stanza": "../etc", "type": "full"},
		{"stanza": "--config=/tmp/x", "type": "full"},
		{"stanza": "main", "type": "fullest"},
		{"stanza": "main"},
		{"stanza": strings.Repeat("s", 10000), "type": "full"},
	} {
		if got, err := p.expand(labels, "db1"); err == nil {
			t.Errorf("expand(%v) = %q, want a refusal", labels, got)
		}
	}
}
