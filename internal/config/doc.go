// Package config loads a subcommand's TOML file into its config struct strictly (an unknown key
// is an error that names it, with its line), then applies INTEROPGATE_… environment overrides
// for every key, derived from the struct's toml tags. Secrets belong in the environment.
package config
