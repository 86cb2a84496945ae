package sdk

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/hashicorp/go-plugin"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"google.golang.org/grpc"

	"github.com/shammie-ml/shammie/sdk/internal/handshake"
	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// wireCodec converts between the SDK's types and the protocol's messages.
// sdk/pluginhost and sdk/plugintest, the host side of the same protocol,
// reach it through sdk/internal/wire; plugin authors never need it.
type wireCodec struct{}

var codec wireCodec

func init() { handshake.Codec = codec }

// GoPlugin returns the go-plugin plugin that serves impl (server side) or,
// with a nil impl, dials a plugin (client side; dispensing yields a
// pluginv1.PluginClient).
func (wireCodec) GoPlugin(impl Plugin) plugin.Plugin { return &goPlugin{impl: impl} }

// GRPCServerOptions caps message sizes on the plugin side.
func (wireCodec) GRPCServerOptions() []grpc.ServerOption { return grpcServerOptions() }

// GRPCDialOptions caps message sizes on the host side.
func (wireCodec) GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))}
}

// EncodeValue serialises v with its type. Marks (sensitive) are dropped;
// unknown values travel as null plus their path (see the proto's Value).
func (w wireCodec) EncodeValue(v cty.Value) (*pluginv1.Value, error) {
	if v == cty.NilVal {
		return nil, errors.New("cannot encode cty.NilVal")
	}
	v, _ = v.UnmarkDeep()
	var unknowns []*pluginv1.ValuePath
	var perr error
	v, err := cty.Transform(v, func(p cty.Path, x cty.Value) (cty.Value, error) {
		if x.IsKnown() {
			return x, nil
		}
		steps, err := w.EncodePath(p)
		if err != nil {
			if perr == nil {
				perr = fmt.Errorf("unknown value at %s cannot be encoded: %w", FormatPath(p), err)
			}
			return x, nil
		}
		unknowns = append(unknowns, &pluginv1.ValuePath{Steps: steps})
		return cty.NullVal(x.Type()), nil
	})
	if err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	ty := v.Type()
	tj, err := ctyjson.MarshalType(ty)
	if err != nil {
		return nil, fmt.Errorf("encoding type %s: %w", ty.FriendlyName(), err)
	}
	vj, err := ctyjson.Marshal(v, ty)
	if err != nil {
		return nil, fmt.Errorf("encoding %s value: %w", ty.FriendlyName(), err)
	}
	return &pluginv1.Value{TypeJson: tj, ValueJson: vj, Unknowns: unknowns}, nil
}

// DecodeValue is the inverse of EncodeValue. A nil message decodes to
// cty.NilVal.
func (w wireCodec) DecodeValue(m *pluginv1.Value) (cty.Value, error) {
	if m == nil {
		return cty.NilVal, nil
	}
	ty, err := ctyjson.UnmarshalType(m.TypeJson)
	if err != nil {
		return cty.NilVal, fmt.Errorf("decoding value type: %w", err)
	}
	v, err := ctyjson.Unmarshal(m.ValueJson, ty)
	if err != nil {
		return cty.NilVal, fmt.Errorf("decoding %s value: %w", ty.FriendlyName(), err)
	}
	if len(m.Unknowns) == 0 {
		return v, nil
	}
	paths := make([]cty.Path, len(m.Unknowns))
	for i, u := range m.Unknowns {
		if paths[i], err = w.DecodePath(u.GetSteps()); err != nil {
			return cty.NilVal, fmt.Errorf("decoding unknown path: %w", err)
		}
	}
	return cty.Transform(v, func(p cty.Path, x cty.Value) (cty.Value, error) {
		for _, u := range paths {
			if p.Equals(u) {
				return cty.UnknownVal(x.Type()), nil
			}
		}
		return x, nil
	})
}

