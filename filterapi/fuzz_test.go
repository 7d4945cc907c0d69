package filterapi

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeCheckParams: any params either decode into a request or fail with a parameter
// error; never a panic, never more entries than the limit.
func FuzzDecodeCheckParams(f *testing.F) {
	f.Add([]byte(`[["0x0100000000000000000003850000000000000064000000006553f10000000003","0x035f3b3e09a51ad32f5485630af6dc5943e531de0de5682569e05ddeb60e4849"],"cross-unsafe",{"chainID":"902","timestamp":"0x6553f164","timeout":"0x1c20"}]`))
	f.Add([]byte(`[[],"unsafe",{"chainID":"0x386","timestamp":"0x1"}]`))
	f.Add([]byte(`[[],"unsafe",{"chainID":902,"timestamp":"0x1"}]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := decodeCheckParams(json.RawMessage(raw), 8)
		if err != nil {
			if _, ok := err.(*paramError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(req.InboxKeys) > 8 {
			t.Fatalf("%d entries past the limit", len(req.InboxKeys))
		}
	})
}
