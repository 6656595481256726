"""DevOps jobs: Docker hosts, Swarm clusters and Git runners."""
