package backup

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// parseIndex reads what writeIndex writes as json.Unmarshal does, and
// leaves every other spelling to json.Unmarshal.
func TestParseIndex(t *testing.T) {
	id := func(c string) string { return strings.Repeat(c, 64) }
	for _, idx := range []chunkIndex{
		{Chunks: map[string]int64{}},
		{Chunks: map[string]int64{id("a"): 1}},
		{Recipient: "age1qqq", Chunks: map[string]int64{id("a"): 4194304, id("0"): 17, id("f"): 123456789}},
	} {
		raw, err := json.Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseIndex(raw)
		if !ok || got.Recipient != idx.Recipient || !maps.Equal(got.Chunks, idx.Chunks) {
			t.Fatalf("parseIndex(%s) = %+v, %v", raw, got, ok)
		}
	}
	for _, raw := range []string{
		``, `{}`, `{"chunks":null}`, `{"chunks":{}} `, ` {"chunks":{}}`, `{"chunks":{"a":1,}}`,
		`{"chunks":{"a":-1}}`, `{"chunks":{"a":1.5}}`, `{"chunks":{"a":1e3}}`, `{"chunks":{"a":1,"a":2}}`,
		`{"chunks":{"a":1}`, `{"chunks":{"a":1}}}`, `{"recipient":"x\"y","chunks":{}}`, `{"chunks":{"a\u0062":1}}`,
		`{"chunks":{"a":12345678901234567890}}`, `{"chunks":{},"recipient":"x"}`,
	} {
		if got, ok := parseIndex([]byte(raw)); ok {
			t.Errorf("parseIndex(%s) = %+v, true; want it left to json.Unmarshal", raw, got)
		}
	}
}
