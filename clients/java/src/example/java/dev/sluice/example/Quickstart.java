package dev.sluice.example;

import dev.sluice.client.SluiceClient;
import dev.sluice.client.SluiceException;
import dev.sluice.v1.CompleteRequest;
import dev.sluice.v1.CompleteResponse;
import dev.sluice.v1.EmbedResponse;
import java.util.List;

/** Quickstart: mvn -q test-compile exec:java … or run from the IDE with a target argument. */
public final class Quickstart {
  private Quickstart() {}

  public static void main(String[] args) {
    String target = args.length > 0 ? args[0] : "unix:///tmp/sluice.sock";
    try (SluiceClient client = SluiceClient.connect(target)) {
      System.out.println("healthy: " + client.isServing());
      EmbedResponse emb = client.embed(List.of("What is a sluice?"));
      System.out.println("embedding: " + emb.getDimensions() + " dimensions from " + emb.getModel());
      try {
        CompleteResponse r = client.complete(CompleteRequest.newBuilder()
            .addMessages(SluiceClient.user("What is a sluice?")).build());
        System.out.println(r.getMessage().getContent() + " | cache: " + r.getCache().getOutcome());
      } catch (SluiceException.UnimplementedException e) {
        System.out.println("Complete is not built in this daemon yet: " + e.description());
      } catch (SluiceException e) {
        System.out.println("Complete failed with " + e.code() + ": " + e.description());
      }
    }
  }
}
