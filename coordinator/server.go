package coordinator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// ServerConfig configures the QUIC driver.
type ServerConfig struct {
	TLS *tls.Config // must hold the certificate; ALPN is set to proto.ALPN
	// Tokens enrols the devices; other tokens are refused. SetTokens
	// replaces it while serving.
	Tokens *Tokens
	// StatelessResetKey, if set, lets the server tell a device at once
	// that a connection it held before a restart is gone (RFC 9000 §10.3);
	// it must be the same across restarts to help.
	StatelessResetKey *quic.StatelessResetKey
	// Items, Model and Local are the parts of every plan that do not
	// change between rounds: the model's shape and objective, and the
	// devices' training.
	Items int
	Model model.Config
	Local model.LocalConfig
	// DownBits, if set, quantizes the model devices download to that many
	// bits a value (proto.Codec.EncodeModel); 0 sends float32.
	DownBits int
	// MaxFrame caps a request; 0 means proto.DefaultMaxFrame.
	MaxFrame int
	// StreamTimeout bounds one exchange; 0 means 30 s.
	StreamTimeout time.Duration
	// HeaderTimeout bounds the wait for a request's frame header, and for
	// the whole Hello that opens a connection; 0 means 5 s.
	HeaderTimeout time.Duration
	// MaxPendingPerAddr caps the connections from one IP address that
	// have not yet said a valid Hello (handshaking or not); more are
	// refused. 0 means 64.
	MaxPendingPerAddr int
	// ValidateAbove is how many unauthenticated connections in all make
	// the server validate new clients' source addresses (a QUIC Retry, one
	// round trip) before any cryptography; 0 means 32.
	ValidateAbove int
	// TickEvery is how often deadlines are checked; 0 means 100 ms.
	TickEvery time.Duration
	// MaxConcurrent bounds the requests read and handled at once, so memory
	// stays flat however many devices upload together (each holds its frame
	// and decoded update); others wait, flow-controlled. 0 means 64.
	MaxConcurrent int
	Log           *slog.Logger
	Metrics       *Metrics
}

// Server serves devices over QUIC: one request and one response per stream,
// handed to the Service. A connection's first stream is a small Hello with
// the device's token (proto/doc.go), read under HeaderTimeout before any
// request slot is taken; the connection then acts for that device, and a
// device has one connection (a new one closes the old). A device that sends
// something malformed, oversized, of another protocol version or with an
// unknown token gets a typed error and its connection is closed; everyone
// else is unaffected.
type Server struct {
	svc          *Service
	cfg          ServerConfig
	dim          int
	codec        *proto.Codec
	log          *slog.Logger
	plannedModel *tacitpb.ModelConfig   // every plan's, from ServerConfig
	plannedLocal *tacitpb.LocalTraining // every plan's, from ServerConfig

	slots      chan struct{} // MaxConcurrent tokens
	mu         sync.Mutex
	modelVer   int64
	modelFrame []byte // the framed Response for modelVer, encoded once
	ready      chan net.Addr
	gate       gate

	devMu   sync.Mutex
	tokens  *Tokens
	devices map[string]*quic.Conn // each device's authenticated connection
}

// Connection close codes (QUIC application error codes).
const (
	closeNormal   quic.ApplicationErrorCode = 0
	closeProtocol quic.ApplicationErrorCode = 1 // the device broke the protocol
)

