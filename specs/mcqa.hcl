# mcqa (Wiegreffe et al. 2024, "Answer, Assemble, Ace"): train the planted
# 4-layer model whose answer can only pass through the last-position
# attention output of layer L* = 2, then localise the decision with the
# logit lens and activation patching. decisive_layer should be 2, residual
# patching should flip from layer 2 on, MLP patching stay below 0.2.
# The colors steps probe the same model on the paper's Colors prompts (it
# was not trained on them: expect chance, a check that the full prompts,
# symbols and shots run end to end); they need ../shared/data.

plugin "mcqa" {
  version = ">= 0.1.0"
}

step "planted" {
  plugin = plugin.mcqa
  seed   = 1
  config {
    mode          = "planted"
    planted_layer = 2
    layers        = 4
    d_model       = 32
    heads         = 2
    seq           = 512 # max_seq_len: room for the Colors prompts with shots
    batch         = 32
    steps         = 800
    lr            = 0.005
    warmup        = 40
    weight_decay  = 0.01
    items         = 128
  }
}

step "planted_cd" {
  plugin = plugin.mcqa
  seed   = 2
  config {
    mode    = "probe"
    model   = step.planted.artifacts.model
    symbols = "CD"
    items   = 128
  }
}

step "colors" {
  plugin   = plugin.mcqa
  for_each = { ab = "AB", cd = "CD" }
  config {
    mode    = "probe"
    model   = step.planted.artifacts.model
    task    = "colors"
    data    = "${path.spec}/../../shared/data/mcqa_colors/memory_colors.csv"
    layout  = "full"
    items   = 0
    symbols = each.value
  }
}

step "colors_3shot" {
  plugin = plugin.mcqa
  config {
    mode   = "probe"
    model  = step.planted.artifacts.model
    task   = "colors"
    data   = "${path.spec}/../../shared/data/mcqa_colors/memory_colors.csv"
    layout = "full"
    items  = 0
    shots  = 3
  }
}
