package yamlfile

import (
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
