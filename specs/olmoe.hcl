# OLMoE's routing analysis on OLMoE's own domain samples (arXiv, GitHub,
# C4, books, Wikipedia; allenai/OLMoE scripts/routing_output/text), with a
# byte-level MoE small enough to train in minutes on 2 CPU cores. The
# specialisation table is printed beside OLMoE-1B-7B's figures (layers
# matched by relative depth); the paper's pattern to look for is arXiv and
# GitHub specialising more than C4 and books. Needs ../shared/data (see
# olmoe_domains/PROVENANCE.md).

locals {
  data = "${path.spec}/../../shared/data/olmoe_domains"
}

variable "steps" {
  type    = number
  default = 400
}

plugin "moe" {
  version = ">= 0.1.0"
}

step "train" {
  plugin = plugin.moe
  seed   = 7
  config {
    mode = "train"
    domains = {
      arxiv     = "${local.data}/arxiv_texts.txt"
      github    = "${local.data}/github_oss_with_stack_texts.txt"
      c4        = "${local.data}/c4_texts.txt"
      books     = "${local.data}/b3g_texts.txt"
      wikipedia = "${local.data}/wikipedia_texts.txt"
    }
    max_bytes_per_domain = 600000
    reference            = "${local.data}/domain_spec_reference.txt"
    layers               = 3
    d_model              = 64
    heads                = 4
    seq                  = 64
    batch                = 16
    experts              = 16
    top_k                = 2
    expert_hidden        = 64
    steps                = var.steps
    lr                   = 0.003
    warmup               = 40
    snapshots            = 6
    eval_windows         = 32
  }
}
