package proto

import (
	"fmt"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// ModelConfig is the wire form of a model's shape and objective.
func ModelConfig(items int, c model.Config) *tacitpb.ModelConfig {
	return &tacitpb.ModelConfig{Items: int32(items), Factors: int32(c.Factors), Alpha: c.Alpha, NegWeight: c.NegWeight,
		UserReg: c.UserReg, ItemReg: c.ItemReg, RecencyHalfLife: c.RecencyHalfLife, RecencyFloor: c.RecencyFloor}
}

// FromModelConfig reads a ModelConfig; the receiver validates it.
func FromModelConfig(m *tacitpb.ModelConfig) (items int, c model.Config) {
	return int(m.GetItems()), model.Config{Factors: int(m.GetFactors()), Alpha: m.GetAlpha(), NegWeight: m.GetNegWeight(),
		UserReg: m.GetUserReg(), ItemReg: m.GetItemReg(), RecencyHalfLife: m.GetRecencyHalfLife(), RecencyFloor: m.GetRecencyFloor()}
}

// LocalTraining is the wire form of a round's training settings.
func LocalTraining(l model.LocalConfig) *tacitpb.LocalTraining {
	return &tacitpb.LocalTraining{Epochs: int32(l.Epochs), LearningRate: l.LR, ItemRegShare: l.ItemRegShare}
}

// FromLocalTraining reads a LocalTraining; the receiver validates it.
func FromLocalTraining(l *tacitpb.LocalTraining) model.LocalConfig {
	return model.LocalConfig{Epochs: int(l.GetEpochs()), LR: l.GetLearningRate(), ItemRegShare: l.GetItemRegShare()}
}

// UpdateCodecPB is the update codec's wire form.
func UpdateCodecPB(u *codec.UpdateCodec) *tacitpb.UpdateCodec {
	if u == nil {
		return nil
	}
	pb := &tacitpb.UpdateCodec{Bits: uint32(u.Bits), Range: u.Range, ModBits: uint32(u.ModBits), LocalNoise: u.LocalNoise,
		MinSurvivors: uint32(u.MinSurvivors), Colluders: uint32(u.Colluders)}
	if u.Rotate {
		pb.RotationSeed = append([]byte(nil), u.RotationSeed[:]...)
	}
	return pb
}

// FromUpdateCodecPB reads a codec and checks it (codec.UpdateCodec.Check).
func FromUpdateCodecPB(pb *tacitpb.UpdateCodec) (*codec.UpdateCodec, error) {
	if pb == nil {
		return nil, nil
	}
	u := &codec.UpdateCodec{Bits: int(min(pb.Bits, 64)), Range: pb.Range, ModBits: int(min(pb.ModBits, 64)), LocalNoise: pb.LocalNoise,
		MinSurvivors: int(min(pb.MinSurvivors, secagg.MaxClients+1)), Colluders: int(min(pb.Colluders, secagg.MaxClients+1))}
	switch len(pb.RotationSeed) {
	case 0:
	case len(u.RotationSeed):
		u.Rotate = true
		copy(u.RotationSeed[:], pb.RotationSeed)
	default:
		return nil, fmt.Errorf("%w: rotation seed of %d bytes", codec.ErrQuantizer, len(pb.RotationSeed))
	}
	if u.MinSurvivors > secagg.MaxClients {
		return nil, fmt.Errorf("%w: a sum of at least %d devices, more than secure aggregation takes", codec.ErrQuantizer, pb.MinSurvivors)
	}
	if err := u.Check(); err != nil {
		return nil, err
	}
	return u, nil
}

// RejectionCode is the wire code of a round machine's rejection, by the name
// its table gives (round.RejectCode.WireName); ERROR_CODE_INTERNAL for a
// code the schema does not name.
func RejectionCode(c round.RejectCode) tacitpb.ErrorCode {
	if v, ok := tacitpb.ErrorCode_value[c.WireName()]; ok {
		return tacitpb.ErrorCode(v)
	}
	return tacitpb.ErrorCode_ERROR_CODE_INTERNAL
}
