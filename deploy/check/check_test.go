package check

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/tacitfl/tacit/coordinator"
)

const (
	dashboardFile  = "../grafana/tacit-dashboard.json"
	rulesFile      = "../prometheus/tacit-alerts.yml"
	ruleTestsFile  = "../prometheus/tacit-alerts_test.yml"
	kubernetesFile = "../kubernetes/tacit-coordinator.yaml"
	monitorFile    = "../kubernetes/tacit-servicemonitor.yaml"
	unitFile       = "../systemd/tacit-coordinator.service"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func none(t *testing.T, file string, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Errorf("%s: %s", file, p)
	}
}

func TestDashboard(t *testing.T) {
	problems, queries := DashboardProblems([]byte(read(t, dashboardFile)))
	none(t, dashboardFile, problems)
	if len(queries) == 0 {
		t.Fatal("no queries")
	}
	for _, m := range Unshown(queries) {
		t.Errorf("%s: no panel shows %s", dashboardFile, m)
	}
}

// TestDashboardQueriesParse has promtool parse every query of the
// dashboard, as recording rules, with Grafana's variables filled in.
func TestDashboardQueriesParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus)")
	}
	_, queries := DashboardProblems([]byte(read(t, dashboardFile)))
	vars := strings.NewReplacer("$job", "tacit", "$instance", ".+", "$__range", "1h", "$__rate_interval", "1m", "$__interval", "1m")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range queries {
		expr := vars.Replace(q.Expr)
		if strings.HasPrefix(expr, "label_values(") { // Grafana's, not PromQL: check its selector
			expr = strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(expr, "label_values("), ", ", 2)[0], ")")
		}
		fmt.Fprintf(&rules, "      - record: dashboard:query_%d\n        expr: %q\n", i, expr)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}

func TestRules(t *testing.T) {
	none(t, rulesFile, RulesProblems([]byte(read(t, rulesFile)), []byte(read(t, ruleTestsFile))))
}

func TestKubernetes(t *testing.T) {
	none(t, kubernetesFile, KubernetesProblems([]byte(read(t, kubernetesFile))))
	var sm struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string
		Spec       struct {
			Endpoints []struct {
				Port        string
				Relabelings []map[string]string
			}
		}
	}
	if err := yaml.Unmarshal([]byte(read(t, monitorFile)), &sm); err != nil {
		t.Fatalf("%s: %v", monitorFile, err)
	}
	job := func(r map[string]string) bool { return r["targetLabel"] == "job" && r["replacement"] == "tacit" }
	if sm.Kind != "ServiceMonitor" || len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http" ||
		!slices.ContainsFunc(sm.Spec.Endpoints[0].Relabelings, job) {
		t.Errorf("%s: wanted a ServiceMonitor of port http, relabelling job to tacit (the rules' job)", monitorFile)
	}
}

func TestSystemdUnit(t *testing.T) {
	text := read(t, unitFile)
	none(t, unitFile, UnitProblems(text))
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit's syntax is not verified")
	}
	// verify wants ExecStart's program to exist: this test's will do.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	u := ParseUnit(text)
	bin := strings.Fields(u.Get("Service", "ExecStart"))[0]
	path := filepath.Join(t.TempDir(), filepath.Base(unitFile))
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, bin+" ", exe+" ")), 0o644); err != nil {
		t.Fatal(err)
	}
	// It warns of unknown keys and bad values on stderr, with status 0.
	if out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// descs records the metrics registered on it: name → variable labels.
type descs map[string][]string

var descRE = regexp.MustCompile(`fqName: "([^"]*)".*variableLabels: \{([^}]*)\}`)

func (d descs) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		m := descRE.FindStringSubmatch(desc.String())
		if m == nil {
			return fmt.Errorf("cannot read %s", desc)
		}
		var labels []string
		if m[2] != "" {
			labels = strings.Split(m[2], ",")
		}
		d[m[1]] = labels
	}
	return nil
}

func (d descs) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

func (d descs) Unregister(prometheus.Collector) bool { return false }

// TestTheMetricsAreTheCoordinators: Metrics names exactly the metrics
// coordinator.NewMetrics registers, with their labels.
func TestTheMetricsAreTheCoordinators(t *testing.T) {
	registered := descs{}
	coordinator.NewMetrics(registered)
	for name, m := range Metrics {
		labels, ok := registered[name]
		switch {
		case !ok:
			t.Errorf("%s: the coordinator does not register it", name)
		default:
			var want []string
			for l := range m.Labels {
				want = append(want, l)
			}
			slices.Sort(want)
			slices.Sort(labels)
			if !slices.Equal(labels, want) {
				t.Errorf("%s: labels %v, the coordinator's %v", name, want, labels)
			}
		}
	}
	for name := range registered {
		if _, ok := Metrics[name]; !ok && strings.HasPrefix(name, "tacit_") {
			t.Errorf("%s: a coordinator metric the dashboard and the rules do not know (add it to Metrics)", name)
		}
	}
}

