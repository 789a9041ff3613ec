package io.replicador.status;

import java.util.List;

/** Where replication stands: the primary's side and each replica's. */
public record Status(PrimaryStatus primary, List<ReplicaStatus> replicas) {
  public Status {
    replicas = List.copyOf(replicas);
  }
}
