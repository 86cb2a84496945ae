plugin "fit" {}

step "a" {
  plugin = plugin.fit
  config { embeddings = step.b.artifacts.model }
}

step "b" {
  plugin = plugin.fit
  config { embeddings = step.a.artifacts.model }
}

step "x" {
  plugin     = plugin.fit
  depends_on = [step.z]
  config { embeddings = "x" }
}

step "y" {
  plugin = plugin.fit
  config { embeddings = step.x.artifacts.model }
}

step "z" {
  plugin = plugin.fit
  config {
    embeddings = "z"
    penalty    = step.y.outputs.loss
  }
}

step "self" {
  plugin     = plugin.fit
  depends_on = [step.self]
  config { embeddings = step.self.artifacts.model }
}

step "downstream" {
  plugin = plugin.fit
  config { embeddings = step.a.artifacts.model }
}
