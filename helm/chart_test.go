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
	"strconv"
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
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "interopgate"

// full turns every component and every optional resource on.
func full() map[string]any {
	return map[string]any{
		"gateway": map[string]any{
			"autoscaling": map[string]any{"enabled": true},
			"ingress":     map[string]any{"enabled": true, "hosts": []any{"rpc.example.org"}, "tls": []any{map[string]any{"secretName": "rpc-tls"}}},
		},
		"revalidator": map[string]any{"enabled": true, "podDisruptionBudget": map[string]any{"enabled": true}},
		"filter":      map[string]any{"enabled": true},
		"redis":       map[string]any{"existingSecret": "redis-auth"},
		"metrics": map[string]any{
			"serviceMonitor": map[string]any{"enabled": true},
			"prometheusRule": map[string]any{"enabled": true},
		},
		"grafanaDashboard": map[string]any{"enabled": true},
		"dependencySet":    map[string]any{"json": testDependencySet},
	}
}

// testDependencySet is a dependency set of the chains the default configs name.
const testDependencySet = `{"dependencies": {"901": {}, "902": {"activationTime": 1700000000}}, "overrideMessageExpiryWindow": 86400}`

// manifest is one rendered Kubernetes object: its kind and JSON.
type manifest struct {
	kind, name string
	json       []byte
}

func render(t *testing.T, vals map[string]any) []manifest {
	t.Helper()
	return renderRelease(t, "ig", vals)
}

// renderFiles renders the chart as release into its files, or the error the chart fails with.
func renderFiles(release string, vals map[string]any) (map[string]string, error) {
	return renderFilesAt(release, vals, kubeVersion)
}

// kubeVersion is the cluster the chart is rendered for by default: a supported Kubernetes (the
// Helm SDK's own default is 1.20, the official helm binary's the Kubernetes it was built with).
const kubeVersion = "v1.31.0"

// renderFilesAt renders the chart as release for a cluster of the given Kubernetes version.
func renderFilesAt(release string, vals map[string]any, version string) (map[string]string, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	kv, err := chartutil.ParseKubeVersion(version)
	if err != nil {
		return nil, err
	}
	caps := *chartutil.DefaultCapabilities
	caps.KubeVersion = *kv
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: release, Namespace: "interop", IsInstall: true}, &caps)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, rv)
}

