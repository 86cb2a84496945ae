# FIT / MIMETIC² imitation threshold on generated data (part of the default
# run; no shared data needed).
#
# "generate" draws concepts with log-uniform training-image counts and
# embeddings whose generated images move toward the concept's training
# images from the planted count on. "estimate" scores every concept in one
# batched GoMLX graph (cosine similarities, top-10 training images by mean
# similarity, mean over prompts), sorts by count, runs exact PELT (l2,
# penalty 0.9, as the reference's ruptures call) and reports the threshold
# with a bootstrap interval, a JSON summary and a plot. The threshold should
# equal step.generate.outputs.expected_threshold.

variable "n_concepts" {
  type    = number
  default = 400
}

variable "planted_threshold" {
  type    = number
  default = 300
}

plugin "fit" {
  version = ">= 0.1.0"
}

step "generate" {
  plugin = plugin.fit
  seed   = 7
  config {
    mode              = "generate"
    n_concepts        = var.n_concepts
    planted_threshold = var.planted_threshold
    prompts           = 5
    train_images      = 20
    generated_images  = 10
    width             = 64
  }
}

step "estimate" {
  plugin = plugin.fit
  seed   = 7
  config {
    mode       = "estimate"
    embeddings = step.generate.artifacts.embeddings
    penalty    = 0.9
    bootstrap  = 1000
    title      = "generated concepts, onset planted at ${var.planted_threshold} images"
  }
}