// NewServer returns a server for svc.
func NewServer(svc *Service, cfg ServerConfig) (*Server, error) {
	if cfg.TLS == nil || len(cfg.TLS.Certificates) == 0 {
		return nil, errors.New("coordinator: the server needs a TLS certificate")
	}
	if cfg.Tokens == nil {
		return nil, errors.New("coordinator: the server needs the enrolment (Tokens)")
	}
	if cfg.Items <= 0 {
		return nil, errors.New("coordinator: the server needs the model's shape (Items)")
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = proto.DefaultMaxFrame
	}
	if cfg.DownBits != 0 {
		if err := codec.CheckBits(cfg.DownBits); err != nil {
			return nil, fmt.Errorf("coordinator: model quantization: %w", err)
		}
	}
	if cfg.StreamTimeout <= 0 {
		cfg.StreamTimeout = 30 * time.Second
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 5 * time.Second
	}
	if cfg.MaxPendingPerAddr <= 0 {
		cfg.MaxPendingPerAddr = 64
	}
	if cfg.ValidateAbove <= 0 {
		cfg.ValidateAbove = 32
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = 100 * time.Millisecond
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 64
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	tlsConf := cfg.TLS.Clone()
	tlsConf.NextProtos = []string{proto.ALPN}
	tlsConf.MinVersion = tls.VersionTLS13
	cfg.TLS = tlsConf
	codec, err := proto.NewCodec()
	if err != nil {
		return nil, err
	}
	s := &Server{svc: svc, cfg: cfg, codec: codec, log: cfg.Log, modelVer: -1, ready: make(chan net.Addr, 1),
		slots: make(chan struct{}, cfg.MaxConcurrent), tokens: cfg.Tokens, devices: map[string]*quic.Conn{},
		gate:         gate{perAddr: cfg.MaxPendingPerAddr, validateAbove: cfg.ValidateAbove, pending: map[string]int{}},
		plannedModel: proto.ModelConfig(cfg.Items, cfg.Model), plannedLocal: proto.LocalTraining(cfg.Local)}
	svc.Model(func(_ int64, p []float32) { s.dim = len(p) })
	svc.Attach(s.connectedDevices)
	return s, nil
}

// Ready yields the address once the server listens.
func (s *Server) Ready() <-chan net.Addr { return s.ready }

// Serve listens on pc until ctx is done, then stops accepting, lets
// exchanges in flight finish (up to StreamTimeout) and closes.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn) error {
	tr := &quic.Transport{Conn: pc, StatelessResetKey: s.cfg.StatelessResetKey,
		ConnContext: s.gate.admit, VerifySourceAddress: s.gate.verify}
	ln, err := tr.Listen(s.cfg.TLS, &quic.Config{
		MaxIdleTimeout:       time.Minute,
		HandshakeIdleTimeout: s.cfg.HeaderTimeout,
		// A device's requests at once; more wait in QUIC's flow control.
		MaxIncomingStreams:    16,
		MaxIncomingUniStreams: -1,
		// Small initial flow-control windows: a device waiting for a
		// request slot buffers at most this much here, so a thousand
		// uploads at once cost tens of MiB, not gigabytes. The windows
		// grow for the streams being read.
		InitialStreamReceiveWindow:     128 << 10,
		InitialConnectionReceiveWindow: 192 << 10,
		MaxStreamReceiveWindow:         4 << 20,
		MaxConnectionReceiveWindow:     6 << 20,
	})
	if err != nil {
		return err
	}
	s.ready <- pc.LocalAddr()
	var wg sync.WaitGroup
	connCtx, stopConns := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.cfg.TickEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.svc.Tick()
			}
		}
	}()
	var conns sync.WaitGroup
	for {
		// The accept queue holds 32 connections: hand each off at once.
		conn, err := ln.Accept(ctx)
		if err != nil {
			break
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			s.serveConn(connCtx, conn)
		}()
	}
	// Drain: no new connections or streams; exchanges in flight finish
	// (each bounded by StreamTimeout), then every connection closes.
	ln.Close()
	stopConns()
	conns.Wait()
	wg.Wait()
	tr.Close()
	return nil
}

// SetTokens replaces the enrolment, as on SIGHUP: devices no longer
// enrolled lose their connections at once and cannot open new ones.
func (s *Server) SetTokens(t *Tokens) {
	s.devMu.Lock()
	defer s.devMu.Unlock()
	s.tokens = t
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.enrolled.Set(float64(len(t.IDs())))
	}
	for id, conn := range s.devices {
		if !t.Enrolled(id) {
			conn.CloseWithError(closeProtocol, "enrolment revoked")
			delete(s.devices, id)
		}
	}
}

func (s *Server) serveConn(ctx context.Context, conn *quic.Conn) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.connected.Inc()
		defer s.cfg.Metrics.connected.Dec()
	}
	device, ok := s.hello(ctx, conn)
	if !ok {
		return
	}
	defer s.forget(device, conn)
	var streams sync.WaitGroup
	for {
		str, err := conn.AcceptStream(ctx)
		if err != nil {
			streams.Wait()
			if ctx.Err() != nil {
				conn.CloseWithError(closeNormal, "coordinator shutting down")
			}
			return
		}
		streams.Add(1)
		go func() {
			defer streams.Done()
			s.serveStream(conn, device, str)
		}()
	}
}

