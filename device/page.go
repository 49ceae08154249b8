package device

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The person's page: what the device keeps, their consent switches, the
// privacy the device spent, the rounds it took part in and the
// recommendations with their reasons, served by the device itself on
// loopback. Everything it needs is embedded (page/): it loads nothing from
// the network and works offline.
//
// Only this machine may reach it: ServePage listens on a loopback address
// only, and every request must name a loopback host in its Host header, so
// that a web site whose name an attacker points at 127.0.0.1 (DNS
// rebinding) is refused. A request that changes anything is a POST that
// must carry the page's token, which is random per ServePage and only a
// page of the same origin can read, and must not come from another site
// (Origin, Sec-Fetch-Site). The page may not be framed.

// ErrNotLoopback is returned by ServePage for an address other machines
// could reach.
var ErrNotLoopback = errors.New("device: the page is served on a loopback address only (127.0.0.1, [::1] or localhost), so that no other machine can reach the person's data")

//go:embed page
var pageFiles embed.FS

var pageTemplate = template.Must(template.ParseFS(pageFiles, "page/page.html"))

// pageServer is the page's HTTP server while ServePage runs it.
type pageServer struct {
	srv  *http.Server
	url  string
	done chan struct{}
}

// ServePage serves the person's page on addr, a loopback host and port
// ("127.0.0.1:0" or "": 127.0.0.1 on a free port; localhost means
// 127.0.0.1), until StopPage or Close, and returns its URL. An address
// other machines could reach is refused (ErrNotLoopback).
func (d *Device) ServePage(addr string) (url string, err error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("device: the page's address %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1" // not whatever the resolver says localhost is
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("%w; not %q", ErrNotLoopback, addr)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st == nil {
		return "", ErrClosed
	}
	if d.page != nil {
		return "", fmt.Errorf("device: the page is already served at %s", d.page.url)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return "", fmt.Errorf("device: serving the page: %w", err)
	}
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	p := &pageServer{
		srv: &http.Server{Handler: newPageHandler(d, port), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 1 << 16},
		url:  "http://" + ln.Addr().String() + "/",
		done: make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		p.srv.Serve(ln) // returns http.ErrServerClosed on StopPage
	}()
	d.page = p
	return p.url, nil
}

// StopPage stops serving the page, letting requests under way finish for up
// to five seconds. Without a page served it does nothing.
func (d *Device) StopPage() error {
	d.mu.Lock()
	p := d.page
	d.page = nil
	d.mu.Unlock()
	if p == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if err != nil {
		p.srv.Close()
	}
	<-p.done
	return err
}

// pageHandler serves the page of a device.
type pageHandler struct {
	d     *Device
	token string // what a request that changes anything must carry
	port  string // the port a request's Host must name
	loc   *time.Location
	mux   *http.ServeMux
}

// Headers of every answer: nothing from elsewhere, no framing (a framed
// switch could be clicked by a page the person did not mean to use), no
// caching of the person's data.
var pageHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"X-Frame-Options":              "DENY",
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Cache-Control":                "no-store",
}

// tokenHeader carries the page's token on the page script's requests.
const tokenHeader = "X-Tacit-Token"

