package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	sluice "github.com/sluice-project/sluice/clients/go"
	sluicev1 "github.com/sluice-project/sluice/clients/go/sluicev1"
)

// The standard google.rpc details the daemon attaches: ErrorInfo, BadRequest, RetryInfo.

func TestInvalidArgumentNamesTheFieldAndReason(t *testing.T) {
	bad := []*sluicev1.Message{{Role: sluicev1.Role_ROLE_UNSPECIFIED, Content: "hi"}}
	_, err := dial(t).Complete(context.Background(), &sluicev1.CompleteRequest{Messages: bad})
	var e *sluice.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *sluice.Error, got %v", err)
	}
	if e.Reason != "INVALID_ARGUMENT" || e.Domain != "sluice.dev" || e.RetryDelay != 0 {
		t.Fatalf("ErrorInfo/RetryInfo not decoded: %+v", e)
	}
	if len(e.FieldViolations) != 1 || e.FieldViolations[0].Field != "messages[0].role" || e.FieldViolations[0].Description == "" {
		t.Fatalf("BadRequest not decoded: %+v", e.FieldViolations)
	}
	if e.Metadata["field"] != "messages[0].role" || e.Details == nil {
		t.Fatalf("metadata or sluice details missing: %+v", e)
	}
}

func TestOverloadCarriesARetryDelay(t *testing.T) {
	// The test config queues at most 64 texts: of six 64-text calls sent at once the first
	// is admitted and at least one of the rest finds the queue full.
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = strings.Repeat(fmt.Sprintf("a sentence about sluice gates number %d ", i), 8)
	}
	c := dial(t)
	var refused []*sluice.Error
	for round := 0; round < 5 && len(refused) == 0; round++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.Embed(context.Background(), texts...)
				var e *sluice.Error
				if errors.As(err, &e) {
					mu.Lock()
					refused = append(refused, e)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	if len(refused) == 0 {
		t.Fatal("no call was refused: the queue bound did not apply")
	}
	for _, e := range refused {
		if !errors.Is(e, sluice.ErrResourceExhausted) || e.Reason != "OVERLOADED" || e.RetryDelay < time.Second {
			t.Fatalf("want RESOURCE_EXHAUSTED/OVERLOADED with a retry delay, got %+v", e)
		}
	}
}
