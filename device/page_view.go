package device

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tacitfl/tacit/client"
)

// pageView is what the page's template reads: pageState in words a person
// reads, with the chart drawn.
type pageView struct {
	Token, Version string
	Status         pageStatus
	Events         string // how many events are kept, against the bound
	Kinds          []kindView
	AnyConsent     bool
	Model          string

	Spent   string // ε so far, against the budget
	Chart   template.HTML
	Rounds  int
	Entries []entryView
	Older   int // entries older than those shown

	Recs      []recView
	NoRecs    string
	RecsBasis string
}

type kindView struct {
	Kind, Label          string
	Events, Unknown      int
	Oldest, Retention    string
	Consented            bool
	SwitchText, NextText string
}

type entryView struct {
	When, Class, What, Detail           string
	Round, Model, Noise, Bytes, Epsilon string
}

type recView struct {
	Item, Because string
}

// pageEntries bounds the ledger entries the page lists, newest first.
const pageEntries = 200

func (h *pageHandler) view(s *pageState) pageView {
	v := pageView{Token: h.token, Version: s.Version, Status: s.Status}
	sum := s.Summary
	v.Events = fmt.Sprintf("%s %s kept, of at most %s: past that the oldest go first.",
		thousands(sum.Events), plural(sum.Events, "event", "events"), thousands(sum.MaxEvents))
	for _, k := range sum.kinds {
		kv := kindView{Kind: k.Kind, Label: kindLabel(k.Kind), Events: k.Events, Unknown: k.Unknown, Oldest: "—",
			Retention: thousands(k.RetentionDays) + " " + plural(k.RetentionDays, "day", "days"), Consented: k.Consented,
			SwitchText: "Not used", NextText: "Use"}
		if k.Events > 0 {
			kv.Oldest = h.date(k.OldestUnixMillis)
		}
		if k.Consented {
			kv.SwitchText, kv.NextText, v.AnyConsent = "Used", "Stop using", true
		}
		v.Kinds = append(v.Kinds, kv)
	}
	if sum.ModelVersion >= 0 {
		v.Model = fmt.Sprintf("Recommendations come from version %d of the shared model, which this device keeps.", sum.ModelVersion)
	}

	l := s.Ledger
	v.Spent = spentText(l)
	v.Chart, v.Rounds = epsilonChart(l, h.loc)
	n := len(l.entries)
	for i := n - 1; i >= 0 && i >= n-pageEntries; i-- {
		v.Entries = append(v.Entries, h.entry(l.entries[i]))
	}
	v.Older = max(0, n-pageEntries)

	v.NoRecs = s.NoRecommendations
	if r := s.Recommendations; r != nil {
		for i := range r.list {
			v.Recs = append(v.Recs, recView{Item: itemName(r.list[i].Item, r.list[i].Title), Because: h.because(r.list[i].because)})
		}
		if !v.AnyConsent {
			v.RecsBasis = "You allow none of your events to be used, so these are what is popular with everyone, not picked for you."
		}
	}
	return v
}

func (h *pageHandler) date(ms int64) string {
	return time.UnixMilli(ms).In(h.loc).Format("2 Jan 2006")
}

func (h *pageHandler) entry(e LedgerEntry) entryView {
	dash := "—"
	v := entryView{When: time.UnixMilli(e.UnixMillis).In(h.loc).Format("2 Jan 2006, 15:04"), Class: e.Kind, Detail: e.Reason,
		Round: dash, Model: dash, Noise: dash, Bytes: dash, Epsilon: number(e.Epsilon)}
	if e.Round > 0 || e.Kind == KindRound || e.Kind == client.EntryDeclined {
		v.Round = strconv.FormatInt(e.Round, 10)
	}
	switch e.Kind {
	case KindRound:
		v.What = "Took part in a round"
		v.Model = strconv.FormatInt(e.ModelVersion, 10)
		v.Noise = "none"
		if e.NoiseMultiplier > 0 {
			v.Noise = number(e.NoiseMultiplier)
		}
		v.Bytes = bytesText(e.BytesSent)
		v.Detail = ""
	case client.EntryDeclined:
		v.What = "Declined a round"
	case client.EntryConsent:
		v.What = "Your choice"
	case client.EntryForget:
		v.What = "Deleted events"
	case client.EntryUnknown:
		v.What = "A round of unknown cost"
	default:
		v.What = e.Kind
	}
	if v.Detail != "" {
		v.Detail = upperFirst(v.Detail) + "."
	}
	return v
}

