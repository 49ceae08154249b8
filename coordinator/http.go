package coordinator

import (
	"encoding/json"
	"html/template"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPHandler serves the operator's endpoints: /metrics (Prometheus, from
// gatherer), /healthz, /status (JSON) and a status page at /.
func HTTPHandler(s *Service, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.Status())
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		statusPage.Execute(w, s.Status())
	})
	return mux
}

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>Tacit coordinator</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:right;border-bottom:1px solid #ddd}</style>
</head><body>
<h1>Tacit coordinator</h1>
<p>Round <b>{{.Round}}</b>, {{.Phase}}: {{.Selected}} selected, {{.CheckedIn}} checked in, {{.Reports}} reported; deadline {{.Deadline.Format "15:04:05"}}. Model version {{.ModelVersion}}.</p>
{{with .Privacy}}<p>Privacy spent: ε <b>{{printf "%.4g" .AgainstObservers}}</b> against observers of the model, {{with .AgainstCoordinator}}ε <b>{{printf "%.4g" .}}</b>{{else}}no bound{{end}} against the coordinator, at δ {{.Delta}} ({{.Accountant}}).</p>{{end}}
<p><a href="/status">/status</a> (JSON) · <a href="/metrics">/metrics</a> (Prometheus) · <a href="/healthz">/healthz</a></p>
<table><tr><th>round</th><th>result</th><th>selected</th><th>reports</th><th>seconds</th><th>loss</th><th>HR@10</th><th>NDCG@10</th><th>reason</th></tr>
{{range .Recent}}<tr><td>{{.Round}}</td><td>{{if .Committed}}committed{{else}}abandoned{{end}}</td><td>{{.Selected}}</td><td>{{.Reports}}</td>
<td>{{printf "%.2f" .Seconds}}</td><td>{{with .TrainLoss}}{{printf "%.4g" .}}{{else}}-{{end}}</td><td>{{with .HR}}{{printf "%.4f" .}}{{else}}-{{end}}</td><td>{{with .NDCG}}{{printf "%.4f" .}}{{else}}-{{end}}</td><td style="text-align:left">{{.Reason}}</td></tr>
{{end}}</table>
</body></html>
`))
