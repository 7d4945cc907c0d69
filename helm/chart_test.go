package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "interopgate"

// full turns every component and every optional resource on.
func full() map[string]any {
	return map[string]any{
		"gateway":     map[string]any{"autoscaling": map[string]any{"enabled": true}},
		"revalidator": map[string]any{"enabled": true, "podDisruptionBudget": map[string]any{"enabled": true}},
		"filter":      map[string]any{"enabled": true},
		"redis":       map[string]any{"existingSecret": "redis-auth"},
		"metrics": map[string]any{
			"serviceMonitor": map[string]any{"enabled": true},
			"prometheusRule": map[string]any{"enabled": true},
		},
		"grafanaDashboard": map[string]any{"enabled": true},
	}
}

// manifest is one rendered Kubernetes object: its kind and JSON.
type manifest struct {
	kind, name string
	json       []byte
}

func render(t *testing.T, vals map[string]any) []manifest {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "ig", Namespace: "interop", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []manifest
	for _, name := range names {
		for _, doc := range strings.Split(files[name], "\n---") {
			if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" {
				continue
			}
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", name, err, doc)
			}
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(js, &head); err != nil || head.Kind == "" {
				t.Fatalf("%s: no kind: %v\n%s", name, err, doc)
			}
			out = append(out, manifest{kind: head.Kind, name: head.Metadata.Name, json: js})
		}
	}
	return out
}

// strict decodes js into v, failing on any field v's type does not have: a typo in a template
// is an error, not a silently dropped field.
func strict(t *testing.T, m manifest, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(m.json))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s %s does not decode strictly: %v\n%s", m.kind, m.name, err, m.json)
	}
}

func byKind(ms []manifest, kind string) []manifest {
	var out []manifest
	for _, m := range ms {
		if m.kind == kind {
			out = append(out, m)
		}
	}
	return out
}

func TestChartLints(t *testing.T) {
	for name, vals := range map[string]map[string]any{"default": nil, "full": full()} {
		linter := lint.All(chartDir, vals, "interop", false)
		for _, msg := range linter.Messages {
			if msg.Severity >= support.WarningSev {
				t.Errorf("%s values: %s", name, msg)
			}
		}
	}
}

func TestSchemaRejectsUnknownKeys(t *testing.T) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]any{
		{"gatewayy": map[string]any{}},
		{"gateway": map[string]any{"replicaz": 2}},
		{"metrics": map[string]any{"serviceMonitor": map[string]any{"enable": true}}},
	} {
		if _, err := chartutil.ToRenderValues(ch, bad, chartutil.ReleaseOptions{Name: "ig"}, chartutil.DefaultCapabilities); err == nil {
			t.Errorf("values %v accepted", bad)
		}
	}
}

func TestRenderedManifests(t *testing.T) {
	for name, vals := range map[string]map[string]any{"default": nil, "full": full()} {
		t.Run(name, func(t *testing.T) {
			ms := render(t, vals)
			deployments := byKind(ms, "Deployment")
			want := map[string]int{"default": 1, "full": 3}[name]
			if len(deployments) != want {
				t.Fatalf("%d deployments, want %d", len(deployments), want)
			}
			for _, m := range deployments {
				var d appsv1.Deployment
				strict(t, m, &d)
				checkPod(t, m.name, &d, name == "full")
			}
			for _, m := range byKind(ms, "Service") {
				var s corev1.Service
				strict(t, m, &s)
				ports := map[string]bool{}
				for _, p := range s.Spec.Ports {
					ports[p.Name] = true
				}
				if !ports["rpc"] || !ports["metrics"] {
					t.Errorf("service %s ports %v: want rpc and metrics", m.name, s.Spec.Ports)
				}
			}
			for _, m := range byKind(ms, "ConfigMap") {
				var c corev1.ConfigMap
				strict(t, m, &c)
			}
			for _, m := range byKind(ms, "PodDisruptionBudget") {
				var p policyv1.PodDisruptionBudget
				strict(t, m, &p)
			}
			for _, m := range byKind(ms, "HorizontalPodAutoscaler") {
				var h autoscalingv2.HorizontalPodAutoscaler
				strict(t, m, &h)
			}
			if name == "full" {
				for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "HorizontalPodAutoscaler", "PodDisruptionBudget"} {
					if len(byKind(ms, kind)) == 0 {
						t.Errorf("no %s with every option on", kind)
					}
				}
				dash := false
				for _, m := range byKind(ms, "ConfigMap") {
					var c corev1.ConfigMap
					strict(t, m, &c)
					if c.Labels["grafana_dashboard"] == "1" && json.Valid([]byte(c.Data["interopgate.json"])) {
						dash = true
					}
				}
				if !dash {
					t.Error("no Grafana dashboard ConfigMap labelled grafana_dashboard")
				}
			}
		})
	}
}

