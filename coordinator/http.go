package coordinator

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPHandler serves the operator's endpoints: /metrics (Prometheus, from
// gatherer), /healthz, /status (JSON, StatusReport) and the status page at
// / (page.go), with its script and style.
func HTTPHandler(s *Service, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.Status())
	})
	mux.HandleFunc("GET /{$}", servePage(s))
	mux.HandleFunc("GET /page.js", pageAsset("page.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /page.css", pageAsset("page.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /icon.svg", pageAsset("icon.svg", "image/svg+xml"))
	return mux
}
