package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	sluice "github.com/sluice-project/sluice/clients/go"
	"github.com/sluice-project/sluice/clients/go/internal/daemontest"
	sluicev1 "github.com/sluice-project/sluice/clients/go/sluicev1"
)

// One daemon for the whole package (it loads an embedding model, so starting it is not free).
var daemon *daemontest.Daemon

func TestMain(m *testing.M) {
	d, err := daemontest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the daemon:", err)
		os.Exit(1)
	}
	daemon = d
	code := m.Run()
	d.Stop()
	os.Exit(code)
}

func dial(t *testing.T) *sluice.Client {
	t.Helper()
	c, err := sluice.Dial(daemon.Target, sluice.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var question = []*sluicev1.Message{sluice.System("You are terse."), sluice.User("What is the capital of France?")}

func TestHealth(t *testing.T) {
	c := dial(t)
	for _, svc := range []string{"", sluice.ServiceName} {
		ok, err := c.Healthy(context.Background(), svc)
		if err != nil || !ok {
			t.Fatalf("Healthy(%q) = %v, %v", svc, ok, err)
		}
	}
}

func TestEmbed(t *testing.T) {
	resp, err := dial(t).Embed(context.Background(), "a sluice gate", "a water gate")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Embeddings) != 2 || resp.Dimensions <= 0 || len(resp.Embeddings[0].Values) != int(resp.Dimensions) || resp.Model == "" {
		t.Fatalf("unexpected response: %v", resp)
	}
}

func TestInvalidArgumentKeepsCode(t *testing.T) {
	_, err := dial(t).Embed(context.Background())
	if status.Code(err) != codes.InvalidArgument || !errors.Is(err, sluice.ErrInvalidArgument) {
		t.Fatalf("want InvalidArgument, got %v", err)
	}
}

func TestDeadlineExceeded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Microsecond)
	defer cancel()
	_, err := dial(t).Embed(ctx, "x")
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	c, err := sluice.Dial(t.TempDir()+"/nothing.sock", sluice.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Embed(context.Background(), "x"); status.Code(err) != codes.Unavailable {
		t.Fatalf("want Unavailable, got %v", err)
	}
}

// ---- cache (issue #3)

func TestStoreThenLookup(t *testing.T) {
	c, ctx := dial(t), context.Background()
	ns := fmt.Sprintf("go-%d", time.Now().UnixNano())
	conv := []*sluicev1.Message{sluice.User("How tall is the Eiffel tower?")}
	temp := 0.0
	params := &sluicev1.Params{Temperature: &temp}
	lookup := &sluicev1.LookupRequest{Messages: conv, Namespace: ns, Params: params}
	miss, err := c.Lookup(ctx, lookup)
	if err != nil || miss.Hit {
		t.Fatalf("first lookup: %v, %v", miss, err)
	}
	stored, err := c.Store(ctx, &sluicev1.StoreRequest{Messages: conv, Namespace: ns, Params: params,
		Answer: sluice.Assistant("330 metres."), FinishReason: "stop", Model: "fake-small", Ttl: durationpb.New(5 * time.Minute)})
	if err != nil || stored.EntryId == "" {
		t.Fatalf("store: %v, %v", stored, err)
	}
	hit, err := c.Lookup(ctx, lookup)
	if err != nil || !hit.Hit || hit.Entry.GetAnswer().GetContent() != "330 metres." {
		t.Fatalf("second lookup: %v, %v", hit, err)
	}
	if st, err := c.Stats(ctx, ns); err != nil || st.GetCache().GetStores() < 1 {
		t.Fatalf("stats: %v, %v", st, err)
	}
	removed, err := c.Invalidate(ctx, &sluicev1.InvalidateRequest{Target: &sluicev1.InvalidateRequest_Namespace{Namespace: ns}})
	if err != nil || removed != 1 {
		t.Fatalf("invalidate: %d, %v", removed, err)
	}
}

// ---- request path (issue #5)

func TestCompleteAgainstFakeProvider(t *testing.T) {
	c, ctx := dial(t), context.Background()
	if _, err := c.Route(ctx, &sluicev1.RouteRequest{Messages: question}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Complete(ctx, &sluicev1.CompleteRequest{Messages: question, RequestId: "go-complete-1",
		Cache: &sluicev1.CachePolicy{SkipRead: true}})
	if err != nil || resp.RequestId != "go-complete-1" || resp.GetMessage().GetContent() == "" || resp.GetServedBy().GetTier() != "cheap" {
		t.Fatalf("complete: %v, %v", resp, err)
	}
	if _, err := c.Feedback(ctx, &sluicev1.FeedbackRequest{RequestId: resp.RequestId, Kind: sluicev1.FeedbackKind_FEEDBACK_KIND_THUMBS_UP}); err != nil {
		t.Fatal(err)
	}
}

func TestStreamComplete(t *testing.T) {
	c := dial(t)
	req := &sluicev1.CompleteRequest{Messages: question, Cache: &sluicev1.CachePolicy{SkipRead: true}}
	var text strings.Builder
	var summary *sluicev1.CompleteResponse
	for chunk, err := range c.StreamComplete(context.Background(), req) {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(chunk.Delta)
		if chunk.Summary != nil {
			summary = chunk.Summary
		}
	}
	if summary == nil || summary.GetMessage().GetContent() != text.String() {
		t.Fatalf("summary %v does not match streamed text %q", summary, text.String())
	}
}
