package model

import (
	"fmt"
	"math"
)

// Config is the MF objective: its size and the weights of its terms. The same
// values drive local (federated) training and the central twin, so the two
// optimise one objective.
type Config struct {
	Factors   int     // length of item and person vectors
	Alpha     float64 // confidence of a positive is 1+Alpha
	NegWeight float64 // confidence of every item the person did not touch
	UserReg   float64 // λ on a person's vector, in the per-person solve
	ItemReg   float64 // λ_I on the shared item factors and biases, for the whole population
	// RecencyHalfLife, when positive, lowers the confidence of older
	// interactions: a positive that RecencyHalfLife interactions came after
	// counts half as much above the floor. 0 weighs all positives alike.
	RecencyHalfLife float64
	RecencyFloor    float64 // share of Alpha an arbitrarily old positive keeps, in [0, 1]
}

// confidence is c for a positive of the given age.
func (c Config) confidence(age int32) float64 {
	if c.RecencyHalfLife <= 0 {
		return 1 + c.Alpha
	}
	return 1 + c.Alpha*(c.RecencyFloor+(1-c.RecencyFloor)*math.Exp2(-float64(age)/c.RecencyHalfLife))
}

// Positives are one person's training interactions as the model sees them:
// distinct items in ascending order and, aligned, each item's age: how many
// of the person's interactions came after its latest one (0 = the most
// recent). Ages may be nil when every positive counts alike.
type Positives struct {
	Items []int32
	Ages  []int32
}

func (p Positives) age(j int) int32 {
	if p.Ages == nil {
		return 0
	}
	return p.Ages[j]
}

// DefaultConfig holds the hyperparameters chosen by measurement on
// ml-latest-small (see the README): a newcomer who changes nothing gets them.
func DefaultConfig() Config {
	return Config{Factors: 64, Alpha: 10, NegWeight: 1, UserReg: 10, ItemReg: 10, RecencyHalfLife: 20, RecencyFloor: 0.1}
}

// Validate reports the first nonsense value.
func (c Config) Validate() error {
	switch {
	case c.Factors <= 0:
		return fmt.Errorf("factors must be positive, got %d", c.Factors)
	case c.Factors > 1024:
		return fmt.Errorf("factors must be at most 1024, got %d", c.Factors)
	case !(c.Alpha >= 0):
		return fmt.Errorf("alpha must be non-negative, got %v", c.Alpha)
	case !(c.NegWeight > 0):
		return fmt.Errorf("negative weight must be positive, got %v", c.NegWeight)
	case !(c.UserReg > 0):
		return fmt.Errorf("user regularisation must be positive, got %v", c.UserReg)
	case !(c.ItemReg >= 0):
		return fmt.Errorf("item regularisation must be non-negative, got %v", c.ItemReg)
	case !(c.RecencyHalfLife >= 0):
		return fmt.Errorf("recency half-life must be non-negative, got %v", c.RecencyHalfLife)
	case !(c.RecencyFloor >= 0 && c.RecencyFloor <= 1):
		return fmt.Errorf("recency floor must be in [0, 1], got %v", c.RecencyFloor)
	}
	return nil
}
