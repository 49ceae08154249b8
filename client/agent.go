package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/tacitfl/tacit/model"
)

// Coordinator is what a device needs from the coordinator; a transport (QUIC,
// or the simulator's in-memory one) implements it.
type Coordinator interface {
	// CheckIn asks to take part: a plan, or how long to wait before asking
	// again.
	CheckIn(ctx context.Context, cachedVersion int64) (*Plan, time.Duration, error)
	// DownloadModel fetches the shared parameters of a model version, which
	// has length values, into dst if it is large enough.
	DownloadModel(ctx context.Context, version int64, length int, dst []float32) ([]float32, error)
	// Report uploads the device's contribution to a round.
	Report(ctx context.Context, u Upload) error
}

// Upload is everything a device sends about a round: the update of the
// shared parameters and a few numbers. Never events, item ids or the
// person's own vector.
type Upload struct {
	Round  int64
	Update []float32
	Weight float64
	Loss   float64
	// Clipped says the device scaled the update down to the plan's clip
	// norm: what adaptive clipping counts.
	Clipped bool
	// Evaluated says HR and NDCG hold the device's metrics on its held-out
	// item with the model it downloaded (federated evaluation).
	Evaluated bool
	HR, NDCG  float64
}

// Data is what a device holds about its person: training positives and,
// optionally, a held-out item for federated evaluation (-1 for none).
type Data struct {
	Train model.Positives
	Test  int32
}

// Agent is a device's participation in federated training: check in, fetch
// the model when stale, train on the device's own data, report.
type Agent struct {
	data  Data
	coord Coordinator
	ws    *Workspace
	log   *slog.Logger

	ledger *Ledger
	budget float64 // the person's ε budget; 0: no limit
}

// Workspace is the memory an agent trains in: the cached model and scratch
// buffers. A device has one; the simulator gives one to each worker and lets
// the virtual devices it runs share it, so a million virtual devices do not
// hold a million models.
type Workspace struct {
	version  int64 // of the cached model; -1 before any
	mf       *model.MF
	cfg      model.Config
	prepared *model.Prepared
	eval     *model.Evaluator
	trainer  *model.Trainer
	update   []float32
}

// NewWorkspace returns a workspace with no cached model.
func NewWorkspace() *Workspace { return &Workspace{version: -1} }

// NewAgent returns the agent of a device with data, talking to coord and
// working in ws.
func NewAgent(data Data, coord Coordinator, ws *Workspace, log *slog.Logger) *Agent {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{data: data, coord: coord, ws: ws, log: log}
}

// KeepLedger makes the agent record every round it takes part in, and
// decline a round that would take its own ε past budget (0: no limit). A
// round without differential privacy counts as unbounded ε.
func (a *Agent) KeepLedger(l *Ledger, budget float64) *Agent {
	a.ledger, a.budget = l, budget
	return a
}

// ErrNoData is returned by Step for a device with nothing to train on.
var ErrNoData = errors.New("client: no training data on this device")

