package device

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/internal/browsertest"
	"github.com/tacitfl/tacit/model"
)

// browserCatalogue is the page test's catalogue, in genres, so that its
// model recommends what a person reading the screenshot would expect.
var browserCatalogue = [][]string{
	{"Blade Runner (1982)", "Alien (1979)", "The Matrix (1999)", "Arrival (2016)", "Dune (2021)", "Interstellar (2014)",
		"Ex Machina (2014)", "Gattaca (1997)", "Moon (2009)", "Solaris (1972)", "Children of Men (2006)"},
	{"Amélie (2001)", "Notting Hill (1999)", "Groundhog Day (1993)", "Paddington 2 (2017)", "The Grand Budapest Hotel (2014)",
		"Before Sunrise (1995)", "Annie Hall (1977)"},
	{"Spirited Away (2001)", "My Neighbor Totoro (1988)", "WALL·E (2008)", "Up (2009)", "Inside Out (2015)", "Ratatouille (2007)",
		"Princess Mononoke (1997)"},
	{"Heat (1995)", "Fargo (1996)", "Zodiac (2007)", "Se7en (1995)"},
}

// browserDevice is a device with a few months of a person's events, consent
// to three kinds of four, a model whose items cluster by genre, a dozen
// rounds against a budget, and an agent waiting for the device to charge.
func browserDevice(t *testing.T) (*Device, *clock) {
	t.Helper()
	dir := t.TempDir()
	var ids []string
	for _, g := range browserCatalogue {
		ids = append(ids, g...)
	}
	cat := filepath.Join(dir, "catalogue.txt")
	if err := os.WriteFile(cat, []byte(strings.Join(ids, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	devDir := filepath.Join(dir, "dev")
	if err := os.MkdirAll(devDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(devDir, policyFile), []byte("budget = 10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: day0.Add(-62 * 24 * time.Hour)}
	d, err := Open(devDir, &Options{Catalogue: cat, now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, k := range []string{"view", "rating", "purchase"} {
		if err := d.Consent(k, true); err != nil {
			t.Fatal(err)
		}
	}
	c.t = day0
	for _, e := range []struct {
		kind, item string
		days       float64
	}{
		{"view", "Blade Runner (1982)", -60}, {"view", "Alien (1979)", -45}, {"view", "Arrival (2016)", -30},
		{"rating", "Amélie (2001)", -25}, {"view", "Spirited Away (2001)", -20}, {"purchase", "Moon (2009)", -15},
		{"rating", "Dune (2021)", -12}, {"purchase", "My Neighbor Totoro (1988)", -9}, {"rating", "Interstellar (2014)", -8},
		{"view", "The Matrix (1999)", -6}, {"view", "Up (2009)", -3},
		{"click", "Heat (1995)", -2}, {"click", "Fargo (1996)", -1.5}, {"click", "Zodiac (2007)", -1},
	} {
		record(t, d, e.kind, e.item, at(e.days))
	}

	// A model of four factors, one a genre, and a little noise.
	cfg := model.DefaultConfig()
	cfg.Factors = len(browserCatalogue)
	m := &model.MF{Items: len(ids), Factors: cfg.Factors, Params: make([]float32, model.ParamCount(len(ids), cfg.Factors))}
	rng := rand.New(rand.NewPCG(1, 2))
	q, i := m.ItemFactors(), 0
	for g, items := range browserCatalogue {
		for range items {
			for f := range cfg.Factors {
				q[i*cfg.Factors+f] = float32(0.08 * rng.NormFloat64())
			}
			q[i*cfg.Factors+g] += 0.9
			m.Params[len(q)+i] = float32(0.2 * rng.Float64()) // bias
			i++
		}
	}
	if err := d.saveModel(modelHeader{Version: 42, Items: m.Items, Config: cfg}, m.Params); err != nil {
		t.Fatal(err)
	}

	for r := range int64(12) {
		when := day0.Add(time.Duration(-21+int(r)*7/4) * 24 * time.Hour).Add(time.Duration(r%3) * 5 * time.Hour)
		addRound(t, d, 30+r, 3, when)
		if r == 5 {
			err := d.ledger.Record(client.LedgerEntry{Time: when.Add(20 * time.Hour), Kind: client.EntryDeclined, Round: 36,
				Delta: d.policy.Delta, Epsilon: d.ledger.Epsilon(d.policy.Delta),
				Reason: "the round's noise multiplier 0.4 is below this device's minimum of 1"})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	d.SetConditions(false, true, true)
	if err := d.join(&coordinator{}, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	return d, c
}

// TestPageInABrowser loads the page in headless Chromium: it shows every
// kind, a chart point per round, and recommendations with reasons; a
// click on a consent switch withdraws the consent in the device's store
// (its events leave the training data) and in its ledger, and the page
// shows it without a reload. It saves a screenshot to out/device-page.png.
func TestPageInABrowser(t *testing.T) {
	start := time.Now()
	d, _ := browserDevice(t)
	pageURL, err := d.ServePage("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	// Script exceptions and console errors (a refused style or script
	// under the page's CSP among them) fail the test.
	ctx, problems := browsertest.Start(t, 1024, 900)
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.ID("switch-purchase"))); err != nil {
		t.Fatal(err)
	}
	eval := func(js string, v any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js))
		if err == nil {
			err = json.Unmarshal(raw, v)
		}
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
	}
	var kinds, because []string
	var points, recs int
	var stylesApplied bool
	eval(`[...document.querySelectorAll('#kept tr[data-kind]')].map(r => r.dataset.kind)`, &kinds)
	eval(`document.querySelectorAll('#chart svg circle.point').length`, &points)
	eval(`document.querySelectorAll('#recommendations li').length`, &recs)
	eval(`[...document.querySelectorAll('#recommendations .because')].map(e => e.textContent)`, &because)
	eval(`getComputedStyle(document.querySelector('#switch-view')).borderRadius !== '0px'`, &stylesApplied)
	viewChecked, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("switch-view"), "aria-checked"))
	if err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("status")))
	if err != nil {
		t.Fatal(err)
	}
	loaded := time.Since(start)
	if want := []string{"click", "purchase", "rating", "view"}; !slices.Equal(kinds, want) {
		t.Errorf("the page shows kinds %v, want %v", kinds, want)
	}
	rounds := 0
	for _, e := range d.ledger.Snapshot() {
		if e.Kind == "" {
			rounds++
		}
	}
	if rounds != 12 || points != rounds {
		t.Errorf("the chart has %d points, the ledger %d rounds (want 12)", points, rounds)
	}
	if recs != pageRecommendations || len(because) != recs || !strings.HasPrefix(because[0], "Because you ") {
		t.Errorf("%d recommendations, want %d with reasons: %q", recs, pageRecommendations, because)
	}
	if viewChecked.Value != "true" || !strings.Contains(status, "not charging") || !stylesApplied {
		t.Errorf("view switch %q, status %q, styles applied %v", viewChecked.Value, status, stylesApplied)
	}

	// Withdraw consent to purchases by clicking their switch: the page's
	// script posts it and refreshes the page's parts, without a reload.
	before := d.Ledger().Len()
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`),
		chromedp.Click(chromedp.ID("switch-purchase")),
		chromedp.WaitVisible(chromedp.CSS(`#switch-purchase[aria-checked="false"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	var notReloaded bool
	var purchaseText string
	eval(`window.notReloaded === true`, &notReloaded)
	eval(`document.querySelector('#kept tr[data-kind="purchase"] .switch-text').textContent`, &purchaseText)
	if !notReloaded {
		t.Error("the page reloaded: the switch should post in the background")
	}
	if purchaseText != "Not used" {
		t.Errorf("the purchase switch says %q, want Not used", purchaseText)
	}
	if d.Consented("purchase") || !d.Consented("view") {
		t.Fatalf("after the click: purchase consented %v, view %v", d.Consented("purchase"), d.Consented("view"))
	}
	data, err := d.trainingData()
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range []string{"Moon (2009)", "My Neighbor Totoro (1988)"} {
		idx := d.index[item]
		if slices.Contains(data.Train.Items, idx) || data.Test == idx {
			t.Errorf("the training data still holds %s, a purchase, after consent was withdrawn", item)
		}
	}
	if !slices.Contains(data.Train.Items, d.index["Blade Runner (1982)"]) {
		t.Error("the training data lost a view")
	}
	l := d.Ledger()
	if last := l.Get(l.Len() - 1); l.Len() != before+1 || last.Kind != client.EntryConsent || last.Reason != "withdrew consent to use purchase events" {
		t.Fatalf("the ledger's last entry: %+v (of %d, %d before)", last, l.Len(), before)
	}
	var consentRows int
	eval(`document.querySelectorAll('#ledger tr.consent').length`, &consentRows)
	if consentRows != 4 {
		t.Errorf("the page's ledger shows %d consent entries, want 4", consentRows)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("..", "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "device-page.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range problems() {
		t.Errorf("the browser reported %s", p)
	}
	t.Logf("chromium loaded the page in %v; the test took %v", loaded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
