package respcache

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sampleEntry() Entry {
	return Entry{
		Status:       200,
		ContentType:  "application/json",
		Body:         []byte(`{"id":"chatcmpl-1","object":"chat.completion"}`),
		Stream:       []byte("data: {\"id\":\"chatcmpl-1\"}\n\ndata: [DONE]\n\n"),
		Model:        "gpt-4o-2024-08-06",
		Provider:     "openai",
		InputTokens:  14,
		OutputTokens: 8,
		CachedTokens: 3,
		CostUSD:      0.000123,
		Created:      time.Date(2025, 10, 2, 20, 26, 52, 123456789, time.UTC),
	}
}

func TestMemorySetGet(t *testing.T) {
	m := NewMemory(1 << 20)
	defer m.Close()
	ctx := context.Background()
	if _, ok, err := m.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("Get on empty cache = %v, %v", ok, err)
	}
	want := sampleEntry()
	in := sampleEntry()
	if err := m.Set(ctx, "k", in, time.Minute); err != nil {
		t.Fatal(err)
	}
	in.Body[0] = 'X' // the cache keeps its own copy
	got, ok, err := m.Get(ctx, "k")
	if !ok || err != nil {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("entry (-want +got):\n%s", d)
	}
	// A zero Created is filled in.
	before := time.Now()
	if err := m.Set(ctx, "k2", Entry{Status: 200, Body: []byte("{}")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, _, _ = m.Get(ctx, "k2")
	if got.Created.Before(before) {
		t.Errorf("Created = %v, want >= %v", got.Created, before)
	}
	// ttl <= 0 stores nothing.
	_ = m.Set(ctx, "k3", want, 0)
	if _, ok, _ := m.Get(ctx, "k3"); ok {
		t.Error("entry stored with ttl 0")
	}
}

func TestMemoryTTL(t *testing.T) {
	// otter's default clock reads time.Now, so the bubble's fake clock
	// drives expiry.
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory(1 << 20)
		defer m.Close()
		ctx := context.Background()
		_ = m.Set(ctx, "short", sampleEntry(), 50*time.Millisecond)
		_ = m.Set(ctx, "long", sampleEntry(), time.Hour)
		time.Sleep(49 * time.Millisecond)
		if _, ok, _ := m.Get(ctx, "short"); !ok {
			t.Fatal("entry expired before its ttl")
		}
		time.Sleep(2 * time.Millisecond)
		if _, ok, _ := m.Get(ctx, "short"); ok {
			t.Fatal("entry still there after its ttl")
		}
		if _, ok, _ := m.Get(ctx, "long"); !ok {
			t.Fatal("long-lived entry gone")
		}
		// A new Set restarts the ttl; reads do not extend it.
		_ = m.Set(ctx, "k", sampleEntry(), 50*time.Millisecond)
		time.Sleep(40 * time.Millisecond)
		_ = m.Set(ctx, "k", sampleEntry(), 50*time.Millisecond)
		time.Sleep(40 * time.Millisecond)
		if _, ok, _ := m.Get(ctx, "k"); !ok {
			t.Fatal("replaced entry expired with its old ttl")
		}
		time.Sleep(11 * time.Millisecond)
		if _, ok, _ := m.Get(ctx, "k"); ok {
			t.Fatal("read extended the ttl")
		}
	})
}

func TestMemoryTTLRealClock(t *testing.T) {
	m := NewMemory(1 << 20)
	defer m.Close()
	ctx := context.Background()
	_ = m.Set(ctx, "k", sampleEntry(), 50*time.Millisecond)
	if _, ok, _ := m.Get(ctx, "k"); !ok {
		t.Fatal("entry missing right after Set")
	}
	time.Sleep(80 * time.Millisecond)
	if _, ok, _ := m.Get(ctx, "k"); ok {
		t.Fatal("entry still there after its ttl")
	}
}

func TestMemorySizeBound(t *testing.T) {
	const maxBytes = 64 << 10
	m := NewMemory(maxBytes)
	defer m.Close()
	ctx := context.Background()
	body := bytes.Repeat([]byte("x"), 1000)
	for i := range 500 { // ~500 KB into a 64 KiB cache
		if err := m.Set(ctx, fmt.Sprint("key-", i), Entry{Status: 200, Body: body}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	m.CleanUp()
	if s := m.Size(); s > maxBytes || s == 0 {
		t.Errorf("Size = %d, want in (0, %d]", s, maxBytes)
	}
	if n := m.Len(); n == 0 || n > maxBytes/1000 {
		t.Errorf("Len = %d, want in (0, %d]", n, maxBytes/1000)
	}
	held := 0
	for i := range 500 {
		if _, ok, _ := m.Get(ctx, fmt.Sprint("key-", i)); ok {
			held++
		}
	}
	if held == 0 || held > maxBytes/1000 {
		t.Errorf("%d entries readable, want in (0, %d]", held, maxBytes/1000)
	}

	// An entry bigger than the whole cache is not stored, and replaces
	// (removes) an older entry of its key.
	_ = m.Set(ctx, "big", Entry{Body: []byte("{}")}, time.Hour)
	if err := m.Set(ctx, "big", Entry{Body: make([]byte, maxBytes)}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Get(ctx, "big"); ok {
		t.Error("oversized entry (or its predecessor) served")
	}
}

func TestMemoryDisabled(t *testing.T) {
	m := NewMemory(0)
	defer m.Close()
	ctx := context.Background()
	if err := m.Set(ctx, "k", sampleEntry(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := m.Get(ctx, "k"); ok || err != nil {
		t.Errorf("disabled cache Get = %v, %v", ok, err)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	m := NewMemory(256 << 10)
	defer m.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 2000 {
				k := fmt.Sprint("k", r.IntN(300))
				if r.IntN(3) == 0 {
					e := sampleEntry()
					e.Body = bytes.Repeat([]byte(k), 1+r.IntN(200))
					if err := m.Set(ctx, k, e, time.Duration(1+r.IntN(100))*time.Millisecond); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				e, ok, err := m.Get(ctx, k)
				if err != nil {
					t.Error(err)
					return
				}
				if ok && !bytes.HasPrefix(e.Body, []byte(k)) {
					t.Errorf("Get(%s) returned the body of another key: %.20s", k, e.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	m.CleanUp()
	if s := m.Size(); s > 256<<10 {
		t.Errorf("Size = %d over the bound", s)
	}
}