// Step checks in once and, if given a plan, takes part in that round. It
// returns how long to wait before checking in again (0: at once).
func (a *Agent) Step(ctx context.Context) (time.Duration, error) {
	if len(a.data.Train.Items) == 0 {
		return 0, ErrNoData
	}
	ws := a.ws
	plan, wait, err := a.coord.CheckIn(ctx, ws.version)
	if err != nil || plan == nil {
		return wait, err
	}
	if err := ws.ensureModel(ctx, a.coord, plan); err != nil {
		return 0, err
	}
	u := Upload{Round: plan.Round}
	if a.data.Test >= 0 && int(a.data.Test) < ws.mf.Items {
		pm := ws.eval.Person(0, a.data.Train, a.data.Test)
		u.Evaluated, u.HR, u.NDCG = true, pm.HR, pm.NDCG
	}
	var entry LedgerEntry
	if a.ledger != nil {
		delta := plan.Delta
		if delta == 0 {
			delta = 1e-5
		}
		eps := a.ledger.EpsilonIf(plan.NoiseMultiplier, delta)
		if a.budget > 0 && eps > a.budget {
			a.log.Warn("declining a round: it would take this device past its privacy budget", "round", plan.Round, "epsilon", eps, "budget", a.budget)
			return time.Hour, nil
		}
		entry = LedgerEntry{Round: plan.Round, NoiseMultiplier: plan.NoiseMultiplier, ClipNorm: plan.ClipNorm, Delta: delta, Epsilon: eps}
	}
	rep, err := Train(ws.trainer, ws.prepared, a.data.Train, *plan, ws.update)
	if err != nil {
		return 0, err
	}
	u.Update, u.Weight, u.Loss, u.Clipped = ws.update, rep.Weight, rep.Loss, rep.Clipped
	if a.ledger != nil {
		// Recorded before it is sent: an upload the ledger lacks must not
		// exist.
		entry.Time, entry.BytesSent = time.Now().UTC(), 4*len(u.Update)
		if err := a.ledger.Record(entry); err != nil {
			return 0, fmt.Errorf("client: ledger: %w", err)
		}
	}
	if err := a.coord.Report(ctx, u); err != nil {
		return 0, fmt.Errorf("client: report for round %d: %w", plan.Round, err)
	}
	a.log.Debug("reported", "round", plan.Round, "loss", rep.Loss)
	return 0, nil
}

// Run takes part in rounds until ctx ends. It waits out the retry windows
// the coordinator gives, and after a failure (the network lost, a report
// refused) backs off with jitter, from half a second up to half a minute,
// before trying again. It returns ctx's error, or ErrNoData.
func (a *Agent) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		wait, err := a.Step(ctx)
		switch {
		case errors.Is(err, ErrNoData):
			return err
		case err != nil && ctx.Err() == nil:
			backoff = min(max(2*backoff, 500*time.Millisecond), 30*time.Second)
			wait = backoff/2 + rand.N(backoff/2+1)
			a.log.Info("retrying after a failure", "in", wait, "err", err)
		default:
			backoff = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ensureModel makes the plan's model version the cached one, downloading it
// from coord if needed, and prepares it for training.
func (ws *Workspace) ensureModel(ctx context.Context, coord Coordinator, plan *Plan) error {
	if err := plan.Model.Validate(); err != nil {
		return fmt.Errorf("client: plan for round %d: %w", plan.Round, err)
	}
	if plan.Items <= 0 || plan.Items > maxItems {
		return fmt.Errorf("client: plan for round %d has %d items", plan.Round, plan.Items)
	}
	want := model.ParamCount(plan.Items, plan.Model.Factors)
	if ws.mf == nil || ws.version != plan.ModelVersion || plan.DownloadModel || len(ws.mf.Params) != want {
		var old []float32
		if ws.mf != nil {
			old = ws.mf.Params
		}
		params, err := coord.DownloadModel(ctx, plan.ModelVersion, want, old)
		if err != nil {
			return fmt.Errorf("client: downloading model %d: %w", plan.ModelVersion, err)
		}
		if len(params) != want {
			return fmt.Errorf("client: model %d has %d parameters, the plan says %d", plan.ModelVersion, len(params), want)
		}
		ws.mf = &model.MF{Items: plan.Items, Factors: plan.Model.Factors, Params: params}
		ws.version, ws.prepared = plan.ModelVersion, nil
	}
	if ws.prepared == nil || ws.cfg != plan.Model {
		if ws.trainer == nil || ws.cfg.Factors != plan.Model.Factors {
			ws.trainer = model.NewTrainer(plan.Model.Factors)
		}
		ws.cfg = plan.Model
		ws.prepared = model.Prepare(ws.mf, plan.Model)
		ws.eval = model.NewEvaluator(ws.prepared, model.DefaultEvalOptions())
	}
	if len(ws.update) != want {
		ws.update = make([]float32, want)
	}
	return nil
}

// maxItems bounds the model shape a plan may ask a device to hold.
const maxItems = 10_000_000
