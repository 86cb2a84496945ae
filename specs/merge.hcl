# Model merging (Merge to Learn, Morrison et al. 2024) on checkpoints with a
# known answer: a base θ₀ and three fine-tuned models θᵢ = θ₀ + sᵢ + nᵢ,
# each with its own sparse planted skill sᵢ plus dense noise nᵢ. The ideal
# merge θ* = θ₀ + Σ sᵢ is written too, and every merge reports its
# distance ‖θ − θ*‖/‖θ* − θ₀‖ to it. Task arithmetic should be best at
# weight 1 (the planted weight); TIES (trimming the noise) should land
# nearer still; DARE drops half of each task vector and rescales.
# No external data; the real-data report is specs/merge-report.hcl.

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
