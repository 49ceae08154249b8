package settings

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// parse binds f's flags on a new flag set and parses args into f.
func parse(t *testing.T, f *Federated, args ...string) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
}

// everyFlag sets every setting away from its default.
var everyFlag = []string{
	"--factors", "8", "--alpha", "2", "--neg-weight", "0.5", "--user-reg", "3", "--item-reg", "4",
	"--recency-half-life", "5", "--recency-floor", "0.2",
	"--local-epochs", "2", "--client-lr", "0.3",
	"--server-optimizer", "fedyogi", "--server-lr", "0.02", "--server-momentum", "0.8",
	"--server-beta1", "0.7", "--server-beta2", "0.95", "--server-tau", "0.01",
	"--dp", "distributed", "--noise", "1.5", "--clip", "adaptive", "--delta", "1e-6", "--accountant", "pld",
	"--quant-bits", "12", "--rotate", "--quant-norm", "3", "--down-bits", "8",
	"--secagg", "--secagg-adversary", "0.1", "--secagg-dropout", "0.2", "--secagg-threat", "malicious",
}

// everyFlagSet is what everyFlag sets.
var everyFlagSet = Federated{
	Model: Model{Factors: 8, Alpha: 2, NegWeight: 0.5, UserReg: 3, ItemReg: 4, RecencyHalfLife: 5, RecencyFloor: 0.2},
	Local: Local{LocalEpochs: 2, ClientLR: 0.3},
	Optimizer: Optimizer{ServerOptimizer: "fedyogi", ServerLR: 0.02, ServerMomentum: 0.8,
		ServerBeta1: 0.7, ServerBeta2: 0.95, ServerTau: 0.01},
	Privacy:           Privacy{DP: DPDistributed, NoiseMultiplier: 1.5, ClipNorm: 0.1, AdaptiveClip: true, Delta: 1e-6, Accountant: privacy.AccountantPLD},
	Quantization:      Quantization{QuantBits: 12, Rotate: true, QuantNorm: 3, DownBits: 8},
	SecureAggregation: SecureAggregation{SecAgg: true, SecAggAdversary: 0.1, SecAggDropout: 0.2, SecAggThreat: SecAggMalicious},
}

func TestFlagsWriteIntoTheirFields(t *testing.T) {
	f := Defaults()
	parse(t, &f, everyFlag...)
	if f != everyFlagSet {
		t.Errorf("got  %+v\nwant %+v", f, everyFlagSet)
	}
	// Every field differs from its default, so every setting has a flag.
	got, def := reflect.ValueOf(everyFlagSet), reflect.ValueOf(Defaults())
	for i := range got.NumField() {
		group, defGroup := got.Field(i), def.Field(i)
		for j := range group.NumField() {
			if group.Field(j).Equal(defGroup.Field(j)) {
				t.Errorf("%s.%s: no flag moved it from its default", got.Type().Field(i).Name, group.Type().Field(j).Name)
			}
		}
	}
}

func TestFlagDefaultsAreTheDefaults(t *testing.T) {
	f := Defaults()
	parse(t, &f)
	if f != Defaults() {
		t.Errorf("got %+v", f)
	}
	if err := f.Validate(); err != nil {
		t.Error(err)
	}
}

