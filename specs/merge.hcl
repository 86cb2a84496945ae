# Model merging (Merge to Learn, Morrison et al. 2024). Part 1, the
# operators on checkpoints with a known answer: a base θ₀ and three fine-tuned models θᵢ = θ₀ + sᵢ + nᵢ,
# each with its own sparse planted skill sᵢ plus dense noise nᵢ. The ideal
# merge θ* = θ₀ + Σ sᵢ is written too, and every merge reports its
# distance ‖θ − θ*‖/‖θ* − θ₀‖ to it. Task arithmetic should be best at
# weight 1 (the planted weight); TIES (trimming the noise) should land
# nearer still; DARE drops half of each task vector and rescales.
# Part 2 (below) is the planted train-then-merge experiment. No external
# data; the real-data report is specs/merge-report.hcl.

plugin "merge" {
  version = ">= 0.1.0"
}

step "planted" {
  plugin = plugin.merge
  seed   = 5
  config {
    mode          = "generate"
    n_models      = 3
    tensors       = 16
    rows          = 128
    cols          = 128
    planted_noise = 0.1
  }
}

step "task_arithmetic" {
  plugin = plugin.merge
  seed   = 5
  config {
    method    = "task_arithmetic"
    base      = step.planted.artifacts.base
    models    = [step.planted.artifacts.model_0, step.planted.artifacts.model_1, step.planted.artifacts.model_2]
    sweep     = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5]
    reference = step.planted.artifacts.ideal
  }
}

step "ties" {
  plugin = plugin.merge
  seed   = 5
  config {
    method    = "ties"
    base      = step.planted.artifacts.base
    models    = [step.planted.artifacts.model_0, step.planted.artifacts.model_1, step.planted.artifacts.model_2]
    density   = 0.2
    normalize = false
    reference = step.planted.artifacts.ideal
  }
}

step "dare" {
  plugin = plugin.merge
  seed   = 5
  config {
    method    = "dare"
    base      = step.planted.artifacts.base
    models    = [step.planted.artifacts.model_0, step.planted.artifacts.model_1, step.planted.artifacts.model_2]
    drop_rate = 0.5
    reference = step.planted.artifacts.ideal
  }
}

# WiSE-FT between the base and one fine-tuned model: α = 1 is the model
# itself; the reference here is the ideal, so distances stay large (one
# skill of three).
step "wise_ft" {
  plugin = plugin.merge
  seed   = 5
  config {
    method    = "wise_ft"
    base      = step.planted.artifacts.base
    models    = [step.planted.artifacts.model_0]
    sweep     = [0, 0.5, 1]
    reference = step.planted.artifacts.ideal
  }
}

# ---------------------------------------------------------------------------
# The planted experiment (Merge to Learn in small). Three byte-level tasks
# scored by exact match with greedy decoding: A uppercases a word, B
# reverses it, C replaces each letter by its successor. The base model is
# pre-trained as an LM on documents that already hold the answer format
# (each ends in EOS) and all three transformations under lower-case tags
# ("u abcd=ABCD"), so fine-tuning only ties a prompt tag (U, R, S) to an
# ability the base has: brief, small-LR fine-tunes that stay near the base,
# as the paper's premise. Every fine-tune mixes in `replay` examples of the
# three tasks in that notation, so it keeps the tags it does not train.
# With `extra_tags` the base also learns four further tasks under capital
# tags of their own (I copy, P predecessor, L rotate left, M upper-case
# reverse; never A's, B's or C's) and the replay keeps them: the base then
# already ties capital tags to transformations, and a fine-tune on S adds
# one binding instead of making "shift" the default for every capital tag
# (which reads the R prompts' middle letters in place and breaks reversal
# in the merge; plugins/merge/README.md). Pre-training takes 2400 steps to
# learn reversal in the larger mixture.
# The general model is the base fine-tuned on A+B; the skill model the
# base fine-tuned on C alone. Compared, each with the optimizer steps it
# cost from scratch:
#   continued fine-tuning of the general model on C (forgets A/B?),
#   retraining the base on A+B+C (the expensive upper line),
#   train-then-merge: θ_base + (θ_general − θ_base) + ω(θ_skill − θ_base)
#   over a sweep of ω (costs only the skill model's steps on top),
#   and TIES / DARE over the same two task vectors.
# The evaluate step plots General (A, B) against the skill (C), scores the
# notation tasks a, b, c too, and measures every task vector against the
# base (‖θ − θ₀‖/‖θ₀‖, cosines).

