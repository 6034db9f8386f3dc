package route

import "sync"

// Budget caps retries as a share of requests, so a failing upstream cannot
// be hit with a retry storm: each request earns ratio of a retry and each
// retry spends one whole. With ratio ≤ 1, retries can never more than double
// the upstream load (beyond a small initial allowance).
type Budget struct {
	mu     sync.Mutex
	ratio  float64
	tokens float64
}

// budgetCap bounds saved-up retries, so a long quiet period does not bank
// enough for a storm; it is also the initial allowance.
const budgetCap = 10

// NewBudget makes a budget earning ratio retries per request.
func NewBudget(ratio float64) *Budget { return &Budget{ratio: ratio, tokens: budgetCap} }

// SetRatio changes the earning rate (on config reload).
func (b *Budget) SetRatio(r float64) {
	b.mu.Lock()
	b.ratio = r
	b.mu.Unlock()
}

// Request records a first attempt.
func (b *Budget) Request() {
	b.mu.Lock()
	b.tokens = min(b.tokens+b.ratio, budgetCap)
	b.mu.Unlock()
}

// Retry spends one retry if the budget has it.
func (b *Budget) Retry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
