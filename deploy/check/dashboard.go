package check

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Query is one PromQL expression of the dashboard, and where it is.
type Query struct {
	Where, Expr string
}

type dashboard struct {
	Title         string
	UID           string
	SchemaVersion int
	Panels        []panel
	Templating    struct{ List []variable }
	Inputs        []struct{ Name, Type, PluginID string } `json:"__inputs"`
}

type panel struct {
	ID         int
	Type       string
	Title      string
	GridPos    struct{ H, W, X, Y int }
	Datasource *datasource
	Targets    []struct {
		RefID      string
		Expr       string
		Datasource *datasource
	}
	Panels []panel // a collapsed row's
}

type datasource struct{ Type, UID string }

type variable struct {
	Name, Type string
	Query      json.RawMessage
	Datasource *datasource
}

// DashboardProblems checks a Grafana dashboard's JSON: that it parses,
// names a Prometheus datasource through a variable or an import input and
// every panel and query uses it, that the panels' ids are unique and their
// places on the 24-column grid, and that every query uses the
// coordinator's metrics as ExprProblems wants. It returns the problems,
// and the queries (the panels' and the variables'), for promtool to parse.
func DashboardProblems(b []byte) (problems []string, queries []Query) {
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return []string{err.Error()}, nil
	}
	report := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if d.Title == "" || d.UID == "" {
		report("the dashboard needs a title and a uid (a stable URL, and re-imports replace it)")
	}
	if d.SchemaVersion < 36 {
		report("schemaVersion %d: 36 or later (Grafana 9+, datasources as objects)", d.SchemaVersion)
	}
	ds := ""
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && string(v.Query) == `"prometheus"` {
			ds = "${" + v.Name + "}"
		}
	}
	for _, in := range d.Inputs {
		if in.Type == "datasource" && in.PluginID == "prometheus" {
			ds = "${" + in.Name + "}"
		}
	}
	if ds == "" {
		report("no Prometheus datasource variable or __inputs entry")
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q.Query); err != nil {
			if err := json.Unmarshal(v.Query, &q); err != nil {
				report("variable %s: a query that is neither a string nor {query: ...}", v.Name)
			}
		}
		if v.Datasource == nil || v.Datasource.UID != ds {
			report("variable %s: datasource is not %s", v.Name, ds)
		}
		queries = append(queries, Query{"variable " + v.Name, q.Query})
	}
	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if other, dup := ids[p.ID]; dup || p.ID <= 0 {
				report("%s: id used by %s too, or not positive", where, other)
			}
			ids[p.ID] = where
			if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				report("%s: gridPos %+v is off the 24-column grid", where, g)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != ds {
				report("%s: datasource is not %s", where, ds)
			}
			if len(p.Targets) == 0 {
				report("%s: no queries", where)
			}
			refs := map[string]bool{}
			for _, t := range p.Targets {
				if refs[t.RefID] || t.RefID == "" {
					report("%s: refId %q empty or used twice", where, t.RefID)
				}
				refs[t.RefID] = true
				if t.Datasource != nil && t.Datasource.UID != ds {
					report("%s %s: datasource is not %s", where, t.RefID, ds)
				}
				if t.Expr == "" {
					report("%s %s: no expr", where, t.RefID)
				}
				queries = append(queries, Query{where + " " + t.RefID, t.Expr})
			}
		}
	}
	walk(d.Panels)
	for _, q := range queries {
		for _, p := range ExprProblems(q.Expr) {
			report("%s: %s", q.Where, p)
		}
	}
	return problems, queries
}

// Unshown returns the coordinator's metrics no query names.
func Unshown(queries []Query) []string {
	shown := map[string]bool{}
	for _, q := range queries {
		for _, n := range MetricNames(q.Expr) {
			shown[n] = true
		}
	}
	var missing []string
	for n := range Metrics {
		if !shown[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	return missing
}