// because is a recommendation's reasons as a sentence: "Because you
// viewed “Alien” on 3 Dec 2026 and rated “Dune” on 1 Dec 2026."
func (h *pageHandler) because(rs []Reason) string {
	if len(rs) == 0 {
		return "Popular with everyone; none of your events raised it."
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s “%s” on %s", PastTense(r.Kind), itemName(r.Item, r.Title), h.date(r.UnixMillis))
	}
	s := parts[0]
	if n := len(parts); n > 1 {
		s = strings.Join(parts[:n-1], ", ") + " and " + parts[n-1]
	}
	return "Because you " + s + "."
}

// PastTense is what the person did, for a kind of event (view → viewed),
// as the page and tacit device word an explanation.
func PastTense(kind string) string {
	switch kind {
	case "rating", "rate":
		return "rated"
	case "buy":
		return "bought"
	case "read":
		return "read"
	case "search":
		return "searched for"
	}
	k := strings.ReplaceAll(kind, "_", " ")
	switch {
	case strings.HasSuffix(k, "e"):
		return k + "d"
	case strings.HasSuffix(k, "ing") && len(k) > 5:
		return strings.TrimSuffix(k, "ing") + "ed"
	}
	return k + "ed"
}

// kindLabel is a kind as a heading: view → Views.
func kindLabel(kind string) string {
	k := strings.ReplaceAll(kind, "_", " ")
	switch {
	case strings.HasSuffix(k, "s"), strings.HasSuffix(k, "x"), strings.HasSuffix(k, "ch"), strings.HasSuffix(k, "sh"):
		k += "es"
	default:
		k += "s"
	}
	return upperFirst(k)
}

