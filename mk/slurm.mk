# Slurm executor targets (see tools/slurm).
.PHONY: bench-slurm slurm-cluster slurm-cluster-stop

bench-slurm: ## 200-instance no-op sweep on the local Slurm test cluster vs the local executor (SLURM_BENCH_N=20 for a check; root).
	tools/slurm/bench.sh

slurm-cluster: ## Install (apt) and start the single-node Slurm test cluster (root).
	tools/slurm/cluster.sh start

slurm-cluster-stop: ## Stop the Slurm test cluster.
	tools/slurm/cluster.sh stop
