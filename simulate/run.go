package simulate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// Run simulates federated training: one virtual device per person holding
// that person's training data, a cohort sampled each round, each device in
// it running the client's training code, and the coordinator's aggregation
// and server optimizer. The same seed gives the same model bit for bit,
// whatever the number of workers. A cancelled ctx ends the run after the
// current round; the summary then covers the rounds done.
func Run(ctx context.Context, cfg Config, data *dataset.Log, obs Observer) (Summary, error) {
	start := time.Now()
	pop, err := newPopulation(data, cfg)
	if err != nil {
		return Summary{}, err
	}
	if cfg.ClientsPerRound > len(pop.people) {
		return Summary{}, fmt.Errorf("clients per round (%d) exceeds the population (%d people with training data)",
			cfg.ClientsPerRound, len(pop.people))
	}
	mc := cfg.Model.Config()
	m, err := model.NewMF(data.NumItems, mc.Factors, cfg.Seed)
	if err != nil {
		return Summary{}, err
	}
	fed, err := newFederation(cfg, pop, data.NumItems, m)
	if err != nil {
		return Summary{}, err
	}
	defer fed.close()
	var updates int
	var trainSeconds float64
	lastClip := cfg.ClipNorm // with adaptive clipping, the norm of the last committed round
	var accountant string
	if p := fed.svc.Status().Privacy; p != nil {
		accountant = p.Accountant
	}
	rounds := 0
	for r := 1; r <= cfg.Rounds && ctx.Err() == nil; r++ {
		roundStart := time.Now()
		o, err := fed.round(ctx)
		if err != nil {
			return Summary{}, fmt.Errorf("round %d: %w", r, err)
		}
		updates += o.Reports
		trainSeconds += time.Since(roundStart).Seconds()
		rounds = r
		rec := fed.record(o, accountant)
		rec.Opened = roundStart
		if fed.dp != nil && o.Committed {
			lastClip = o.ClipNorm
		}
		if cfg.evaluates(r) {
			fed.model(m.Params)
			met := pop.evaluate(m, mc, cfg)
			rec.HR, rec.NDCG = &met.HR, &met.NDCG
		}
		rec.Seconds = time.Since(roundStart).Seconds()
		if obs != nil {
			obs.Round(rec)
		}
	}
	fed.model(m.Params)
	s := newSummary("simulate", data, cfg, rounds, pop.evaluate(m, mc, cfg), start)
	s.UplinkBytesPerUpdate, s.DownlinkBytesPerModel = fed.uplinkBytes(len(m.Params)), fed.downlinkBytes(m.Params)
	if st := fed.svc.Status(); st.Privacy != nil {
		s.Privacy = st.Privacy
		s.PrivacyAssumptions = "user-level, add/remove-one adjacency, Poisson sampling; the figure against observers assumes the sample is secret (a simulation derives its selection key from the seed, which this summary records)"
		if !fed.dp.Distributed {
			s.PrivacyAssumptions += " and the coordinator, which adds the noise, is trusted"
		}
		s.NoiseMultiplier, s.ClipNorm = fed.dp.NoiseMultiplier, lastClip
	}
	if trainSeconds > 0 {
		s.ClientUpdatesPerSecond = float64(updates) / trainSeconds
	}
	return s, ctx.Err()
}

// record is round o's line of rounds.jsonl, as the coordinator records it
// but for the evaluation, which the simulator makes itself.
func (f *federation) record(o round.Outcome, accountant string) Round {
	var p *coordinator.PrivacyReport
	if f.dp != nil {
		p = coordinator.NewPrivacyReport(o.Epsilons, f.dp.Delta, accountant)
	}
	rec := coordinator.NewRoundRecord(o, p)
	rec.HR, rec.NDCG = nil, nil
	return rec
}

