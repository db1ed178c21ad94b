package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// strictDecode decodes n into out, rejecting keys that out's type does not
// have. yaml.v3 applies KnownFields only to the top-level decode, not inside
// custom UnmarshalYAML methods, so those call this instead of n.Decode.
func strictDecode(n *yaml.Node, out any, typeName string) error {
	var errs []string
	checkKeys(n, reflect.TypeOf(out).Elem(), typeName, &errs)
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return n.Decode(out)
}

// checkKeys walks n along t, collecting "line N: field K not found in type T"
// for every key that t does not have, in nested structs, maps and lists too.
func checkKeys(n *yaml.Node, t reflect.Type, typeName string, errs *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, fmt.Sprintf("line %d: field %s not found in type %s", k.Line, k.Value, typeName))
				continue
			}
			checkKeys(v, ft, "config."+elemName(ft), errs)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			checkKeys(n.Content[i], t.Elem(), "config."+elemName(t.Elem()), errs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			checkKeys(item, t.Elem(), "config."+elemName(t.Elem()), errs)
		}
	}
}

func elemName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	return t.Name()
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name := strings.Split(tag, ",")[0]
		if name == "-" || !f.IsExported() {
			continue
		}
		if strings.Contains(tag, ",inline") {
			for k, ft := range yamlFields(f.Type) {
				out[k] = ft
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
