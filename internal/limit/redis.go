package limit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Limiter shared by replicas. Each scope has a hash
// PREFIX+"rl:"+scope holding its request bucket (rl, rt) and token bucket
// (tl, tt) as level and millisecond timestamp, and a sorted set
// PREFIX+"rlp:"+scope of parallel leases scored by expiry. Every call is one
// Lua script, so checks and takes of all rules are atomic, and time is the
// Redis server's (TIME), so replicas with skewed clocks agree.
//
// The keys of one call must live on one server: this is for a single Redis
// (or a primary with replicas), not Redis Cluster.
type Redis struct {
	// LeaseTTL is how long a parallel slot is held without a Release, so
	// the slots of a replica that crashed free themselves; 0 means
	// DefaultLeaseTTL.
	LeaseTTL time.Duration

	c      *redis.Client
	prefix string
}

// NewRedis makes a limiter keeping its state in c under prefix.
func NewRedis(c *redis.Client, prefix string) *Redis {
	return &Redis{LeaseTTL: DefaultLeaseTTL, c: c, prefix: prefix}
}

// luaBucket is the bucket arithmetic of limit.go in Lua. Levels are
// written with %.0f because Lua's default number formatting keeps only 14
// digits.
const luaBucket = `
local U = 60000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- refill returns the level and timestamp of a bucket of limit per minute
-- brought to now; a missing bucket is full.
local function refill(level, ts, limit)
  local cap = limit * U
  if not level then return cap, now end
  level, ts = tonumber(level), tonumber(ts)
  if now > ts then
    level = level + (now - ts) * limit
    ts = now
  end
  if level > cap then level = cap end
  return level, ts
end

-- wait is the milliseconds until level reaches need.
local function wait(level, need, limit)
  if level >= need then return 0 end
  return math.ceil((need - level) / limit)
end

local function fmt(n) return string.format('%.0f', n) end

local function remaining(level)
  if level <= 0 then return 0 end
  return math.floor(level / U)
end

-- store writes a scope's buckets and lets the hash expire a minute after
-- both are full again, when it means the same as a missing one.
local function store(key, rpm, rl, rt, tpm, tl, tt)
  local ttl = 0
  if rpm > 0 then
    redis.call('HSET', key, 'rl', fmt(rl), 'rt', fmt(rt))
    ttl = math.max(ttl, wait(rl, rpm * U, rpm))
  end
  if tpm > 0 then
    redis.call('HSET', key, 'tl', fmt(tl), 'tt', fmt(tt))
    ttl = math.max(ttl, wait(tl, tpm * U, tpm))
  end
  redis.call('PEXPIRE', key, ttl + 60000)
end
`

// admitScript: KEYS are, per rule, its bucket hash and its lease set;
// ARGV are tokens, lease, lease TTL in ms, then per rule RPM, TPM and
// MaxParallel. It returns allowed (0/1), the refusing rule (1-based),
// reason code, retry ms, then per rule requests remaining and reset ms and
// tokens remaining and reset ms.
var admitScript = redis.NewScript(luaBucket + `
local tokens, lease, leaseTTL = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local n = #KEYS / 2
local rls, rts, tls, tts = {}, {}, {}, {}
local refused, reason, retry = 0, 0, 0
local function refuse(i, r, w)
  if refused == 0 or w > retry then refused, reason, retry = i, r, w end
end

for i = 1, n do
  local rpm, tpm, par = tonumber(ARGV[3*i+1]), tonumber(ARGV[3*i+2]), tonumber(ARGV[3*i+3])
  if rpm > 0 or tpm > 0 then
    local h = redis.call('HMGET', KEYS[2*i-1], 'rl', 'rt', 'tl', 'tt')
    if rpm > 0 then
      rls[i], rts[i] = refill(h[1], h[2], rpm)
      if rls[i] < U then refuse(i, 1, wait(rls[i], U, rpm)) end
    end
    if tpm > 0 then
      tls[i], tts[i] = refill(h[3], h[4], tpm)
      local need = math.min(tokens, tpm) * U
      if tls[i] < need then refuse(i, 2, wait(tls[i], need, tpm)) end
    end
  end
  if par > 0 then
    local z = KEYS[2*i]
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
    if not redis.call('ZSCORE', z, lease) and redis.call('ZCARD', z) >= par then
      refuse(i, 3, 1000)
    end
  end
end

local out = {refused == 0 and 1 or 0, refused, reason, retry}
for i = 1, n do
  local rpm, tpm, par = tonumber(ARGV[3*i+1]), tonumber(ARGV[3*i+2]), tonumber(ARGV[3*i+3])
  if refused == 0 then
    if rpm > 0 then rls[i] = rls[i] - U end
    if tpm > 0 then tls[i] = tls[i] - tokens * U end
    if rpm > 0 or tpm > 0 then
      store(KEYS[2*i-1], rpm, rls[i], rts[i], tpm, tls[i], tts[i])
    end
    if par > 0 then
      redis.call('ZADD', KEYS[2*i], now + leaseTTL, lease)
      redis.call('PEXPIRE', KEYS[2*i], leaseTTL)
    end
  end
  local rr, rw, tr, tw = 0, 0, 0, 0
  if rpm > 0 then rr, rw = remaining(rls[i]), wait(rls[i], rpm * U, rpm) end
  if tpm > 0 then tr, tw = remaining(tls[i]), wait(tls[i], tpm * U, tpm) end
  out[#out+1] = rr
  out[#out+1] = rw
  out[#out+1] = tr
  out[#out+1] = tw
end
return out
`)