// renderRelease renders the chart as the release named release.
func renderRelease(t *testing.T, release string, vals map[string]any) []manifest {
	t.Helper()
	files, err := renderFiles(release, vals)
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
		kv, err := chartutil.ParseKubeVersion(kubeVersion)
		if err != nil {
			t.Fatal(err)
		}
		linter := lint.AllWithKubeVersion(chartDir, vals, "interop", kv)
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
		{"gateway": map[string]any{"ingress": map[string]any{"host": []any{"rpc.example.org"}}}},
		{"gateway": map[string]any{"ingress": map[string]any{"tls": []any{map[string]any{"secret": "rpc-tls"}}}}},
		{"gateway": map[string]any{"ingress": map[string]any{"tls": []any{map[string]any{"hosts": []any{"rpc.example.org"}}}}}},
		{"gateway": map[string]any{"ingress": map[string]any{"pathType": "prefix"}}},
		{"gateway": map[string]any{"preStopSleep": 5}},
		{"revalidator": map[string]any{"terminationGracePeriodSeconds": "30s"}},
		{"filter": map[string]any{"preStopSleepSeconds": -1}},
		{"dependencySet": map[string]any{"file": "/etc/interop/dependency-set.json"}},
		{"dependencySet": map[string]any{"json": []any{}}},
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
				// The rpc port on the component's Service, the metrics on a ClusterIP one of their own.
				if metrics := strings.HasSuffix(m.name, "-metrics"); len(ports) != 1 || metrics && !ports["metrics"] || !metrics && !ports["rpc"] {
					t.Errorf("service %s ports %v: want rpc, or metrics alone on a -metrics Service", m.name, s.Spec.Ports)
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
			for _, m := range byKind(ms, "Ingress") {
				var i networkingv1.Ingress
				strict(t, m, &i)
			}
			if name == "full" {
				for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"} {
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

// deployments decodes the rendered Deployments by component.
func deployments(t *testing.T, ms []manifest) map[string]*appsv1.Deployment {
	t.Helper()
	out := map[string]*appsv1.Deployment{}
	for _, m := range byKind(ms, "Deployment") {
		var d appsv1.Deployment
		strict(t, m, &d)
		out[d.Labels["app.kubernetes.io/component"]] = &d
	}
	return out
}

// configMaps decodes the rendered ConfigMaps by name.
func configMaps(t *testing.T, ms []manifest) map[string]*corev1.ConfigMap {
	t.Helper()
	out := map[string]*corev1.ConfigMap{}
	for _, m := range byKind(ms, "ConfigMap") {
		var c corev1.ConfigMap
		strict(t, m, &c)
		out[c.Name] = &c
	}
	return out
}

// mounted finds the file at path in d's container: the mount holding it, the ConfigMap volume
// behind it and the key of that ConfigMap the file is.
func mounted(t *testing.T, d *appsv1.Deployment, path string) (corev1.VolumeMount, *corev1.ConfigMapVolumeSource, string) {
	t.Helper()
	for _, vm := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		rel, ok := strings.CutPrefix(path, vm.MountPath+"/")
		if !ok {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			for _, item := range v.ConfigMap.Items {
				if item.Path == rel {
					return vm, v.ConfigMap, item.Key
				}
			}
		}
	}
	t.Fatalf("%s: nothing is mounted at %s", d.Name, path)
	return corev1.VolumeMount{}, nil, ""
}

// dependencySetEnv is the variable that points each component's config at the dependency-set
// file: [interop] dependency_set of the gateway and the revalidator, [filter] dependency_set.
var dependencySetEnv = map[string]string{
	"gateway":     "INTEROPGATE_GATEWAY_INTEROP_DEPENDENCY_SET",
	"revalidator": "INTEROPGATE_REVALIDATOR_INTEROP_DEPENDENCY_SET",
	"filter":      "INTEROPGATE_FILTER_FILTER_DEPENDENCY_SET",
}

// checkConfigs runs `interopgate <component> --check-config` as each rendered pod would: its
// rendered config, and the variables the chart sets literally; a file the environment names
// (the dependency set) is the one mounted there, taken from its rendered ConfigMap, or
// replaced by replace when it is not nil. It returns each component's output and error.
func checkConfigs(t *testing.T, bin string, ms []manifest, replace *string) map[string]error {
	t.Helper()
	cms := configMaps(t, ms)
	dir := t.TempDir()
	out := map[string]error{}
	for component, d := range deployments(t, ms) {
		cm, ok := cms[d.Name]
		if !ok {
			t.Fatalf("%s: no ConfigMap %s", component, d.Name)
		}
		file := filepath.Join(dir, component+".toml")
		if err := os.WriteFile(file, []byte(cm.Data["config.toml"]), 0o600); err != nil {
			t.Fatal(err)
		}
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "INTEROPGATE_") {
				env = append(env, kv)
			}
		}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.ValueFrom != nil {
				continue
			}
			value := e.Value
			if strings.HasPrefix(value, "/") {
				_, vol, key := mounted(t, d, value)
				src, ok := cms[vol.Name]
				if !ok {
					t.Fatalf("%s: %s is mounted from ConfigMap %s, which the chart does not render", component, value, vol.Name)
				}
				data := src.Data[key]
				if replace != nil {
					data = *replace
				}
				value = filepath.Join(dir, component+"-"+filepath.Base(e.Value))
				if err := os.WriteFile(value, []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env = append(env, e.Name+"="+value)
		}
		cmd := exec.Command(bin, component, "--metrics.enabled=false", "--check-config", "--config", file)
		cmd.Env = env
		res, err := cmd.CombinedOutput()
		if err == nil && !strings.Contains(string(res), "config ok") {
			err = fmt.Errorf("no \"config ok\"")
		}
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, res)
		}
		out[component] = err
	}
	return out
}

