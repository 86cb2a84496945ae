plugin "gen" {}
plugin "fit" {}

step "generate" {
  plugin = plugin.gen
  config { mode = "g" }
}

step "sweep" {
  plugin   = plugin.fit
  for_each = { a = 1, b = 2 }
  config {
    embeddings = step.generate.artifacts.embeddings
    penalty    = each.value
  }
}

step "repeat" {
  plugin = plugin.fit
  count  = 2
  config { embeddings = step.generate.artifacts.table }
}

step "bad" {
  plugin = plugin.fit
  config {
    embeddings = step.generate.artifacts.embedings
    penalty    = step.generate.outputs.count
    label      = step.generat.outputs.n
    losses     = [step.generate.results, step.sweep.outputs.loss, step.sweep["zz"].outputs.loss, step.generate[0].outputs.n, step.repeat[5].outputs.loss, step.repeat.artifacts.model]
  }
}

step "deps" {
  plugin     = plugin.fit
  depends_on = [step.nope, step.generate.outputs.n, "generate", step]
  config { embeddings = step.sweep["a"].outputs.los }
}