func checkPod(t *testing.T, name string, d *appsv1.Deployment, withSecret bool) {
	t.Helper()
	pod := d.Spec.Template
	if pod.Annotations["checksum/config"] == "" {
		t.Errorf("%s: no config checksum annotation: pods would not roll on a config change", name)
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: pods may run as root", name)
	}
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		t.Errorf("%s: no topology spread", name)
	}
	c := pod.Spec.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("%s: root filesystem writable", name)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("%s: probes %+v %+v", name, c.LivenessProbe, c.ReadinessProbe)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: resources %+v", name, c.Resources)
	}
	secret := false
	for _, e := range c.Env {
		if e.Name == "INTEROPGATE_REDIS_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "redis-auth" {
			secret = true
		}
	}
	if secret != withSecret {
		t.Errorf("%s: Redis password from the existing Secret: %v, want %v", name, secret, withSecret)
	}
}

// The config checksum changes with the config, so pods roll.
func TestConfigChangeRollsPods(t *testing.T) {
	checksum := func(vals map[string]any) string {
		for _, m := range byKind(render(t, vals), "Deployment") {
			var d appsv1.Deployment
			strict(t, m, &d)
			return d.Spec.Template.Annotations["checksum/config"]
		}
		return ""
	}
	a := checksum(nil)
	b := checksum(map[string]any{"gateway": map[string]any{"config": "[gateway]\nchain_id = 902\nip_rate_limit = 100\n[[sentries.backends]]\nname = \"s\"\nurl = \"http://s:8545\"\n[interop]\nchains = [901, 902]\n"}})
	if a == "" || a == b {
		t.Fatalf("checksums %q and %q", a, b)
	}
}

// interopgate builds the binary once for the tests that run it.
func interopgate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "interopgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/interopgate")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building interopgate: %v\n%s", err, out)
	}
	return bin
}

// Every config the chart renders is one the binary accepts (--check-config), and every metric
// an alert names is one the code registers (interopgate doc metrics).
func TestRenderedConfigsAndAlertsAgreeWithTheBinary(t *testing.T) {
	bin := interopgate(t)
	dir := t.TempDir()
	for _, m := range byKind(render(t, full()), "ConfigMap") {
		var c corev1.ConfigMap
		strict(t, m, &c)
		toml, ok := c.Data["config.toml"]
		if !ok {
			continue
		}
		component := c.Labels["app.kubernetes.io/component"]
		file := filepath.Join(dir, component+".toml")
		if err := os.WriteFile(file, []byte(toml), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, component, "--metrics.enabled=false", "--check-config", "--config", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "config ok") {
			t.Errorf("%s's rendered config is refused: %v\n%s\n%s", component, err, out, toml)
		}
	}
	doc, err := exec.Command(bin, "doc", "metrics").Output()
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for _, m := range regexp.MustCompile("`(interopgate_[a-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
		registered[m[1]] = true
	}
	rules := byKind(render(t, full()), "PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules", len(rules))
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `json:"alert"`
					Expr  string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rules[0].json, &rule); err != nil {
		t.Fatal(err)
	}
	suffix := regexp.MustCompile(`_(bucket|sum|count)$`)
	alerts := 0
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			alerts++
			names := regexp.MustCompile(`interopgate_[a-z0-9_]+`).FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("alert %s names no interopgate metric", r.Alert)
			}
			for _, n := range names {
				if !registered[n] && !registered[suffix.ReplaceAllString(n, "")] {
					t.Errorf("alert %s names %s, which the code does not register", r.Alert, n)
				}
			}
		}
	}
	if alerts < 9 {
		t.Errorf("%d alerts", alerts)
	}
	fmt.Fprintf(os.Stderr, "chart: %d alerts, each naming registered metrics\n", alerts)
}

var _ = chart.Chart{}

// Every alert has a runbook entry in the operations guide.
func TestEveryAlertHasARunbook(t *testing.T) {
	guide, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	rules := byKind(render(t, full()), "PrometheusRule")
	for _, name := range regexp.MustCompile(`"alert":"([A-Za-z]+)"`).FindAllStringSubmatch(string(rules[0].json), -1) {
		if !strings.Contains(string(guide), "### "+name[1]+"\n") {
			t.Errorf("alert %s has no runbook entry (### %s) in docs/operations.md", name[1], name[1])
		}
	}
}
