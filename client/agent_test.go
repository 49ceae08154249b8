package client

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/model"
)

// fakeCoordinator records everything an agent sends.
type fakeCoordinator struct {
	plan      *Plan
	retry     time.Duration
	params    []float32
	checkIns  []int64 // cached versions sent
	downloads []int64
	uploads   []Upload
}

func (f *fakeCoordinator) CheckIn(_ context.Context, cached int64) (*Plan, time.Duration, error) {
	f.checkIns = append(f.checkIns, cached)
	if f.plan == nil {
		return nil, f.retry, nil
	}
	p := *f.plan
	p.DownloadModel = cached != p.ModelVersion
	return &p, 0, nil
}

func (f *fakeCoordinator) DownloadModel(_ context.Context, v int64, _ int, dst []float32) ([]float32, error) {
	f.downloads = append(f.downloads, v)
	return append(dst[:0], f.params...), nil
}

func (f *fakeCoordinator) Report(_ context.Context, u Upload) error {
	u.Update = slices.Clone(u.Update)
	f.uploads = append(f.uploads, u)
	return nil
}

func (f *fakeCoordinator) SecAggSend(context.Context, int64, secagg.ClientMessage, int) error {
	return errors.New("no secure aggregation here")
}

func (f *fakeCoordinator) SecAggFetch(context.Context, int64, secagg.Phase, secagg.ClientID) (secagg.ServerMessage, time.Duration, error) {
	return nil, 0, errors.New("no secure aggregation here")
}

func testPlan(round, version int64) *Plan {
	cfg := model.DefaultConfig()
	cfg.Factors = 4
	return &Plan{Round: round, ModelVersion: version, Items: 30, Model: cfg,
		Local: model.LocalConfig{Epochs: 1, LR: 0.1, ItemRegShare: 0.01}}
}

func TestAgentDownloadsOnlyStaleModels(t *testing.T) {
	m, _ := model.NewMF(30, 4, 1)
	f := &fakeCoordinator{plan: testPlan(1, 7), params: m.Params}
	a := NewAgent(Data{Train: model.Positives{Items: []int32{1, 5, 9}}, Test: 12}, f, NewWorkspace(), nil)
	for r := int64(1); r <= 3; r++ {
		f.plan.Round = r
		if _, err := a.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(f.checkIns, []int64{-1, 7, 7}) || !slices.Equal(f.downloads, []int64{7}) {
		t.Fatalf("check-ins %v downloads %v, want one download of version 7", f.checkIns, f.downloads)
	}
	f.plan.ModelVersion, f.plan.Round = 8, 4
	a.Step(context.Background())
	if !slices.Equal(f.downloads, []int64{7, 8}) {
		t.Fatalf("downloads %v after a new version", f.downloads)
	}
	if u := f.uploads[0]; !u.Evaluated || u.Round != 1 || u.Weight != 1 {
		t.Fatalf("upload %+v", u)
	}
}

// TestAgentSendsNothingPersonal inspects every message an agent sends: the
// check-in carries only a version, the upload only the dense update and
// numbers. The person's vector, which the agent solved, appears nowhere.
func TestAgentSendsNothingPersonal(t *testing.T) {
	m, _ := model.NewMF(30, 4, 2)
	f := &fakeCoordinator{plan: testPlan(1, 1), params: m.Params}
	data := Data{Train: model.Positives{Items: []int32{2, 3, 17}, Ages: []int32{2, 1, 0}}, Test: 4}
	a := NewAgent(data, f, NewWorkspace(), nil)
	if _, err := a.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	fields := reflect.VisibleFields(reflect.TypeOf(Upload{}))
	var names []string
	for _, fl := range fields {
		names = append(names, fl.Name)
	}
	if !slices.Equal(names, []string{"Round", "Update", "Encoded", "Bits", "Weight", "Loss", "Clipped", "Evaluated", "HR", "NDCG"}) {
		t.Fatalf("Upload has fields %v: review what a new field reveals before adding it here", names)
	}
	u := f.uploads[0]
	user := a.ws.trainer.User()
	for i := 0; i+len(user) <= len(u.Update); i++ {
		if slices.Equal(u.Update[i:i+len(user)], user) {
			t.Fatalf("the person's vector appears in the update at %d", i)
		}
	}
	for i, v := range u.Update {
		if v == 0 || math.IsNaN(float64(v)) {
			t.Fatalf("update value %d is %v: a sparse update would reveal the items", i, v)
		}
	}
	if !slices.Equal(f.checkIns, []int64{-1}) {
		t.Fatalf("check-ins sent %v", f.checkIns)
	}
}

func TestAgentWaitsWhenTurnedAway(t *testing.T) {
	f := &fakeCoordinator{retry: 3 * time.Second}
	a := NewAgent(Data{Train: model.Positives{Items: []int32{1}}, Test: -1}, f, NewWorkspace(), nil)
	wait, err := a.Step(context.Background())
	if err != nil || wait != 3*time.Second || len(f.uploads) != 0 {
		t.Fatalf("wait %v err %v uploads %d", wait, err, len(f.uploads))
	}
}

func TestAgentRejectsAModelOfTheWrongShape(t *testing.T) {
	f := &fakeCoordinator{plan: testPlan(1, 1), params: make([]float32, 7)}
	a := NewAgent(Data{Train: model.Positives{Items: []int32{1}}, Test: -1}, f, NewWorkspace(), nil)
	if _, err := a.Step(context.Background()); err == nil || len(f.uploads) != 0 {
		t.Fatalf("err %v, uploads %d: a malformed model must stop the round", err, len(f.uploads))
	}
	if _, err := NewAgent(Data{Test: -1}, f, NewWorkspace(), nil).Step(context.Background()); err != ErrNoData {
		t.Fatalf("err %v, want ErrNoData", err)
	}
}