// adjustScript: KEYS are bucket hashes; ARGV are tokens, then per rule RPM
// and TPM. A refund never fills a bucket past its capacity.
var adjustScript = redis.NewScript(luaBucket + `
local tokens = tonumber(ARGV[1])
for i = 1, #KEYS do
  local rpm, tpm = tonumber(ARGV[2*i]), tonumber(ARGV[2*i+1])
  local h = redis.call('HMGET', KEYS[i], 'rl', 'rt', 'tl', 'tt')
  local rl, rt, tl, tt = 0, 0, 0, 0
  -- the request bucket is only refilled for the expiry; it is not written
  if rpm > 0 then rl, rt = refill(h[1], h[2], rpm) end
  tl, tt = refill(h[3], h[4], tpm)
  tl = math.min(tl - tokens * U, tpm * U)
  if rpm > 0 and h[1] then
    store(KEYS[i], rpm, rl, rt, tpm, tl, tt)
  else
    store(KEYS[i], 0, 0, 0, tpm, tl, tt)
  end
end
return 1
`)

func (r *Redis) bucketKey(scope string) string { return r.prefix + "rl:" + scope }
func (r *Redis) leaseKey(scope string) string  { return r.prefix + "rlp:" + scope }

// Admit implements Limiter.
func (r *Redis) Admit(ctx context.Context, rules []Rule, tokens int64, lease string) (Decision, error) {
	tokens = max(tokens, 0)
	keys := make([]string, 0, 2*len(rules))
	args := make([]any, 0, 3+3*len(rules))
	args = append(args, tokens, lease, leaseTTL(r.LeaseTTL).Milliseconds())
	idx := make([]int, 0, len(rules)) // the rules sent, by position in rules
	for i := range rules {
		ru := &rules[i]
		if !limited(ru) {
			continue
		}
		idx = append(idx, i)
		keys = append(keys, r.bucketKey(ru.Scope), r.leaseKey(ru.Scope))
		args = append(args, max(ru.RPM, 0), max(ru.TPM, 0), max(ru.MaxParallel, 0))
	}
	if len(idx) == 0 {
		return Decision{Allowed: true}, nil
	}
	out, err := admitScript.Run(ctx, r.c, keys, args...).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("limit: redis admit: %w", err)
	}
	if len(out) != 4+4*len(idx) {
		return Decision{}, fmt.Errorf("limit: redis admit: script returned %d values, want %d", len(out), 4+4*len(idx))
	}
	d := Decision{Allowed: out[0] == 1}
	if !d.Allowed {
		d.Scope, d.Reason, d.RetryAfter = rules[idx[out[1]-1]].Scope, reasons[out[2]], ms(out[3])
	}
	for j, i := range idx {
		v := out[4+4*j:]
		if rules[i].RPM > 0 {
			d.Requests = tighter(d.Requests, Window{Limit: rules[i].RPM, Remaining: v[0], Reset: ms(v[1])})
		}
		if rules[i].TPM > 0 {
			d.Tokens = tighter(d.Tokens, Window{Limit: rules[i].TPM, Remaining: v[2], Reset: ms(v[3])})
		}
	}
	return d, nil
}

// Release implements Limiter.
func (r *Redis) Release(ctx context.Context, rules []Rule, lease string) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range rules {
			if rules[i].MaxParallel > 0 {
				p.ZRem(ctx, r.leaseKey(rules[i].Scope), lease)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("limit: redis release: %w", err)
	}
	return nil
}

// Adjust implements Limiter.
func (r *Redis) Adjust(ctx context.Context, rules []Rule, tokens int64) error {
	if tokens == 0 {
		return nil
	}
	var keys []string
	args := []any{tokens}
	for i := range rules {
		if rules[i].TPM > 0 {
			keys = append(keys, r.bucketKey(rules[i].Scope))
			args = append(args, max(rules[i].RPM, 0), rules[i].TPM)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if err := adjustScript.Run(ctx, r.c, keys, args...).Err(); err != nil {
		return fmt.Errorf("limit: redis adjust: %w", err)
	}
	return nil
}

var _ Limiter = (*Redis)(nil)
