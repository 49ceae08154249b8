package check

import (
	"bytes"
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"
)

type ruleFile struct {
	Groups []struct {
		Name     string
		Interval string
		Limit    int
		Rules    []struct {
			Alert       string
			Record      string
			Expr        string
			For         *string
			Labels      map[string]string
			Annotations map[string]string
		}
	}
}

type ruleTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string
			ExpAlerts []struct{} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	}
}

// Severities are the values of an alert's severity label.
var Severities = []string{"critical", "warning"}

// RulesProblems checks a Prometheus rule file and its promtool unit tests
// beyond what promtool does: every alert has a for:, a severity, a summary
// and a description, uses the coordinator's metrics as ExprProblems
// wants, and is tested at least once firing and once quiet.
func RulesProblems(rules, tests []byte) []string {
	var problems []string
	report := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	var rf ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(rules))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		return []string{"rules: " + err.Error()}
	}
	var rt ruleTests
	if err := yaml.Unmarshal(tests, &rt); err != nil {
		return []string{"tests: " + err.Error()}
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, t := range rt.Tests {
		for _, a := range t.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Alert
			if name == "" {
				name = r.Record
			}
			for _, p := range ExprProblems(r.Expr) {
				report("%s: %s", name, p)
			}
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = true
			if r.For == nil {
				report("%s: no for: (say for: 0m to fire at once)", r.Alert)
			}
			if !slices.Contains(Severities, r.Labels["severity"]) {
				report("%s: severity %q is none of %v", r.Alert, r.Labels["severity"], Severities)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				report("%s: needs a summary and a description (what to do)", r.Alert)
			}
			if !fires[r.Alert] {
				report("%s: no test in which it fires", r.Alert)
			}
			if !quiet[r.Alert] {
				report("%s: no test in which it stays quiet", r.Alert)
			}
		}
	}
	for a := range fires {
		if !alerts[a] {
			report("the tests expect an alert %s the rules do not have", a)
		}
	}
	return problems
}
