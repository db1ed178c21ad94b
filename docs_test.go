package main

import (
	"bytes"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/metricsdoc"
	"github.com/pghardening/pg_hardening_exporter/remediate"
)

type exited int

// helpText runs --help for args and returns what it printed.
func helpText(t *testing.T, args ...string) string {
	t.Helper()
	old := exit
	exit = func(code int) { panic(exited(code)) }
	defer func() { exit = old }()
	var out, errb bytes.Buffer
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(exited); !ok {
					panic(r)
				}
			}
		}()
		run(append(args, "--help"), &out, &errb)
	}()
	return out.String() + errb.String()
}

func readDocs(t *testing.T, files ...string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

var flagRE = regexp.MustCompile(`--(?:\[no-\])?([a-z][a-z0-9.-]*[a-z0-9])`)

// Every flag of every command appears in the documentation.
func TestEveryFlagIsDocumented(t *testing.T) {
	docs := readDocs(t, "docs/configuration.md", "docs/remediation.md", "docs/mixin.md", "docs/backup-manifest.md")
	help := helpText(t)
	for _, cmd := range []string{"exporter", "remediate", "mixin", "backup-record", "check-config"} {
		help += helpText(t, cmd)
	}
	seen := map[string]bool{}
	for _, m := range flagRE.FindAllStringSubmatch(help, -1) {
		name := m[1]
		if seen[name] || strings.HasPrefix(name, "collector.") && name != "collector.disable-defaults" && name != "collector.custom.query-path" {
			continue // one row documents every --[no-]collector.<name>
		}
		seen[name] = true
		if name == "help" || name == "help-long" || name == "help-man" {
			continue
		}
		if !strings.Contains(docs, "--"+name) {
			t.Errorf("flag --%s is not documented in docs/", name)
		}
	}
	if len(seen) < 15 {
		t.Fatalf("found only %d flags in --help; the parser is broken:\n%s", len(seen), help)
	}
}

// Every key of the exporter's and the receiver's config files is documented.
func TestEveryConfigKeyIsDocumented(t *testing.T) {
	for _, c := range []struct {
		typ  reflect.Type
		docs string
	}{
		{reflect.TypeOf(config.Config{}), "docs/configuration.md"},
		{reflect.TypeOf(remediate.Config{}), "docs/remediation.md"},
	} {
		docs := readDocs(t, c.docs)
		// Keys count as documented in a YAML block ("key:") or inside a code
		// span, alone or dotted ("allow.databases").
		words := map[string]bool{}
		for _, span := range regexp.MustCompile("`[^`\n]+`").FindAllString(docs, -1) {
			for _, w := range regexp.MustCompile(`[a-z_]+`).FindAllString(span, -1) {
				words[w] = true
			}
		}
		keys := map[string]bool{}
		yamlKeys(c.typ, keys, map[reflect.Type]bool{})
		var missing []string
		for k := range keys {
			if !regexp.MustCompile(`(?m)(^|[\s{,])`+regexp.QuoteMeta(k)+`:`).MatchString(docs) &&
				!words[k] {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s does not document the %s keys %v", c.docs, c.typ.Name(), missing)
		}
		if len(keys) < 10 {
			t.Fatalf("found only %d keys in %s", len(keys), c.typ)
		}
	}
}

func yamlKeys(t reflect.Type, out map[string]bool, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] || t.PkgPath() == "time" || strings.HasPrefix(t.PkgPath(), "gopkg.in/yaml") {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if !f.IsExported() || name == "-" {
			continue
		}
		if name != "" {
			out[name] = true
		}
		yamlKeys(f.Type, out, seen)
	}
}

// Every pg_hardening_exporter name in the migration table of
// docs/operations.md is one the exporter declares.
func TestMigrationTableNamesExist(t *testing.T) {
	declared := map[string]bool{}
	for _, m := range metricsdoc.All() {
		declared[m.Name] = true
	}
	text := readDocs(t, "docs/operations.md")
	i := strings.Index(text, "| postgres_exporter | pg_hardening_exporter |")
	if i < 0 {
		t.Fatal("the migration table is missing from docs/operations.md")
	}
	checked := 0
	for _, line := range strings.Split(text[i:], "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cols := strings.Split(line, "|")
		for _, m := range regexp.MustCompile("`(pg_[a-z0-9_]+)`").FindAllStringSubmatch(cols[2], -1) {
			checked++
			if !declared[m[1]] {
				t.Errorf("migration table names %s, which the exporter does not declare", m[1])
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d names", checked)
	}
}
