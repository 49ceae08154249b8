package coordinator

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
)

// The operator's status page: the current round, the privacy budget, the
// population, charts over the recent rounds and the configuration in
// force, all from /status (StatusReport). Everything it needs is embedded
// (page/): it loads nothing from elsewhere and works offline. The page
// carries the status it was served with, which its script draws at once;
// the script then polls /status and redraws in place. It shows counts
// only, never a device's own data.

//go:embed page
var pageFiles embed.FS

var pageTemplate = template.Must(template.ParseFS(pageFiles, "page/page.html"))

// pageHeaders are set on the page and its assets: nothing from elsewhere,
// no framing.
var pageHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
	"X-Frame-Options":        "DENY",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
}

func setPageHeaders(w http.ResponseWriter) {
	for k, v := range pageHeaders {
		w.Header().Set(k, v)
	}
}

// servePage serves the page with s's status in it.
func servePage(s *Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		if err := pageTemplate.Execute(&b, s.Status()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		setPageHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b.Bytes())
	}
}

// pageAsset serves an embedded file of page/.
func pageAsset(name, contentType string) http.HandlerFunc {
	b, err := pageFiles.ReadFile("page/" + name)
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	return func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	}
}
