package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// RemoteError is the coordinator's refusal of a request.
type RemoteError struct {
	Code    tacitpb.ErrorCode
	Message string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("coordinator: %v: %s", e.Code, e.Message) }

// QUIC is the Coordinator of a real device: requests over QUIC to the
// coordinator at Addr. It dials on first use and again after the
// connection is lost, and opens each connection with a Hello carrying
// Token (proto/doc.go). A request ends when its context does, at once,
// whatever the network does.
type QUIC struct {
	Addr     string
	TLS      *tls.Config // ALPN is set to proto.ALPN
	Token    string
	MaxFrame int // 0 means proto.DefaultMaxFrame
	// RequestTimeout bounds one request, with the dial and Hello it may
	// need; 0 means a minute.
	RequestTimeout time.Duration
	// MaxModelBytes bounds the model, as float32s, the device accepts to
	// hold: one larger is refused before it is downloaded or decoded. 0:
	// only the bound on items (maxItems) applies.
	MaxModelBytes int

	mu   sync.Mutex
	conn *quic.Conn
}

// tensors, the tensor codec, is shared by every QUIC coordinator of the process.
var tensors = sync.OnceValues(proto.NewCodec)

func (q *QUIC) connection(ctx context.Context) (*quic.Conn, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.conn != nil && q.conn.Context().Err() == nil {
		return q.conn, nil
	}
	tlsConf := q.TLS.Clone()
	tlsConf.NextProtos = []string{proto.ALPN}
	// A coordinator that died (kill -9) answers nothing, and a restarted one
	// resets only packets larger than keep-alives: the idle timeout is what
	// tells the device, so it is short, and keep-alives every 5 s keep a
	// live connection from reaching it.
	conn, err := quic.DialAddr(ctx, q.Addr, tlsConf, &quic.Config{MaxIdleTimeout: 15 * time.Second, KeepAlivePeriod: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	hello := &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Token: q.Token, Body: &tacitpb.Request_Hello{Hello: &tacitpb.Hello{}}}
	resp, err := exchange(ctx, conn, hello, proto.MaxHelloFrame)
	if err == nil && resp.GetHello() == nil {
		err = fmt.Errorf("client: Hello answered with %T", resp.Body)
	}
	if err != nil {
		conn.CloseWithError(0, "Hello failed")
		return nil, err
	}
	q.conn = conn
	return conn, nil
}

// roundTrip sends one request on a new stream and reads the response.
// drop forgets conn, if it is still the connection requests use.
func (q *QUIC) drop(conn *quic.Conn) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.conn == conn {
		q.conn = nil
	}
}

func (q *QUIC) roundTrip(ctx context.Context, req *tacitpb.Request) (*tacitpb.Response, error) {
	timeout := q.RequestTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := q.connection(ctx)
	if err != nil {
		return nil, err
	}
	req.ProtocolVersion = proto.ProtocolVersion
	max := q.MaxFrame
	if max <= 0 {
		max = proto.DefaultMaxFrame
	}
	resp, err := exchange(ctx, conn, req, max)
	var reset *quic.StatelessResetError
	if errors.As(err, &reset) {
		// The coordinator restarted and never knew the connection, so it
		// never saw the request: once more, on a new connection. The old
		// one is dropped here: quic-go may not have closed it yet.
		q.drop(conn)
		if conn, err = q.connection(ctx); err != nil {
			return nil, err
		}
		return exchange(ctx, conn, req, max)
	}
	return resp, err
}

// exchange sends req on a new stream of conn and reads the response; it
// returns as soon as ctx ends.
func exchange(ctx context.Context, conn *quic.Conn, req *tacitpb.Request, max int) (*tacitpb.Response, error) {
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	// Stream reads and writes do not watch ctx: cancelling the stream
	// unblocks them the moment ctx ends.
	stop := context.AfterFunc(ctx, func() {
		str.CancelRead(0)
		str.CancelWrite(0)
	})
	defer stop()
	if err := proto.WriteFrame(str, req, max); err != nil {
		str.CancelRead(0)
		return nil, errors.Join(ctx.Err(), err)
	}
	str.Close() // our side is done; the response comes back on the same stream
	var resp tacitpb.Response
	if err := proto.ReadFrame(str, &resp, max); err != nil {
		return nil, errors.Join(ctx.Err(), err)
	}
	if e := resp.GetError(); e != nil {
		return nil, &RemoteError{Code: e.GetCode(), Message: e.GetMessage()}
	}
	return &resp, nil
}

