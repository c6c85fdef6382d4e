// Package sluice is a thin client for the Sluice sidecar's gRPC API (sluice.v1).
//
// The generated stubs are in package sluicev1; this package adds target parsing (unix socket or
// host:port), a default deadline, message helpers and errors carrying the gRPC status.
//
//	c, err := sluice.Dial("unix:///run/sluice/sluice.sock")
//	if err != nil { ... }
//	defer c.Close()
//	resp, err := c.Complete(ctx, &sluicev1.CompleteRequest{Messages: []*sluicev1.Message{sluice.User("hi")}})
package sluice

import (
	"context"
	"errors"
	"io"
	"iter"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	sluicev1 "github.com/sluice-project/sluice/clients/go/sluicev1"
)

// ServiceName is the name the daemon registers with the health service.
const ServiceName = "sluice.v1.Sluice"

// DefaultTimeout applies to calls whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// Client is a connection to one daemon. It is safe for concurrent use.
type Client struct {
	conn    *grpc.ClientConn
	stub    sluicev1.SluiceClient
	health  healthpb.HealthClient
	timeout time.Duration
}

// Option configures Dial.
type Option func(*options)

type options struct {
	timeout  time.Duration
	dialOpts []grpc.DialOption
}

// WithTimeout sets the deadline used for calls whose context has none (0: no default).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithDialOptions passes extra grpc.DialOptions (e.g. TLS credentials, interceptors).
// Without credentials among them the connection is insecure, as on a pod-local socket.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// Target turns "/path.sock" into "unix:///path.sock"; "unix:///…" and "host:port" pass through.
func Target(addr string) string {
	if strings.HasPrefix(addr, "/") {
		return "unix://" + addr
	}
	return addr
}

// Dial creates a client for addr ("unix:///path.sock", "/path.sock" or "host:port"). The
// connection is made lazily, on the first call.
func Dial(addr string, opts ...Option) (*Client, error) {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	dialOpts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, o.dialOpts...)
	conn, err := grpc.NewClient(Target(addr), dialOpts...)
	if err != nil {
		return nil, err
	}
	return &Client{conn: conn, stub: sluicev1.NewSluiceClient(conn), health: healthpb.NewHealthClient(conn), timeout: o.timeout}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Stub returns the generated client, for what this wrapper does not cover (errors are not wrapped).
func (c *Client) Stub() sluicev1.SluiceClient { return c.stub }

func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.timeout == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

func unary[Req, Resp any](c *Client, ctx context.Context, fn func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	resp, err := fn(ctx, req)
	return resp, wrap(err)
}

// Message builds a chat message.
func Message(role sluicev1.Role, content string) *sluicev1.Message {
	return &sluicev1.Message{Role: role, Content: content}
}

// System, User and Assistant build chat messages of that role.
func System(content string) *sluicev1.Message { return Message(sluicev1.Role_ROLE_SYSTEM, content) }
func User(content string) *sluicev1.Message   { return Message(sluicev1.Role_ROLE_USER, content) }
func Assistant(content string) *sluicev1.Message {
	return Message(sluicev1.Role_ROLE_ASSISTANT, content)
}

// Complete answers a conversation: cache, then routing and the cascade.
func (c *Client) Complete(ctx context.Context, req *sluicev1.CompleteRequest) (*sluicev1.CompleteResponse, error) {
	return unary(c, ctx, c.stub.Complete, req)
}

// StreamComplete yields the answer as chunks; the last one carries Summary. The context (or
// the default timeout) bounds the whole stream; stopping the loop early cancels the call.
//
//	for chunk, err := range c.StreamComplete(ctx, req) { if err != nil { ... }; fmt.Print(chunk.Delta) }
func (c *Client) StreamComplete(ctx context.Context, req *sluicev1.CompleteRequest) iter.Seq2[*sluicev1.CompleteChunk, error] {
	return func(yield func(*sluicev1.CompleteChunk, error) bool) {
		ctx, cancel := c.ctx(ctx)
		defer cancel()
		stream, err := c.stub.StreamComplete(ctx, req)
		if err != nil {
			yield(nil, wrap(err))
			return
		}
		for {
			chunk, err := stream.Recv()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					yield(nil, wrap(err))
				}
				return
			}
			if !yield(chunk, nil) {
				return
			}
		}
	}
}

// Route returns the routing decision alone; nothing is called or cached.
func (c *Client) Route(ctx context.Context, req *sluicev1.RouteRequest) (*sluicev1.RouteDecision, error) {
	return unary(c, ctx, c.stub.Route, req)
}

// Lookup queries the cache only; a miss is Hit == false, not an error.
func (c *Client) Lookup(ctx context.Context, req *sluicev1.LookupRequest) (*sluicev1.LookupResponse, error) {
	return unary(c, ctx, c.stub.Lookup, req)
}

// Store puts an answer into the cache.
func (c *Client) Store(ctx context.Context, req *sluicev1.StoreRequest) (*sluicev1.StoreResponse, error) {
	return unary(c, ctx, c.stub.Store, req)
}

// Invalidate removes cache entries and returns how many were removed.
func (c *Client) Invalidate(ctx context.Context, req *sluicev1.InvalidateRequest) (int64, error) {
	resp, err := unary(c, ctx, c.stub.Invalidate, req)
	if err != nil {
		return 0, err
	}
	return resp.GetRemoved(), nil
}

// Feedback reports the user's judgement of an earlier answer.
func (c *Client) Feedback(ctx context.Context, req *sluicev1.FeedbackRequest) (*sluicev1.FeedbackResponse, error) {
	return unary(c, ctx, c.stub.Feedback, req)
}

// Embed returns the embeddings of 1..256 texts.
func (c *Client) Embed(ctx context.Context, texts ...string) (*sluicev1.EmbedResponse, error) {
	return unary(c, ctx, c.stub.Embed, &sluicev1.EmbedRequest{Texts: texts})
}

// Stats returns cache and request counters; namespace "" means all.
func (c *Client) Stats(ctx context.Context, namespace string) (*sluicev1.Stats, error) {
	return unary(c, ctx, c.stub.GetStats, &sluicev1.GetStatsRequest{Namespace: namespace})
}

// Healthy reports whether the daemon is SERVING for service ("" is the whole server,
// ServiceName the Sluice API).
func (c *Client) Healthy(ctx context.Context, service string) (bool, error) {
	resp, err := unary(c, ctx, c.health.Check, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return false, err
	}
	return resp.GetStatus() == healthpb.HealthCheckResponse_SERVING, nil
}
