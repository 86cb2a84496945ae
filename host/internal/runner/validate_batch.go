package runner

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/dag"
	"github.com/shammie-ml/shammie/sdk"
)

// validateBatchSize is the number of distinct configs sent to a plugin in
// one ValidateConfigs call.
var validateBatchSize = 512

// batchValidator is a Conn that validates many configs in one call
// (*pluginhost.Client; it falls back to one call per config for plugins
// without the batched RPC).
type batchValidator interface {
	ValidateConfigs(ctx context.Context, cfgs []cty.Value) ([]sdk.Diagnostics, error)
}

// validateBatched runs the plugins' ValidateConfig on cfgs[i] for each
// node whose cfg is set: equal configs of one plugin are asked once (b[i]
// reading a[i] before a ran: all unknown alike), the rest in batches per
// plugin, the batches spread over up to Parallelism plugin processes.
func (s *Session) validateBatched(ctx context.Context, nodes []*dag.Node, cfgs []cty.Value) []hcl.Diagnostics {
	out := make([]hcl.Diagnostics, len(nodes))
	type batch struct {
		p     *Plugin
		keys  []string
		cfgs  []cty.Value
		first *dag.Node
	}
	var batches []*batch
	open := map[string]*batch{}
	memoKey := make([]string, len(nodes))
	for i, n := range nodes {
		if cfgs[i] == cty.NilVal {
			continue
		}
		p := s.Plugins[n.Step.Plugin]
		k := p.Label + "\x00" + string(appendConfigKey(nil, cfgs[i]))
		memoKey[i] = k
		s.mu.Lock()
		_, seen := s.validMemo[k]
		if !seen {
			s.validMemo[k] = nil // claimed; answered below
		}
		s.mu.Unlock()
		if seen {
			continue
		}
		b := open[p.Label]
		if b == nil || len(b.cfgs) >= validateBatchSize {
			b = &batch{p: p, first: n}
			open[p.Label] = b
			batches = append(batches, b)
		}
		b.keys = append(b.keys, k)
		b.cfgs = append(b.cfgs, cfgs[i])
	}
	failed := map[string]error{}
	var fmu sync.Mutex
	work := make(chan *batch)
	var wg sync.WaitGroup
	for w := 0; w < min(max(s.Opts.Parallelism, 1), len(batches)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				pds, err := s.validateOneBatch(ctx, b.p, b.first, b.cfgs)
				fmu.Lock()
				for j, k := range b.keys {
					if err != nil {
						failed[k] = err
						continue
					}
					s.mu.Lock()
					s.validMemo[k] = pds[j]
					s.mu.Unlock()
				}
				fmu.Unlock()
			}
		}()
	}
	for _, b := range batches {
		work <- b
	}
	close(work)
	wg.Wait()
	for i, n := range nodes {
		if memoKey[i] == "" {
			continue
		}
		if err := failed[memoKey[i]]; err != nil {
			out[i] = hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Plugin failed to validate the config", Detail: err.Error(), Subject: n.Step.DeclRange.Ptr()}}
			continue
		}
		s.mu.Lock()
		pd := s.validMemo[memoKey[i]]
		s.mu.Unlock()
		out[i] = s.validatedNode(n, cfgs[i], pd)
	}
	// A failed answer is not remembered: a later call asks again.
	s.mu.Lock()
	for k := range failed {
		delete(s.validMemo, k)
	}
	s.mu.Unlock()
	return out
}

// validateOneBatch asks one plugin process about cfgs.
func (s *Session) validateOneBatch(ctx context.Context, p *Plugin, first *dag.Node, cfgs []cty.Value) ([]sdk.Diagnostics, error) {
	c, err := s.Pool.Get(ctx, p)
	if err != nil {
		return nil, err
	}
	what := first.Addr
	if len(cfgs) > 1 {
		what = fmt.Sprintf("%d instances from %s", len(cfgs), first.Addr)
	}
	vctx, cancel := context.WithTimeoutCause(ctx, ValidateTimeout, fmt.Errorf("plugin %q did not validate the config of %s within %s", p.Label, what, ValidateTimeout))
	var pds []sdk.Diagnostics
	if bv, ok := c.(batchValidator); ok {
		pds, err = bv.ValidateConfigs(vctx, cfgs)
	} else {
		pds = make([]sdk.Diagnostics, len(cfgs))
		for j, cfg := range cfgs {
			if pds[j], err = c.ValidateConfig(vctx, cfg); err != nil {
				break
			}
		}
	}
	if err != nil && vctx.Err() != nil && ctx.Err() == nil {
		err = context.Cause(vctx)
	}
	cancel()
	s.Pool.Release(p, c, err == nil)
	return pds, err
}

// appendConfigKey appends a key of v to b: equal keys, equal values of
// the same type (the configs of one plugin share its schema's type; a
// kind letter and, where the value does not show it, the type name tell
// the rest apart). It replaces v.GoString(), whose float formatting was
// a tenth of planning 10⁵ instances.
func appendConfigKey(b []byte, v cty.Value) []byte {
	ty := v.Type()
	switch {
	case !v.IsKnown():
		return append(append(b, '?'), ty.FriendlyName()...)
	case v.IsNull():
		return append(append(b, '~'), ty.FriendlyName()...)
	case ty == cty.String:
		return strconv.AppendQuote(append(b, 's'), v.AsString())
	case ty == cty.Bool:
		return strconv.AppendBool(append(b, 'b'), v.True())
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if i, acc := bf.Int64(); acc == big.Exact {
			return strconv.AppendInt(append(b, 'i'), i, 10)
		}
		return bf.Append(append(b, 'f'), 'g', -1)
	}
	switch {
	case ty.IsObjectType():
		b = append(b, 'o')
	case ty.IsMapType():
		b = append(b, 'm')
	case ty.IsTupleType():
		b = append(b, 't')
	case ty.IsListType():
		b = append(b, 'l')
	case ty.IsSetType():
		b = append(b, 'e')
	default: // capsule and anything new: slow but exact
		return append(append(b, 'x'), v.GoString()...)
	}
	if v.LengthInt() == 0 {
		b = append(b, ty.FriendlyName()...)
	}
	b = append(b, '{')
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		b = appendConfigKey(b, k)
		b = append(b, '=')
		b = appendConfigKey(b, e)
		b = append(b, ',')
	}
	return append(b, '}')
}
