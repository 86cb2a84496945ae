// How the host uses the spec language, in order:
//
//	spec, diags := configs.LoadFile(path)              // syntax, structure, names
//	vars, d := lang.ResolveVariables(spec, cliVars, varFiles, os.Environ())
//	g, d := dag.Plan(spec, vars, schemasByPluginLabel, dag.Options{RunSeed: s, DefaultBackend: b})
//	// each node: plugin ValidateConfig on g.EvalConfig with unknowns is
//	// not possible before upstream steps ran; validate what is known, then
//	for _, n := range g.TopoOrder() { ... }           // or schedule by g.Deps
//	cfg, seed, backend, d := g.EvalConfig(n, resultsByAddr)
//	hclDiags := g.DiagnosticsFromPlugin(n, pluginDiags)
//	spec.WriteDiagnostics(os.Stderr, dag.CompactPluginDiagnostics(all), 80, color)
//
// Plan is safe to call on a spec that loaded with errors (it is fuzzed
// that way), so a CLI may report load, variable and plan errors at once.
//
// Addresses: step.NAME for a single step, step.NAME["key"] for a for_each
// instance (keys in map order: sorted; lists keep their order),
// step.NAME[i] for a count instance. Default seed of an instance without
// `seed`: see [DefaultSeed].
package dag
