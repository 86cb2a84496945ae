# The default experiment that `make run` executes: one small run of every
# method on data the project generates itself (no ../shared/data needed),
# on the CPU backend unless --backend says otherwise. Each method's full
# spec lives beside this file (fit.hcl, hyper.hcl, moe.hcl, merge.hcl,
# compo.hcl, mod.hcl, mcqa.hcl, copybench.hcl, actionatlas.hcl, vlm.hcl; the
# real-data specs are fit-mimetic2.hcl, hyper-real.hcl, olmoe.hcl and
# merge-report.hcl, compo-hh.hcl).
#
# The methods are independent sub-graphs, so with --parallelism 2
# they share the two cores.

plugin "fit" {
  version = ">= 0.1.0"
}

plugin "router" {
  version = ">= 0.1.0"
}

plugin "moe" {
  version = ">= 0.1.0"
}

plugin "merge" {
  version = ">= 0.1.0"
}

plugin "compo" {
  version = ">= 0.1.0"
}

plugin "mod" {
  version = ">= 0.1.0"
}

plugin "mcqa" {
  version = ">= 0.1.0"
}

plugin "copybench" {
  version = ">= 0.1.0"
}

plugin "actionatlas" {
  version = ">= 0.1.0"
}

plugin "vlm" {
  version = ">= 0.1.0"
}

# FIT / MIMETIC²: concepts with a planted imitation onset at 300 images;
# the estimated threshold should be the first generated count >= 300.
step "fit_generate" {
  plugin = plugin.fit
  seed   = 7
  config {
    mode              = "generate"
    n_concepts        = 400
    planted_threshold = 300
    prompts           = 5
    train_images      = 20
    generated_images  = 10
    width             = 64
  }
}

step "fit_estimate" {
  plugin = plugin.fit
  seed   = 7
  config {
    mode       = "estimate"
    embeddings = step.fit_generate.artifacts.embeddings
    penalty    = 0.9
    bootstrap  = 1000
    title      = "generated concepts, onset planted at 300 images"
  }
}

# HyPER: the LM annotator is systematically wrong on one planted subject;
# the router should send that subject to humans first.
step "hyper_planted" {
  plugin = plugin.router
  seed   = 11
  config {
    mode = "generate"
    n    = 2000
  }
}

step "hyper_route" {
  plugin = plugin.router
  seed   = 11
  config {
    mode     = "route"
    data     = step.hyper_planted.artifacts.data
    mixtures = 48
    budgets  = [0.25, 0.5, 0.75]
    method   = "topk"
  }
}

# OLMoE-style sparse MoE on two planted Markov "domains": experts should
# specialise by domain.
step "moe_corpus" {
  plugin = plugin.moe
  seed   = 3
  config {
    mode             = "generate"
    bytes_per_domain = 100000
  }
}

step "moe_train" {
  plugin = plugin.moe
  seed   = 1
  config {
    mode = "train"
    domains = {
      low  = step.moe_corpus.artifacts.low
      high = step.moe_corpus.artifacts.high
    }
    layers        = 2
    d_model       = 64
    heads         = 4
    seq           = 64
    batch         = 16
    experts       = 8
    top_k         = 2
    expert_hidden = 64
    steps         = 120
    lr            = 0.003
    warmup        = 15
    snapshots     = 6
    eval_windows  = 16
  }
}

# Model merging: three fine-tuned checkpoints with planted sparse skills
# plus noise; task arithmetic at the planted weight and TIES should both
# land near the ideal merge (distance output), TIES nearer.
step "merge_planted" {
  plugin = plugin.merge
  seed   = 5
  config {
    mode          = "generate"
    n_models      = 3
    planted_noise = 0.1
  }
}

step "merge_ties" {
  plugin = plugin.merge
  seed   = 5
  config {
    method    = "ties"
    base      = step.merge_planted.artifacts.base
    models    = [step.merge_planted.artifacts.model_0, step.merge_planted.artifacts.model_1, step.merge_planted.artifacts.model_2]
    normalize = false
    reference = step.merge_planted.artifacts.ideal
  }
}

# ComPO: three planted communities with conflicting tastes; SFT then DPO
# with the community in the prompt. With the true community the held-out
# accuracy should be near the planted oracle, with none near chance.
step "compo_generate" {
  plugin = plugin.compo
  seed   = 1
  config {
    mode        = "generate"
    communities = 3
    posts       = 80
  }
}

step "compo_sft" {
  plugin = plugin.compo
  seed   = 2
  config {
    mode          = "sft"
    pairs         = step.compo_generate.artifacts.pairs
    test_fraction = 0.2
    d_model       = 32
    heads         = 2
    seq           = 64
    steps         = 130
    lr            = 0.01
    warmup        = 20
    weight_decay  = 0
  }
}

step "compo_dpo" {
  plugin = plugin.compo
  seed   = 3
  config {
    mode         = "dpo"
    pairs        = step.compo_sft.artifacts.train_pairs
    lr           = 0.0003
    warmup       = 20
    weight_decay = 0
    reference    = step.compo_sft.artifacts.model
    seq          = 64
    steps        = 30
  }
}

