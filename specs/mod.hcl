# MOD (Shi et al. 2024), multi-objective decoding, as the chain
# sft → dpo (one per objective, for_each) → mod on the planted task (no
# external data): a byte-level reference fine-tuned on random responses
# over "abcd" (SFT), a model aligned from it by DPO (the kit's DPOLoss,
# reverse KL, β = 0.1) to each of two objectives — "first": 'a' in the first
# half, "second": 'b' in the second half — then MOD: the weight simplex at
# step 0.1, greedy decoding with both models in lockstep
# (π_w ∝ π_first^w₁ · π_second^w₂), the single models and their
# equal-weight parameter merge (Rewarded Soups) as baselines, Pareto fronts
# of the implied rewards, and the true planted rewards in the sweep.

variable "dpo_steps" {
  type    = number
  default = 120
}

plugin "mod" {
  version = ">= 0.1.0"
}

step "sft" {
  plugin = plugin.mod
  seed   = 1
  config {
    mode    = "sft"
    layers  = 1
    d_model = 32
    heads   = 2
    seq     = 16
    batch   = 16
    steps   = 150
    lr      = 0.01
    warmup  = 10
  }
}

step "dpo" {
  plugin   = plugin.mod
  seed     = 1
  for_each = { first = "first", second = "second" }
  config {
    mode      = "dpo"
    objective = each.value
    reference = step.sft.artifacts.model
    layers    = 1
    d_model   = 32
    heads     = 2
    seq       = 16
    batch     = 16
    dpo_steps = var.dpo_steps
    dpo_lr    = 0.003
    pairs     = 400
    beta      = 0.1
  }
}

step "mod" {
  plugin = plugin.mod
  seed   = 1
  config {
    reference       = step.sft.artifacts.model
    models          = [step.dpo["first"].artifacts.model, step.dpo["second"].artifacts.model]
    objectives      = ["first", "second"]
    divergence      = "reverse_kl"
    beta            = 0.1
    sweep_step      = 0.1
    prompts_file    = step.sft.artifacts.prompts
    max_new_tokens  = 5
    planted_rewards = true
  }
}
