package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/internal/browsertest"
)

// load navigates to url and waits for sel to show, failing the test with
// what the browser reported if it does not within 20 s.
func load(t *testing.T, ctx context.Context, problems func() []string, url, sel string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("%s: %s did not show (%v); the browser reported %q", url, sel, err, problems())
	}
}

// evaluator evaluates expressions in the page into Go values.
func evaluator(t *testing.T, ctx context.Context) func(js string, v any) {
	return func(js string, v any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js))
		if err == nil {
			err = json.Unmarshal(raw, v)
		}
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
	}
}

// screenshot saves the whole page to out/name.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("..", "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStatusPageInABrowser runs 36 rounds through a coordinator Service
// on an injected clock (central DP against a budget, an 8-bit codec,
// devices dropping out at check-in and before their report, some rounds
// abandoned), leaves the 37th under way, and loads the status page in
// headless Chromium: every chart has a point or bar per round of the
// history, the current round, the budget, the population and the
// configuration are shown, and no device is named. When the round ends
// the page redraws itself, without a reload, with one point more. Then a
// coordinator of secure rounds: the page shows the SecAgg phase and the
// devices still in against the threshold, and dropouts at each SecAgg
// phase. Then one whose budget ran out, over a transport that counts no
// traffic, and a fresh one: the page says so. It saves screenshots to
// out/coordinator-page.png and out/coordinator-page-secagg.png.
func TestStatusPageInABrowser(t *testing.T) {
	ctx, problems := browsertest.Start(t, 1280, 900)
	start := time.Now()
	const rounds = 36
	f := newPageFleet(t, pageConfig(), 120, []string{"device-119"})
	srv := f.serve(31)
	f.playPlain(1, rounds)
	// The next round under way: selection over, some reports in.
	current := f.s.m.Round()
	cohort := f.s.Cohort()
	var in []string
	for i, d := range cohort {
		f.pause(0.1, 0.6)
		if i%5 != 3 {
			f.checkIn(d)
			in = append(in, d)
		}
	}
	f.next() // selection ends
	for _, d := range in[:3] {
		f.pause(1, 3)
		f.reportPlain(d, 0.4, 0.45)
	}
	f.pause(5, 10)
	st := f.s.Status()
	if st.Round != current || st.Phase != "reporting" || len(st.Recent) != rounds {
		t.Fatalf("round %d %s with %d recent rounds, want round %d reporting with %d", st.Round, st.Phase, len(st.Recent), current, rounds)
	}

	load(t, ctx, problems, srv.URL+"/", "#chart-participants svg")
	loaded := time.Since(start)
	eval := evaluator(t, ctx)
	count := func(sel string) int {
		t.Helper()
		var n int
		eval(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel), &n)
		return n
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel), &s)
		return s
	}
	var hr, eps, dropped, abandoned int
	committedYet := false
	for i := len(st.Recent) - 1; i >= 0; i-- {
		r := st.Recent[i]
		if r.HR != nil {
			hr++
		}
		if !r.Committed {
			abandoned++
		}
		committedYet = committedYet || r.Committed
		if committedYet {
			eps++
		}
		if n := len(r.Stages); n > 0 && r.Stages[n-1].Devices < r.Selected {
			dropped++
		}
	}
	checks := []struct {
		what      string
		got, want int
	}{
		{"participants: selected", count("#chart-participants circle.mark.s-selected"), rounds},
		{"participants: checked in", count("#chart-participants circle.mark.s-checked"), rounds},
		{"participants: aggregated", count("#chart-participants circle.mark.s-reported"), rounds},
		{"duration bars", count("#chart-duration rect.bar"), rounds},
		{"abandoned bars", count("#chart-duration rect.bar.s-abandoned"), abandoned},
		{"dropout columns", count("#chart-dropouts rect.col"), rounds},
		{"rounds with dropouts", countRounds(t, eval, "#chart-dropouts rect.bar"), dropped},
		{"bytes up", count("#chart-bytes circle.mark.s-up"), rounds},
		{"bytes down", count("#chart-bytes circle.mark.s-down"), rounds},
		{"HR@10", count("#chart-quality circle.mark.s-hr"), hr},
		{"NDCG@10", count("#chart-quality circle.mark.s-ndcg"), hr},
		{"training loss", count("#chart-loss circle.mark"), hr},
		{"ε", count("#chart-epsilon circle.mark.s-eps"), eps},
		{"budget line", count("#chart-epsilon line.ref"), 1},
		{"table rows", count("#rounds tbody tr"), 12},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d on the page, want %d", c.what, c.got, c.want)
		}
	}
	if hr < rounds/2 || dropped < rounds/2 {
		t.Errorf("the scenario has %d rounds with evaluations and %d with dropouts", hr, dropped)
	}
	for _, c := range []struct{ sel, want string }{
		{"#round .big", fmt.Sprintf("Round %dreporting", current)},
		{"#state", fmt.Sprintf("running · round %d", current)},
		{"#countdown", "in "},
		{"#privacy", "no bound (central DP"},
		{"#privacy", "10⁻⁵, RDP"},
		{"#rounds-left", "about "},
		{"#pop-enrolled .v", "120"},
		{"#pop-connected .v", "31"},
		{"#pop-quarantined .v", "1"},
		{"#config", "8 bits a value, rotated"},
		{"#config", "central (added by the coordinator)"},
		{"#history-n", fmt.Sprintf("%d rounds", rounds)},
		{"#chart-abandoned .reasons", "selected devices checked in"},
		{"#chart-bytes .legend", "MB"},
	} {
		if got := text(c.sel); !strings.Contains(got, c.want) {
			t.Errorf("%s says %q, want %q in it", c.sel, got, c.want)
		}
	}
	var body string
	eval(`document.body.innerText`, &body)
	noDevices(t, "the page", body, f.devices)
	var title string
	eval(`document.querySelector('#chart-duration rect.bar.s-abandoned').parentNode.parentNode.querySelector('rect.col[data-round="' +
		document.querySelector('#chart-duration rect.bar.s-abandoned').dataset.round + '"] title').textContent`, &title)
	if !strings.Contains(title, "abandoned") || !strings.Contains(title, "needed") {
		t.Errorf("an abandoned round's hover text is %q, want its result and reason", title)
	}
	screenshot(t, ctx, "coordinator-page.png")

	// The round ends: the page redraws in place with one round more.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	for _, d := range in[3:] {
		f.pause(0.5, 2)
		f.reportPlain(d, 0.4, 0.45)
	}
	f.finish(current)
	wait := fmt.Sprintf(`body[data-history="%d"]`, rounds+1)
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(wait))); err != nil {
		t.Fatal(err)
	}
	var notReloaded bool
	eval(`window.notReloaded === true`, &notReloaded)
	if !notReloaded {
		t.Error("the page reloaded: it should redraw in place")
	}
	if got := count("#chart-participants circle.mark.s-selected"); got != rounds+1 {
		t.Errorf("after the round: %d points, want %d", got, rounds+1)
	}
	if got := text("#round .big"); !strings.Contains(got, fmt.Sprintf("Round %d", current+1)) {
		t.Errorf("after the round the page says %q", got)
	}

	// A coordinator of secure rounds, its round in the share-keys phase.
	s := newPageFleet(t, secureScenarioConfig(), 16, nil)
	ssrv := s.serve(15)
	rng := rand.New(rand.NewPCG(3, 4))
	phases := []secagg.Phase{secagg.PhaseAdvertiseKeys, secagg.PhaseShareKeys, secagg.PhaseMaskedInput, secagg.PhaseUnmask}
	const secureRounds = 12
	for range secureRounds {
		drop := map[string]secagg.Phase{}
		for _, d := range s.s.Cohort() {
			if rng.Float64() < 0.12 {
				drop[d] = phases[rng.IntN(len(phases))]
			}
		}
		s.secureRound(drop)
	}
	r := s.s.m.Round()
	cohort = s.s.Cohort()
	var clients []*secagg.Client
	for _, d := range cohort[1:] {
		p := s.checkIn(d)
		c, _ := secagg.NewClient(*p.SecAgg, p.SecAggID, rand.NewChaCha8([32]byte{byte(p.SecAggID)}))
		adv, _ := c.Start()
		if err := s.s.SecAggSend(d, r, adv); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	s.next()
	msg, _, err := s.s.SecAggFetch(cohort[1], r, secagg.PhaseShareKeys)
	if err != nil || msg == nil {
		t.Fatalf("share keys: %v %v", msg, err)
	}
	out, _ := clients[0].Step(msg)
	if err := s.s.SecAggSend(cohort[1], r, out); err != nil {
		t.Fatal(err)
	}
	s.pause(2, 3)
	load(t, ctx, problems, ssrv.URL+"/", "#secagg")
	sa := s.s.Status().SecAgg
	for _, c := range []struct{ sel, want string }{
		{"#secagg", "phase share-keys"},
		{"#secagg", fmt.Sprintf("1 of %d", len(cohort)-1)},
		{"#survivors", fmt.Sprintf("%d of %d", len(cohort)-1, len(cohort))},
		{"#threshold", fmt.Sprintf("threshold %d of %d", sa.Threshold, sa.Degree)},
		{"#privacy", "No DP"},
		{"#config", "semi-honest server"},
		{"#chart-quality .empty", "secure"},
	} {
		if got := text(c.sel); !strings.Contains(got, c.want) {
			t.Errorf("secure rounds: %s says %q, want %q in it", c.sel, got, c.want)
		}
	}
	var legend []string
	eval(`[...document.querySelectorAll('#chart-dropouts .legend li')].map(e => e.className)`, &legend)
	if strings.Join(legend, " ") == "" || !strings.Contains(strings.Join(legend, " "), "s-stage-") {
		t.Errorf("secure rounds: the dropout chart's legend is %v", legend)
	}
	if got := count("#chart-duration rect.bar"); got != secureRounds {
		t.Errorf("secure rounds: %d duration bars, want %d", got, secureRounds)
	}
	screenshot(t, ctx, "coordinator-page-secagg.png")

	// A coordinator whose budget ran out, over a transport that counts no
	// traffic.
	cfg := pageConfig()
	cfg.DP.Budget = 4
	b := newPageFleet(t, cfg, 120, nil)
	b.inMemory = true
	bsrv := httptest.NewServer(HTTPHandler(b.s, prometheus.NewRegistry()))
	defer bsrv.Close()
	for i := 1; i < 60 && b.s.Status().Phase != "stopped"; i++ {
		b.playPlain(i, 1)
	}
	load(t, ctx, problems, bsrv.URL+"/", "#stopped")
	for _, c := range []struct{ sel, want string }{
		{"#stopped", "Training has stopped: privacy budget"},
		{"#state", "training stopped"},
		{"#round .big", "Stopped"},
		{"#rounds-left", "about 0"},
		{"#pop-connected .v", "—"},
		{"#population", "not measured"},
		{"#chart-bytes .empty", "Not measured"},
	} {
		if got := text(c.sel); !strings.Contains(got, c.want) {
			t.Errorf("budget spent: %s says %q, want %q in it", c.sel, got, c.want)
		}
	}
	// A coordinator that has finished no round yet.
	fresh := newPageFleet(t, pageConfig(), 120, nil)
	load(t, ctx, problems, fresh.serve(0).URL+"/", "#round .big")
	if got := count("#chart-participants .empty") + count("#rounds .empty"); got != 2 || !strings.Contains(text("#chart-abandoned"), "No round has finished yet") {
		t.Errorf("a fresh coordinator's page: %d charts and tables say there is nothing yet, want 2", got)
	}

	for _, p := range problems() {
		t.Errorf("the browser reported %s", p)
	}
	t.Logf("chromium drew the page in %v; the test took %v", loaded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// countRounds counts the distinct rounds the elements of sel are of.
func countRounds(t *testing.T, eval func(string, any), sel string) int {
	t.Helper()
	var n int
	eval(fmt.Sprintf(`new Set([...document.querySelectorAll(%q)].map(e => e.dataset.round)).size`, sel), &n)
	return n
}