// hello reads the connection's first stream, a Hello of at most
// proto.MaxHelloFrame bytes, within HeaderTimeout and without a request
// slot. A valid one makes conn the device's connection.
func (s *Server) hello(ctx context.Context, conn *quic.Conn) (device string, ok bool) {
	deadline := time.Now().Add(s.cfg.HeaderTimeout)
	actx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	str, err := conn.AcceptStream(actx)
	if err != nil {
		conn.CloseWithError(closeProtocol, "no Hello in time")
		return "", false
	}
	defer str.Close()
	str.SetDeadline(deadline)
	var req tacitpb.Request
	in := &countingReader{str: str}
	err = proto.ReadFrame(in, &req, proto.MaxHelloFrame)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.bytesIn.Add(float64(in.n))
	}
	if err != nil {
		s.refuse(conn, str, proto.NewError(proto.ErrorCodeOf(err), err.Error()))
		return "", false
	}
	if err := proto.CheckVersion(req.ProtocolVersion); err != nil {
		s.refuse(conn, str, proto.NewError(tacitpb.ErrorCode_ERROR_CODE_UNSUPPORTED_VERSION, err.Error()))
		return "", false
	}
	if req.GetHello() == nil {
		s.refuse(conn, str, proto.NewError(tacitpb.ErrorCode_ERROR_CODE_UNAUTHENTICATED, "a connection opens with a Hello"))
		return "", false
	}
	s.devMu.Lock()
	device, ok = s.tokens.Device(req.Token)
	if ok {
		if old := s.devices[device]; old != nil {
			old.CloseWithError(closeNormal, "the device opened another connection")
		}
		s.devices[device] = conn
	}
	s.devMu.Unlock()
	if !ok {
		s.refuse(conn, str, proto.NewError(tacitpb.ErrorCode_ERROR_CODE_UNAUTHENTICATED, "unknown enrolment token"))
		return "", false
	}
	s.gate.authenticated(conn)
	s.write(conn, str, &tacitpb.Response{Body: &tacitpb.Response_Hello{Hello: &tacitpb.HelloAck{}}})
	return device, true
}

// connectedDevices counts the devices with a connection open.
func (s *Server) connectedDevices() int {
	s.devMu.Lock()
	defer s.devMu.Unlock()
	return len(s.devices)
}

// forget drops conn as the device's connection, unless another replaced it.
func (s *Server) forget(device string, conn *quic.Conn) {
	s.devMu.Lock()
	defer s.devMu.Unlock()
	if s.devices[device] == conn {
		delete(s.devices, device)
	}
}

// countingReader counts the bytes a request took.
type countingReader struct {
	str *quic.Stream
	n   int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.str.Read(p)
	c.n += n
	return n, err
}

// serveStream answers one request of device's. The frame header must come
// within HeaderTimeout; only then is a request slot taken and the body read.
func (s *Server) serveStream(conn *quic.Conn, device string, str *quic.Stream) {
	defer str.Close()
	str.SetDeadline(time.Now().Add(s.cfg.HeaderTimeout))
	in := &countingReader{str: str}
	n, err := proto.ReadHeader(in, s.cfg.MaxFrame)
	var req tacitpb.Request
	if err == nil {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
		case <-conn.Context().Done():
			return
		}
		str.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
		err = proto.ReadBody(in, n, &req)
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.bytesIn.Add(float64(in.n))
	}
	s.svc.Traffic(device, in.n, 0)
	var resp *tacitpb.Response
	var fatal bool
	if err != nil {
		resp, fatal = proto.NewError(proto.ErrorCodeOf(err), err.Error()), true
	} else {
		resp, fatal = s.handle(device, &req)
	}
	if fatal {
		s.refuse(conn, str, resp)
		return
	}
	s.write(conn, str, resp)
}

// write sends a response on str.
func (s *Server) write(conn *quic.Conn, str *quic.Stream, resp *tacitpb.Response) {
	frame, err := s.frame(resp)
	if err != nil {
		s.log.Error("encoding a response", "err", err)
		conn.CloseWithError(closeProtocol, "internal error")
		return
	}
	n, _ := str.Write(frame)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.bytesOut.Add(float64(n))
	}
	s.svc.Traffic("", 0, n)
}

// refuse sends the error resp on str and closes the connection: the device
// broke the protocol.
func (s *Server) refuse(conn *quic.Conn, str *quic.Stream, resp *tacitpb.Response) {
	s.write(conn, str, resp)
	str.Close()
	msg := resp.GetError().GetMessage()
	s.log.Info("closing a device connection", "remote", conn.RemoteAddr(), "code", resp.GetError().GetCode(), "reason", msg)
	// Give the error a moment to leave before the connection goes.
	time.AfterFunc(100*time.Millisecond, func() { conn.CloseWithError(closeProtocol, msg) })
}