// TestTheChecksCatch: each check finds a mistake put into a good file.
func TestTheChecksCatch(t *testing.T) {
	for expr, want := range map[string]string{
		`rate(tacit_rounds_comitted_total[5m])`:                                       "not a metric",
		`histogram_quantile(0.9, rate(tacit_round_duration_seconds[5m]))`:             "is a histogram",
		`tacit_model_version_bucket`:                                                  "not a metric",
		`tacit_check_ins_total{result="acepted"}`:                                     "none of",
		`tacit_round_dropouts_total{stage="selected"}`:                                "none of",
		`tacit_round_dropouts_total{phase="unmask"}`:                                  "no label",
		`sum by (phase) (rate(tacit_round_dropouts_total[5m]))`:                       "no metric of the expression",
		`tacit_privacy_epsilon_spent / ignoring (stage) tacit_privacy_epsilon_budget`: "no metric of the expression",
	} {
		if p := ExprProblems(expr); !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("ExprProblems(%s) = %q, wanted one with %q", expr, p, want)
		}
	}
	for _, ok := range []string{
		`sum by (le) (rate(tacit_update_norm_bucket{job="tacit"}[5m]))`,
		`tacit_reports_total{result="late"}`,
		`sum without (stage) (increase(tacit_round_dropouts_total{stage="share-keys"}[1h]))`,
	} {
		if p := ExprProblems(ok); len(p) > 0 {
			t.Errorf("ExprProblems(%s) = %q, wanted none", ok, p)
		}
	}
	mutate := func(text, old, new string) string {
		t.Helper()
		if !strings.Contains(text, old) {
			t.Fatalf("%q is not in the file any more: update this test", old)
		}
		return strings.Replace(text, old, new, 1)
	}
	dash := read(t, dashboardFile)
	for _, bad := range []string{
		mutate(dash, `tacit_round_participants{`, `tacit_round_participant{`),
		mutate(dash, `"uid": "${datasource}"`, `"uid": "prometheus"`),
		mutate(dash, `"w": 8,`, `"w": 25,`),
		dash[:len(dash)/2],
	} {
		if p, _ := DashboardProblems([]byte(bad)); len(p) == 0 {
			t.Errorf("DashboardProblems found nothing wrong in a broken dashboard")
		}
	}
	rules, tests := read(t, rulesFile), read(t, ruleTestsFile)
	for _, bad := range [][2]string{
		{mutate(rules, "        for: 5m\n", ""), tests},
		{mutate(rules, "severity: warning", "severity: page"), tests},
		{mutate(rules, "summary:", "sumary:"), tests},
		{rules, mutate(tests, "alertname: TacitCheckpointFailed\n        exp_alerts:\n          - exp_labels", "alertname: TacitCheckpointFail\n        exp_alerts:\n          - exp_labels")},
	} {
		if len(RulesProblems([]byte(bad[0]), []byte(bad[1]))) == 0 {
			t.Errorf("RulesProblems found nothing wrong in broken rules or tests")
		}
	}
	k8s := read(t, kubernetesFile)
	for i, bad := range []string{
		mutate(k8s, "replicas: 1", "replicas: 2"),
		mutate(k8s, "--http=:7080", "--http=:8080"),
		mutate(k8s, "path: /healthz", "path: /status"),
		mutate(k8s, "protocol: UDP\n      port: 7443", "protocol: TCP\n      port: 7443"),
		mutate(k8s, "mountPath: /var/lib/tacit", "mountPath: /var/lib/state"),
		mutate(k8s, "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"),
		mutate(k8s, "terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 10"),
		mutate(k8s, "  selector:\n    app.kubernetes.io/name", "  selector:\n    app.kubernetes.io/nom"),
	} {
		if len(KubernetesProblems([]byte(bad))) == 0 {
			t.Errorf("KubernetesProblems found nothing wrong in broken manifests (%d)", i)
		}
	}
	unit := read(t, unitFile)
	for _, bad := range []string{
		mutate(unit, "ExecReload=", "#ExecReload="),
		mutate(unit, "TimeoutStopSec=45s", "TimeoutStopSec=10s"),
		mutate(unit, "StateDirectory=tacit", "StateDirectory=tacit-coordinator"),
		mutate(unit, "ProtectProc=invisible", "ProtectProc=invisible\nProcSubset=pid"),
	} {
		if len(UnitProblems(bad)) == 0 {
			t.Errorf("UnitProblems found nothing wrong in a broken unit")
		}
	}
}