step "compo_eval" {
  plugin = plugin.compo
  seed   = 4
  config {
    mode           = "eval"
    pairs          = step.compo_sft.artifacts.test_pairs
    model          = step.compo_dpo.artifacts.model
    reference      = step.compo_sft.artifacts.model
    truth          = step.compo_generate.artifacts.truth
    seq            = 64
    max_new_tokens = 12
  }
}

# MOD: a planted reference (SFT) and two DPO models aligned to two
# objectives, combined at decoding time over the weight simplex (step
# 0.25 here); MOD's front should cover the single models and beat their
# equal-weight parameter merge (specs/mod.hcl is the full run).
step "mod_sft" {
  plugin = plugin.mod
  seed   = 1
  config {
    mode    = "sft"
    layers  = 1
    d_model = 32
    heads   = 2
    seq     = 16
    batch   = 16
    steps   = 100
    lr      = 0.01
    warmup  = 10
  }
}

step "mod_dpo" {
  plugin   = plugin.mod
  seed     = 1
  for_each = { first = "first", second = "second" }
  config {
    mode      = "dpo"
    objective = each.value
    reference = step.mod_sft.artifacts.model
    layers    = 1
    d_model   = 32
    heads     = 2
    seq       = 16
    batch     = 16
    dpo_steps = 80
    pairs     = 300
  }
}

step "mod_decode" {
  plugin = plugin.mod
  seed   = 1
  config {
    reference       = step.mod_sft.artifacts.model
    models          = [step.mod_dpo["first"].artifacts.model, step.mod_dpo["second"].artifacts.model]
    objectives      = ["first", "second"]
    sweep_step      = 0.25
    prompts_file    = step.mod_sft.artifacts.prompts
    max_new_tokens  = 5
    planted_rewards = true
  }
}

# mcqa: a small planted model whose answer passes only through layer 2's
# last-position attention output; decisive_layer should come out as 2.
step "mcqa_planted" {
  plugin = plugin.mcqa
  seed   = 1
  config {
    mode          = "planted"
    planted_layer = 2
    layers        = 4
    d_model       = 32
    heads         = 2
    seq           = 16
    batch         = 32
    steps         = 400
    lr            = 0.005
    warmup        = 40
    weight_decay  = 0.01
    items         = 64
  }
}

# CopyBench: a tiny model trained on four planted "books" copies them
# literally and names their characters; the two held-out books stay near 0
# (held_out_literal_rate). Three events per book: event copying needs five,
# so event_rate is 0 here (specs/copybench.hcl has the full setting).
step "copybench_planted" {
  plugin = plugin.copybench
  seed   = 1
  config {
    mode               = "planted"
    books              = 4
    held_out           = 2
    prefix_words       = 4
    continuation_words = 5
    events             = 3
    layers             = 2
    d_model            = 64
    heads              = 4
    seq                = 104
    batch              = 8
    steps              = 120
    lr                 = 0.01
    warmup             = 12
    weight_decay       = 0
    max_new_tokens     = 64
  }
}

# actionatlas: one tiny video-QA model on planted clips whose classes differ
# only in motion order, measured through the ActionAtlas protocol at 1 and
# 8 frames (full curve over seeds: actionatlas.hcl). Expect about chance
# (0.2) at 1 frame and well above at 8.
step "actionatlas_planted" {
  plugin = plugin.actionatlas
  seed   = 1
  config {
    mode         = "planted"
    seeds        = 1
    curve        = [1, 8]
    train_frames = [2, 4, 8, 16]
    questions    = 100
    layers       = 2
    d_model      = 32
    heads        = 2
    seq          = 8
    batch        = 16
    steps        = 200
    lr           = 0.005
    warmup       = 10
    weight_decay = 0
    bootstrap    = 200
  }
}

# vlm: planted single-object images, one crop, a few seconds of training,
# held-out PointingEval beside the centre-point baseline (the chain, not
# the quality: specs/vlm.hcl trains for real).
step "vlm_generate" {
  plugin = plugin.vlm
  seed   = 5
  config {
    mode        = "generate"
    images      = 120
    image_size  = 32
    min_objects = 1
    max_objects = 1
    shapes      = ["circle"]
    colors      = ["red"]
    radius      = 0.15
    test_share  = 0.1
  }
}

step "vlm_train" {
  plugin = plugin.vlm
  seed   = 5
  config {
    mode           = "train"
    bundle         = step.vlm_generate.artifacts.images
    examples       = step.vlm_generate.artifacts.examples
    vit_layers     = 2
    vit_d_model    = 32
    vit_heads      = 2
    feature_layers = [-1, 0]
    pool_heads     = 2
    proj_hidden    = 64
    layers         = 1
    d_model        = 32
    heads          = 2
    seq            = 160
    batch          = 8
    caption_steps  = 5
    steps          = 20
    warmup         = 5
    mix_count      = 0
    eval_items     = 8
  }
}