// frame encodes a response; a model download reuses its cached frame.
func (s *Server) frame(resp *tacitpb.Response) ([]byte, error) {
	if m := resp.GetModel(); m != nil && m.Params == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.modelFrame, nil
	}
	return proto.AppendFrame(nil, resp)
}

// handle answers a well-formed request. fatal says the device broke the
// protocol and its connection must close.
// The device is the one the connection's Hello named; a request's own
// token is ignored.
func (s *Server) handle(device string, req *tacitpb.Request) (resp *tacitpb.Response, fatal bool) {
	if err := proto.CheckVersion(req.ProtocolVersion); err != nil {
		return proto.NewError(tacitpb.ErrorCode_ERROR_CODE_UNSUPPORTED_VERSION, err.Error()), true
	}
	switch body := req.Body.(type) {
	case *tacitpb.Request_CheckIn:
		return s.checkIn(device, body.CheckIn.GetCachedModelVersion()), false
	case *tacitpb.Request_Model:
		return s.model(body.Model.GetVersion(), body.Model.GetLatest())
	case *tacitpb.Request_Report:
		return s.report(device, body.Report)
	case *tacitpb.Request_SecaggFetch:
		return s.secAggFetch(device, body.SecaggFetch), false
	case *tacitpb.Request_SecaggSend:
		return s.secAggSend(device, body.SecaggSend)
	case *tacitpb.Request_Hello:
		return proto.NewError(tacitpb.ErrorCode_ERROR_CODE_MALFORMED, "a Hello only opens a connection"), true
	}
	return proto.NewError(tacitpb.ErrorCode_ERROR_CODE_MALFORMED, "empty request"), true
}

func (s *Server) checkIn(device string, cached int64) *tacitpb.Response {
	res, err := s.svc.CheckIn(device, cached)
	return CheckInResponse(res, err, s.plannedModel, s.plannedLocal)
}

// refusedReport counts a report (or masked input) the server refused
// before the Service saw it: tacit_reports_total counts every report.
func (s *Server) refusedReport(code round.RejectCode) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.report(&round.Rejection{Code: code})
	}
}

// CheckInResponse is the Server's answer to a check-in the Service answered
// with res and err, whose plans carry model and local (the parts that do
// not change between rounds). A transport without a wire (the simulator's
// in-memory one) sizes it to count what QUIC would have sent.
func CheckInResponse(res round.CheckInResult, err error, model *tacitpb.ModelConfig, local *tacitpb.LocalTraining) *tacitpb.Response {
	if err != nil {
		return RejectionResponse(err)
	}
	out := &tacitpb.CheckInResult{}
	if p := res.Plan; p != nil {
		out.Result = &tacitpb.CheckInResult_Plan{Plan: &tacitpb.Plan{Round: p.Round, ModelVersion: p.ModelVersion,
			DownloadModel: p.DownloadModel, ReportDeadlineUnixMillis: p.Deadline.UnixMilli(), Local: local, Model: model,
			ClipNorm: p.ClipNorm, NoiseMultiplier: p.NoiseMultiplier, Delta: p.Delta, Codec: proto.UpdateCodecPB(p.Codec)}}
		if p.SecAgg != nil {
			out.GetPlan().Secagg = proto.SecAggPlan(*p.SecAgg, p.SecAggID)
		}
	} else {
		out.Result = &tacitpb.CheckInResult_Retry{Retry: &tacitpb.RetryAfter{AfterMillis: res.RetryAfter.Milliseconds(), Reason: res.Reason}}
	}
	return &tacitpb.Response{Body: &tacitpb.Response_CheckIn{CheckIn: out}}
}