step "base" {
  plugin = plugin.merge
  seed   = 1
  config {
    mode          = "train"
    objective     = "lm"
    steps         = 2400
    lr            = 0.003
    mixture_bytes = 200000
    extra_tags    = true
  }
}

step "general" {
  plugin = plugin.merge
  seed   = 2
  config {
    mode       = "train"
    init       = step.base.artifacts.model
    tasks      = ["A", "B"]
    steps      = 150
    lr         = 0.0003
    replay     = 1000
    extra_tags = true
  }
}

step "skill" {
  plugin = plugin.merge
  seed   = 3
  config {
    mode       = "train"
    init       = step.base.artifacts.model
    tasks      = ["C"]
    steps      = 150
    lr         = 0.0003
    replay     = 1000
    extra_tags = true
  }
}

step "continued" {
  plugin = plugin.merge
  seed   = 3
  config {
    mode       = "train"
    init       = step.general.artifacts.model
    tasks      = ["C"]
    steps      = 150
    lr         = 0.0003
    replay     = 1000
    extra_tags = true
  }
}

step "retrain" {
  plugin = plugin.merge
  seed   = 4
  config {
    mode       = "train"
    init       = step.base.artifacts.model
    tasks      = ["A", "B", "C"]
    steps      = 225
    lr         = 0.0003
    replay     = 1000
    extra_tags = true
  }
}

step "merge_skill" {
  plugin = plugin.merge
  config {
    method  = "task_arithmetic"
    base    = step.base.artifacts.model
    models  = [step.general.artifacts.model, step.skill.artifacts.model]
    weights = [1, 1]
    sweep   = [0.25, 0.5, 0.75, 1, 1.5]
  }
}

# TIES over the same two task vectors: trimmed, sign-elected, disjoint mean.
step "merge_ties" {
  plugin = plugin.merge
  config {
    method  = "ties"
    base    = step.base.artifacts.model
    models  = [step.general.artifacts.model, step.skill.artifacts.model]
    density = 0.2
  }
}

# DARE: half of each task vector dropped, the rest doubled, then summed.
step "merge_dare" {
  plugin = plugin.merge
  seed   = 6
  config {
    method    = "dare"
    base      = step.base.artifacts.model
    models    = [step.general.artifacts.model, step.skill.artifacts.model]
    drop_rate = 0.5
  }
}

step "evaluate" {
  plugin = plugin.merge
  seed   = 9
  config {
    mode          = "evaluate"
    eval_examples = 128
    tasks         = ["A", "B", "C", "a", "b", "c"]
    base          = step.base.artifacts.model
    candidates = {
      base         = step.base.artifacts.model
      general      = step.general.artifacts.model
      skill        = step.skill.artifacts.model
      continued    = step.continued.artifacts.model
      retrain      = step.retrain.artifacts.model
      "merge_0.25" = step.merge_skill.artifacts.sweep_0
      "merge_0.5"  = step.merge_skill.artifacts.sweep_1
      "merge_0.75" = step.merge_skill.artifacts.sweep_2
      "merge_1"    = step.merge_skill.artifacts.sweep_3
      "merge_1.5"  = step.merge_skill.artifacts.sweep_4
      ties         = step.merge_ties.artifacts.model
      dare         = step.merge_dare.artifacts.model
    }
  }
}