func TestClipFlag(t *testing.T) {
	f := Defaults()
	parse(t, &f, "--clip", "adaptive", "--clip", "2")
	if f.AdaptiveClip || f.ClipNorm != 2 {
		t.Errorf("--clip adaptive --clip 2: adaptive %v, norm %v", f.AdaptiveClip, f.ClipNorm)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.Bind(fs)
	if err := fs.Parse([]string{"--clip", "wide"}); err == nil || !strings.Contains(err.Error(), `want a number or adaptive, got "wide"`) {
		t.Errorf("--clip wide: %v", err)
	}
}

func TestConfigsFollowTheSettings(t *testing.T) {
	s := everyFlagSet
	if got, want := s.Model.Config(), (model.Config{Factors: 8, Alpha: 2, NegWeight: 0.5, UserReg: 3, ItemReg: 4, RecencyHalfLife: 5, RecencyFloor: 0.2}); got != want {
		t.Errorf("model: got %+v, want %+v", got, want)
	}
	if got, want := s.Local.Config(s.Model, 8), (model.LocalConfig{Epochs: 2, LR: 0.3, ItemRegShare: 0.5}); got != want {
		t.Errorf("local training: got %+v, want %+v", got, want)
	}
	if got, want := s.Optimizer.Config(), (aggregate.OptimizerConfig{Name: "fedyogi", LR: 0.02, Momentum: 0.8, Beta1: 0.7, Beta2: 0.95, Tau: 0.01}); got != want {
		t.Errorf("optimizer: got %+v, want %+v", got, want)
	}
	wantDP := &round.DPConfig{NoiseMultiplier: 1.5, ClipNorm: 0.1, Delta: 1e-6, Accountant: privacy.AccountantPLD,
		Adaptive: &privacy.AdaptiveClip{}, Budget: 4, Distributed: true}
	if got := s.Privacy.Config(4); !reflect.DeepEqual(got, wantDP) {
		t.Errorf("DP: got %+v, want %+v", got, wantDP)
	}
	if got, want := s.Quantization.Config(), (&round.CodecConfig{Bits: 12, Rotate: true, Norm: 3}); !reflect.DeepEqual(got, want) {
		t.Errorf("codec: got %+v, want %+v", got, want)
	}
	if got, want := s.SecureAggregation.Config(time.Minute), round.MaliciousSecAgg(0.1, 0.2, time.Minute); !reflect.DeepEqual(got, want) {
		t.Errorf("SecAgg: got %+v, want %+v", got, want)
	}
	semi := s.SecureAggregation
	semi.SecAggThreat = ""
	if got, want := semi.Config(time.Minute), round.SemiHonestSecAgg(0.1, 0.2, time.Minute); !reflect.DeepEqual(got, want) {
		t.Errorf("semi-honest SecAgg: got %+v, want %+v", got, want)
	}
	off := Defaults()
	if off.Privacy.Config(4) != nil || off.Quantization.Config() != nil || off.SecureAggregation.Config(time.Minute) != nil {
		t.Error("a group that is off gives a configuration")
	}
}

func TestValidateNamesTheProblem(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--factors", "0"}, "factors must be positive, got 0"},
		{[]string{"--local-epochs", "0"}, "local epochs must be positive, got 0"},
		{[]string{"--client-lr", "0"}, "client learning rate must be positive, got 0"},
		{[]string{"--server-optimizer", "sgd"}, "sgd"},
		{[]string{"--dp", "sideways"}, `dp must be central, distributed or empty, got "sideways"`},
		{[]string{"--dp", "central", "--clip", "0"}, "clip norm must be positive, got 0"},
		{[]string{"--dp", "central", "--delta", "1"}, "delta must be in (0, 1), got 1"},
		{[]string{"--noise", "-1"}, "noise multiplier must be non-negative, got -1"},
		{[]string{"--dp", "central", "--accountant", "moments"}, `accountant must be rdp or pld, got "moments"`},
		{[]string{"--quant-bits", "30"}, "--quant-bits: bad quantizer parameters: 30 bits, want 2..24"},
		{[]string{"--down-bits", "1"}, "--down-bits: "},
		{[]string{"--rotate"}, "--rotate needs --quant-bits"},
		{[]string{"--quant-norm", "0"}, "quantization norm must be positive, got 0"},
		{[]string{"--secagg-dropout", "1"}, "SecAgg adversary and dropout rates must be in [0, 1), got 0.05 and 1"},
		{[]string{"--dp", "distributed", "--quant-bits", "8"}, "distributed DP needs --secagg"},
		{[]string{"--dp", "distributed", "--accountant", "pld", "--quant-bits", "8", "--secagg"}, "the PLD accountant does not count a device's own noise share"},
		{[]string{"--secagg"}, "secure aggregation needs quantized updates (--quant-bits)"},
	} {
		f := Defaults()
		parse(t, &f, tc.args...)
		if err := f.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}
