// Package yamlfile decodes configuration files strictly: unknown keys are
// errors at every depth, and every error names the file and line in the form
// "file:line: what is wrong; what to do".
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Names turns a Go type name from yaml.v3's messages (e.g. "config.Target")
// into the words a user knows ("a target"); doc names the page that lists
// the keys. Both are used in the "unknown key" message.
type Names struct {
	Section func(goType string) string
	Doc     string
}

// Decode decodes data into out with unknown keys rejected; an empty document
// leaves out as it is.
func Decode(file string, data []byte, out any, names Names) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return Located(file, err, names)
	}
	return nil
}

// Located rewrites yaml.v3's "line N: ..." messages as "file:N: ...", one per line.
func Located(file string, err error, names Names) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			msgs = append(msgs, locate(file, e, names))
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	return errors.New(locate(file, strings.TrimPrefix(err.Error(), "yaml: "), names))
}

var (
	lineRE  = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	fieldRE = regexp.MustCompile(`^field (\S+) not found in type (.+)$`)
)

func locate(file, msg string, names Names) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Sprintf("%s: %s", file, msg)
	}
	text := m[2]
	if f := fieldRE.FindStringSubmatch(text); f != nil {
		where := f[2]
		if names.Section != nil {
			where = names.Section(f[2])
		}
		text = fmt.Sprintf("unknown key %q in %s; check its spelling against %s", f[1], where, names.Doc)
	}
	return fmt.Sprintf("%s:%s: %s", file, m[1], text)
}

var nodeType = reflect.TypeOf(yaml.Node{})

// StrictDecode decodes n into out, rejecting keys that out's type does not
// have, in nested structs, maps and lists too. yaml.v3 applies KnownFields
// only to the top-level decode, not inside custom UnmarshalYAML methods, so
// those call this instead of n.Decode. typeName names out's type in messages
// (e.g. "config.Target"). Fields of type yaml.Node are not checked: their
// owner decodes them later.
func StrictDecode(n *yaml.Node, out any, typeName string) error {
	var errs []string
	checkKeys(n, reflect.TypeOf(out).Elem(), typeName, &errs)
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return n.Decode(out)
}

// checkKeys walks n along t, collecting "line N: field K not found in type T"
// for every key that t does not have.
func checkKeys(n *yaml.Node, t reflect.Type, typeName string, errs *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := fieldsOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, fmt.Sprintf("line %d: field %s not found in type %s", k.Line, k.Value, typeName))
				continue
			}
			checkKeys(v, ft, qualifiedName(ft), errs)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			checkKeys(n.Content[i], t.Elem(), qualifiedName(t.Elem()), errs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			checkKeys(item, t.Elem(), qualifiedName(t.Elem()), errs)
		}
	}
}

// qualifiedName is "pkg.Type" for a (pointer to, slice of, map of) named type.
func qualifiedName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	if i := strings.LastIndex(pkg, "/"); i >= 0 {
		pkg = pkg[i+1:]
	}
	if pkg == "" {
		return t.Name()
	}
	return pkg + "." + t.Name()
}

// fieldsOf maps a struct's YAML keys to their field types, following
// ",inline" fields.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name := strings.Split(tag, ",")[0]
		if strings.Contains(tag, ",inline") { // embedded types may be unexported
			for k, ft := range fieldsOf(f.Type) {
				out[k] = ft
			}
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
