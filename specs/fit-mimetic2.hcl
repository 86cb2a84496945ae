# FIT / MIMETIC² on the real image counts of the paper's classical-artists
# set (418 WikiArt artists; count_this_artist_artworks_in_laion_images, the
# x-axis MIMETIC² uses). The paper never published its per-artist imitation
# scores, so the scores here come from generated embeddings with an onset
# planted at the paper's SD1.1 classical threshold, 112 images: the
# estimator must report 112 and a bootstrap interval that covers it. Needs
# ../shared/data (see its mimetic2/PROVENANCE.md).

locals {
  data = "${path.spec}/../../shared/data/mimetic2"
}

plugin "fit" {
  version = ">= 0.1.0"
}

step "generate" {
  plugin = plugin.fit
  seed   = 112
  config {
    mode              = "generate"
    counts_csv        = "${local.data}/classical_artists_group1_counts.csv"
    concept_column    = "artist_name"
    count_column      = "count_this_artist_artworks_in_laion_images"
    planted_threshold = 112
    prompts           = 5
    train_images      = 20
    generated_images  = 10
    width             = 64
  }
}

step "estimate" {
  plugin = plugin.fit
  seed   = 112
  config {
    mode       = "estimate"
    embeddings = step.generate.artifacts.embeddings
    penalty    = 0.9
    bootstrap  = 1000
    title      = "classical artists: real LAION counts, onset planted at 112 (paper, SD1.1)"
  }
}
