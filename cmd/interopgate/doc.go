package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"

	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/revalidator"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// docRegistry is a Registerer that only records what would be registered.
type docRegistry struct{ descs []*prometheus.Desc }

func (r *docRegistry) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		r.descs = append(r.descs, d)
	}
	return nil
}

func (r *docRegistry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *docRegistry) Unregister(prometheus.Collector) bool { return false }

// descFields reads name, help and labels from a Desc's String form, the only public view of it.
var descFields = regexp.MustCompile(`fqName: "([^"]*)", help: "((?:[^"\\]|\\.)*)", (?:unit: "[^"]*", )?constLabels: \{[^}]*\}, variableLabels: \{([^}]*)\}`)

func docCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:  "doc",
		Usage: "print reference documentation",
		Subcommands: []*cli.Command{{
			Name:  "config",
			Usage: "list every config key of gateway, revalidator and filter, with its default and meaning, as Markdown",
			Action: func(c *cli.Context) error {
				writeConfigDoc(st.stdout)
				return nil
			},
		}, {
			Name:  "metrics",
			Usage: "list every metric interopgate exports, with its labels and help, as a Markdown table",
			Action: func(c *cli.Context) error {
				writeMetricsDoc(st.stdout)
				return nil
			},
		}},
	}
}

// writeMetricsDoc documents the metrics by building each component's metrics on a recording
// registry: the table cannot drift from the code.
func writeMetricsDoc(w io.Writer) {
	reg := &docRegistry{}
	sc.NewMetrics(reg)
	light.NewMetrics(reg)
	filterapi.NewMetrics(reg)
	ingress.NewMetrics(reg)
	revalidator.NewMetrics(reg)
	type row struct{ name, labels, help string }
	var rows []row
	for _, d := range reg.descs {
		m := descFields.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		rows = append(rows, row{m[1], strings.ReplaceAll(m[3], " ", ""), strings.ReplaceAll(m[2], `\"`, `"`)})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	fmt.Fprintln(w, "| metric | labels | help |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| `%s` | %s | %s |\n", r.name, r.labels, r.help)
	}
	fmt.Fprintln(w, "\nEvery process also exports the Go runtime (`go_*`) and process (`process_*`) collectors.")
}

// writeConfigDoc documents the config files from their structs and defaults: the reference
// cannot drift from the code.
func writeConfigDoc(w io.Writer) {
	for _, c := range []struct {
		name string
		cfg  any
	}{{"gateway", defaultGatewayConfig()}, {"revalidator", defaultRevalidatorConfig()}, {"filter", defaultFilterConfig()}} {
		fmt.Fprintf(w, "### `interopgate %s`\n\n| key | default | meaning |\n|---|---|---|\n", c.name)
		for _, e := range config.Reference(c.cfg) {
			def := e.Default
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(w, "| `%s` | `%s` | %s |\n", e.Key, strings.ReplaceAll(def, "|", "\\|"), strings.ReplaceAll(e.Comment, "|", "\\|"))
		}
		fmt.Fprintln(w)
	}
}
