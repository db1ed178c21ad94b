package config

import (
	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// strictDecode decodes a nested section with unknown keys rejected (see
// yamlfile.StrictDecode).
func strictDecode(n *yaml.Node, out any, typeName string) error {
	return yamlfile.StrictDecode(n, out, typeName)
}

// fileNames are the words the config's error messages use.
var fileNames = yamlfile.Names{Section: section, Doc: "docs/configuration.md"}
