"""pipeline-kit's own tooling: the emulator, Terraform runs, deploy/plan/destroy, benchmarks."""
