package config

// ConnSource is where a named server's connection settings come from, in
// every configuration file that names servers (the exporter's targets and
// PgBouncers, the receiver's targets): exactly one of DSN, DSNFile and
// DSNEnv, and optionally PasswordFile. The target package resolves it.
type ConnSource struct {
	DSN     string `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
	DSNEnv  string `yaml:"dsn_env"`
	// PasswordFile, if set, supplies the password (the DSN then has none).
	PasswordFile string `yaml:"password_file"`
}

// Problem says what is wrong with the source's shape ("" if nothing), for a
// message that names the server first: `target "db1" <problem>`.
func (s ConnSource) Problem() string {
	n := 0
	for _, v := range []string{s.DSN, s.DSNFile, s.DSNEnv} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return "needs exactly one of dsn, dsn_file and dsn_env"
	}
	return ""
}