// EncodePath converts an attribute path. Index steps must be known whole
// numbers (list/tuple indexes) or strings (map keys); a step into a set has
// no stable address and is refused.
func (wireCodec) EncodePath(p cty.Path) ([]*pluginv1.PathStep, error) {
	out := make([]*pluginv1.PathStep, 0, len(p))
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			out = append(out, &pluginv1.PathStep{Step: &pluginv1.PathStep_Attribute{Attribute: s.Name}})
		case cty.IndexStep:
			k := s.Key
			switch {
			case !k.IsKnown() || k.IsNull():
				return nil, errors.New("path step with an unknown or null key (inside a set?)")
			case k.Type() == cty.String:
				out = append(out, &pluginv1.PathStep{Step: &pluginv1.PathStep_Key{Key: k.AsString()}})
			case k.Type() == cty.Number:
				bf := k.AsBigFloat()
				i, acc := bf.Int64()
				if acc != big.Exact {
					return nil, fmt.Errorf("path index %s is not a whole number", bf.String())
				}
				out = append(out, &pluginv1.PathStep{Step: &pluginv1.PathStep_Index{Index: i}})
			default:
				return nil, fmt.Errorf("path step keyed by a %s value (inside a set?) cannot be encoded", k.Type().FriendlyName())
			}
		default:
			return nil, fmt.Errorf("unsupported path step %T", s)
		}
	}
	return out, nil
}

// DecodePath is the inverse of EncodePath.
func (wireCodec) DecodePath(steps []*pluginv1.PathStep) (cty.Path, error) {
	p := make(cty.Path, 0, len(steps))
	for i, s := range steps {
		switch s := s.GetStep().(type) {
		case *pluginv1.PathStep_Attribute:
			p = p.GetAttr(s.Attribute)
		case *pluginv1.PathStep_Index:
			p = p.Index(cty.NumberIntVal(s.Index))
		case *pluginv1.PathStep_Key:
			p = p.Index(cty.StringVal(s.Key))
		default:
			return nil, fmt.Errorf("path step %d is empty", i)
		}
	}
	return p, nil
}

// EncodeMetadata converts plugin metadata; the SDK and protocol versions
// are this SDK's, whatever m says, and an empty Version becomes the
// binary's build version (see [BuildVersion]).
func (wireCodec) EncodeMetadata(m Metadata) *pluginv1.Metadata {
	v := m.Version
	if v == "" {
		v = BuildVersion("")
	}
	return &pluginv1.Metadata{
		Name:             m.Name,
		Version:          v,
		SdkVersion:       Version,
		ProtocolVersions: []int32{ProtocolVersion},
		Backends:         m.Backends,
		Description:      m.Description,
	}
}

// DecodeMetadata is the inverse of EncodeMetadata.
func (wireCodec) DecodeMetadata(m *pluginv1.Metadata) Metadata {
	out := Metadata{
		Name:        m.GetName(),
		Version:     m.GetVersion(),
		SDKVersion:  m.GetSdkVersion(),
		Description: m.GetDescription(),
		Backends:    m.GetBackends(),
	}
	for _, v := range m.GetProtocolVersions() {
		out.ProtocolVersions = append(out.ProtocolVersions, int(v))
	}
	return out
}

func encodeType(t cty.Type) ([]byte, error) {
	if t == cty.NilType {
		return nil, errors.New("missing type")
	}
	return ctyjson.MarshalType(t)
}

// EncodeSchema converts a schema, checking that every type and default
// is encodable.
func (w wireCodec) EncodeSchema(s Schema) (*pluginv1.Schema, error) {
	cfg, err := w.encodeBlock(s.Config, nil)
	if err != nil {
		return nil, err
	}
	out := &pluginv1.Schema{Config: cfg}
	for _, o := range s.Outputs {
		tj, err := encodeType(o.Type)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		out.Outputs = append(out.Outputs, &pluginv1.OutputDecl{Name: o.Name, TypeJson: tj, Description: o.Description})
	}
	for _, a := range s.Artifacts {
		out.Artifacts = append(out.Artifacts, &pluginv1.ArtifactDecl{Name: a.Name, MediaType: a.MediaType, Description: a.Description, Family: a.Family})
	}
	return out, nil
}

func (w wireCodec) encodeBlock(b Block, at cty.Path) (*pluginv1.Block, error) {
	out := &pluginv1.Block{}
	for _, a := range b.Attributes {
		p := at.GetAttr(a.Name)
		tj, err := encodeType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", FormatPath(p), err)
		}
		pa := &pluginv1.Attribute{Name: a.Name, TypeJson: tj, Required: a.Required, Description: a.Description, Sensitive: a.Sensitive, Accepts: a.Accepts}
		if a.Default != cty.NilVal && !a.Default.IsNull() {
			if pa.Default, err = w.EncodeValue(a.Default); err != nil {
				return nil, fmt.Errorf("default of %s: %w", FormatPath(p), err)
			}
		}
		out.Attributes = append(out.Attributes, pa)
	}
	for _, nb := range b.Blocks {
		inner, err := w.encodeBlock(nb.Block, at.GetAttr(nb.TypeName))
		if err != nil {
			return nil, err
		}
		out.Blocks = append(out.Blocks, &pluginv1.NestedBlock{
			TypeName: nb.TypeName, Nesting: pluginv1.NestedBlock_Nesting(nb.Nesting), Block: inner,
			MinItems: int32(nb.MinItems), MaxItems: int32(nb.MaxItems), Description: nb.Description,
		})
	}
	return out, nil
}

