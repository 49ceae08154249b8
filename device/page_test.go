package device

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/model"
)

// pagePort is the port the handler tests' page is served on.
const pagePort = "8123"

// pageRequest sends h a request as a browser on the page's origin would,
// changed by hdr ("Host" sets the request's host); form, if not nil, is
// the body.
func pageRequest(h http.Handler, method, target string, form url.Values, hdr map[string]string) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	r.Host = "127.0.0.1:" + pagePort
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		if k == "Host" {
			r.Host = v
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// addRound writes into d's ledger a round it took part in, with noise
// multiplier z, at the ε the device's own accounting gives it.
func addRound(t testing.TB, d *Device, round int64, z float64, when time.Time) {
	t.Helper()
	delta := d.policy.Delta
	err := d.ledger.Record(client.LedgerEntry{Time: when.UTC(), Round: round, ModelVersion: round - 1, NoiseMultiplier: z, ClipNorm: 1,
		Delta: delta, BytesSent: 20_480 + int(round), Epsilon: d.ledger.EpsilonIf(z, nil, delta)})
	if err != nil {
		t.Fatal(err)
	}
}

// withModel stores a small random model over the catalogue's first items
// items, as if the device had received it.
func withModel(t testing.TB, d *Device, items int, version int64) {
	t.Helper()
	cfg := model.DefaultConfig()
	cfg.Factors = 2
	m, err := model.NewMF(items, cfg.Factors, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.saveModel(modelHeader{Version: version, Items: items, Config: cfg}, m.Params); err != nil {
		t.Fatal(err)
	}
}

// TestServePageOnLoopbackOnly: an address another machine could reach is
// refused before anything listens; a loopback one serves the page until
// StopPage or Close.
func TestServePageOnLoopbackOnly(t *testing.T) {
	d, _ := open(t, Options{})
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0", "localhost.example.com:0", "127.0.0.1"} {
		u, err := d.ServePage(addr)
		if err == nil {
			d.StopPage()
			t.Fatalf("ServePage(%q) served at %s", addr, u)
		}
		if addr != "127.0.0.1" && !errors.Is(err, ErrNotLoopback) {
			t.Errorf("ServePage(%q): %v, want ErrNotLoopback", addr, err)
		}
	}
	get := func(u string) error {
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(u)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
	for _, addr := range []string{"", "127.0.0.1:0", "localhost:0"} {
		u, err := d.ServePage(addr)
		if err != nil || !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("ServePage(%q) = %q, %v", addr, u, err)
		}
		if err := get(u); err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		if _, err := d.ServePage(addr); err == nil {
			t.Fatal("a second ServePage served a second page")
		}
		if err := d.StopPage(); err != nil {
			t.Fatal(err)
		}
		if err := get(u); err == nil {
			t.Fatalf("%s still answers after StopPage", u)
		}
	}
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		u, err := d.ServePage("[::1]:0")
		if err != nil || !strings.HasPrefix(u, "http://[::1]:") {
			t.Fatalf("ServePage([::1]:0) = %q, %v", u, err)
		}
		if err := get(u); err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		d.StopPage()
	}
	u, err := d.ServePage("")
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := get(u); err == nil {
		t.Fatalf("%s still answers after Close", u)
	}
	if _, err := d.ServePage(""); !errors.Is(err, ErrClosed) {
		t.Fatalf("ServePage after Close: %v", err)
	}
}

// TestPageAnswersOnlyToLoopbackHosts: a Host header that is not a
// loopback address or localhost at the page's port is refused, whatever
// the request: a site whose name resolves to 127.0.0.1 cannot read the
// page.
func TestPageAnswersOnlyToLoopbackHosts(t *testing.T) {
	d, _ := open(t, Options{})
	h := newPageHandler(d, pagePort)
	for _, host := range []string{"evil.example:" + pagePort, "evil.example", "127.0.0.1:9999", "127.0.0.1",
		"10.0.0.1:" + pagePort, "127.0.0.1.evil.example:" + pagePort, "localhost.evil.example:" + pagePort, ""} {
		for _, target := range []string{"/", "/state", "/page.js"} {
			if w := pageRequest(h, "GET", target, nil, map[string]string{"Host": host}); w.Code != http.StatusForbidden {
				t.Errorf("GET %s with Host %q: %d, want 403", target, host, w.Code)
			}
		}
	}
	for _, host := range []string{"127.0.0.1:" + pagePort, "localhost:" + pagePort, "LocalHost:" + pagePort, "[::1]:" + pagePort, "127.0.0.2:" + pagePort} {
		if w := pageRequest(h, "GET", "/", nil, map[string]string{"Host": host}); w.Code != http.StatusOK {
			t.Errorf("GET / with Host %q: %d, want 200", host, w.Code)
		}
	}
}