// model answers a download of the current version, or with latest of
// whatever version is current, from the cached frame (marked by a Model
// response without Params). The frame carries the model's config, so a
// device outside any round can read it.
func (s *Server) model(version int64, latest bool) (*tacitpb.Response, bool) {
	var stale error
	s.svc.Model(func(v int64, params []float32) {
		if latest {
			version = v
		}
		if v != version {
			stale = fmt.Errorf("model %d is not current; %d is", version, v)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.modelVer != v {
			t := s.codec.Encode(params, tacitpb.Compression_COMPRESSION_ZSTD)
			if s.cfg.DownBits > 0 {
				var err error
				if t, err = s.codec.EncodeModel(params, s.cfg.DownBits, tacitpb.Compression_COMPRESSION_ZSTD); err != nil {
					stale = err
					return
				}
			}
			resp := &tacitpb.Response{Body: &tacitpb.Response_Model{Model: &tacitpb.Model{Version: v, Params: t, Config: s.plannedModel}}}
			frame, err := proto.AppendFrame(nil, resp)
			if err != nil {
				stale = err
				return
			}
			s.modelVer, s.modelFrame = v, frame
		}
	})
	if stale != nil {
		return proto.NewError(tacitpb.ErrorCode_ERROR_CODE_STALE_MODEL, stale.Error()), false
	}
	return &tacitpb.Response{Body: &tacitpb.Response_Model{Model: &tacitpb.Model{Version: version}}}, false
}

func (s *Server) report(device string, r *tacitpb.Report) (*tacitpb.Response, bool) {
	rep := round.Report{Round: r.GetRound(), Weight: r.GetWeight(), Loss: r.GetTrainLoss(), Clipped: r.GetClipped()}
	var err error
	if c := s.svc.Codec(); r.GetUpdate().GetDtype() == tacitpb.DType_DTYPE_UINT && c != nil {
		rep.Encoded, err = s.codec.DecodeUint(r.GetUpdate(), c.EncodedLen(s.dim), c.Bits, nil)
	} else {
		rep.Update, err = s.codec.Decode(r.GetUpdate(), s.dim, nil)
	}
	if err != nil {
		s.refusedReport(round.BadUpdate)
		return proto.NewError(tacitpb.ErrorCode_ERROR_CODE_BAD_UPDATE, err.Error()), true
	}
	if e := r.GetEvaluation(); e != nil {
		rep.Eval = &round.Evaluation{HR: e.GetHrAt_10(), NDCG: e.GetNdcgAt_10()}
	}
	if err := s.svc.Report(device, rep); err != nil {
		return RejectionResponse(err), false
	}
	return &tacitpb.Response{Body: &tacitpb.Response_ReportAck{ReportAck: &tacitpb.ReportAck{}}}, false
}

func (s *Server) secAggFetch(device string, f *tacitpb.SecAggFetch) *tacitpb.Response {
	phase, err := proto.FromSecAggPhase(f.GetPhase())
	if err != nil {
		return proto.NewError(tacitpb.ErrorCode_ERROR_CODE_MALFORMED, err.Error())
	}
	msg, wait, err := s.svc.SecAggFetch(device, f.GetRound(), phase)
	if err != nil {
		return RejectionResponse(err)
	}
	var res *tacitpb.SecAggFetchResult
	if msg == nil {
		res = &tacitpb.SecAggFetchResult{Result: &tacitpb.SecAggFetchResult_Retry{Retry: &tacitpb.RetryAfter{AfterMillis: wait.Milliseconds()}}}
	} else if res, err = proto.SecAggFetchResult(msg); err != nil {
		return proto.NewError(tacitpb.ErrorCode_ERROR_CODE_INTERNAL, err.Error())
	}
	return &tacitpb.Response{Body: &tacitpb.Response_SecaggFetch{SecaggFetch: res}}
}

// secAggSend decodes a device's SecAgg message; the sender is the device
// the token names, whatever the message says.
func (s *Server) secAggSend(device string, m *tacitpb.SecAggSend) (*tacitpb.Response, bool) {
	_, masked := m.GetBody().(*tacitpb.SecAggSend_MaskedInput)
	cfg, id, ok := s.svc.SecAggSeat(device)
	if !ok {
		if masked {
			s.refusedReport(round.NotSelected)
		}
		return proto.NewError(tacitpb.ErrorCode_ERROR_CODE_NOT_SELECTED, "not in a secure aggregation"), false
	}
	msg, err := s.codec.FromSecAggSend(m, id, cfg)
	if err != nil {
		if masked {
			s.refusedReport(round.BadUpdate)
		}
		return proto.NewError(tacitpb.ErrorCode_ERROR_CODE_MALFORMED, err.Error()), true
	}
	if err := s.svc.SecAggSend(device, m.GetRound(), msg); err != nil {
		return RejectionResponse(err), false
	}
	return &tacitpb.Response{Body: &tacitpb.Response_SecaggSend{SecaggSend: &tacitpb.SecAggSendAck{}}}, false
}

// RejectionResponse is the wire error the Server answers a refusal of the
// Service's with (a *round.Rejection, or ErrStopped).
func RejectionResponse(err error) *tacitpb.Response {
	var r *round.Rejection
	if !errors.As(err, &r) {
		return proto.NewError(tacitpb.ErrorCode_ERROR_CODE_INTERNAL, err.Error())
	}
	return proto.NewError(proto.RejectionCode(r.Code), r.Error())
}
