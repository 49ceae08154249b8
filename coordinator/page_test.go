package coordinator

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
)

// TestStatusPageIsSelfContained: the page is self-contained (its script, style and icon
// come from the coordinator, and its policy allows nothing else), carries
// the status it was served with for its first drawing, says the essentials
// without a script, and names no device.
func TestStatusPageIsSelfContained(t *testing.T) {
	f := newPageFleet(t, pageConfig(), 120, nil)
	srv := f.serve(30)
	f.playPlain(1, 5)
	page, resp := get(t, srv, "/")
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("the page's policy %q lacks %s", csp, want)
		}
	}
	noDevices(t, "the page", page, f.devices)
	for _, ref := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if u := ref[1]; !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
			t.Errorf("the page refers to %q, not the coordinator's own", u)
		}
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="initial-status">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page carries no status")
	}
	var st StatusReport
	if err := json.Unmarshal([]byte(m[1]), &st); err != nil {
		t.Fatalf("the page's status: %v", err)
	}
	if want := f.s.Status(); st.Round != want.Round || len(st.Recent) != 5 || st.Population == nil || *st.Population.Connected != 30 {
		t.Fatalf("the page carries round %d with %d recent rounds, want round %d with 5", st.Round, len(st.Recent), want.Round)
	}
	if text := html.UnescapeString(page); !strings.Contains(text, fmt.Sprintf("round %d, %s:", st.Round, st.Phase)) {
		t.Error("the page says nothing without a script")
	}
	for _, a := range []struct{ path, ctype, has string }{
		{"/page.js", "text/javascript; charset=utf-8", "/status"},
		{"/page.css", "text/css; charset=utf-8", ".chart"},
		{"/icon.svg", "image/svg+xml", "<svg"},
	} {
		body, resp := get(t, srv, a.path)
		if resp.Header.Get("Content-Type") != a.ctype || !strings.Contains(body, a.has) || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %q, %d bytes", a.path, resp.Header.Get("Content-Type"), len(body))
		}
		if regexp.MustCompile(`https?://`).MatchString(strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "")) {
			t.Errorf("%s loads something from elsewhere", a.path)
		}
	}
}