// CheckIn implements Coordinator.
func (q *QUIC) CheckIn(ctx context.Context, cached int64) (*Plan, time.Duration, error) {
	resp, err := q.roundTrip(ctx, &tacitpb.Request{Body: &tacitpb.Request_CheckIn{CheckIn: &tacitpb.CheckIn{CachedModelVersion: cached}}})
	if err != nil {
		return nil, 0, err
	}
	res := resp.GetCheckIn()
	if res == nil {
		return nil, 0, fmt.Errorf("client: check-in answered with %T", resp.Body)
	}
	if r := res.GetRetry(); r != nil {
		return nil, time.Duration(r.GetAfterMillis()) * time.Millisecond, nil
	}
	p := res.GetPlan()
	if p == nil || p.Model == nil || p.Local == nil {
		return nil, 0, errors.New("client: check-in answered with an incomplete plan")
	}
	items, mc := proto.FromModelConfig(p.Model)
	plan := &Plan{
		Round: p.Round, ModelVersion: p.ModelVersion, DownloadModel: p.DownloadModel,
		Deadline: time.UnixMilli(p.ReportDeadlineUnixMillis), Items: items, Model: mc, Local: proto.FromLocalTraining(p.Local),
		ClipNorm: p.ClipNorm, NoiseMultiplier: p.NoiseMultiplier, Delta: p.Delta,
	}
	if plan.Codec, err = proto.FromUpdateCodecPB(p.Codec); err != nil {
		return nil, 0, fmt.Errorf("client: plan: %w", err)
	}
	if p.Secagg != nil {
		cfg, id, err := proto.FromSecAggPlan(p.Secagg)
		if err != nil {
			return nil, 0, fmt.Errorf("client: plan: %w", err)
		}
		plan.SecAgg, plan.SecAggID = &cfg, id
	}
	return plan, 0, nil
}

// DownloadModel implements Coordinator.
func (q *QUIC) DownloadModel(ctx context.Context, version int64, length int, dst []float32) ([]float32, error) {
	if err := q.checkModelSize(length); err != nil {
		return nil, err
	}
	resp, err := q.roundTrip(ctx, &tacitpb.Request{Body: &tacitpb.Request_Model{Model: &tacitpb.ModelRequest{Version: version}}})
	if err != nil {
		return nil, err
	}
	m := resp.GetModel()
	if m == nil || m.Version != version {
		return nil, fmt.Errorf("client: asked for model %d, got %v", version, resp.Body)
	}
	c, err := tensors()
	if err != nil {
		return nil, err
	}
	return c.DecodeModel(m.Params, length, dst)
}

// checkModelSize refuses a model of values float32s above MaxModelBytes.
func (q *QUIC) checkModelSize(values int) error {
	if q.MaxModelBytes > 0 && values > q.MaxModelBytes/4 {
		return fmt.Errorf("%w: %d MB, above this device's limit of %d MB", ErrBadModel, values>>18, q.MaxModelBytes>>20)
	}
	return nil
}

// ErrBadModel is wrapped by every refusal of a model the coordinator sent
// outside a round (LatestModel), and of one above MaxModelBytes.
var ErrBadModel = errors.New("client: bad model from the coordinator")

// LatestModel fetches the coordinator's current model, its version and its
// config, without taking part in a round: to recommend on the device. The
// answer is checked as a stranger's would be (readModel).
func (q *QUIC) LatestModel(ctx context.Context) (version int64, m *model.MF, cfg model.Config, err error) {
	// Version -1 with latest: a coordinator too old to know latest refuses
	// the request as stale instead of answering another one.
	req := &tacitpb.Request{Body: &tacitpb.Request_Model{Model: &tacitpb.ModelRequest{Version: -1, Latest: true}}}
	resp, err := q.roundTrip(ctx, req)
	if err != nil {
		return 0, nil, model.Config{}, err
	}
	pb := resp.GetModel()
	if pb == nil {
		return 0, nil, model.Config{}, fmt.Errorf("%w: the request was answered with %T", ErrBadModel, resp.Body)
	}
	c, err := tensors()
	if err != nil {
		return 0, nil, model.Config{}, err
	}
	if m, cfg, err = readModel(c, pb, q.checkModelSize); err != nil {
		return 0, nil, model.Config{}, err
	}
	return pb.GetVersion(), m, cfg, nil
}

