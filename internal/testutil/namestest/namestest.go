// Package namestest reads the catalogue of package names for tests, so the
// rule, dashboard and catalogue tests can ask whether a name is catalogued
// without a second list of the constants to keep in step.
package namestest

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// window is how the rule generator completes an SLI family's name: with one
// of its SLO windows.
var window = regexp.MustCompile(`^[0-9]+[smhdw]$`)

// Catalogue is every string constant of package names.
type Catalogue struct {
	// Names maps each name to the constant that holds it.
	Names map[string]string
}

// Read type-checks package names from its source and returns its constants.
func Read(t testing.TB) Catalogue {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate package names")
	}
	// This file is internal/testutil/namestest/namestest.go; the catalogue
	// is mixin/names.
	dir := filepath.Join(filepath.Dir(self), "..", "..", "..", "mixin", "names")
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	pkg, err := (&types.Config{}).Check("names", fset, files, nil)
	if err != nil {
		t.Fatalf("package names: %v", err)
	}
	c := Catalogue{Names: map[string]string{}}
	for _, id := range pkg.Scope().Names() {
		k, ok := pkg.Scope().Lookup(id).(*types.Const)
		if !ok || k.Val().Kind() != constant.String {
			continue
		}
		v := constant.StringVal(k.Val())
		if other, dup := c.Names[v]; dup {
			t.Errorf("package names holds %q twice, as %s and %s", v, other, id)
		}
		c.Names[v] = id
	}
	if len(c.Names) < 40 {
		t.Fatalf("only %d names read from %s", len(c.Names), dir)
	}
	return c
}

// Holds reports whether name is catalogued: a constant's value, or a
// recording-rule family's completed by a window (instance:pg_up:ratio_avg
// and 30m).
func (c Catalogue) Holds(name string) bool {
	return c.Family(name) != ""
}

// Family returns the catalogued name that name is, or whose family it
// belongs to, or "" when it is not catalogued.
func (c Catalogue) Family(name string) string {
	if _, ok := c.Names[name]; ok {
		return name
	}
	if !strings.Contains(name, ":") {
		return ""
	}
	for v := range c.Names {
		if rest, ok := strings.CutPrefix(name, v); ok && strings.Contains(v, ":") && window.MatchString(rest) {
			return v
		}
	}
	return ""
}
