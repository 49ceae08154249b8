package device

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/model"
)

// importPerson opens a device with the embedded catalogue holding person
// u's first n ratings of the embedded data set, consented.
func importPerson(t testing.TB, l *dataset.Log, u, n int) *Device {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.SetRetention("rating", MaxRetentionDays); err != nil {
		t.Fatal(err)
	}
	d.Consent("rating", true)
	items, times := l.Items(u)[:n], l.Times(u)[:n]
	events := make([]Event, n)
	for i, it := range items {
		events[i] = Event{Kind: "rating", Item: l.ItemIDs[it], UnixMillis: times[i] * 1000}
	}
	if expired, err := d.RecordBatch(batchOf(events)); err != nil || expired != 0 {
		t.Fatalf("import: %d expired, %v", expired, err)
	}
	return d
}

// largestPerson is the person of l with the most interactions.
func largestPerson(l *dataset.Log) int {
	best := 0
	for u := range l.NumUsers {
		if len(l.Items(u)) > len(l.Items(best)) {
			best = u
		}
	}
	return best
}

// TestTheDeviceSeesWhatTheSimulatorSees: a person's device, holding their
// ratings of the embedded data set, trains on exactly the positives, ages
// and held-out item the simulator's split gives them, and recommends
// exactly the ranking the simulator's model gives those positives, with
// the same model version. The persons include the largest and ones whose
// ratings share timestamps, where the order of ties matters.
func TestTheDeviceSeesWhatTheSimulatorSees(t *testing.T) {
	l, err := dataset.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	split := dataset.LeaveLastOut(l)
	cfg := model.DefaultConfig()
	cfg.Factors = 16
	m, _ := model.NewMF(l.NumItems, cfg.Factors, 3)
	for i := range m.Biases() {
		m.Biases()[i] = float32(math.Sin(float64(i))) / 4 // distinct biases, so the ranking is not the factors' alone
	}
	prepared := model.Prepare(m, cfg)
	people := []int{largestPerson(l), 0}
	for u := range l.NumUsers { // a person with tied timestamps
		ts := l.Times(u)
		if len(ts) > 3 && slices.ContainsFunc(ts[1:], func(x int64) bool { return x == ts[0] }) {
			people = append(people, u)
			break
		}
	}
	for _, u := range people {
		all := len(l.Items(u))
		d := importPerson(t, l, u, all)
		data, err := d.trainingData()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(data.Train.Items, split.Train(u)) || !slices.Equal(data.Train.Ages, split.Ages(u)) || data.Test != split.Test[u] {
			t.Fatalf("person %s: the device's training data differs from the simulator's split", l.UserIDs[u])
		}

		// The device without the held-out rating recommends as the
		// simulator ranks the person's training positives.
		d = importPerson(t, l, u, all-1)
		if err := d.saveModel(modelHeader{Version: 42, Items: m.Items, Config: cfg}, m.Params); err != nil {
			t.Fatal(err)
		}
		got, err := d.Recommend(20, false)
		if err != nil {
			t.Fatal(err)
		}
		want, err := prepared.Recommend(model.Positives{Items: split.Train(u), Ages: split.Ages(u)}, 20)
		if err != nil {
			t.Fatal(err)
		}
		if got.ModelVersion != 42 || got.Len() != len(want) {
			t.Fatalf("person %s: %d recommendations of version %d", l.UserIDs[u], got.Len(), got.ModelVersion)
		}
		for i, w := range want {
			if g := got.Get(i); g.Item != l.ItemIDs[w.Item] || g.Score != float64(w.Score) {
				t.Fatalf("person %s, rank %d: the device recommends %s (%v), the simulator %s (%v)",
					l.UserIDs[u], i+1, g.Item, g.Score, l.ItemIDs[w.Item], w.Score)
			}
		}
	}
}

// TestExplanationsNameThePersonsEvents: each reason is one of the person's
// own events, the largest contributions first, all of them raising the
// score; and the reasons are the largest terms of a decomposition that
// sums to the score.
func TestExplanationsNameThePersonsEvents(t *testing.T) {
	l, err := dataset.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	u := largestPerson(l)
	d := importPerson(t, l, u, len(l.Items(u)))
	cfg := model.DefaultConfig()
	cfg.Factors = 16
	m, _ := model.NewMF(l.NumItems, cfg.Factors, 5)
	d.saveModel(modelHeader{Version: 1, Items: m.Items, Config: cfg}, m.Params)
	recs, err := d.Recommend(5, true)
	if err != nil {
		t.Fatal(err)
	}
	_, titles, err := loadCatalogue("")
	if err != nil {
		t.Fatal(err)
	}
	rated := map[string]int64{} // item → its latest rating's time
	for i, it := range l.Items(u) {
		rated[l.ItemIDs[it]] = l.Times(u)[i] * 1000
	}
	items, ages := dataset.Positives(l.Items(u))
	for i := range recs.Len() {
		r := recs.Get(i)
		if r.Title == "" || r.Title != titles[r.Item] {
			t.Fatalf("%s has title %q", r.Item, r.Title)
		}
		if r.Reasons() != reasonsShown {
			t.Fatalf("%s has %d reasons", r.Item, r.Reasons())
		}
		idx := int32(slices.Index(l.ItemIDs, r.Item))
		ex, _ := model.Prepare(m, cfg).Explain(model.Positives{Items: items, Ages: ages}, []int32{idx})
		sum := ex[0].Base
		for _, c := range ex[0].Because {
			sum += c.Weight
		}
		if math.Abs(sum-r.Score) > 1e-4*math.Max(1, math.Abs(r.Score)) {
			t.Fatalf("%s: base and contributions sum to %v, the score is %v", r.Item, sum, r.Score)
		}
		for j := range r.Reasons() {
			why := r.Reason(j)
			if when, ok := rated[why.Item]; !ok || when != why.UnixMillis || why.Kind != "rating" || why.Weight <= 0 || why.Title != titles[why.Item] ||
				why.Weight != ex[0].Because[j].Weight {
				t.Fatalf("%s, reason %d: %+v is not the person's event with the %d-th largest contribution", r.Item, j, why, j+1)
			}
		}
	}
}
