// Quickstart: go run ./examples/quickstart [unix:///tmp/sluice.sock]
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sluice "github.com/sluice-project/sluice/clients/go"
	sluicev1 "github.com/sluice-project/sluice/clients/go/sluicev1"
)

func main() {
	target := "unix:///tmp/sluice.sock"
	if len(os.Args) > 1 {
		target = os.Args[1]
	}
	c, err := sluice.Dial(target)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	ok, err := c.Healthy(ctx, sluice.ServiceName)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("healthy:", ok)
	emb, err := c.Embed(ctx, "What is a sluice?")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("embedding: %d dimensions from %s\n", emb.Dimensions, emb.Model)

	resp, err := c.Complete(ctx, &sluicev1.CompleteRequest{Messages: []*sluicev1.Message{sluice.User("What is a sluice?")}})
	switch status.Code(err) {
	case codes.OK:
		fmt.Println(resp.GetMessage().GetContent(), "| cache:", resp.GetCache().GetOutcome())
	case codes.Unimplemented:
		fmt.Println("Complete is not built in this daemon yet:", status.Convert(err).Message())
	default:
		log.Fatalf("Complete failed: %v", err)
	}
}
