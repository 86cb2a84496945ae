# ComPO (Kumar, Park et al. 2024) on planted communities: K = 4 communities
# read the same posts and each prefers replies opening with its own word
# (mutually exclusive tastes; 5 % of labels flipped). SFT on the preferred
# replies with the community in the prompt (the reference's text template),
# then DPO (β = 0.1, π_ref = the SFT model), then evaluation on held-out
# posts: with the true community the accuracy should reach the planted
# oracle's in every community; with none ("Reddit") it is near chance (every
# pair conflicts with another community); with a random community the
# generations carry the right attribute about 1/K of the time.
# No external data; the real-data run is specs/compo-hh.hcl.

plugin "compo" {
  version = ">= 0.1.0"
}

step "generate" {
  plugin = plugin.compo
  seed   = 1
  config {
    mode        = "generate"
    communities = 4
    posts       = 200
    label_noise = 0.05
  }
}

step "sft" {
  plugin = plugin.compo
  seed   = 2
  config {
    mode          = "sft"
    pairs         = step.generate.artifacts.pairs
    test_fraction = 0.2
    conditioning  = "template"
    d_model       = 64
    heads         = 4
    layers        = 2
    seq           = 64
    batch         = 16
    steps         = 300
  }
}

step "dpo" {
  plugin = plugin.compo
  seed   = 3
  config {
    mode       = "dpo"
    pairs      = step.sft.artifacts.train_pairs
    lr         = 0.0003
    reference  = step.sft.artifacts.model
    divergence = "reverse_kl"
    beta       = 0.1
    seq        = 64
    batch      = 16
    steps      = 60
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
    truth     = step.generate.artifacts.truth
    seq       = 64
  }
}
