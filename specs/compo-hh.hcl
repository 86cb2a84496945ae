# ComPO's pipeline on real preferences: the HH-RLHF harmless-base test pairs
# (2,312; one "community"), split by dialogue into train and held out. Chosen
# and rejected share the dialogue up to the last "\n\nAssistant:". Beware:
# always preferring the shorter reply already scores about 55 %, so the eval
# step reports the DPO model's held-out accuracy beside the SFT model's and
# this length baseline. Byte-level, tiny model, CPU-sized: dialogues longer
# than seq lose their start. Needs ../shared/data (see
# small_corpora/PROVENANCE.md).

locals {
  data = "${path.spec}/../../shared/data/small_corpora/hh_rlhf_harmless_test/harmless-base-test.jsonl.gz"
}

plugin "compo" {
  version = ">= 0.1.0"
}

step "sft" {
  plugin = plugin.compo
  seed   = 2
  config {
    mode          = "sft"
    pairs         = local.data
    layout        = "hh"
    community     = "harmless"
    test_fraction = 0.15
    d_model       = 128
    heads         = 4
    layers        = 2
    seq           = 256
    batch         = 16
    steps         = 600
  }
}

step "dpo" {
  plugin = plugin.compo
  seed   = 3
  config {
    mode      = "dpo"
    pairs     = step.sft.artifacts.train_pairs
    lr        = 0.0003
    reference = step.sft.artifacts.model
    beta      = 0.1
    seq       = 256
    batch     = 8
    steps     = 200
  }
}

step "eval" {
  plugin = plugin.compo
  seed   = 4
  config {
    mode      = "eval"
    pairs     = step.sft.artifacts.test_pairs
    model     = step.dpo.artifacts.model
    reference = step.sft.artifacts.model
    seq       = 256
  }
}
