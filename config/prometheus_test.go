package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	// Every package of the manager, so that every metric the binary registers at start is in
	// controller-runtime's registry here (controller and webhook metrics included).
	_ "github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/metrics"
)

// promtoolPath is where `make promtool` builds promtool (from hack/tools).
const promtoolPath = "../bin/promtool"

// promtool runs promtool in dir and fails the test with its output when it fails. promtool is
// a required tool of `make test`: a missing one fails, it does not skip.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin, err := filepath.Abs(promtoolPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("promtool is missing (%v): run `make promtool` (`make test` builds it)", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// alertRule is one rule of a PrometheusRule's groups.
type alertRule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ruleGroups is the rule file format promtool reads, and a PrometheusRule's spec.
type ruleGroups struct {
	Groups []struct {
		Name  string      `json:"name"`
		Rules []alertRule `json:"rules"`
	} `json:"groups"`
}

// TestAlertRules: the PrometheusRule that config/prometheus renders holds rules promtool
// accepts, each alert is proven by promtool's unit tests (alerts_test.yaml) to fire on its
// trouble, carries what on-call needs (severity, summary, description, a runbook section
// that exists), and names only metrics Roster or controller-runtime export.
func TestAlertRules(t *testing.T) {
	rule := render(t, "prometheus").get(t, "PrometheusRule", "alerts")
	spec, ok, err := unstructured.NestedMap(rule.Object, "spec")
	if err != nil || !ok {
		t.Fatalf("PrometheusRule without spec: %v", err)
	}
	raw, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var groups ruleGroups
	if err := yaml.UnmarshalStrict(raw, &groups); err != nil {
		t.Fatalf("the PrometheusRule's groups: %v", err)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alerts.rules.yaml"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("prometheus/alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, dir, "check", "rules", "alerts.rules.yaml")
	promtool(t, dir, "test", "rules", "alerts_test.yaml")

	proven := firingTests(t, tests)
	anchors := runbookAnchors(t)
	known := exportedMetrics(t)
	var alerts int
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s", r.Alert, a)
				}
			}
			const docs = "https://github.com/rosterhq/roster/blob/main/docs/operations.md#"
			if anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], docs); !ok || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q is not a section of docs/operations.md", r.Alert, r.Annotations["runbook_url"])
			}
			if !proven[r.Alert] {
				t.Errorf("%s: alerts_test.yaml has no test where it fires", r.Alert)
			}
			checkMetricNames(t, r.Alert, r.Expr, known)
		}
	}
	if alerts == 0 {
		t.Fatal("the PrometheusRule has no alerts")
	}
}

// firingTests returns the alerts that some test of a promtool test file expects to fire.
func firingTests(t *testing.T, file []byte) map[string]bool {
	t.Helper()
	var tf struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(file, &tf); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				out[a.Alertname] = true
			}
		}
	}
	return out
}

// runbookAnchors returns the anchors GitHub gives the headings of docs/operations.md.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	out := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			h = strings.TrimSpace(strings.TrimLeft(h, "#"))
			out[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(h), ""), " ", "-")] = true
		}
	}
	return out
}

