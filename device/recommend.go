package device

import (
	"encoding/json"
	"fmt"

	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/model"
)

// MaxRecommendations bounds what one call to Recommend returns.
const MaxRecommendations = 1000

// reasonsShown is how many past events a recommendation's explanation
// names.
const reasonsShown = 3

// Recommendations are a person's top items, best first.
// Its lists are reached through methods, which gomobile can bind.
type Recommendations struct {
	ModelVersion int64
	list         []Recommendation
}

// Len is how many recommendations there are.
func (r *Recommendations) Len() int { return len(r.list) }

// Get is the i-th best recommendation.
func (r *Recommendations) Get(i int) *Recommendation { return &r.list[i] }

// JSON is the recommendations as JSON.
func (r *Recommendations) JSON() (string, error) {
	b, err := json.Marshal(r)
	return string(b), err
}

// MarshalJSON writes the model version and the list.
func (r *Recommendations) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ModelVersion int64            `json:"model_version"`
		List         []Recommendation `json:"recommendations"`
	}{r.ModelVersion, r.list})
}

// Recommendation is an item the person has not consumed, its score under
// the device's model and, when explained, why: Score = Base + the weights
// of every past item, of which its reasons are the largest that raised it.
type Recommendation struct {
	Item string
	// Title is the item's title in the catalogue, "" if it has none.
	Title   string
	Score   float64
	Base    float64
	because []Reason
}

// Reasons is how many reasons the recommendation gives.
func (r *Recommendation) Reasons() int { return len(r.because) }

// Reason is the i-th reason, the largest first.
func (r *Recommendation) Reason(i int) *Reason { return &r.because[i] }

// MarshalJSON writes the recommendation with its reasons.
func (r Recommendation) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Item    string   `json:"item"`
		Title   string   `json:"title,omitempty"`
		Score   float64  `json:"score"`
		Base    float64  `json:"base,omitempty"`
		Because []Reason `json:"because,omitempty"`
	}{r.Item, r.Title, r.Score, r.Base, r.because})
}

// Reason is a past item that raised a recommendation's score by Weight,
// and the person's latest event with it.
type Reason struct {
	Item       string  `json:"item"`
	Title      string  `json:"title,omitempty"`
	Kind       string  `json:"kind"`
	UnixMillis int64   `json:"time_unix_ms"`
	Weight     float64 `json:"weight"`
}

// Recommend returns the n items (at most MaxRecommendations) the device's
// model scores highest for the person, leaving out what they have
// consumed, from their events of consented kinds only; with explain, each
// says which past events raised its score most (model.Prepared.Explain).
func (d *Device) Recommend(n int, explain bool) (*Recommendations, error) {
	if n < 1 || n > MaxRecommendations {
		return nil, fmt.Errorf("device: recommend 1 to %d items, not %d", MaxRecommendations, n)
	}
	d.mu.Lock()
	h, err := d.historyLocked()
	if err == nil {
		err = d.prepareLocked()
	}
	p, version := d.prepared, d.version
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	items, ages := dataset.Positives(h.known())
	pos := model.Positives{Items: items, Ages: ages}
	top, err := p.Recommend(pos, n)
	if err != nil {
		return nil, err
	}
	out := &Recommendations{ModelVersion: version, list: make([]Recommendation, len(top))}
	for i, s := range top {
		id := d.catalogue[s.Item]
		out.list[i] = Recommendation{Item: id, Title: d.titles[id], Score: float64(s.Score)}
	}
	if !explain || len(top) == 0 {
		return out, nil
	}
	ids := make([]int32, len(top))
	for i, s := range top {
		ids[i] = s.Item
	}
	ex, err := p.Explain(pos, ids)
	if err != nil {
		return nil, err
	}
	latest := map[int32]Event{} // each item's latest event
	for i, it := range h.items {
		if it >= 0 {
			latest[it] = h.events[i]
		}
	}
	for i, e := range ex {
		r := &out.list[i]
		r.Base = e.Base
		for _, c := range e.Because {
			if c.Weight <= 0 || len(r.because) == reasonsShown {
				break
			}
			ev := latest[c.Item]
			r.because = append(r.because, Reason{Item: ev.Item, Title: d.titles[ev.Item], Kind: ev.Kind, UnixMillis: ev.UnixMillis, Weight: c.Weight})
		}
	}
	return out, nil
}

// prepareLocked reads and prepares the stored model, unless it already has.
func (d *Device) prepareLocked() error {
	if d.prepared != nil {
		return nil
	}
	m, h, err := d.st.model()
	if err != nil {
		return err
	}
	if m.Items > len(d.catalogue) {
		return fmt.Errorf("device: the model has %d items and the catalogue %d", m.Items, len(d.catalogue))
	}
	d.prepared, d.version = model.Prepare(m, h.Config), h.Version
	return nil
}