// DecodeSchema is the inverse of EncodeSchema.
func (w wireCodec) DecodeSchema(s *pluginv1.Schema) (Schema, error) {
	cfg, err := w.decodeBlock(s.GetConfig(), nil)
	if err != nil {
		return Schema{}, err
	}
	out := Schema{Config: cfg}
	for _, o := range s.GetOutputs() {
		ty, err := ctyjson.UnmarshalType(o.TypeJson)
		if err != nil {
			return Schema{}, fmt.Errorf("output %q: type: %w", o.Name, err)
		}
		out.Outputs = append(out.Outputs, OutputDecl{Name: o.Name, Type: ty, Description: o.Description})
	}
	for _, a := range s.GetArtifacts() {
		out.Artifacts = append(out.Artifacts, ArtifactDecl{Name: a.Name, MediaType: a.MediaType, Description: a.Description, Family: a.Family})
	}
	return out, nil
}

func (w wireCodec) decodeBlock(b *pluginv1.Block, at cty.Path) (Block, error) {
	var out Block
	for _, a := range b.GetAttributes() {
		p := at.GetAttr(a.Name)
		ty, err := ctyjson.UnmarshalType(a.TypeJson)
		if err != nil {
			return Block{}, fmt.Errorf("attribute %s: type: %w", FormatPath(p), err)
		}
		def, err := w.DecodeValue(a.Default)
		if err != nil {
			return Block{}, fmt.Errorf("default of %s: %w", FormatPath(p), err)
		}
		out.Attributes = append(out.Attributes, Attribute{
			Name: a.Name, Type: ty, Required: a.Required, Default: def,
			Description: a.Description, Sensitive: a.Sensitive, Accepts: a.GetAccepts(),
		})
	}
	for _, nb := range b.GetBlocks() {
		inner, err := w.decodeBlock(nb.Block, at.GetAttr(nb.TypeName))
		if err != nil {
			return Block{}, err
		}
		n := Nesting(nb.Nesting)
		if n < NestingSingle || n > NestingMap {
			return Block{}, fmt.Errorf("block %s: unknown nesting %v", FormatPath(at.GetAttr(nb.TypeName)), nb.Nesting)
		}
		out.Blocks = append(out.Blocks, NestedBlock{
			TypeName: nb.TypeName, Nesting: n, Block: inner,
			MinItems: int(nb.MinItems), MaxItems: int(nb.MaxItems), Description: nb.Description,
		})
	}
	return out, nil
}

// EncodeDiagnostics converts diagnostics. A path that cannot be encoded is
// dropped (the diagnostic then points at the whole config) and said so in
// the detail, rather than losing the diagnostic.
func (w wireCodec) EncodeDiagnostics(ds Diagnostics) []*pluginv1.Diagnostic {
	out := make([]*pluginv1.Diagnostic, 0, len(ds))
	for _, d := range ds {
		pd := &pluginv1.Diagnostic{Severity: pluginv1.Diagnostic_Severity(d.Severity), Summary: d.Summary, Detail: d.Detail}
		steps, err := w.EncodePath(d.Path)
		if err != nil {
			pd.Detail += fmt.Sprintf(" (attribute path %s not transmittable: %v)", FormatPath(d.Path), err)
		} else {
			pd.Path = steps
		}
		out = append(out, pd)
	}
	return out
}

// DecodeDiagnostics is the inverse of EncodeDiagnostics.
func (w wireCodec) DecodeDiagnostics(ds []*pluginv1.Diagnostic) (Diagnostics, error) {
	out := make(Diagnostics, 0, len(ds))
	for _, d := range ds {
		p, err := w.DecodePath(d.Path)
		if err != nil {
			return nil, fmt.Errorf("diagnostic %q: %w", d.Summary, err)
		}
		sev := Severity(d.Severity)
		if sev != SeverityWarning {
			// Unspecified severities are treated as errors: failing safe.
			sev = SeverityError
		}
		out = append(out, Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail, Path: p})
	}
	return out, nil
}