// operationsGuide is docs/operations.md.
func operationsGuide(t *testing.T) string {
	t.Helper()
	guide, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(guide)
}

// The values example of the operations guide, between its marker lines, is what this renders:
// the guide cannot show values the chart refuses or configs the binary refuses.
func TestOperationsGuideValuesExample(t *testing.T) {
	guide := operationsGuide(t)
	examples := regexp.MustCompile("(?s)<!-- my-values.yaml begin[^\n]*-->\n```yaml\n(.*?)```\n<!-- my-values.yaml end -->").FindAllStringSubmatch(guide, -1)
	if len(examples) != 1 {
		t.Fatalf("%d values examples between the marker lines in docs/operations.md, want 1", len(examples))
	}
	for _, command := range []string{
		"helm template interopgate ./helm/interopgate -f my-values.yaml",
		"helm install interopgate ./helm/interopgate -n interop -f my-values.yaml",
		"helm upgrade interopgate ./helm/interopgate -n interop -f my-values.yaml",
	} {
		if !strings.Contains(guide, command) {
			t.Errorf("docs/operations.md does not show %q", command)
		}
	}
	if _, err := os.Stat("../helm/interopgate/Chart.yaml"); err != nil {
		t.Errorf("the guide's chart path ./helm/interopgate: %v", err)
	}
	var vals map[string]any
	if err := yaml.Unmarshal([]byte(examples[0][1]), &vals); err != nil {
		t.Fatalf("the guide's values example is not YAML: %v", err)
	}
	for _, msg := range lint.All(chartDir, vals, "interop", false).Messages {
		if msg.Severity >= support.WarningSev {
			t.Errorf("the guide's values example: %s", msg)
		}
	}
	ms := renderRelease(t, "interopgate", vals)
	// The names the guide gives the objects of a release named interopgate.
	names := map[string]bool{}
	for _, m := range ms {
		names[m.kind+" "+m.name] = true
	}
	for _, want := range []string{"Deployment interopgate-gateway", "Service interopgate-gateway", "ConfigMap interopgate-gateway",
		"PodDisruptionBudget interopgate-gateway", "Ingress interopgate-gateway", "ConfigMap interopgate-dependency-set"} {
		if !names[want] {
			t.Errorf("the guide's example renders no %s", want)
		}
		if !strings.Contains(guide, "`"+strings.Fields(want)[1]+"`") {
			t.Errorf("the guide does not name %s", want)
		}
	}
	for component, err := range checkConfigs(t, interopgate(t), ms, nil) {
		if err != nil {
			t.Errorf("the guide's example: %s's config is refused: %v", component, err)
		}
	}
}

