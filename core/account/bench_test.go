package account

import (
	"context"
	"testing"
)

// A login costs one Argon2id hash (19 MiB, 2 passes): slow for a guesser,
// quick for a person.
func BenchmarkLogin(b *testing.B) {
	s, _ := newServiceB(b)
	if _, err := s.Bootstrap(context.Background(), pw); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := s.Login(context.Background(), MasterAdmin, pw); err != nil {
			b.Fatal(err)
		}
	}
}

// A permission check is a couple of key reads; every core call makes one.
func BenchmarkCheck(b *testing.B) {
	s, _ := newServiceB(b)
	a, err := s.Bootstrap(context.Background(), pw)
	if err != nil {
		b.Fatal(err)
	}
	item := Item{Kind: KindProject, ID: "p1"}
	b.ResetTimer()
	for range b.N {
		if err := s.Check(context.Background(), a, item, ModifyContent); err != nil {
			b.Fatal(err)
		}
	}
}
