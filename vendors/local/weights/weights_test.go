package weights

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadVerifies(t *testing.T) {
	for _, name := range Names() {
		b, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 1<<20 {
			t.Errorf("%s: %d bytes", name, len(b))
		}
		if len(Digest(name)) != 64 {
			t.Errorf("%s: digest %q", name, Digest(name))
		}
	}
}

func TestLoadRejectsCorruptFile(t *testing.T) {
	for _, name := range Names() {
		b, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1 // one flipped bit
		_, err = load(fstest.MapFS{name: {Data: b}}, name)
		if err == nil || !strings.Contains(err.Error(), "SHA-256") {
			t.Errorf("%s: corrupted file loaded, err = %v", name, err)
		}
		_, err = load(fstest.MapFS{name: {Data: b[:len(b)-1]}}, name)
		if err == nil {
			t.Errorf("%s: truncated file loaded", name)
		}
	}
}

func TestLoadUnknown(t *testing.T) {
	if _, err := Load("other.onnx"); err == nil {
		t.Error("unknown name loaded")
	}
	if Digest("other.onnx") != "" {
		t.Error("digest of unknown name")
	}
}

func TestLoadReturnsCopy(t *testing.T) {
	a, _ := Load(MiniFASNetV2)
	a[0] ^= 0xff
	if _, err := Load(MiniFASNetV2); err != nil {
		t.Errorf("a caller's change reached the embedded file: %v", err)
	}
}