// TestChangesNeedThePagesToken: a consent POST without the page's token,
// with another, or from another site is refused and changes nothing; with
// it, from the page, it sets the consent.
func TestChangesNeedThePagesToken(t *testing.T) {
	d, _ := open(t, Options{})
	record(t, d, "view", "a", at(-1))
	h := newPageHandler(d, pagePort)
	form := func(tok string) url.Values {
		v := url.Values{"kind": {"view"}, "grant": {"true"}}
		if tok != "" {
			v.Set("token", tok)
		}
		return v
	}
	for _, c := range []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"no token", form(""), nil},
		{"another token", form("x" + h.token[1:]), nil},
		{"another token in the header", form(""), map[string]string{tokenHeader: h.token + "x"}},
		{"another site", form(h.token), map[string]string{"Origin": "http://evil.example"}},
		{"another port", form(h.token), map[string]string{"Origin": "http://127.0.0.1:9999"}},
		{"an opaque origin", form(h.token), map[string]string{"Origin": "null"}},
		{"cross-site fetch", form(h.token), map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"same-site fetch", form(h.token), map[string]string{"Sec-Fetch-Site": "same-site"}},
	} {
		if w := pageRequest(h, "POST", "/consent", c.form, c.hdr); w.Code != http.StatusForbidden {
			t.Errorf("%s: %d %s, want 403", c.name, w.Code, w.Body)
		}
	}
	if d.Consented("view") || d.Ledger().Len() != 0 {
		t.Fatalf("a refused request changed the device: consented %v, ledger %d entries", d.Consented("view"), d.Ledger().Len())
	}

	// A browser without script: the form, then back to the page.
	w := pageRequest(h, "POST", "/consent", form(h.token), map[string]string{"Origin": "http://127.0.0.1:" + pagePort, "Sec-Fetch-Site": "same-origin"})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("the page's form: %d %s, want 303 to /", w.Code, w.Header().Get("Location"))
	}
	if !d.Consented("view") {
		t.Fatal("the page's form did not grant consent")
	}
	// The page's script: the token in a header, the state back as JSON.
	w = pageRequest(h, "POST", "/consent", url.Values{"kind": {"view"}, "grant": {"false"}},
		map[string]string{tokenHeader: h.token, "Accept": "application/json"})
	var s struct{ Version string }
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &s) != nil || s.Version == "" {
		t.Fatalf("the page's script: %d %s", w.Code, w.Body)
	}
	if d.Consented("view") {
		t.Fatal("the page's script did not withdraw consent")
	}
	if w := pageRequest(h, "GET", "/consent", nil, nil); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /consent: %d, want 405", w.Code)
	}
	if w := pageRequest(h, "POST", "/state", url.Values{"token": {h.token}}, nil); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /state: %d, want 405", w.Code)
	}
}

// TestConsentRefusesBadInput: a bad kind or grant is a 400, and changes
// nothing.
func TestConsentRefusesBadInput(t *testing.T) {
	d, _ := open(t, Options{})
	h := newPageHandler(d, pagePort)
	for _, v := range []url.Values{
		{"kind": {"Bad Kind"}, "grant": {"true"}},
		{"kind": {""}, "grant": {"true"}},
		{"kind": {"view<script>"}, "grant": {"true"}},
		{"kind": {strings.Repeat("a", 33)}, "grant": {"true"}},
		{"kind": {"view"}, "grant": {"maybe"}},
		{"kind": {"view"}},
	} {
		v.Set("token", h.token)
		if w := pageRequest(h, "POST", "/consent", v, nil); w.Code != http.StatusBadRequest {
			t.Errorf("%v: %d %s, want 400", v, w.Code, w.Body)
		}
	}
	if d.Ledger().Len() != 0 {
		t.Fatalf("refused requests wrote %d ledger entries", d.Ledger().Len())
	}
	big := url.Values{"token": {h.token}, "kind": {"view"}, "grant": {"true"}, "pad": {strings.Repeat("x", 5000)}}
	if w := pageRequest(h, "POST", "/consent", big, nil); w.Code == http.StatusOK || w.Code == http.StatusSeeOther || d.Consented("view") {
		t.Fatalf("a 5 kB form: %d, consented %v", w.Code, d.Consented("view"))
	}
}

