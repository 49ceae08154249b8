package client

import (
	"time"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// Plan is what a round asks of a device: which model to train, how, and by
// when.
type Plan struct {
	Round         int64
	ModelVersion  int64
	DownloadModel bool // the coordinator thinks the device's cached model is stale
	Deadline      time.Time
	Items         int          // the model's shape, with Model.Factors
	Model         model.Config // the objective, which the device's own solve uses too
	Local         model.LocalConfig
	// ClipNorm, when positive, bounds the L2 norm of the update the device
	// sends (differential privacy); the device clips before it reports.
	// NoiseMultiplier and Delta are the noise the coordinator promises and
	// the δ of the guarantee, for the device's ledger.
	ClipNorm, NoiseMultiplier, Delta float64
	// Codec, if set, is how the update travels: quantized, in the range and
	// ring every device of the round shares.
	Codec *codec.UpdateCodec
	// SecAgg, if set, is the round's secure aggregation and SecAggID the
	// device's id in it: the device takes part in its phases and sends its
	// update only as a masked input.
	SecAgg   *secagg.Config
	SecAggID secagg.ClientID
}

// trainReport is what a device returns besides its update.
type trainReport struct {
	Weight float64 // the update's weight in the mean: 1, every person counts alike
	Loss   float64 // the device's training loss before its step
	// Clipped says the update's norm was above the plan's clip norm and
	// was scaled down to it.
	Clipped bool
}

// train runs one round's local training on the device's own positives
// against the prepared global model and writes the update of the shared
// parameters into update. A device with no training data does not take part.
func train(tr *model.Trainer, global *model.Prepared, own model.Positives, plan Plan, update []float32) (trainReport, error) {
	if len(own.Items) == 0 {
		return trainReport{}, ErrNoData
	}
	loss, err := tr.Update(global, own, plan.Local, update)
	if err != nil {
		return trainReport{}, err
	}
	r := trainReport{Weight: 1, Loss: loss}
	if plan.ClipNorm > 0 {
		_, r.Clipped = privacy.ClipL2(update, plan.ClipNorm)
	}
	return r, nil
}
