package sdk

import (
	"reflect"
	"testing"
)

func TestMediaTypeAccepted(t *testing.T) {
	for _, c := range []struct {
		mt      string
		accepts []string
		want    bool
	}{
		{"application/json", nil, true},
		{"", []string{"image/png"}, true},
		{"application/json", []string{"application/vnd.safetensors"}, false},
		{"application/vnd.safetensors", []string{"text/plain", "application/vnd.safetensors"}, true},
		{"text/plain; charset=utf-8", []string{"text/*"}, true},
		{"image/png", []string{"text/*"}, false},
		{"image/png", []string{"*/*"}, true},
	} {
		if got := MediaTypeAccepted(c.mt, c.accepts); got != c.want {
			t.Errorf("MediaTypeAccepted(%q, %q) = %v, want %v", c.mt, c.accepts, got, c.want)
		}
	}
}

func TestAcceptsTagTravels(t *testing.T) {
	type cfg struct {
		Model string `cty:"model" optional:"true" accepts:"application/vnd.safetensors, text/*"`
	}
	b := MustBlockOf(cfg{})
	want := []string{"application/vnd.safetensors", "text/*"}
	if !reflect.DeepEqual(b.Attributes[0].Accepts, want) {
		t.Fatalf("Accepts = %q, want %q", b.Attributes[0].Accepts, want)
	}
	w := wireCodec{}
	pb, err := w.encodeBlock(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := w.decodeBlock(pb, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Attributes[0].Accepts, want) {
		t.Fatalf("after the wire: Accepts = %q, want %q", back.Attributes[0].Accepts, want)
	}
}