// TestPageStateJSON: GET /state is the summary, the ledger, the status and
// the recommendations (null, and why, without a model), and a version
// that changes when any of them does.
func TestPageStateJSON(t *testing.T) {
	d, _ := open(t, Options{})
	record(t, d, "view", "a", at(-3))
	record(t, d, "rating", "b", at(-2))
	record(t, d, "view", "c", at(-1))
	d.Consent("view", true)
	addRound(t, d, 7, 1.2, day0)
	h := newPageHandler(d, pagePort)
	get := func() map[string]any {
		t.Helper()
		w := pageRequest(h, "GET", "/state", nil, nil)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET /state: %d %s", w.Code, w.Header().Get("Content-Type"))
		}
		var s map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := get()
	status := s["status"].(map[string]any)
	if status["running"] != false || !strings.Contains(status["text"].(string), "Not taking part") {
		t.Errorf("status: %v", status)
	}
	sum := s["summary"].(map[string]any)
	if sum["events"] != 3.0 || sum["max_events"] != float64(DefaultMaxEvents) || sum["model_version"] != -1.0 {
		t.Errorf("summary: %v", sum)
	}
	kinds := map[string]map[string]any{}
	for _, k := range sum["kinds"].([]any) {
		k := k.(map[string]any)
		kinds[k["kind"].(string)] = k
	}
	if len(kinds) != 4 || kinds["view"]["events"] != 2.0 || kinds["view"]["consented"] != true || kinds["rating"]["consented"] != false ||
		kinds["view"]["oldest_unix_ms"] != float64(at(-3)) || kinds["click"]["retention_days"] != float64(DefaultRetentionDays) {
		t.Errorf("kinds: %v", kinds)
	}
	l := s["ledger"].(map[string]any)
	entries := l["entries"].([]any)
	if len(entries) != 2 || entries[0].(map[string]any)["kind"] != client.EntryConsent || entries[1].(map[string]any)["kind"] != KindRound ||
		entries[1].(map[string]any)["round"] != 7.0 || !(l["epsilon"].(float64) > 0) || l["delta"] != 1e-6 {
		t.Errorf("ledger: %v", l)
	}
	if s["recommendations"] != nil || !strings.Contains(s["no_recommendations"].(string), "no model") {
		t.Errorf("without a model: recommendations %v, %q", s["recommendations"], s["no_recommendations"])
	}
	v1 := s["version"].(string)
	if get()["version"] != v1 {
		t.Error("the version changed while nothing else did")
	}

	withModel(t, d, 5, 4)
	s = get()
	recs := s["recommendations"].(map[string]any)
	list := recs["recommendations"].([]any)
	if recs["model_version"] != 4.0 || len(list) != 3 || s["no_recommendations"] != nil || s["version"] == v1 {
		t.Fatalf("with a model: %v, no_recommendations %v", recs, s["no_recommendations"])
	}
	for _, r := range list {
		r := r.(map[string]any)
		if r["item"] == "a" || r["item"] == "c" {
			t.Errorf("recommended %v, which the person viewed", r["item"])
		}
		because, _ := r["because"].([]any) // none when no past event raised it
		for _, b := range because {
			if b := b.(map[string]any); b["kind"] != "view" || (b["item"] != "a" && b["item"] != "c") {
				t.Errorf("reason %v is not one of the person's views", b)
			}
		}
	}
}

// TestPageShowsTheDevice: the page names every kind with its switch, the
// rounds as chart points and table rows, and the recommendations with
// their reasons; it loads nothing from elsewhere and may not be framed.
func TestPageShowsTheDevice(t *testing.T) {
	d, _ := open(t, Options{})
	record(t, d, "view", "a", at(-3))
	record(t, d, "purchase", "b", at(-2))
	d.Consent("view", true)
	for r := range int64(4) {
		addRound(t, d, 10+r, 1.1, day0.Add(time.Duration(r)*time.Hour))
	}
	d.ledger.Record(client.LedgerEntry{Time: day0.Add(5 * time.Hour), Kind: client.EntryDeclined, Round: 15, Delta: 1e-6,
		Reason: "the plan's noise is below this device's minimum", Epsilon: d.ledger.Epsilon(1e-6)})
	h := newPageHandler(d, pagePort)
	page := func() string {
		t.Helper()
		w := pageRequest(h, "GET", "/", nil, nil)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("GET /: %d %s", w.Code, w.Body)
		}
		for k, v := range pageHeaders {
			if w.Header().Get(k) != v {
				t.Errorf("header %s: %q, want %q", k, w.Header().Get(k), v)
			}
		}
		return w.Body.String()
	}
	body := page()
	for _, want := range []string{
		`<meta name="tacit-token" content="` + h.token + `">`,
		`id="switch-view" data-kind="view" aria-checked="true"`,
		`id="switch-purchase" data-kind="purchase" aria-checked="false"`,
		`id="switch-click"`, `id="switch-rating"`,
		"2 events kept, of at most 100,000",
		"Not taking part in training",
		"There are no recommendations yet: this device has no model.",
		"Declined a round", "The plan&#39;s noise is below this device&#39;s minimum.",
		"Granted consent to use view events.",
		"20.5 kB",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if n := strings.Count(body, `<circle class="point"`); n != 4 {
		t.Errorf("the chart has %d points, want 4 (the rounds)", n)
	}
	if n := strings.Count(body, `<tr class="round">`); n != 4 {
		t.Errorf("the table has %d rounds, want 4", n)
	}
	for _, bad := range []string{"http://", "https://", "//cdn", "<script>"} {
		if strings.Contains(strings.ReplaceAll(body, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("the page holds %q: it must load nothing from elsewhere", bad)
		}
	}

	withModel(t, d, 5, 9)
	body = page()
	if n := strings.Count(body, `<li><span class="item">`); n != 4 {
		t.Errorf("%d recommendations, want 4 (five items less the one viewed)", n)
	}
	if !strings.Contains(body, "Because you viewed “a” on ") || !strings.Contains(body, "version 9 of the shared model") {
		t.Errorf("no reason names the person's view of a, or no model version:\n%s", body)
	}

	for target, ctype := range map[string]string{"/page.css": "text/css", "/page.js": "text/javascript"} {
		w := pageRequest(h, "GET", target, nil, nil)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), ctype) || w.Body.Len() < 500 {
			t.Errorf("GET %s: %d %s, %d bytes", target, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
		}
	}
	if w := pageRequest(h, "GET", "/nothing", nil, nil); w.Code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d", w.Code)
	}
}

