package yamlfile

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type inner struct {
	Name string `yaml:"name"`
}

type embedded struct {
	Argv []string `yaml:"argv"`
}

type outer struct {
	embedded `yaml:",inline"`
	Items    []inner          `yaml:"items"`
	ByName   map[string]inner `yaml:"by_name"`
	Raw      yaml.Node        `yaml:"raw"`
}

func (o *outer) UnmarshalYAML(n *yaml.Node) error {
	type plain outer
	return StrictDecode(n, (*plain)(o), "yamlfile.outer")
}

var names = Names{Section: func(t string) string { return strings.TrimPrefix(t, "yamlfile.") }, Doc: "the docs"}

func TestUnknownKeysAtEveryDepth(t *testing.T) {
	for src, want := range map[string]string{
		"itemz: []\n":                             `f.yml:1: unknown key "itemz" in outer; check its spelling against the docs`,
		"items:\n  - name: a\n    nmae: b\n":      `f.yml:3: unknown key "nmae" in inner`,
		"by_name:\n  x:\n    name: a\n    n: 1\n": `f.yml:4: unknown key "n" in inner`,
		"argv: [a]\nargz: [b]\n":                  `f.yml:2: unknown key "argz" in outer`,
	} {
		var o outer
		err := Decode("f.yml", []byte(src), &o, names)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
	var o outer
	if err := Decode("f.yml", []byte("argv: [a]\nraw: {anything: goes}\nitems: [{name: x}]\n"), &o, names); err != nil {
		t.Fatal(err)
	}
	if len(o.Argv) != 1 || o.Items[0].Name != "x" || o.Raw.Kind != yaml.MappingNode {
		t.Fatalf("%+v", o)
	}
	if err := Decode("f.yml", nil, &o, names); err != nil {
		t.Fatalf("an empty file is an error: %v", err)
	}
}

func TestSyntaxErrorNamesFileAndLine(t *testing.T) {
	var o outer
	err := Decode("f.yml", []byte("items: [\n"), &o, names)
	if err == nil || !strings.HasPrefix(err.Error(), "f.yml:") {
		t.Fatalf("%v", err)
	}
}

func TestParseReportsEveryProblemSortedByLine(t *testing.T) {
	var o outer
	err := Parse("f.yml", []byte("items: [{name: a}]\n"), &o, names, func(e *Errors) {
		e.Add(12, "b at twelve")
		e.Add(2, "at two")
		e.Add(0, "the whole file")
		e.Add(12, "a at twelve")
		e.AddDecode(&yaml.TypeError{Errors: []string{"line 7: field x not found in type yamlfile.inner"}})
	})
	want := strings.Join([]string{
		"f.yml: the whole file",
		"f.yml:2: at two",
		`f.yml:7: unknown key "x" in inner; check its spelling against the docs`,
		"f.yml:12: a at twelve",
		"f.yml:12: b at twelve",
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	if err := Parse("f.yml", nil, &o, names, func(*Errors) {}); err != nil {
		t.Fatal(err)
	}
}

func TestNoPathChecksTheDefaults(t *testing.T) {
	o := outer{Items: []inner{{Name: "default"}}}
	data, err := ReadFile("", "test file")
	if err != nil || data != nil {
		t.Fatalf("an empty path must read nothing: %q, %v", data, err)
	}
	err = Parse("", data, &o, names, func(e *Errors) {
		if o.Items[0].Name == "default" {
			e.Add(0, "checked")
		}
	})
	if err == nil || err.Error() != "config: checked" {
		t.Fatalf("got %v", err)
	}
	_, err = ReadFile(filepath.Join(t.TempDir(), "none.yml"), "test file")
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "cannot read test file: ") {
		t.Fatalf("got %v", err)
	}
}

func TestSyntaxErrorSaysWhatToDo(t *testing.T) {
	var o outer
	err := Decode("f.yml", []byte("items: [\n"), &o, names)
	if err == nil || !strings.HasPrefix(err.Error(), "f.yml:") || !strings.HasSuffix(err.Error(), "; fix the YAML syntax") {
		t.Fatalf("%v", err)
	}
}

func TestLineOfAKeyPath(t *testing.T) {
	var o outer
	data := []byte("items:\n  - name: a\nby_name:\n  x:\n    name: b\n")
	_ = Parse("f.yml", data, &o, names, func(e *Errors) {
		for _, tc := range []struct {
			path []string
			want int
		}{{[]string{"by_name", "x", "name"}, 5}, {[]string{"by_name"}, 3}, {[]string{"by_name", "y"}, 3}, {[]string{"zz"}, 0}, {[]string{"items", "name"}, 1}} {
			if got := e.Line(tc.path...); got != tc.want {
				t.Errorf("%v: %d, want %d", tc.path, got, tc.want)
			}
		}
	})
	e := NewErrors("f.yml", names)
	if got := e.Line("items"); got != 0 {
		t.Errorf("no document: %d", got)
	}
}
