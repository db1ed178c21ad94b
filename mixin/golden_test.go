package mixin

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

var update = flag.Bool("update", false, "rewrite rules/ and examples/mixin.yml from the defaults")

const repoRoot = ".."

// TestGolden proves the committed rules/ and examples/mixin.yml are exactly
// what the generator renders from the defaults. Run with -update after
// changing the generator.
func TestGolden(t *testing.T) {
	if *update {
		if err := Defaults().Write(repoRoot); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repoRoot, "examples", "mixin.yml"), Example(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	docPath := filepath.Join(repoRoot, "docs", "mixin.md")
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	wantDoc, ok := withAlertTable(string(doc), Defaults().AlertTable())
	if !ok {
		t.Fatalf("docs/mixin.md has no %q ... %q markers", tableBegin, tableEnd)
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(wantDoc), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if wantDoc != string(doc) {
		t.Error("the alert table in docs/mixin.md differs from the defaults; run go test ./mixin -update")
	}
	tmp := t.TempDir()
	if err := Defaults().Write(tmp); err != nil {
		t.Fatal(err)
	}
	want := readDir(t, filepath.Join(tmp, "rules"))
	got := readDir(t, filepath.Join(repoRoot, "rules"))
	if len(want) != len(got) {
		t.Errorf("rules/ holds %v, the generator writes %v; run go test ./mixin -update", keys(got), keys(want))
	}
	for name, w := range want {
		if !bytes.Equal(got[name], w) {
			t.Errorf("rules/%s differs from the generator's output; run go test ./mixin -update", name)
		}
	}
	ex, err := os.ReadFile(filepath.Join(repoRoot, "examples", "mixin.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ex, Example()) {
		t.Error("examples/mixin.yml differs from the generator's example; run go test ./mixin -update")
	}
}

// TestExampleIsDefaults proves that the example, read as a configuration,
// renders the same rules as the defaults: it documents every default.
func TestExampleIsDefaults(t *testing.T) {
	c, err := Load(filepath.Join(repoRoot, "examples", "mixin.yml"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), t.TempDir()
	if err := c.Write(a); err != nil {
		t.Fatal(err)
	}
	if err := Defaults().Write(b); err != nil {
		t.Fatal(err)
	}
	ra, rb := readDir(t, filepath.Join(a, "rules")), readDir(t, filepath.Join(b, "rules"))
	for name := range rb {
		if !bytes.Equal(ra[name], rb[name]) {
			t.Errorf("%s rendered from examples/mixin.yml differs from the defaults'", name)
		}
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = data
	}
	return out
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
