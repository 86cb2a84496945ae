plugin "gen" {}
plugin "fit" {}

step "wrong_types" {
  plugin = plugin.gen
  config {
    mode    = ["not", "a", "string"]
    n       = "ten"
    tags    = "a"
    options = { a = "x" }
    extra   = 1
    layer {
      act = "relu"
    }
    optimizer {
      lr       = "fast"
      momentum = 0.9
    }
    optimizer {}
    unknown_block {}
  }
}

step "no_config" {
  plugin = plugin.fit
}

step "missing_required" {
  plugin = plugin.fit
  config {
    penalty = 2
  }
}

step "type_from_upstream" {
  plugin = plugin.fit
  config {
    embeddings = "e"
    penalty    = step.wrong_types.outputs.names
  }
}
