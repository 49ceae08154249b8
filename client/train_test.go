package client

import (
	"testing"

	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

func TestTrainRefusesADeviceWithoutData(t *testing.T) {
	m, _ := model.NewMF(10, 4, 1)
	cfg := model.DefaultConfig()
	cfg.Factors = 4
	_, err := train(model.NewTrainer(4), model.Prepare(m, cfg), model.Positives{}, Plan{Local: model.LocalConfig{Epochs: 1, LR: 0.1}}, make([]float32, len(m.Params)))
	if err == nil {
		t.Fatal("a device with no training data took part")
	}
}

func TestTrainReportsWeightAndLoss(t *testing.T) {
	m, _ := model.NewMF(10, 4, 1)
	cfg := model.DefaultConfig()
	cfg.Factors = 4
	update := make([]float32, len(m.Params))
	r, err := train(model.NewTrainer(4), model.Prepare(m, cfg), model.Positives{Items: []int32{2, 7}}, Plan{Round: 3, Local: model.LocalConfig{Epochs: 1, LR: 0.1}}, update)
	if err != nil {
		t.Fatal(err)
	}
	if r.Weight != 1 || !(r.Loss > 0) {
		t.Fatalf("report %+v, want weight 1 and a positive loss", r)
	}
	nonzero := 0
	for _, v := range update {
		if v != 0 {
			nonzero++
		}
	}
	if nonzero != len(update) {
		t.Fatalf("%d of %d update values are non-zero: the update must be dense", nonzero, len(update))
	}
}

// TestTrainSaysWhetherItClipped: the device reports whether it scaled its
// update down, which the coordinator cannot see in the clipped update.
func TestTrainSaysWhetherItClipped(t *testing.T) {
	m, _ := model.NewMF(10, 4, 1)
	cfg := model.DefaultConfig()
	cfg.Factors = 4
	update := make([]float32, len(m.Params))
	plan := Plan{Local: model.LocalConfig{Epochs: 1, LR: 0.1}}
	own := model.Positives{Items: []int32{2, 7}}
	r, err := train(model.NewTrainer(4), model.Prepare(m, cfg), own, plan, update)
	if err != nil {
		t.Fatal(err)
	}
	norm := privacy.L2Norm(update)
	for _, c := range []struct {
		clip    float64
		clipped bool
	}{{norm / 2, true}, {norm * 2, false}} {
		plan.ClipNorm = c.clip
		if r, err = train(model.NewTrainer(4), model.Prepare(m, cfg), own, plan, update); err != nil {
			t.Fatal(err)
		}
		if got := privacy.L2Norm(update); r.Clipped != c.clipped || got > c.clip*(1+1e-6) {
			t.Errorf("clip %v (norm %v): clipped %v, norm after %v", c.clip, norm, r.Clipped, got)
		}
	}
}