// TestDashboard: the Grafana dashboard is valid JSON, ships in config/prometheus's ConfigMap
// with the sidecar's label (which the apiserver accepts), and every panel's query parses (promtool checks it as a recording
// rule) and names only metrics Roster or controller-runtime export.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile("prometheus/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title      string                                 `json:"title"`
		UID        string                                 `json:"uid"`
		Panels     []dashPanel                            `json:"panels"`
		Templating struct{ List []struct{ Name string } } `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Errorf("dashboard title %q uid %q: Grafana needs both", dash.Title, dash.UID)
	}

	cm := render(t, "prometheus").get(t, "ConfigMap", "grafana-dashboard")
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v: the Grafana sidecar looks for grafana_dashboard: \"1\"", cm.GetLabels())
	}
	if data, _, _ := unstructured.NestedString(cm.Object, "data", "roster.json"); data != string(raw) {
		t.Error("the ConfigMap's roster.json is not dashboard.json")
	}
	// The apiserver takes it where config/default puts it (size, name, labels).
	cm = cm.DeepCopy()
	cm.SetNamespace(installNamespace)
	applyAll(t, rendered{cm}, installNamespace)

	// Grafana's variables, replaced by values that make the query what Grafana sends.
	vars := map[string]string{"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
	for _, v := range dash.Templating.List {
		vars["${"+v.Name+"}"], vars["$"+v.Name] = ".*", ".*"
	}
	known := exportedMetrics(t)
	var rules ruleGroups
	rules.Groups = append(rules.Groups, struct {
		Name  string      `json:"name"`
		Rules []alertRule `json:"rules"`
	}{Name: "dashboard"})
	var panels []dashPanel
	for _, p := range dash.Panels {
		panels = append(append(panels, p), p.Panels...) // a collapsed row holds its panels
	}
	for _, p := range panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			expr := target.Expr
			// Longest names first: $__rate_interval before $__range.
			names := make([]string, 0, len(vars))
			for v := range vars {
				names = append(names, v)
			}
			slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
			for _, v := range names {
				expr = strings.ReplaceAll(expr, v, vars[v])
			}
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q: a variable the dashboard does not define: %s", p.Title, target.Expr)
			}
			checkMetricNames(t, "panel "+p.Title, expr, known)
			rules.Groups[0].Rules = append(rules.Groups[0].Rules, alertRule{
				Record: fmt.Sprintf("dashboard:panel%d:%s", p.ID, target.RefID), Expr: expr,
			})
		}
	}
	out, err := yaml.Marshal(rules)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "panels.rules.yaml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, dir, "check", "rules", "panels.rules.yaml")
}

type dashPanel struct {
	ID      int         `json:"id"`
	Type    string      `json:"type"`
	Title   string      `json:"title"`
	Panels  []dashPanel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// checkMetricNames fails the test for each metric expr names that is not in known.
func checkMetricNames(t *testing.T, where, expr string, known func(string) bool) {
	t.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		t.Errorf("%s: no metric in %q", where, expr)
	}
	for _, n := range names {
		if !known(n) {
			t.Errorf("%s: %s is not a metric Roster or controller-runtime exports", where, n)
		}
	}
}

// exportedMetrics returns whether a name is a series Roster's manager exports: a metric of
// internal/metrics (histograms with their _bucket, _sum and _count series), or one
// registered in controller-runtime's registry by the manager's packages (controller,
// webhook, client and leader-election metrics).
func exportedMetrics(t *testing.T) func(string) bool {
	t.Helper()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	roster := map[string]bool{}
	for _, c := range metrics.Collectors() {
		_, histogram := c.(prometheus.Histogram)
		if _, ok := c.(*prometheus.HistogramVec); ok {
			histogram = true
		}
		descs := make(chan *prometheus.Desc, 16)
		c.Describe(descs)
		close(descs)
		for d := range descs {
			m := fq.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("no name in %s", d)
			}
			roster[m[1]] = true
			if histogram {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					roster[m[1]+s] = true
				}
			}
		}
	}
	if len(roster) < 10 {
		t.Fatalf("only %d metric names from internal/metrics: %v", len(roster), roster)
	}
	return func(name string) bool {
		if roster[name] {
			return true
		}
		base := name
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, s)
		}
		if roster[base] {
			return false // one of Roster's, and not a histogram
		}
		return registered(t, name) || (base != name && registered(t, base))
	}
}

// registered reports whether controller-runtime's registry has a metric of that name: a probe
// of the same name is refused then (registries allow one help text and label set per name).
func registered(t *testing.T, name string) bool {
	t.Helper()
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe of config/prometheus_test.go"})
	err := crmetrics.Registry.Register(probe)
	if err == nil {
		crmetrics.Registry.Unregister(probe)
		return false
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		t.Fatalf("probe of %s collided with itself", name)
	}
	return true
}

// promqlWords are the words of PromQL that are not metric names when they are not followed
// by "(": aggregation operators take their grouping before their parentheses.
var promqlWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "atan2": true,
	"inf": true, "nan": true, "sum": true, "avg": true, "min": true, "max": true, "count": true,
	"stddev": true, "stdvar": true, "topk": true, "bottomk": true, "quantile": true,
	"count_values": true, "group": true, "limitk": true, "limit_ratio": true,
}

// metricNames returns the metric names a PromQL expression selects: identifiers outside
// strings, label matchers ({…}), ranges ([…]) and label lists of by/without/on/ignoring/
// group_left/group_right, that are neither a function call nor a PromQL word. A lexer, not a
// parser: promtool checks that the expression parses.
func metricNames(expr string) []string {
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`"),
		regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`),
		regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`),
	} {
		expr = re.ReplaceAllString(expr, " ")
	}
	var out []string
	word := regexp.MustCompile(`[0-9][0-9a-zA-Z_.]*|[a-zA-Z_:][a-zA-Z0-9_:]*`)
	for _, loc := range word.FindAllStringIndex(expr, -1) {
		w := expr[loc[0]:loc[1]]
		rest := strings.TrimLeft(expr[loc[1]:], " \t\n")
		if w[0] >= '0' && w[0] <= '9' || promqlWords[strings.ToLower(w)] || strings.HasPrefix(rest, "(") {
			continue
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (org, code) (rate(scim_requests_total{code=~"5..", org!="by"}[5m])) / sum by (org) (rate(scim_requests_total[5m])) > 0.05`: {"scim_requests_total"},
		`histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket[5m]))) > 1e3`:                                                         {"a_seconds_bucket"},
		`(sum(roster_leader) or vector(0)) < 1`:                       {"roster_leader"},
		`max by (org) (x) > on () group_left () max(y > 0) offset 5m`: {"x", "y"},
		`up`: {"up"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %v, want %v", expr, got, want)
		}
	}
	if known := exportedMetrics(t); known("up") || known("roster_no_such_metric") || !known("controller_runtime_reconcile_errors_total") ||
		!known("controller_runtime_webhook_latency_seconds_bucket") || !known("roster_cache_wait_seconds_bucket") || known("roster_leader_bucket") {
		t.Error("exportedMetrics does not tell Roster's and controller-runtime's metrics from others")
	}
}
