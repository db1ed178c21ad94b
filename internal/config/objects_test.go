package config

import (
	"strings"
	"testing"
	"time"
)

func TestObjectsSection(t *testing.T) {
	cfg, err := Parse("x.yml", []byte(`
objects:
  sizes_ttl: 1m
  tables:
    include: ['app\..*']
    exclude: ['app\.audit_.*']
    min_size: 1MB
    top_n: 50
  bloat:
    top_n: 0
    pgstattuple: true
  statements:
    query_text: true
    query_text_length: 80
`))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Objects
	if o.Tables.TopN != 50 || o.Tables.MinSize != 1<<20 || o.SizesTTL != time.Minute {
		t.Fatalf("tables: %+v", o.Tables)
	}
	if !o.Tables.Selected("app.orders") || o.Tables.Selected("app.audit_2024") || o.Tables.Selected("public.orders") {
		t.Fatal("include/exclude not applied as anchored patterns on schema.table")
	}
	if o.Bloat.TopN != 0 || !o.Bloat.Pgstattuple {
		t.Fatalf("bloat: %+v", o.Bloat)
	}
	if o.Indexes.TopN != DefaultIndexesTopN || o.Statements.TopN != DefaultStatementsTopN || o.Functions.TopN != DefaultFunctionsTopN ||
		o.Tables.MaintenanceDue != (MaintenanceDue{DeadTuples: DefaultDueDeadTuples, ModSinceAnalyze: DefaultDueModSinceAnalyze}) {
		t.Fatal("defaults not used where the file is silent")
	}
	if !o.Statements.QueryText || o.Statements.QueryTextLength != 80 {
		t.Fatalf("statements: %+v", o.Statements)
	}
	z, err := Parse("z.yml", []byte("objects:\n  sizes_ttl: 0s\n"))
	if err != nil || z.Objects.SizesTTL != DefaultSizesTTL {
		t.Fatalf("sizes_ttl 0 must mean the default: %v, %v", err, z)
	}
	d, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if d.Objects.Statements.QueryText || d.Objects.Statements.QueryTextLength != DefaultQueryTextLength || d.Objects.SizesTTL != DefaultSizesTTL {
		t.Fatalf("defaults: %+v", d.Objects)
	}
}

func TestObjectsSectionErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"objects:\n  tables:\n    top_n: -1\n", "x.yml:2: objects.tables.top_n is -1; use 0"},
		{"objects:\n  functions:\n    top_n: -1\n", "x.yml:2: objects.functions.top_n is -1; use 0"},
		{"objects:\n  tables:\n    include: ['(']\n", "x.yml:2: objects.tables.include: pattern \"(\" is not a valid regular expression"},
		{"objects:\n  indexes:\n    min_size: lots\n", "x.yml:3: size \"lots\" is not a number of bytes"},
		{"objects:\n  statements:\n    query_text_length: 5\n", "x.yml:2: objects.statements.query_text_length is 5; use 16 to 4096"},
		{"objects:\n  tables:\n    top: 5\n", "x.yml:3: unknown key \"top\""},
	} {
		_, err := Parse("x.yml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.src, err, c.want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "1048576": 1 << 20, "1MB": 1 << 20, "512kB": 512 << 10, "1.5GB": 3 << 29, "2 GB": 2 << 30, "1TB": 1 << 40} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1XB", "MB", "1e3", "99999999999TB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"1MB", "0", "1.5GB", "512kB", " 3 TB ", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseByteSize(s)
		if err == nil && v < 0 {
			t.Fatalf("%q parsed to negative %d", s, v)
		}
		if err != nil && !strings.Contains(err.Error(), "size") {
			t.Fatalf("%q: error without context: %v", s, err)
		}
	})
}