// The dependency set, inline or from an existing ConfigMap, is mounted read-only into every
// component and its config is pointed at the mounted file; the binary then reads that file.
func TestDependencySetIsMountedAndNamedInEachConfig(t *testing.T) {
	every := func(ds map[string]any) map[string]any {
		return map[string]any{"revalidator": map[string]any{"enabled": true}, "filter": map[string]any{"enabled": true}, "dependencySet": ds}
	}
	for name, tc := range map[string]struct {
		ds             map[string]any
		configMap, key string
	}{
		"inline":   {map[string]any{"json": testDependencySet}, "ig-interopgate-dependency-set", "dependency-set.json"},
		"existing": {map[string]any{"existingConfigMap": "op-dependency-set", "key": "deps.json"}, "op-dependency-set", "deps.json"},
	} {
		t.Run(name, func(t *testing.T) {
			ms := render(t, every(tc.ds))
			cms := configMaps(t, ms)
			ds := deployments(t, ms)
			if len(ds) != 3 {
				t.Fatalf("%d deployments", len(ds))
			}
			for component, d := range ds {
				var path string
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					if e.Name == dependencySetEnv[component] {
						path = e.Value
					}
				}
				if path == "" {
					t.Errorf("%s: no %s in the environment", component, dependencySetEnv[component])
					continue
				}
				mount, vol, key := mounted(t, d, path)
				if !mount.ReadOnly {
					t.Errorf("%s: the dependency set is mounted writable", component)
				}
				if vol.Name != tc.configMap || key != tc.key {
					t.Errorf("%s: %s is key %s of ConfigMap %s, want %s of %s", component, path, key, vol.Name, tc.key, tc.configMap)
				}
				_, sum := d.Spec.Template.Annotations["checksum/dependency-set"]
				if sum != (name == "inline") {
					t.Errorf("%s: checksum/dependency-set annotation %v", component, sum)
				}
			}
			cm, rendered := cms[tc.configMap]
			switch {
			case name == "existing" && rendered:
				t.Errorf("the chart renders ConfigMap %s, which the values say exists", tc.configMap)
			case name == "inline" && (!rendered || strings.TrimSpace(cm.Data[tc.key]) != testDependencySet):
				t.Errorf("ConfigMap %s does not hold the dependency set: %+v", tc.configMap, cm)
			}
		})
	}
	// Without one: no volume, no variable (each config's own chains make the set).
	for component, d := range deployments(t, render(t, every(nil))) {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == "dependency-set" {
				t.Errorf("%s: a dependency-set volume without a dependency set", component)
			}
		}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if strings.HasSuffix(e.Name, "_DEPENDENCY_SET") {
				t.Errorf("%s: %s without a dependency set", component, e.Name)
			}
		}
	}
	// A new dependency set rolls the pods; the config's checksum stays.
	sums := func(deps string) (string, string) {
		d := deployments(t, render(t, every(map[string]any{"json": deps})))["gateway"]
		return d.Spec.Template.Annotations["checksum/config"], d.Spec.Template.Annotations["checksum/dependency-set"]
	}
	c1, s1 := sums(testDependencySet)
	c2, s2 := sums(`{"dependencies": {"901": {}, "902": {}, "903": {}}}`)
	if c1 != c2 || s1 == s2 {
		t.Errorf("config checksums %s, %s (want equal); dependency-set checksums %s, %s (want different)", c1, c2, s1, s2)
	}
	// The binary takes the variable as a config key and reads the mounted file: the set renders
	// configs it accepts, and an empty set in the same place is refused.
	bin := interopgate(t)
	ms := render(t, every(map[string]any{"json": testDependencySet}))
	for component, err := range checkConfigs(t, bin, ms, nil) {
		if err != nil {
			t.Errorf("%s with the mounted dependency set: %v", component, err)
		}
	}
	empty := `{"dependencies": {}}`
	for component, err := range checkConfigs(t, bin, ms, &empty) {
		if err == nil || !strings.Contains(err.Error(), "dependency set") {
			t.Errorf("%s accepts an empty dependency set in the mounted file: it does not read it (%v)", component, err)
		}
	}
}

// Values the schema cannot refuse are refused by the templates, naming the value.
func TestChartRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		vals map[string]any
		want string
	}{
		{map[string]any{"dependencySet": map[string]any{"json": testDependencySet, "existingConfigMap": "deps"}}, "not both"},
		{map[string]any{"dependencySet": map[string]any{"json": "dependencies: {901: {}}"}}, "not a JSON object"},
		{map[string]any{"dependencySet": map[string]any{"json": `[901, 902]`}}, "not a JSON object"},
		{map[string]any{"dependencySet": map[string]any{"json": `{"chains": [901, 902]}`}}, "names no chain"},
		{map[string]any{"gateway": map[string]any{"ingress": map[string]any{"enabled": true}}}, "gateway.ingress.hosts"},
		{map[string]any{"gateway": map[string]any{"terminationGracePeriodSeconds": 30}}, "gateway.terminationGracePeriodSeconds (30)"},
		// A config naming the chart's dependency-set file with no set mounted: the pod would fail at start.
		{map[string]any{"gateway": map[string]any{"config": gatewayConfigNamingTheSet}}, "gateway.config names /etc/interop/, but no dependency set is mounted there"},
	} {
		_, err := renderFiles("ig", tc.vals)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %v: error %v, want one saying %q", tc.vals, err, tc.want)
		}
	}
}

