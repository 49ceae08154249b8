package proto

import (
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