// evaluates says whether round r is evaluated: every EvalEvery rounds and
// the last.
func (c Config) evaluates(r int) bool {
	return r == c.Rounds || (c.EvalEvery > 0 && r%c.EvalEvery == 0)
}

// newSummary fills the fields that federated and central runs share.
func newSummary(command string, data *dataset.Log, cfg Config, rounds int, met model.Metrics, start time.Time) Summary {
	return Summary{
		Command: command, Data: data.Name, Users: data.NumUsers, Items: data.NumItems, Rounds: rounds,
		HR: met.HR, NDCG: met.NDCG, SampledHR: met.SampledHR, SampledNDCG: met.SampledNDCG, EvaluatedUsers: met.Users,
		WallSeconds: time.Since(start).Seconds(), Seed: cfg.Seed, Config: cfg, PeakRSSBytes: peakRSS(),
	}
}

// population is the virtual devices: every person with training data.
type population struct {
	split  *dataset.Split
	people []int // people with a test item (and so training data), ascending
	eval   []int // the people evaluated
}

// newPopulation checks cfg and splits data into the virtual devices.
func newPopulation(data *dataset.Log, cfg Config) (*population, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := dataset.LeaveLastOut(data)
	p := &population{split: s}
	for u, t := range s.Test {
		if t >= 0 {
			p.people = append(p.people, u)
		}
	}
	if len(p.people) == 0 {
		return nil, fmt.Errorf("data set %q has nobody with two or more interactions", data.Name)
	}
	p.eval = p.people
	if cfg.EvalUsers > 0 && cfg.EvalUsers < len(p.people) {
		rng := rand.New(rand.NewPCG(cfg.Seed, 0xe7a1))
		p.eval = sample(rng, p.people, cfg.EvalUsers)
	}
	return p, nil
}

// Positives is the model's view of person u's training data: what only
// that person's device holds.
func (p *population) Positives(u int) model.Positives {
	return model.Positives{Items: p.split.Train(u), Ages: p.split.Ages(u)}
}

// sample returns n of xs drawn uniformly without replacement, in the order
// of xs (Floyd's algorithm: O(n) work and memory, whatever len(xs)).
func sample(rng *rand.Rand, xs []int, n int) []int {
	chosen := make(map[int]struct{}, n)
	for j := len(xs) - n; j < len(xs); j++ {
		t := rng.IntN(j + 1)
		if _, dup := chosen[t]; dup {
			t = j
		}
		chosen[t] = struct{}{}
	}
	idx := make([]int, 0, n)
	for i := range chosen {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	out := make([]int, n)
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}

func (p *population) evaluate(m *model.MF, mc model.Config, cfg Config) model.Metrics {
	opts := model.DefaultEvalOptions()
	opts.Seed, opts.Workers = cfg.Seed, cfg.Workers
	return model.Evaluate(model.Prepare(m, mc), p, p.split.Test, p.eval, opts)
}

// uplinkBytes is the payload a device sends in a round, as the next round
// encodes it: the update, and with SecAgg the masked input (m bits a value)
// plus its keys and shares (framing aside).
func (f *federation) uplinkBytes(d int) int {
	c := f.svc.Codec()
	if c == nil {
		return 4 * d
	}
	sc, secure := f.svc.SecAggConfig()
	if !secure {
		return codec.PackedLen(c.EncodedLen(d), c.Bits)
	}
	return codec.PackedLen(sc.Length, sc.Bits) + sc.ExchangeBytes()
}

// downlinkBytes is the size of the model as the coordinator serves it:
// float32 or quantized, zstd-compressed.
func (f *federation) downlinkBytes(params []float32) int {
	if f.downBits > 0 {
		t, err := f.codec.EncodeModel(params, f.downBits, tacitpb.Compression_COMPRESSION_ZSTD)
		if err != nil {
			return 0
		}
		return len(t.Data)
	}
	return len(f.codec.Encode(params, tacitpb.Compression_COMPRESSION_ZSTD).Data)
}