const gatewayConfigNamingTheSet = `[gateway]
chain_id = 902
[[sentries.backends]]
name = "s"
url = "http://sentry:8545"
[[filters.endpoints]]
name = "f"
url = "http://filter:8560"
[interop]
dependency_set = "/etc/interop/dependency-set.json"
`

// Issue 18: a config naming /etc/interop/ renders only with a dependency set mounted there (the
// chart's, or the operator's own volume).
func TestAConfigNamingTheSetNeedsItMounted(t *testing.T) {
	named := map[string]any{"config": gatewayConfigNamingTheSet}
	if _, err := renderFiles("ig", map[string]any{"gateway": named, "dependencySet": map[string]any{"json": testDependencySet}}); err != nil {
		t.Errorf("with the chart's dependency set: %v", err)
	}
	own := map[string]any{"config": gatewayConfigNamingTheSet,
		"extraVolumes":      []any{map[string]any{"name": "deps", "configMap": map[string]any{"name": "my-deps"}}},
		"extraVolumeMounts": []any{map[string]any{"name": "deps", "mountPath": "/etc/interop", "readOnly": true}}}
	if _, err := renderFiles("ig", map[string]any{"gateway": own}); err != nil {
		t.Errorf("with the operator's own volume at /etc/interop: %v", err)
	}
	// However the path is written; a comment naming it is no use of it (a second review).
	odd := map[string]any{"config": strings.Replace(gatewayConfigNamingTheSet, "/etc/interop/", "/etc//interop/", 1)}
	if _, err := renderFiles("ig", map[string]any{"gateway": odd}); err == nil || !strings.Contains(err.Error(), "no dependency set is mounted") {
		t.Errorf("/etc//interop/ without a set: %v", err)
	}
	comment := map[string]any{"config": strings.Replace(gatewayConfigNamingTheSet, "[interop]\ndependency_set = \"/etc/interop/dependency-set.json\"", "# the chart mounts /etc/interop/ when dependencySet is set\n[interop]\nchains = [901, 902]", 1)}
	if _, err := renderFiles("ig", map[string]any{"gateway": comment}); err != nil {
		t.Errorf("a comment naming the path: %v", err)
	}
}

