# actionatlas (Salehi et al. 2024, ActionAtlas video MCQA): the planted
# frame-count curve. Tiny video-QA models (the sdk/ml encoder over frames,
# a byte encoder over choice names; 3 seeds) learn planted 16-frame clips
# whose five classes differ only in the order the square visits the four
# quadrants. Through the reference's protocol (linspace sampling, the
# middle frame for 1, direct prompt, parsed choice numbers, bootstrap CI):
# 1 and 2 frames show only the centre (chance, 20 %), 4 frames two of the
# four visits (≈ 80 %), 8 and 16 all of them (≥ 90 %). The plot draws the
# curve beside the ActionAtlas leaderboard (GPT-4o 42.95 % at 16 frames,
# chance 20.91 %); it needs ../shared/data.
# The eval steps run the protocol on the planted clips and metadata as
# files: by count with choice descriptions, and by fps (8 fps clips at
# 2 fps: 4 frames) with chain-of-thought parsing.

plugin "actionatlas" {
  version = ">= 0.1.0"
}

step "planted" {
  plugin = plugin.actionatlas
  seed   = 1
  config {
    mode         = "planted"
    seeds        = 3
    curve        = [1, 2, 4, 8, 16]
    train_frames = [2, 4, 8, 16]
    questions    = 300
    size         = 8
    patch        = 8
    layers       = 2
    text_layers  = 1
    d_model      = 32
    heads        = 2
    seq          = 8
    batch        = 16
    steps        = 600
    lr           = 0.005
    warmup       = 10
    weight_decay = 0
    leaderboard  = "${path.spec}/../../shared/data/actionatlas/leaderboard_website.csv"
  }
}

step "eval_descriptions" {
  plugin = plugin.actionatlas
  seed   = 2
  config {
    mode     = "eval"
    model    = step.planted.artifacts.model
    metadata = step.planted.artifacts.metadata
    clips    = step.planted.artifacts.clips
    frames   = 8
    format   = "descriptions"
  }
}

step "eval_fps" {
  plugin = plugin.actionatlas
  seed   = 2
  config {
    mode     = "eval"
    model    = step.planted.artifacts.model
    metadata = step.planted.artifacts.metadata
    clips    = step.planted.artifacts.clips
    frames   = 0
    fps      = 2
    format   = "cot"
  }
}

output "curve" {
  value = {
    frames   = step.planted.outputs.curve_frames
    accuracy = step.planted.outputs.curve_accuracy
  }
}
