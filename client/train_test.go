package client

import (
	"testing"

	"github.com/tacitfl/tacit/model"
)

func TestTrainRefusesADeviceWithoutData(t *testing.T) {
	m, _ := model.NewMF(10, 4, 1)
	cfg := model.DefaultConfig()
	cfg.Factors = 4
	_, err := Train(model.NewTrainer(4), model.Prepare(m, cfg), model.Positives{}, Plan{Local: model.LocalConfig{Epochs: 1, LR: 0.1}}, make([]float32, len(m.Params)))
	if err == nil {
		t.Fatal("a device with no training data took part")
	}
}

func TestTrainReportsWeightAndLoss(t *testing.T) {
	m, _ := model.NewMF(10, 4, 1)
	cfg := model.DefaultConfig()
	cfg.Factors = 4
	update := make([]float32, len(m.Params))
	r, err := Train(model.NewTrainer(4), model.Prepare(m, cfg), model.Positives{Items: []int32{2, 7}}, Plan{Round: 3, Local: model.LocalConfig{Epochs: 1, LR: 0.1}}, update)
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