// TestEpsilonChart: a point a round (of unknown cost too), the budget
// line only with a budget, an unbounded ε at the top, nothing without
// rounds.
func TestEpsilonChart(t *testing.T) {
	e := func(kind string, hours int, eps float64) LedgerEntry {
		return LedgerEntry{UnixMillis: day0.Add(time.Duration(hours) * time.Hour).UnixMilli(), Kind: kind, Round: int64(hours), Epsilon: eps}
	}
	l := &Ledger{Budget: 5, entries: []LedgerEntry{e("consent", 0, 0), e(KindRound, 1, 1), e("declined", 2, 1), e(KindRound, 30, 2),
		e(KindRound, 80, 3.5), e("forget", 81, 3.5)}}
	svg, n := epsilonChart(l, time.UTC)
	s := string(svg)
	if n != 3 || strings.Count(s, `<circle class="point"`) != 3 || strings.Count(s, `class="budget"`) != 1 ||
		!strings.Contains(s, "your budget: ε = 5") || !strings.Contains(s, "1 Dec") || !strings.Contains(s, "Round 30") {
		t.Errorf("three rounds, budget 5: %d points\n%s", n, s)
	}
	l.Budget = 0
	if s, _ := epsilonChart(l, time.UTC); strings.Contains(string(s), "budget") {
		t.Error("a budget line without a budget")
	}
	l.entries = append(l.entries, e(client.EntryUnknown, 90, math.Inf(1)))
	if s, n := epsilonChart(l, time.UTC); n != 4 || strings.Count(string(s), `<circle class="point unbounded"`) != 1 ||
		strings.Contains(string(s), "NaN") || strings.Contains(string(s), "Inf") {
		t.Errorf("an unknown round: %d points\n%s", n, s)
	}
	l.entries = []LedgerEntry{e(KindRound, 1, 0.5)}
	if s, n := epsilonChart(l, time.UTC); n != 1 || strings.Count(string(s), "<circle") != 1 || strings.Contains(string(s), "NaN") {
		t.Errorf("one round: %d points\n%s", n, s)
	}
	l.entries = l.entries[:0]
	if s, n := epsilonChart(l, time.UTC); s != "" || n != 0 {
		t.Errorf("no rounds: %q", s)
	}
}

// TestPageWords: how the page says kinds, times and numbers.
func TestPageWords(t *testing.T) {
	for kind, want := range map[string]string{"view": "viewed", "click": "clicked", "purchase": "purchased", "rating": "rated",
		"play": "played", "add_to_cart": "add to carted", "booking": "booked", "buy": "bought"} {
		if got := PastTense(kind); got != want {
			t.Errorf("PastTense(%q) = %q, want %q", kind, got, want)
		}
	}
	for kind, want := range map[string]string{"view": "Views", "purchase": "Purchases", "search": "Searches", "add_to_cart": "Add to carts"} {
		if got := kindLabel(kind); got != want {
			t.Errorf("kindLabel(%q) = %q, want %q", kind, got, want)
		}
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	if itemName("318", "") != "item 318" || itemName("Alien (1979)", "") != "Alien (1979)" || itemName("1214", "Alien (1979)") != "Alien (1979)" {
		t.Error("itemName")
	}
	if number(math.Inf(1)) != "unbounded" || number(1.23456) != "1.23" || number(12345) != "12,345" {
		t.Error("number")
	}
}