// itemName is how the page names an item: a bare number, as in MovieLens's
// catalogue, reads as "item 318".
func itemName(id, title string) string {
	if title != "" {
		return title
	}
	if _, err := strconv.ParseUint(id, 10, 64); err == nil {
		return "item " + id
	}
	return id
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// thousands writes n with thousands separated: 100,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// number writes x with three significant digits, or "unbounded".
func number(x float64) string {
	switch {
	case math.IsInf(x, 1) || math.IsNaN(x):
		return "unbounded"
	case math.Abs(x) >= 1000:
		return thousands(int(math.Round(x)))
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

func bytesText(n int) string {
	switch {
	case n < 1000:
		return thousands(n) + " B"
	case n < 1_000_000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + " kB"
	}
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
}

// spentText is the device's ε so far, against the person's budget.
func spentText(l *Ledger) string {
	var s string
	switch {
	case math.IsInf(l.Epsilon, 1):
		s = "Privacy spent so far: unbounded. The device took part in a round without noise, or of unknown cost."
	default:
		s = "Privacy spent so far: ε = " + number(l.Epsilon)
		if l.Budget > 0 {
			s += fmt.Sprintf(" of your budget of %s (%.0f%%).", number(l.Budget), 100*l.Epsilon/l.Budget)
		} else {
			s += ". You have set no budget."
		}
	}
	return s
}

// The chart's size, in its viewBox's units, and its plot's margins.
const (
	chartW, chartH                  = 720, 260
	chartLeft, chartRight, chartTop = 56, 20, 18
	chartBottom                     = 38
	plotW, plotH                    = chartW - chartLeft - chartRight, chartH - chartTop - chartBottom
	chartXTicks                     = 5
	chartPointR                     = 4
)

// epsilonChart draws the device's ε after each round it took part in (and
// each round of unknown cost), one point a round, over time: a step line,
// as ε stays put between rounds; the budget as a dashed line if the person
// set one; axes with dates and ε. It returns "" without rounds, and how
// many rounds it drew.
func epsilonChart(l *Ledger, loc *time.Location) (template.HTML, int) {
	var rounds []LedgerEntry
	for _, e := range l.entries {
		if e.Kind == KindRound || e.Kind == client.EntryUnknown {
			rounds = append(rounds, e)
		}
	}
	if len(rounds) == 0 {
		return "", 0
	}
	top := l.Budget
	for _, e := range rounds {
		if !math.IsInf(e.Epsilon, 0) && !math.IsNaN(e.Epsilon) {
			top = max(top, e.Epsilon)
		}
	}
	top = max(top, 1e-9) * 1.05 // room above the highest point or the budget
	step := niceStep(top / 5)
	top = math.Ceil(top/step) * step
	t0, t1 := rounds[0].UnixMillis, rounds[len(rounds)-1].UnixMillis
	if t1 <= t0 {
		t0, t1 = t0-12*3600_000, t1+12*3600_000
	}
	x := func(ms int64) float64 { return chartLeft + plotW*float64(ms-t0)/float64(t1-t0) }
	y := func(eps float64) float64 {
		if math.IsInf(eps, 0) || math.IsNaN(eps) {
			return chartTop // unbounded: the top of the plot
		}
		return chartTop + plotH*(1-eps/top)
	}
	bottom := float64(chartTop + plotH)

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	last := rounds[len(rounds)-1].Epsilon
	desc := fmt.Sprintf("%d %s; ε now %s", len(rounds), plural(len(rounds), "round", "rounds"), number(last))
	if l.Budget > 0 {
		desc += "; budget " + number(l.Budget)
	}
	p(`<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH)
	p(`<title id="chart-title">Privacy spent (ε) after each round</title><desc id="chart-desc">%s</desc>`, html.EscapeString(desc))

	// Grid and ε axis.
	p(`<g class="grid">`)
	for v := 0.0; v <= top+step/2; v += step {
		p(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, chartLeft, chartLeft+plotW, y(v), y(v))
	}
	p(`</g><g class="axis-labels y">`)
	for v := 0.0; v <= top+step/2; v += step {
		p(`<text x="%d" y="%.1f">%s</text>`, chartLeft-8, y(v)+4, html.EscapeString(number(v)))
	}
	p(`</g><text class="axis-title" transform="translate(14 %.1f) rotate(-90)">ε spent</text>`, float64(chartTop)+plotH/2)

	// Time axis.
	p(`<line class="axis" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, chartLeft, chartLeft+plotW, bottom, bottom)
	layout := "2 Jan"
	switch span := time.Duration(t1-t0) * time.Millisecond; {
	case span < 3*24*time.Hour:
		layout = "2 Jan 15:04"
	case span > 300*24*time.Hour:
		layout = "Jan 2006"
	}
	p(`<g class="axis-labels x">`)
	for i := range chartXTicks {
		ms := t0 + (t1-t0)*int64(i)/(chartXTicks-1)
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case chartXTicks - 1:
			anchor = "end"
		}
		p(`<line class="tick" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, x(ms), x(ms), bottom, bottom+5)
		p(`<text x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, x(ms), bottom+20, anchor,
			html.EscapeString(time.UnixMilli(ms).In(loc).Format(layout)))
	}
	p(`</g>`)

	// The budget.
	if l.Budget > 0 {
		p(`<line class="budget" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, chartLeft, chartLeft+plotW, y(l.Budget), y(l.Budget))
		p(`<text class="budget-label" x="%d" y="%.1f" text-anchor="end">your budget: ε = %s</text>`, chartLeft+plotW-4, y(l.Budget)-6,
			html.EscapeString(number(l.Budget)))
	}

	// ε: an area and a step line through the rounds, then their points.
	var steps strings.Builder
	for _, e := range rounds[1:] {
		fmt.Fprintf(&steps, " H%.1f V%.1f", x(e.UnixMillis), y(e.Epsilon))
	}
	x0, y0 := x(rounds[0].UnixMillis), y(rounds[0].Epsilon)
	p(`<path class="area" d="M%.1f %.1f V%.1f%s V%.1f H%.1f Z"/>`, x0, bottom, y0, steps.String(), bottom, x0)
	p(`<path class="line" d="M%.1f %.1f%s"/>`, x0, y0, steps.String())
	p(`<g class="points">`)
	for _, e := range rounds {
		class := "point"
		if math.IsInf(e.Epsilon, 0) || math.IsNaN(e.Epsilon) {
			class += " unbounded"
		}
		what := fmt.Sprintf("Round %d", e.Round)
		if e.Kind == client.EntryUnknown {
			what = "A round of unknown cost"
		}
		p(`<circle class="%s" cx="%.1f" cy="%.1f" r="%d"><title>%s, %s: ε = %s</title></circle>`, class,
			x(e.UnixMillis), y(e.Epsilon), chartPointR, html.EscapeString(what),
			html.EscapeString(time.UnixMilli(e.UnixMillis).In(loc).Format("2 Jan 2006 15:04")), html.EscapeString(number(e.Epsilon)))
	}
	p(`</g></svg>`)
	return template.HTML(b.String()), len(rounds)
}

// niceStep is the 1, 2, 2.5 or 5 times a power of ten nearest above raw.
func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}