func newPageHandler(d *Device, port string) *pageHandler {
	h := &pageHandler{d: d, token: rand.Text(), port: port, loc: time.Local, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET /state", h.state)
	h.mux.HandleFunc("POST /consent", h.consent)
	h.mux.HandleFunc("GET /page.css", h.asset("page/page.css", "text/css; charset=utf-8"))
	h.mux.HandleFunc("GET /page.js", h.asset("page/page.js", "text/javascript; charset=utf-8"))
	h.mux.HandleFunc("GET /icon.svg", h.asset("page/icon.svg", "image/svg+xml"))
	return h
}

func (h *pageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range pageHeaders {
		w.Header().Set(k, v)
	}
	if !h.hostAllowed(r.Host) {
		http.Error(w, "This page answers only at 127.0.0.1, [::1] or localhost, on its own port.", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if why := h.refuseChange(w, r); why != "" {
			http.Error(w, why, http.StatusForbidden)
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

// hostAllowed says whether a request's Host names this page: a loopback
// address or localhost, at the page's port. Any other name is a site that
// resolves to this machine (DNS rebinding) or a request that is lost.
func (h *pageHandler) hostAllowed(host string) bool {
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), "80"
	}
	if port != h.port {
		return false
	}
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// refuseChange is why a request that would change something is refused, or
// "": it must come from the page itself (its Origin, if sent, is the
// page's; Sec-Fetch-Site, if sent, is same-origin) and carry the page's
// token, in tokenHeader or the form's token field.
func (h *pageHandler) refuseChange(w http.ResponseWriter, r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, "http://"+r.Host) {
		return "Refused: the request came from another site (" + o + ")."
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return "Refused: the request did not come from this page."
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := r.Header.Get(tokenHeader)
	if tok == "" {
		if err := r.ParseForm(); err != nil {
			return "Refused: the form could not be read."
		}
		tok = r.PostForm.Get("token")
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(h.token)) != 1 {
		return "Refused: the request lacks this page's token. Reload the page and try again."
	}
	return ""
}

func (h *pageHandler) asset(name, contentType string) http.HandlerFunc {
	b, err := pageFiles.ReadFile(name)
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	}
}

// pageState is what the page shows, and the JSON of GET /state.
type pageState struct {
	Status          pageStatus       `json:"status"`
	Summary         *Summary         `json:"summary"`
	Ledger          *Ledger          `json:"ledger"`
	Recommendations *Recommendations `json:"recommendations"` // null without
	// NoRecommendations is why there are none, if there are none.
	NoRecommendations string `json:"no_recommendations,omitempty"`
	// Version changes whenever anything else does: the page's script
	// polls it and refreshes the page's parts when it changes.
	Version string `json:"version"`
}

// pageStatus is Status, and a sentence saying it.
type pageStatus struct {
	Running   bool   `json:"running"`
	Waiting   string `json:"waiting,omitempty"`
	LastError string `json:"last_error,omitempty"`
	Text      string `json:"text"`
	Class     string `json:"-"`
}

// pageRecommendations is how many recommendations the page shows.
const pageRecommendations = 10

func (h *pageHandler) collect() (*pageState, error) {
	sum, err := h.d.Summary()
	if err != nil {
		return nil, err
	}
	s := &pageState{Status: statusOf(h.d.Status()), Summary: sum, Ledger: h.d.Ledger()}
	recs, err := h.d.Recommend(pageRecommendations, true)
	switch {
	case errors.Is(err, errNoModel):
		s.NoRecommendations = "There are no recommendations yet: this device has no model. It gets one the first time it takes part in a training round."
	case errors.Is(err, ErrClosed):
		return nil, err
	case err != nil:
		s.NoRecommendations = "Recommendations are not available: " + err.Error()
	default:
		s.Recommendations = recs
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	f := fnv.New64a()
	f.Write(b)
	s.Version = strconv.FormatUint(f.Sum64(), 36)
	return s, nil
}

func statusOf(st *Status) pageStatus {
	s := pageStatus{Running: st.Running, Waiting: st.Waiting, LastError: st.LastError}
	switch {
	case st.LastError != "":
		s.Text, s.Class = "Stopped taking part in training after an error: "+st.LastError, "bad"
	case !st.Running:
		s.Text, s.Class = "Not taking part in training: this device has not joined a coordinator.", "off"
	case st.Waiting != "":
		s.Text, s.Class = "Waiting to take part in training, because "+st.Waiting+".", "wait"
	default:
		s.Text, s.Class = "Taking part in training rounds when the coordinator asks.", "on"
	}
	return s
}

// fail answers a failure to read the device.
func fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, ErrClosed) {
		code = http.StatusServiceUnavailable
	}
	http.Error(w, err.Error(), code)
}

func (h *pageHandler) page(w http.ResponseWriter, r *http.Request) {
	s, err := h.collect()
	if err != nil {
		fail(w, err)
		return
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, h.view(s)); err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

func (h *pageHandler) state(w http.ResponseWriter, r *http.Request) {
	s, err := h.collect()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, s)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// consent sets the consent to a kind (form fields kind and grant, true or
// false), then answers with the state as JSON to the page's script
// (Accept: application/json) or sends a browser without script back to
// the page.
func (h *pageHandler) consent(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The form could not be read.", http.StatusBadRequest)
		return
	}
	kind := r.PostForm.Get("kind")
	grant, err := strconv.ParseBool(r.PostForm.Get("grant"))
	if err != nil {
		http.Error(w, "grant must be true or false", http.StatusBadRequest)
		return
	}
	if err := h.d.Consent(kind, grant); errors.Is(err, ErrBadKind) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	} else if err != nil {
		fail(w, err)
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s, err := h.collect()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, s)
}
