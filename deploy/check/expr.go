package check

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var (
	// selectorRE finds a tacit_ series name and its label matchers, if any.
	selectorRE = regexp.MustCompile(`\b(tacit_[a-zA-Z0-9_]+)\b(\s*\{([^}]*)\})?`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
	groupingRE = regexp.MustCompile(`\b(by|without|on|ignoring)\s*\(([^)]*)\)`)
)

// ExprProblems returns what is wrong with a PromQL expression's use of the
// coordinator's metrics: a tacit_ name it does not export, a histogram
// named without _bucket, _sum or _count (or another metric with them), a
// label it does not have, a value its label never takes, or a grouping by
// a label none of the expression's metrics has. It reads the expression
// with regular expressions, not a PromQL parser: promtool parses it.
func ExprProblems(expr string) []string {
	var problems []string
	labels := map[string]bool{}
	for _, l := range targetLabels {
		labels[l] = true
	}
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		name, metric, ok := resolve(m[1])
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: not a metric of the coordinator", m[1]))
			continue
		}
		switch suffix := strings.TrimPrefix(m[1], name); {
		case metric.Kind == Histogram && suffix == "":
			problems = append(problems, fmt.Sprintf("%s is a histogram: name %s_bucket, _sum or _count", m[1], name))
		case suffix == "_bucket":
			labels["le"] = true
		}
		for l := range metric.Labels {
			labels[l] = true
		}
		for _, mm := range matcherRE.FindAllStringSubmatch(m[3], -1) {
			label, op, value := mm[1], mm[2], mm[3]
			if slices.Contains(targetLabels, label) || label == "le" && strings.HasSuffix(m[1], "_bucket") {
				continue
			}
			values, has := metric.Labels[label]
			switch {
			case !has:
				problems = append(problems, fmt.Sprintf("%s has no label %q", m[1], label))
			case (op == "=" || op == "!=") && values != nil && !slices.Contains(values, value):
				problems = append(problems, fmt.Sprintf("%s{%s}: %q is none of %s", m[1], label, value, strings.Join(values, ", ")))
			}
		}
	}
	for _, g := range groupingRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[2], ",") {
			if l = strings.TrimSpace(l); l != "" && !labels[l] {
				problems = append(problems, fmt.Sprintf("%s (%s): no metric of the expression has the label %q", g[1], g[2], l))
			}
		}
	}
	return problems
}

// resolve returns the metric a series name belongs to: itself, or the
// histogram of a _bucket, _sum or _count series.
func resolve(series string) (name string, m Metric, ok bool) {
	if m, ok := Metrics[series]; ok {
		return series, m, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, cut := strings.CutSuffix(series, suffix)
		if m, ok := Metrics[base]; cut && ok && m.Kind == Histogram {
			return base, m, true
		}
	}
	return "", Metric{}, false
}

// MetricNames returns the coordinator's metrics an expression names.
func MetricNames(expr string) []string {
	var names []string
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		if name, _, ok := resolve(m[1]); ok && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}