// readModel checks a Model's config (model.Config.Validate, 1 to maxItems
// items) before it decodes the params, to exactly the number of values that
// config implies: a hostile answer is refused with ErrBadModel, never read
// as a model of another shape.
func readModel(c *proto.Codec, pb *tacitpb.Model, checkSize func(values int) error) (*model.MF, model.Config, error) {
	if pb.GetConfig() == nil {
		return nil, model.Config{}, fmt.Errorf("%w: no config", ErrBadModel)
	}
	items, cfg := proto.FromModelConfig(pb.GetConfig())
	if err := cfg.Validate(); err != nil {
		return nil, model.Config{}, fmt.Errorf("%w: %v", ErrBadModel, err)
	}
	// The last bound matters only where int is 32 bits: 4 bytes a value
	// must fit an int.
	if items <= 0 || items > maxItems || items > math.MaxInt/4/(cfg.Factors+1) {
		return nil, model.Config{}, fmt.Errorf("%w: %d items, want 1 to %d", ErrBadModel, items, maxItems)
	}
	n := model.ParamCount(items, cfg.Factors)
	if err := checkSize(n); err != nil {
		return nil, model.Config{}, err
	}
	params, err := c.DecodeModel(pb.GetParams(), n, nil)
	if err != nil {
		return nil, model.Config{}, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	return &model.MF{Items: items, Factors: cfg.Factors, Params: params}, cfg, nil
}

// Report implements Coordinator.
func (q *QUIC) Report(ctx context.Context, u Upload) error {
	c, err := tensors()
	if err != nil {
		return err
	}
	r := &tacitpb.Report{Round: u.Round, Weight: u.Weight, TrainLoss: u.Loss, Clipped: u.Clipped}
	if u.Encoded != nil {
		r.Update = c.EncodeUint(u.Encoded, u.Bits, tacitpb.Compression_COMPRESSION_ZSTD)
	} else {
		r.Update = c.Encode(u.Update, tacitpb.Compression_COMPRESSION_NONE)
	}
	if u.Evaluated {
		r.Evaluation = &tacitpb.Evaluation{HrAt_10: u.HR, NdcgAt_10: u.NDCG}
	}
	resp, err := q.roundTrip(ctx, &tacitpb.Request{Body: &tacitpb.Request_Report{Report: r}})
	if err != nil {
		return err
	}
	if resp.GetReportAck() == nil {
		return fmt.Errorf("client: report answered with %T", resp.Body)
	}
	return nil
}

// SecAggSend implements Coordinator.
func (q *QUIC) SecAggSend(ctx context.Context, round int64, m secagg.ClientMessage, bits int) error {
	c, err := tensors()
	if err != nil {
		return err
	}
	s, err := c.SecAggSend(round, m, bits)
	if err != nil {
		return err
	}
	resp, err := q.roundTrip(ctx, &tacitpb.Request{Body: &tacitpb.Request_SecaggSend{SecaggSend: s}})
	if err != nil {
		return err
	}
	if resp.GetSecaggSend() == nil {
		return fmt.Errorf("client: SecAgg message answered with %T", resp.Body)
	}
	return nil
}

// SecAggFetch implements Coordinator.
func (q *QUIC) SecAggFetch(ctx context.Context, round int64, phase secagg.Phase, to secagg.ClientID) (secagg.ServerMessage, time.Duration, error) {
	resp, err := q.roundTrip(ctx, &tacitpb.Request{Body: &tacitpb.Request_SecaggFetch{SecaggFetch: &tacitpb.SecAggFetch{Round: round, Phase: proto.SecAggPhase(phase)}}})
	if err != nil {
		return nil, 0, err
	}
	res := resp.GetSecaggFetch()
	if res == nil {
		return nil, 0, fmt.Errorf("client: SecAgg fetch answered with %T", resp.Body)
	}
	if r := res.GetRetry(); r != nil {
		return nil, time.Duration(r.GetAfterMillis()) * time.Millisecond, nil
	}
	m, err := proto.FromSecAggFetchResult(res, to)
	return m, 0, err
}

// Close closes the connection.
func (q *QUIC) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.conn == nil {
		return nil
	}
	return q.conn.CloseWithError(0, "agent stopping")
}

var _ Coordinator = (*QUIC)(nil)