// Issue 18: the preStop sleep action needs Kubernetes 1.30; an older cluster is told so at render
// time, not by a pod the API server refuses. Without the hook, an older cluster is fine.
func TestThePreStopSleepNeedsKubernetes130(t *testing.T) {
	if _, err := renderFilesAt("ig", nil, "v1.29.4"); err == nil || !strings.Contains(err.Error(), "gateway.preStopSleepSeconds (5) needs Kubernetes 1.30") {
		t.Errorf("1.29 with a preStop sleep: %v", err)
	}
	if _, err := renderFilesAt("ig", map[string]any{"gateway": map[string]any{"preStopSleepSeconds": 0}}, "v1.29.4"); err != nil {
		t.Errorf("1.29 without a preStop hook: %v", err)
	}
	for _, v := range []string{"v1.30.0", "v1.30.2-gke.1500", "v1.33.1"} {
		if _, err := renderFilesAt("ig", nil, v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
}

// Issue 18: the metrics were a port of the component's Service, so a LoadBalancer for the RPC
// published them too. They are on a ClusterIP Service of their own, which the ServiceMonitor
// selects; the public Service has the rpc port only.
func TestMetricsStayOffAPublicService(t *testing.T) {
	vals := full()
	vals["gateway"].(map[string]any)["service"] = map[string]any{"type": "LoadBalancer"}
	ms := render(t, vals)
	var monitor struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Endpoints []struct {
				Port string `json:"port"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	monitors := byKind(ms, "ServiceMonitor")
	if len(monitors) != 1 || json.Unmarshal(monitors[0].json, &monitor) != nil {
		t.Fatalf("service monitors: %d", len(monitors))
	}
	selected := 0
	for _, m := range byKind(ms, "Service") {
		var s corev1.Service
		strict(t, m, &s)
		matches := true
		for k, v := range monitor.Spec.Selector.MatchLabels {
			matches = matches && s.Labels[k] == v
		}
		for _, p := range s.Spec.Ports {
			if p.Name == "metrics" && s.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("%s: the metrics port on a %s Service", m.name, s.Spec.Type)
			}
			if p.Name == "metrics" != matches {
				t.Errorf("%s (ports %v): selected by the ServiceMonitor: %v", m.name, s.Spec.Ports, matches)
			}
		}
		if matches {
			selected++
		}
		if strings.HasSuffix(m.name, "-gateway") && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			t.Errorf("%s: type %s, want the LoadBalancer asked for", m.name, s.Spec.Type)
		}
	}
	if selected != 3 {
		t.Errorf("the ServiceMonitor selects %d Services, want the 3 components' metrics", selected)
	}
}

// Issue 18: the chart could not mount a Secret (the API keys file, a Redis CA). Each component
// takes extraVolumes and extraVolumeMounts.
func TestExtraVolumesAreMounted(t *testing.T) {
	vals := map[string]any{"gateway": map[string]any{
		"extraVolumes":      []any{map[string]any{"name": "api-keys", "secret": map[string]any{"secretName": "keys"}}},
		"extraVolumeMounts": []any{map[string]any{"name": "api-keys", "mountPath": "/etc/interopgate-keys", "readOnly": true}},
	}}
	d := deployments(t, render(t, vals))["gateway"]
	pod := d.Spec.Template.Spec
	found := false
	for _, v := range pod.Volumes {
		found = found || v.Name == "api-keys" && v.Secret != nil && v.Secret.SecretName == "keys"
	}
	mounted := false
	for _, m := range pod.Containers[0].VolumeMounts {
		mounted = mounted || m.Name == "api-keys" && m.MountPath == "/etc/interopgate-keys" && m.ReadOnly
	}
	if !found || !mounted {
		t.Errorf("volumes %+v, mounts %+v", pod.Volumes, pod.Containers[0].VolumeMounts)
	}
	if _, err := renderFiles("ig", map[string]any{"gateway": map[string]any{"extraVolumeMounts": []any{map[string]any{"name": "x"}}}}); err == nil {
		t.Error("a mount without mountPath rendered")
	}
	// A second review: mounts on the chart's own paths, or naming no volume, rendered.
	for _, m := range []map[string]any{{"name": "api-keys", "mountPath": "/tmp"}, {"name": "nothing", "mountPath": "/etc/keys"}} {
		vals := map[string]any{"gateway": map[string]any{
			"extraVolumes":      []any{map[string]any{"name": "api-keys", "secret": map[string]any{"secretName": "keys"}}},
			"extraVolumeMounts": []any{m},
		}}
		if _, err := renderFiles("ig", vals); err == nil {
			t.Errorf("mount %v rendered", m)
		}
	}
	// A review found an extra volume named like the chart's own rendered twice (the API server
	// refuses such a Deployment).
	if _, err := renderFiles("ig", map[string]any{"gateway": map[string]any{"extraVolumes": []any{map[string]any{"name": "config", "emptyDir": map[string]any{}}}}}); err == nil ||
		!strings.Contains(err.Error(), `the name "config" is the chart's own volume`) {
		t.Errorf("an extra volume named config: %v", err)
	}
}

// The gateway's Ingress: off by default; on, it routes every host to the gateway Service's rpc
// port, with the class, annotations and TLS Secrets given.
func TestGatewayIngress(t *testing.T) {
	if n := len(byKind(render(t, nil), "Ingress")); n != 0 {
		t.Errorf("%d Ingresses by default", n)
	}
	ingress := map[string]any{
		"enabled":     true,
		"className":   "nginx",
		"annotations": map[string]any{"cert-manager.io/cluster-issuer": "letsencrypt"},
		"hosts":       []any{"rpc.example.org", "ws.example.org"},
		"tls": []any{
			map[string]any{"secretName": "rpc-tls"},
			map[string]any{"secretName": "ws-tls", "hosts": []any{"ws.example.org"}},
		},
	}
	ms := render(t, map[string]any{"gateway": map[string]any{"ingress": ingress}})
	ingresses := byKind(ms, "Ingress")
	if len(ingresses) != 1 {
		t.Fatalf("%d Ingresses", len(ingresses))
	}
	var ing networkingv1.Ingress
	strict(t, ingresses[0], &ing)
	var svc corev1.Service
	for _, m := range byKind(ms, "Service") {
		strict(t, m, &svc)
		if svc.Labels["app.kubernetes.io/component"] == "gateway" {
			break
		}
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("ingressClassName %v", ing.Spec.IngressClassName)
	}
	if ing.Annotations["cert-manager.io/cluster-issuer"] != "letsencrypt" {
		t.Errorf("annotations %v", ing.Annotations)
	}
	var hosts []string
	for _, r := range ing.Spec.Rules {
		hosts = append(hosts, r.Host)
		if r.HTTP == nil || len(r.HTTP.Paths) != 1 {
			t.Fatalf("rule %+v", r)
		}
		p := r.HTTP.Paths[0]
		if p.Path != "/" || p.PathType == nil || *p.PathType != networkingv1.PathTypePrefix {
			t.Errorf("%s: path %q %v", r.Host, p.Path, p.PathType)
		}
		if b := p.Backend.Service; b == nil || b.Name != svc.Name || b.Port.Name != "rpc" {
			t.Errorf("%s: backend %+v, want service %s port rpc", r.Host, p.Backend, svc.Name)
		}
	}
	if strings.Join(hosts, " ") != "rpc.example.org ws.example.org" {
		t.Errorf("hosts %v", hosts)
	}
	if len(ing.Spec.TLS) != 2 || ing.Spec.TLS[0].SecretName != "rpc-tls" || strings.Join(ing.Spec.TLS[0].Hosts, " ") != "rpc.example.org ws.example.org" ||
		ing.Spec.TLS[1].SecretName != "ws-tls" || strings.Join(ing.Spec.TLS[1].Hosts, " ") != "ws.example.org" {
		t.Errorf("tls %+v: want rpc-tls for every host, ws-tls for ws.example.org", ing.Spec.TLS)
	}
	rpc := false
	for _, p := range svc.Spec.Ports {
		rpc = rpc || p.Name == "rpc"
	}
	if !rpc {
		t.Errorf("the Ingress's service %s has no rpc port", svc.Name)
	}
	// No gateway, no Ingress.
	if n := len(byKind(render(t, map[string]any{"gateway": map[string]any{"enabled": false, "ingress": ingress}}), "Ingress")); n != 0 {
		t.Errorf("%d Ingresses without a gateway", n)
	}
}

// shutdownTimeout reads the process's own shutdown timeout after SIGTERM from its source.
func shutdownTimeout(t *testing.T, file string) int64 {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../cmd/interopgate", file))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)"shutting down[^"]*"\).*?context\.WithTimeout\(context\.Background\(\), (\d+) ?\* ?time\.Second\)`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("cmd/interopgate/%s: no shutdown timeout found after \"shutting down\": update this test", file)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// Pods sleep in a preStop hook (a sleep action: the image has no shell), then get SIGTERM with
// a grace period longer than the sleep and the process's own shutdown; the chart refuses a
// shorter one.
func TestPodsDrainBeforeTheyAreKilled(t *testing.T) {
	shutdown := map[string]int64{
		"gateway":     shutdownTimeout(t, "gateway.go"),
		"revalidator": shutdownTimeout(t, "revalidator.go"),
		"filter":      shutdownTimeout(t, "filter.go"),
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(string(dockerfile), -1)
	if len(froms) == 0 {
		t.Fatal("no FROM in the Dockerfile")
	}
	base := froms[len(froms)-1][1]
	noShell := strings.Contains(base, "distroless") || base == "scratch"
	every := map[string]any{"revalidator": map[string]any{"enabled": true}, "filter": map[string]any{"enabled": true}}
	for component, d := range deployments(t, render(t, every)) {
		pod := d.Spec.Template.Spec
		c := pod.Containers[0]
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
			t.Errorf("%s: no preStop sleep: %+v", component, c.Lifecycle)
			continue
		}
		if noShell && c.Lifecycle.PreStop.Exec != nil {
			t.Errorf("%s: a preStop exec, and the image (%s) has no shell", component, base)
		}
		sleep := c.Lifecycle.PreStop.Sleep.Seconds
		if sleep != 5 {
			t.Errorf("%s: preStop sleeps %d s, want 5", component, sleep)
		}
		if g := pod.TerminationGracePeriodSeconds; g == nil || *g <= sleep+shutdown[component] {
			t.Errorf("%s: terminationGracePeriodSeconds %v, want above the %d s sleep + the %d s shutdown", component, g, sleep, shutdown[component])
		}
	}
	// The chart's bound is the code's: the sleep + the shutdown is accepted, a second less is not.
	for component, s := range shutdown {
		vals := func(grace int64) map[string]any {
			return map[string]any{component: map[string]any{"enabled": true, "preStopSleepSeconds": 3, "terminationGracePeriodSeconds": grace}}
		}
		if _, err := renderFiles("ig", vals(3+s)); err != nil {
			t.Errorf("%s: a grace period of the 3 s sleep + the %d s shutdown is refused: %v", component, s, err)
		}
		if _, err := renderFiles("ig", vals(3+s-1)); err == nil || !strings.Contains(err.Error(), component+".terminationGracePeriodSeconds") {
			t.Errorf("%s: a grace period 1 s short of the sleep + the %d s shutdown: error %v", component, s, err)
		}
	}
	// 0: no hook.
	d := deployments(t, render(t, map[string]any{"gateway": map[string]any{"preStopSleepSeconds": 0}}))["gateway"]
	if l := d.Spec.Template.Spec.Containers[0].Lifecycle; l != nil {
		t.Errorf("preStopSleepSeconds 0: lifecycle %+v", l)
	}
}

// A pod gets an env list only when the chart has something to put in it.
func TestNoEmptyEnv(t *testing.T) {
	containerKeys := func(vals map[string]any) map[string]json.RawMessage {
		ds := byKind(render(t, vals), "Deployment")
		if len(ds) != 1 {
			t.Fatalf("%d deployments", len(ds))
		}
		var d struct {
			Spec struct {
				Template struct {
					Spec struct {
						Containers []map[string]json.RawMessage `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(ds[0].json, &d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Spec.Containers[0]
	}
	if env, ok := containerKeys(nil)["env"]; ok {
		t.Errorf("default values: env %s, want no env key", env)
	}
	for name, vals := range map[string]map[string]any{
		"redis secret":   {"redis": map[string]any{"existingSecret": "redis-auth"}},
		"dependency set": {"dependencySet": map[string]any{"json": testDependencySet}},
		"extraEnv":       {"gateway": map[string]any{"extraEnv": []any{map[string]any{"name": "INTEROPGATE_LOG_LEVEL", "value": "debug"}}}},
	} {
		var env []corev1.EnvVar
		if err := json.Unmarshal(containerKeys(vals)["env"], &env); err != nil || len(env) != 1 {
			t.Errorf("%s: env %+v (%v), want one variable", name, env, err)
		}
	}
}

// Found by a review: with a long release name the HPA named a Deployment that did not exist
// (its name was not cut to 63 characters like the Deployment's).
func TestTheHPAScalesTheGatewayWhateverTheReleaseName(t *testing.T) {
	ms := renderRelease(t, strings.Repeat("r", 44), full())
	var deploy string
	for _, m := range byKind(ms, "Deployment") {
		var d appsv1.Deployment
		strict(t, m, &d)
		if strings.HasSuffix(d.Name, "gatewa") || strings.Contains(d.Name, "gateway") {
			deploy = d.Name
		}
	}
	hpas := byKind(ms, "HorizontalPodAutoscaler")
	if len(hpas) != 1 || deploy == "" {
		t.Fatalf("%d HPAs, gateway Deployment %q", len(hpas), deploy)
	}
	var h autoscalingv2.HorizontalPodAutoscaler
	strict(t, hpas[0], &h)
	if h.Spec.ScaleTargetRef.Name != deploy || len(h.Name) > 63 {
		t.Fatalf("the HPA %q scales %q; the gateway Deployment is %q", h.Name, h.Spec.ScaleTargetRef.Name, deploy)
	}
}
