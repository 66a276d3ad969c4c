"""Blue-green releases on a Docker host: what the host reports, the plan, the deployer."""
